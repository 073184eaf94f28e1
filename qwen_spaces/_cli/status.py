"""The status line on stderr: the queue, and what a silent call is waiting for.

Queue statuses show as they arrive. On a terminal, a call that has shown
nothing for ``WAIT_SECONDS`` also says what it is waiting for (connecting to
the Space, a retry's countdown), refreshed by a thread of its own because the
call's thread is blocked in a socket or a backoff sleep meanwhile. The line is
erased when the answer (or the reasoning) starts, and when the call ends.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Optional, TextIO

from .._events import Event, QueueStatus, Reasoning

__all__ = ["WAIT_SECONDS", "StatusLine", "describe"]

#: Seconds of silence before a terminal is told what the call waits for.
WAIT_SECONDS = 2.0
_TICK = 0.25  # how often the waiting line is refreshed (a retry's countdown)
_ERASE = "\r\x1b[K"


class StatusLine:
    """Queue position and status text on stderr, until the answer starts.

    On a terminal it is one line rewritten in place and erased before the
    answer; elsewhere (``--progress`` into a log) one line per queue change.
    ``where`` (the Space's host) names what is being connected to.
    """

    def __init__(self, out: TextIO, where: str = "", wait: float = WAIT_SECONDS) -> None:
        self._out = out
        self._live = out.isatty()
        self._wait = wait
        self._last = ""
        self._shown = False
        self.done = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._where = where
        self._retry: Optional[tuple[int, int, float]] = None  # (k, n, monotonic end of the wait)
        self._queued = False  # a queue status is on the line: it says more than "connecting"
        self._watcher: Optional[threading.Thread] = None
        self._hook: Optional[_RetryHook] = None

    def begin(self) -> None:
        """The call starts: on a terminal, watch for silence."""
        if not self._live or self._watcher is not None or self.done:
            return
        self._hook = _RetryHook(self)
        logging.getLogger("qwen_spaces").addHandler(self._hook)
        deadline = time.monotonic() + self._wait
        self._watcher = threading.Thread(
            target=self._watch, args=(deadline,), name="qwen-spaces-status", daemon=True
        )
        self._watcher.start()

    def show(self, event: Event) -> None:
        text = describe(event)
        with self._lock:
            if self.done or not text or text == self._last:
                return
            self._queued = True
            self._retry = None
            self._write(text)

    def retrying(self, attempt: int, of: int, seconds: float) -> None:
        """A retry (``attempt`` of ``of``) starts in ``seconds``: said once the call is silent."""
        with self._lock:
            self._retry = (attempt, of, time.monotonic() + seconds)
            self._queued = False

    def clear(self) -> None:
        with self._lock:
            self.done = True
            if self._shown:
                self._out.write(_ERASE)
                self._out.flush()
                self._shown = False
        self._stop.set()
        if self._hook is not None:
            logging.getLogger("qwen_spaces").removeHandler(self._hook)
            self._hook = None
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=1.0)

    def _write(self, text: str) -> None:  # with the lock held
        self._last = text
        if self._live:
            self._out.write(_ERASE + text)
            self._shown = True
        else:
            self._out.write(text + "\n")
        self._out.flush()

    def _watch(self, deadline: float) -> None:
        if self._stop.wait(max(0.0, deadline - time.monotonic())):
            return
        while True:
            with self._lock:
                if self.done:
                    return
                text = self._waiting()
                if text and text != self._last:
                    self._write(text)
            if self._stop.wait(_TICK):
                return

    def _waiting(self) -> str:  # with the lock held
        if self._retry is not None:
            attempt, of, until = self._retry
            left = until - time.monotonic()
            if left > 0:
                return f"retry {attempt} of {of} in {math.ceil(left)} s..."
            return f"connecting to {self._where or 'the Space'}... (retry {attempt} of {of})"
        if self._queued:
            return ""  # the queue status already says what the call waits for
        return f"connecting to {self._where or 'the Space'}..."


class _RetryHook(logging.Handler):
    """Hears the client's retry log records (their ``qwen_spaces_retry`` field)."""

    def __init__(self, status: StatusLine) -> None:
        super().__init__(logging.WARNING)
        self._status = status

    def emit(self, record: logging.LogRecord) -> None:
        retry = getattr(record, "qwen_spaces_retry", None)
        if retry is not None:
            self._status.retrying(*retry)


def describe(event: Event) -> str:
    if type(event) is QueueStatus:
        if event.started:
            return "generating..."
        if event.rank is None:
            return "queued"
        size = f" (queue of {event.queue_size})" if event.queue_size else ""
        eta = "" if event.eta is None else f", about {event.eta:.{1 if event.eta < 10 else 0}f} s"
        return f"queue: {event.rank} ahead{size}{eta}"
    if type(event) is Reasoning:
        return event.text.strip().splitlines()[0][:100] if event.text.strip() else ""
    return ""
