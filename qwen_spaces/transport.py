"""What a transport (a driver's HTTP library) reports, in neutral terms.

Each driver maps its library's exceptions onto a :class:`FailureKind` in one
table and raises :class:`TransportError`; the call (``protocol.py``) turns that
into the user's error, with its limit, partial text and no credentials. No
library's exception shapes leak past the driver that knows them.
"""

from __future__ import annotations

import enum

__all__ = ["FailureKind", "TransportError", "describe_cause", "keeps_connection"]


class FailureKind(enum.Enum):
    """Why moving bytes failed."""

    CONNECT_TIMEOUT = "connect timeout"  # no connection within the connect limit
    READ_TIMEOUT = "read timeout"  # silence longer than the read limit
    DEADLINE = "deadline"  # the request's total budget ran out
    CONNECTION = "connection"  # refused, reset, broken, malformed HTTP


class TransportError(Exception):
    """A transport failure of ``kind``; ``cause`` is the library's own exception."""

    def __init__(self, kind: FailureKind, cause: BaseException) -> None:
        super().__init__(kind.value)
        self.kind = kind
        self.cause = cause


def keeps_connection(status: int) -> bool:
    """Whether a connection whose answer was read to its end may serve another request.

    Not after a 5xx: uvicorn closes the connection just after an app error, and
    the next request (often the /config refetch) would meet a reset.
    """
    return status < 500


def describe_cause(exc: BaseException) -> str:
    """``Type: what happened`` for the innermost deliberate cause of ``exc``."""
    cause = _root_cause(exc)
    return f"{type(cause).__name__}: {_describe(cause)}"


def _root_cause(exc: BaseException) -> BaseException:
    # requests and urllib3 wrap the OS error in two or three layers of
    # "Max retries exceeded ..."; the innermost says what happened. Only
    # deliberate causes are followed: __context__ would lead into a library's
    # own parse errors (e.g. int() of an empty chunk length).
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None) or exc.__cause__
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    # urllib3's "<HTTPConnection object at 0x...>: Failed to ..." prefix says nothing.
    return text.split(">: ", 1)[-1] if text.startswith("<") else text
