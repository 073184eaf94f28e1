"""One try of a chat call: where it stands in its plan, and the reading of its events.

A retry throws the attempt away and starts a fresh one (as urllib3's ``Retry``
makes a new value), so nothing of a failed try is left to reset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Optional

from .dedup import AnswerTracker
from .errors import QwenSpacesError
from .events import Event
from .gradio import Msg, read_message
from .plan import CHAT, FINISHED, TRANSITIONS, Phase, Plan, Request, Stage
from .sse import SSEDecoder

__all__ = ["Attempt"]

log = logging.getLogger("qwen_spaces")

# Read for every message, so module globals: on Python 3.11 ``Msg.OUTPUT`` goes
# through EnumType.__getattr__'s hook, about ten times the cost of a global.
_OUTPUT, _QUEUED = Msg.OUTPUT, Phase.QUEUED


class Attempt:
    """One try: the plan it runs, its phase, and the state of its current stage.

    ``position`` indexes ``plan``; ``event_id`` is the current queued
    function's (set once joined); ``tracker`` reads the answer (chat stage
    only); ``queue_at`` is when the queue limit ends (None once the Space
    started); ``failure`` is what the stream brought, for ``end_of_stream``;
    ``check_first`` sees the chatbot's first value before it is read (it may
    raise: the session behind it is gone). ``finished``: no more events will
    come, stop reading the stream (the phase is in ``FINISHED``; kept by
    ``move``, as it is read at every chunk).
    """

    __slots__ = (
        "check_first",
        "decoder",
        "event_id",
        "failure",
        "finished",
        "max_event_bytes",
        "phase",
        "plan",
        "position",
        "queue_at",
        "sent",
        "side_result",
        "tracker",
        "uploaded",
    )

    def __init__(self, plan: Plan, max_event_bytes: int) -> None:
        self.plan = plan
        self.position = 0
        self.phase = Phase.READY
        self.finished = False
        self.max_event_bytes = max_event_bytes
        self.decoder = SSEDecoder(max_event_bytes)
        self.event_id: Optional[str] = None
        self.tracker: Optional[AnswerTracker] = None
        self.queue_at: Optional[float] = None
        self.failure: Optional[QwenSpacesError] = None
        self.sent: Optional[Request] = None
        self.side_result: Any = None  # a side function's completed outputs
        self.uploaded = 0  # bytes of the files read for sending
        self.check_first: Optional[Callable[[Any], None]] = None

    @property
    def stage(self) -> Stage:
        return self.plan[self.position]

    def move(self, to: Phase) -> None:
        """Go to phase ``to``: only along ``plan.TRANSITIONS``."""
        if to not in TRANSITIONS[self.phase]:
            raise AssertionError(f"a call cannot go from {self.phase.value} to {to.value}")
        self.phase = to
        self.finished = to in FINISHED

    def next_stage(self) -> None:
        """The current stage is done: on to the next one, or the end of the plan."""
        self.position += 1
        self.event_id = None
        self.queue_at = None
        self.decoder = SSEDecoder(self.max_event_bytes)
        self.move(Phase.READY if self.position < len(self.plan) else Phase.DONE)

    def read(self, chunk: bytes, out: list[Event], on_start: Callable[[], None]) -> None:
        """Bytes of the event stream -> events in ``out``; moves the phase.

        Raises the QwenSpacesError the stream brings (the caller keeps it for
        ``end_of_stream``).
        """
        own = self.event_id
        tracker = self.tracker
        for payload in self.decoder.feed(chunk):
            kind, value = read_message(payload, own)
            if kind is _OUTPUT:
                if self.phase is _QUEUED:
                    on_start()
                if tracker is None:
                    continue  # a side function's intermediate outputs
                if tracker.value is None:
                    self._first(value)
                    tracker.full(value, out)
                else:
                    tracker.diff(value, out)
            elif kind is Msg.OTHER:
                continue
            elif kind is Msg.STATUS:
                if value.started:
                    on_start()
                if not value.started or self.stage.fn == CHAT:
                    out.append(value)
            elif kind is Msg.COMPLETED:
                if tracker is not None:
                    if tracker.value is None:
                        self._first(value)
                    tracker.full(value, out, final=True)
                else:
                    self.side_result = value
                self.move(Phase.COMPLETED)
                return
            elif kind is Msg.FAILED:
                raise value
            else:  # Msg.CLOSED
                self.move(Phase.CLOSED)
                return

    def _first(self, value: Any) -> None:
        check, self.check_first = self.check_first, None
        if check is not None:
            check(value)

    def start(self) -> None:
        """The Space started the current function: queue time is over."""
        if self.phase is Phase.QUEUED:
            self.move(Phase.RUNNING)
        self.queue_at = None
