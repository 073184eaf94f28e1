"""The plan of a chat call: the steps a Space needs, the phases a step goes through.

Read this after ``events``: an adapter (``adapters/``) says which steps one
call needs on its Space (``Stage`` values, in order); the call
(``protocol.ChatCall``) runs them one request at a time and keeps where it
stands in one ``Phase`` value, moved only along ``TRANSITIONS``; a driver sends
each ``Request`` and feeds back what comes.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from .files import Upload

__all__ = ["CHAT", "TRANSITIONS", "Phase", "Request", "Stage", "Step"]

#: The function whose events carry the answer; other stages are side calls.
CHAT = "chat"


class Step(enum.Enum):
    """The kind of one request."""

    CONFIG = "config"  # GET /config: find the functions
    APP_ID = "app_id"  # GET /app_id: has the Space restarted since the session's last turn?
    UPLOAD = "upload"  # POST /upload: the call's files, multipart
    PREDICT = "predict"  # POST /run/predict: an un-queued function
    JOIN = "join"  # POST /queue/join: a queued function
    DATA = "data"  # GET /queue/data: the session's event stream
    CANCEL = "cancel"  # POST /cancel: only from cancel_request()
    DONE = "done"  # nothing more to send


@dataclass(frozen=True)
class Stage:
    """One step of a Space's plan.

    ``step`` is UPLOAD, PREDICT (an un-queued function, one answer) or JOIN
    (a queued function: its join, then its events on the session's stream).
    ``fn`` names the function in the adapter's terms: ``CHAT`` is the one that
    streams the answer; any other is a side call in the same session (the
    1M demo's ``add_text``, the Qwen3 demo's thinking toggle), whose result
    the adapter reads and the call keeps, so a retry does not repeat it.
    """

    step: Step
    fn: str = CHAT


#: A call's plan: its stages in order; the last one is ``Stage(Step.JOIN)``.
Plan = tuple[Stage, ...]


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


_READING = frozenset({Phase.COMPLETED, Phase.FAILED, Phase.CLOSED, Phase.CANCELLED})

#: The only moves a phase makes (h11-style: one table, checked at every move).
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    # Joined, its events not yet asked for (READY) or not yet answered
    # (WAITING): a cancel can come then too.
    Phase.READY: frozenset({Phase.WAITING, Phase.DONE, Phase.CANCELLED}),
    # A plain answer moves on to the next stage (READY) or the end; a stream opens.
    Phase.WAITING: frozenset({Phase.READY, Phase.QUEUED, Phase.DONE, Phase.CANCELLED}),
    Phase.QUEUED: frozenset({Phase.RUNNING} | _READING),
    Phase.RUNNING: _READING,
    # After a side call's completion the plan goes on; after the answer's, it ends.
    Phase.COMPLETED: frozenset({Phase.READY, Phase.DONE}),
    Phase.FAILED: frozenset({Phase.DONE}),
    Phase.CLOSED: frozenset({Phase.DONE}),
    Phase.CANCELLED: frozenset({Phase.DONE}),
    Phase.DONE: frozenset({Phase.CANCELLED}),
}

#: Phases in which no more events will come: a driver stops reading.
FINISHED = frozenset(_READING | {Phase.DONE})


@dataclass(frozen=True)
class Request:
    """An HTTP request for a driver to send, with its time limits in seconds.

    ``connect``: to open a connection; ``read``: the longest silence; ``total``:
    the whole exchange (headers, body, stream), after which the driver stops.
    """

    method: str
    url: str
    step: Step
    connect: float
    read: float
    total: float
    json: Any = None
    headers: Optional[dict[str, str]] = None
    #: A multipart body of these files, in the field ``files`` (UPLOAD only).
    files: tuple[Upload, ...] = ()
    #: Told the byte count of each read of the files, as they are sent.
    progress: Optional[Callable[[int], None]] = None

    @property
    def body(self) -> Optional[bytes]:
        """``json`` as sent (its Content-Type is in ``headers``), or None.

        UTF-8 with non-ASCII text as is: a prompt in Cyrillic or Chinese takes
        a third of the bytes its ``\\u`` escapes would.
        """
        if self.json is None:
            return None
        return json.dumps(self.json, ensure_ascii=False).encode()
