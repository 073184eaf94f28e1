"""One exception tree: every failure a user can see is a :class:`QwenSpacesError`."""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "ProtocolError",
    "QueueFullError",
    "QwenSpacesError",
    "SpaceConnectionError",
    "SpaceError",
    "SpaceHTTPError",
    "SpaceNotRunningError",
    "SpaceTimeoutError",
]


class QwenSpacesError(Exception):
    """Base of every error raised by qwen_spaces.

    ``partial_text`` holds the answer text that had arrived before the failure
    (empty when none did), so an interrupted answer is never lost;
    ``partial_reasoning`` likewise the reasoning of a thinking model.
    """

    partial_reasoning: str = ""

    def __init__(self, message: str, *, partial_text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.partial_text = partial_text

    def __str__(self) -> str:
        if self.partial_text:
            return f"{self.message} (after {len(self.partial_text)} characters of answer)"
        return self.message


class SpaceConnectionError(QwenSpacesError):
    """The Space could not be reached, or the connection broke."""


class SpaceTimeoutError(QwenSpacesError, TimeoutError):
    """A time limit was hit. ``limit`` is one of connect, read, queue, total.

    Also a :class:`TimeoutError` (as huggingface_hub's InferenceTimeoutError
    is), so ``except TimeoutError`` catches it.
    """

    _WHAT = {
        "connect": "could not connect within {} s",
        "read": "no data from the Space for {} s",
        "queue": "still waiting in the Space's queue after {} s",
        "total": "the call took longer than {} s",
    }

    def __init__(self, limit: str, seconds: float, *, partial_text: str = "") -> None:
        what = self._WHAT.get(limit, "no progress within {} s").format(f"{seconds:g}")
        super().__init__(f"{limit} timeout: {what}", partial_text=partial_text)
        self.limit = limit
        self.seconds = seconds


class SpaceHTTPError(QwenSpacesError):
    """The Space answered with an HTTP error status.

    ``status_code`` is the status, ``body_excerpt`` the start of the body and
    ``retry_after`` the server's ``Retry-After`` in seconds, if it sent one.
    """

    def __init__(
        self,
        status_code: int,
        body_excerpt: str = "",
        *,
        url: str = "",
        retry_after: Optional[float] = None,
        partial_text: str = "",
    ) -> None:
        where = f" from {url}" if url else ""
        detail = f": {body_excerpt}" if body_excerpt else ""
        super().__init__(f"HTTP {status_code}{where}{detail}", partial_text=partial_text)
        self.status_code = status_code
        self.body_excerpt = body_excerpt
        self.url = url
        self.retry_after = retry_after


class QueueFullError(SpaceHTTPError):
    """The Space's queue is full (HTTP 503); retried automatically up to ``max_retries``."""

    def __init__(self, message: str, *, retry_after: Optional[float] = None, url: str = "") -> None:
        super().__init__(503, message, url=url, retry_after=retry_after)
        self.message = message  # what the Space said, not the HTTP framing


class SpaceError(QwenSpacesError):
    """The Space reported a failure (``success: false`` or ``unexpected_error``)."""


class ProtocolError(QwenSpacesError):
    """The Space sent something the SDK cannot read; ``payload`` holds it (truncated)."""

    def __init__(self, message: str, payload: Any = None, *, partial_text: str = "") -> None:
        super().__init__(message, partial_text=partial_text)
        self.payload = payload


class SpaceNotRunningError(QwenSpacesError):
    """The Space is not running: Hugging Face answered with its status page, not the app.

    ``state`` is ``"sleeping"`` or ``"building"`` (starting: retried within the
    call's time limits, as a visit wakes it), ``"paused"`` (by its owner) or
    ``"runtime_error"`` (a runtime or build error: its owner must fix it).
    ``status_code`` is the HTTP status of that page and ``retry_after`` the
    server's ``Retry-After`` in seconds, if it sent one.
    """

    STARTING = frozenset({"sleeping", "building"})
    _WHAT = {
        "sleeping": "the Space is sleeping; it wakes on a visit and may take a minute",
        "building": "the Space is building or starting up; it may take a few minutes",
        "paused": "the Space is paused by its owner; it will not answer until they restart it",
        "runtime_error": (
            "the Space has a runtime or build error; it will not answer until its owner fixes it"
        ),
    }

    def __init__(
        self,
        state: str,
        *,
        status_code: Optional[int] = None,
        url: str = "",
        retry_after: Optional[float] = None,
        partial_text: str = "",
    ) -> None:
        what = self._WHAT.get(state, f"the Space is not running ({state})")
        where = f" ({url})" if url else ""
        super().__init__(f"{what}{where}", partial_text=partial_text)
        self.state = state
        self.status_code = status_code
        self.url = url
        self.retry_after = retry_after

    @property
    def starting(self) -> bool:
        """True while the Space is on its way up (sleeping or building)."""
        return self.state in self.STARTING
