"""One exception tree: every failure a user can see is a :class:`QwenSpacesError`."""

from __future__ import annotations

from typing import Any, Optional

from ._patterns import LazyPattern

__all__ = [
    "ProtocolError",
    "QueueFullError",
    "QwenSpacesError",
    "SessionLostError",
    "SpaceConnectionError",
    "SpaceError",
    "SpaceHTTPError",
    "SpaceNotFoundError",
    "SpaceNotRunningError",
    "SpaceTimeoutError",
    "redact",
]


class QwenSpacesError(Exception):
    """Base of every error raised by qwen_spaces.

    ``message`` is what went wrong (also ``str(error)``); ``partial_text`` holds
    the answer text that had arrived before the failure (empty when none did),
    so an interrupted answer is never lost;
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
    """A time limit was hit.

    ``limit`` is one of connect, read, queue, total; ``seconds`` its value.
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
    ``retry_after`` the server's ``Retry-After`` in seconds, if it sent one;
    ``url`` the URL that answered so (where known).
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


class SpaceNotFoundError(SpaceHTTPError):
    """No Gradio app answers at the Space's URL: its ``/config`` is not found (HTTP 404).

    ``url`` is that ``/config`` URL and ``base_url`` the app's URL that was
    given. A typo, or the root of a host whose app is mounted under a path.
    """

    def __init__(self, base_url: str, url: str, body_excerpt: str = "") -> None:
        super().__init__(404, body_excerpt, url=url)
        self.base_url = base_url
        self.message: str = (
            f"no Gradio app answers at {base_url} (GET {url}: HTTP 404): check the URL; "
            "an app mounted under a path, or behind a proxy's prefix, is at that path "
            "(such as https://host/chat)"
        )
        self.args: tuple[Any, ...] = (self.message,)


class QueueFullError(SpaceHTTPError):
    """The Space's queue is full (HTTP 503); retried automatically up to ``max_retries``.

    ``message`` is what the Space said; ``retry_after`` and ``url`` as on SpaceHTTPError.
    """

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


class SessionLostError(QwenSpacesError):
    """The Space no longer holds the conversation's session, and it cannot be rebuilt here.

    Spaces that keep the history in their session (the 1M and Qwen3 demos)
    lose it when they restart or evict the session. The clients notice and
    send the whole conversation again in a new session; this is raised only
    when they cannot: the conversation was resumed from a bare
    ``session_hash`` (its earlier turns were never known here), or its
    session held documents sent with earlier turns (they are not kept here).
    ``cause`` says what was seen (``"restart"``: the Space's app_id changed;
    ``"empty session"``: the Qwen3 page showed its session empty), ``detail``
    the same in words, ``missing`` what could not be sent again. Nothing of
    the answer is kept: an answer from the empty session would be wrong.
    """

    def __init__(self, cause: str, detail: str, missing: str = "turns") -> None:
        if missing == "documents":
            lost = (
                "and it held the documents sent with earlier turns, which are not kept "
                "here: start a new conversation and send them again (files=)"
            )
        else:
            lost = (
                "and its earlier turns are not known here to send again: it was resumed "
                "from a bare session_hash. Start a new conversation, or resume with the "
                "messages too (ConversationState.resumed(model, session_hash, messages), "
                "or a state saved with to_dict())"
            )
        super().__init__(
            f"the Space no longer holds this conversation's session ({detail}), {lost}"
        )
        self.cause = cause
        self.detail = detail
        self.missing = missing


class SpaceNotRunningError(QwenSpacesError):
    """The Space is not running: Hugging Face answered with its status page, not the app.

    ``state`` is ``"sleeping"`` or ``"building"`` (starting: retried within the
    call's time limits, as a visit wakes it), ``"paused"`` (by its owner) or
    ``"runtime_error"`` (a runtime or build error: its owner must fix it).
    ``status_code`` is the HTTP status of that page and ``retry_after`` the
    server's ``Retry-After`` in seconds, if it sent one; ``url`` the URL asked.
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


_USERINFO = LazyPattern(r"(?<=://)[^/@\s:]+(?::[^/@\s]*)?@")
_BEARER = LazyPattern(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+")
_HF_TOKEN = LazyPattern(r"hf_[A-Za-z0-9]{8,}")


def redact(text: str, *secrets: Optional[str]) -> str:
    """Remove credentials from text meant for a log or an error message."""
    text = _USERINFO.sub("***@", text)
    text = _BEARER.sub(r"\1***", text)
    text = _HF_TOKEN.sub("hf_***", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
