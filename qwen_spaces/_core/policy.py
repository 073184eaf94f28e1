"""Timeouts and retries, and the checks of the options: decided here once for both clients."""

from __future__ import annotations

import random
from typing import ClassVar, Optional, Union
from urllib.parse import urlsplit

from .._errors import (
    QwenSpacesError,
    SpaceConnectionError,
    SpaceHTTPError,
    SpaceNotRunningError,
    SpaceTimeoutError,
    redact,
)
from .._gradio.gradio import is_retryable_status
from .._value import Frozen

__all__ = [
    "RetryPolicy",
    "RetryState",
    "TimeoutArg",
    "Timeouts",
    "check_proxy_url",
    "check_token",
]


# The slowest upload rate the derived upload limit allows for (bytes a second).
_UPLOAD_FLOOR_RATE = 512 * 1024


class Timeouts(Frozen):
    """Time limits in seconds; every one is finite so no call hangs forever.

    ``connect``: opening a connection. ``read``: the longest silence between
    bytes (Gradio sends a heartbeat every 15 s while idle). ``queue``: the
    longest wait in the Space's queue before generation starts. ``total``: the
    whole call, retries included. ``upload``: sending the files of a call and
    waiting for the Space to take them; None derives it from their size (at
    least ``read``, plus a second for each 512 KiB), and it does not count
    against ``read``.
    """

    __match_args__: ClassVar[tuple[str, ...]] = ("connect", "read", "queue", "total", "upload")
    __slots__ = __match_args__
    connect: float
    read: float
    queue: float
    total: float
    upload: Optional[float]

    def __init__(
        self,
        connect: float = 10.0,
        read: float = 60.0,
        queue: float = 600.0,
        total: float = 900.0,
        upload: Optional[float] = None,
    ) -> None:
        for name, value in (
            ("connect", connect),
            ("read", read),
            ("queue", queue),
            ("total", total),
            ("upload", upload),
        ):
            if value is None and name == "upload":
                self._set(name, value)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"timeout {name} must be a number of seconds, got {value!r}")
            if not value > 0 or value == float("inf"):
                raise ValueError(f"timeout {name} must be a positive, finite number, got {value!r}")
            self._set(name, value)

    def upload_seconds(self, size: int) -> float:
        """The time limit of an upload of ``size`` bytes."""
        if self.upload is not None:
            return self.upload
        return self.read + size / _UPLOAD_FLOOR_RATE

    @classmethod
    def of(cls, value: TimeoutArg, base: Optional[Timeouts] = None) -> Timeouts:
        """Timeouts from ``value``: a Timeouts, a number (every limit capped at it) or None.

        None and the numbers start from ``base`` (by default the defaults).
        """
        base = base or cls()
        if value is None:
            return base
        if isinstance(value, Timeouts):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"timeout must be a number of seconds or a Timeouts, got {value!r}")
        if not value > 0:
            raise ValueError(f"timeout must be positive, got {value!r}")
        seconds = float(value)
        return base.replace(
            connect=min(base.connect, seconds),
            read=min(base.read, seconds),
            queue=min(base.queue, seconds),
            total=seconds,
        )


TimeoutArg = Union[None, float, int, Timeouts]


class RetryPolicy(Frozen):
    """Which failures are retried, and after how long.

    Connection errors, HTTP 429/500/502/503/504 and a full queue are retried
    with jittered exponential backoff, honouring ``Retry-After``; only while no
    answer text has arrived (a stream is never silently restarted). A Space
    that is sleeping or building is retried after ``wake_delay`` seconds (or
    its ``Retry-After``), since the first request woke it; a paused or broken
    one is not, as only its owner can bring it back.
    """

    __match_args__: ClassVar[tuple[str, ...]] = (
        "max_retries",
        "base_delay",
        "max_delay",
        "wake_delay",
    )
    __slots__ = __match_args__
    max_retries: int
    base_delay: float
    max_delay: float
    wake_delay: float

    def __init__(
        self,
        max_retries: int = 2,
        base_delay: float = 0.5,
        max_delay: float = 20.0,
        wake_delay: float = 15.0,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            raise TypeError(f"max_retries must be an int, got {max_retries!r}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self._set("max_retries", max_retries)
        self._set("base_delay", base_delay)
        self._set("max_delay", max_delay)
        self._set("wake_delay", wake_delay)

    def delay(self, error: QwenSpacesError, attempt: int) -> Optional[float]:
        """Seconds to wait before retry number ``attempt + 1``, or None: don't."""
        if attempt >= self.max_retries or error.partial_text:
            return None
        retry_after: Optional[float] = None
        if isinstance(error, SpaceNotRunningError):
            if not error.starting:
                return None
            retry_after = error.retry_after if error.retry_after is not None else self.wake_delay
        elif isinstance(error, SpaceHTTPError):  # QueueFullError included (a 503)
            if not is_retryable_status(error.status_code):
                return None
            retry_after = error.retry_after
        elif not isinstance(error, SpaceConnectionError) or isinstance(error, SpaceTimeoutError):
            return None
        backoff = min(self.max_delay, self.base_delay * 2**attempt)
        backoff *= 0.5 + random.random() / 2  # jitter: callers don't retry in step
        if retry_after is not None:
            return float(min(max(retry_after, backoff), self.max_delay * 3))
        return float(backoff)


class RetryState(Frozen):
    """Where a call stands in its retries: a value, replaced at each retry.

    ``increment`` answers the one question a driver has after a failure: wait
    how long, then try again with which state; or None, give up.
    """

    __match_args__: ClassVar[tuple[str, ...]] = ("policy", "attempt")
    __slots__ = __match_args__
    policy: RetryPolicy
    attempt: int

    def __init__(self, policy: RetryPolicy, attempt: int = 0) -> None:
        self._set("policy", policy)
        self._set("attempt", attempt)

    def increment(self, error: QwenSpacesError) -> Optional[tuple[float, RetryState]]:
        delay = self.policy.delay(error, self.attempt)
        if delay is None:
            return None
        return delay, self.replace(attempt=self.attempt + 1)


def check_proxy_url(url: str) -> str:
    """A proxy URL: http(s) with a host; credentials are allowed (and kept out of logs)."""
    if not isinstance(url, str):
        raise TypeError(f"proxy must be a str, got {type(url).__name__}")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"proxy must be an http(s) URL such as http://proxy:3128, got {redact(url)!r}"
        )
    return url.strip()


_TOKEN_EXPECTED = "printable ASCII without spaces, as hf_... from huggingface.co/settings/tokens"


def check_token(value: object) -> str:
    """A Hugging Face token fit for an ``Authorization`` header, stripped.

    Surrounding whitespace goes (a token read from a file keeps its newline);
    "" means no token. Inner whitespace, control or non-ASCII characters are
    a ValueError, which HTTP libraries would otherwise raise with the whole
    header in the message. The token itself is never part of a message.
    """
    if not isinstance(value, str):
        raise TypeError(f"hf_token must be a str, got {type(value).__name__}")
    token = value.strip()
    problem = _token_problem(token)
    if problem:
        del value, token  # a traceback printer that shows locals must not show it either
        raise ValueError(f"hf_token has {problem}: expected {_TOKEN_EXPECTED}")
    return token


def _token_problem(token: str) -> str:
    for char in token:
        if " " < char < "\x7f":
            continue
        if char.isspace():
            return "whitespace inside it"
        return "a non-ASCII character" if not char.isascii() else "a control character"
    return ""
