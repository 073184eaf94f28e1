"""A chat call's state: the phase of its current try, and the one table of moves.

An adapter (``adapters``) says which steps one call needs on its Space (a
``Plan`` of ``Stage`` values); the call (``call.ChatCall``) runs them one
request at a time. What happened is told to ``Attempt.process`` as a
``Cause``; the next phase is looked up in ``TRANSITIONS`` by (phase, cause)
and assigned there and nowhere else (h11's ``_state.py`` shape). A retry
throws the ``Attempt`` away and makes a fresh one (as urllib3's ``Retry``
makes a new value), so nothing of a failed try is left to reset.

"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

from .._errors import ProtocolError, QwenSpacesError, SpaceError
from .._events import Event
from .._gradio.dedup import AnswerTracker
from .._gradio.gradio import Msg, read_message
from .._gradio.sse import SSEDecoder
from .._spaces.adapters import CHAT, Plan, SpaceAdapter, Stage

if TYPE_CHECKING:
    from .wire import Request

__all__ = ["FINISHED", "TRANSITIONS", "Attempt", "Cause", "Phase"]


class Phase(enum.Enum):
    """Where one attempt of a call stands."""

    READY = "ready"  # the next request can be built
    WAITING = "waiting"  # a request is out; its answer comes next
    QUEUED = "queued"  # reading events; the Space has not started
    RUNNING = "running"  # reading events; the Space is generating
    COMPLETED = "completed"  # the stage's function completed: stop reading
    FAILED = "failed"  # the stream brought a failure: end_of_stream raises it
    CLOSED = "closed"  # the stream ended before the function completed
    CANCELLED = "cancelled"  # the call was stopped on the Space
    DONE = "done"  # nothing more to send or read


class Cause(enum.Enum):
    """What happened to an attempt: the key, with its phase, of its next move."""

    SENT = "sent"  # a request went out
    ANSWERED = "answered"  # a whole answer finished its stage (config, upload, predict...)
    JOINED = "joined"  # the queue took the function: its events come next
    STREAM = "stream"  # the event stream opened
    STARTED = "started"  # the Space started the function
    COMPLETED = "completed"  # the stream said the function completed
    FAILED = "failed"  # the stream brought a failure
    CLOSED = "closed"  # the stream ended before the function completed
    NEXT = "next"  # a completed side call was read: on to the next stage
    CANCEL = "cancel"  # the call is stopped on the Space
    END = "end"  # the stream is over: the attempt is done


#: In ``TRANSITIONS``: the next stage's READY, or DONE at the end of the plan.
NEXT_STAGE = None

_STREAMING = (Phase.QUEUED, Phase.RUNNING)
_OVER = (Phase.COMPLETED, Phase.FAILED, Phase.CLOSED, Phase.CANCELLED)

#: The only moves an attempt makes: (phase, cause) -> phase (``NEXT_STAGE``: the next stage).
TRANSITIONS: dict[tuple[Phase, Cause], Optional[Phase]] = {
    (Phase.READY, Cause.SENT): Phase.WAITING,
    (Phase.WAITING, Cause.ANSWERED): NEXT_STAGE,
    (Phase.WAITING, Cause.JOINED): Phase.READY,  # its events are the next request
    (Phase.WAITING, Cause.STREAM): Phase.QUEUED,
    (Phase.QUEUED, Cause.STARTED): Phase.RUNNING,
    (Phase.RUNNING, Cause.STARTED): Phase.RUNNING,  # a second "started" says nothing new
    **{(p, Cause.COMPLETED): Phase.COMPLETED for p in _STREAMING},
    **{(p, Cause.FAILED): Phase.FAILED for p in _STREAMING},
    **{(p, Cause.CLOSED): Phase.CLOSED for p in _STREAMING},
    # Joined, its events not yet asked for (READY) or answered (WAITING), or streaming.
    **{(p, Cause.CANCEL): Phase.CANCELLED for p in (Phase.READY, Phase.WAITING, *_STREAMING)},
    (Phase.COMPLETED, Cause.NEXT): NEXT_STAGE,
    **{(p, Cause.END): Phase.DONE for p in _OVER},
}

#: Phases in which no more events will come: a driver stops reading.
FINISHED = frozenset({*_OVER, Phase.DONE})

# Read for every message, so module globals: on Python 3.11 ``Msg.OUTPUT`` goes
# through EnumType.__getattr__'s hook, about ten times the cost of a global.
_OUTPUT, _QUEUED, _CHAT = Msg.OUTPUT, Phase.QUEUED, CHAT


class Attempt:
    """One try: the plan it runs, its phase, and the state of its current stage.

    ``position`` indexes ``plan``; ``event_id`` is the current queued
    function's (set once joined); ``tracker`` reads the answer (chat stage
    only); ``queue_at`` is when the queue limit ends (None once the Space
    started); ``failure`` is what the stream brought, for ``end_of_stream``;
    ``check_first`` sees the chatbot's first value before it is read (it may
    raise: the session behind it is gone). ``finished``: no more events will
    come, stop reading the stream (kept by ``process``, as it is read at every chunk).
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
        self.check_first: Optional[Callable[[Any], None]] = None

    @property
    def stage(self) -> Stage:
        return self.plan[self.position]

    def process(self, cause: Cause) -> Phase:
        """Move along ``TRANSITIONS`` for ``cause``: the only place a phase is assigned."""
        try:
            to = TRANSITIONS[self.phase, cause]
        except KeyError:
            raise AssertionError(
                f"a call cannot go from {self.phase.value} on {cause.value}"
            ) from None
        if to is NEXT_STAGE:
            self.position += 1
            self.event_id = None
            self.queue_at = None
            to = Phase.READY if self.position < len(self.plan) else Phase.DONE
        self.phase = to
        self.finished = to in FINISHED
        return to

    def joined(self, event_id: str, queue_at: float) -> None:
        """The queue took the current function: its events are asked for next."""
        self.event_id, self.queue_at = event_id, queue_at
        self.process(Cause.JOINED)

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
                if not value.started or self.stage.fn == _CHAT:
                    out.append(value)
            elif kind is Msg.COMPLETED:
                if tracker is not None:
                    if tracker.value is None:
                        self._first(value)
                    tracker.full(value, out, final=True)
                else:
                    self.side_result = value
                self.process(Cause.COMPLETED)
                return
            elif kind is Msg.FAILED:
                raise value
            else:  # Msg.CLOSED
                self.process(Cause.CLOSED)
                return

    def end_of_stream(self, done: dict[str, Any], adapter: SpaceAdapter) -> None:
        """The stream is over: raise its failure, read a side call's result, or end.

        The failure is raised in the Space's words where its page showed them
        (``adapter.failure_text``). A side call's completed outputs go through
        ``adapter.read_side`` into ``done`` and the plan goes on, its next stream
        with a fresh decoder; a side call whose stream ended early is a ProtocolError.
        """
        if self.phase is Phase.FAILED:
            self.process(Cause.END)
            failure, self.failure = self.failure, None
            assert failure is not None
            raise self._shown(failure, adapter)
        fn = self.stage.fn
        if self.phase is Phase.COMPLETED and fn != CHAT:
            done[fn] = adapter.read_side(fn, self.side_result)
            self.decoder = SSEDecoder(self.max_event_bytes)
            self.process(Cause.NEXT)
            return
        if self.phase in _STREAMING:
            self.process(Cause.CLOSED)
        if self.phase is not Phase.DONE:
            self.process(Cause.END)
        if fn != CHAT:
            raise ProtocolError(f"the stream ended before the Space's {fn!r} completed")

    def _shown(self, failure: QwenSpacesError, adapter: SpaceAdapter) -> QwenSpacesError:
        # A Space that showed its error in the chatbot, then failed without a
        # reason, speaks its own words.
        tracker = self.tracker
        if type(failure) is SpaceError and tracker is not None:
            shown = adapter.failure_text(tracker)
            if shown:
                return SpaceError(f"the Space reported an error: {shown}")
        return failure

    def _first(self, value: Any) -> None:
        check, self.check_first = self.check_first, None
        if check is not None:
            check(value)

    def start(self) -> None:
        """The Space started the current function: queue time is over."""
        if self.phase in _STREAMING:
            self.process(Cause.STARTED)
        self.queue_at = None
