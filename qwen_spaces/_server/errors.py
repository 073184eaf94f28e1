"""Errors in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, and the one
table that maps the SDK's errors onto HTTP statuses."""

from __future__ import annotations

import json
from typing import Any, Optional

from .._errors import (
    ProtocolError,
    QueueFullError,
    QwenSpacesError,
    SpaceConnectionError,
    SpaceError,
    SpaceHTTPError,
    SpaceNotFoundError,
    SpaceTimeoutError,
)

__all__ = ["APIError", "from_sdk_error"]

# Seconds a client is told to wait when neither the Space nor the server says.
DEFAULT_RETRY_AFTER = 1


class APIError(Exception):
    """An HTTP error answered as OpenAI answers it: a status and an ``error`` object.

    ``type`` follows OpenAI's names (``invalid_request_error``,
    ``authentication_error``, ``rate_limit_error``, ``api_error``...);
    ``param`` names the request field at fault, if one is.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: Optional[str] = None,
        code: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """The JSON body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def json(self) -> str:
        return json.dumps(self.body(), ensure_ascii=False)

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, round(self.retry_after)))}


def bad_request(message: str, param: Optional[str] = None, code: Optional[str] = None) -> APIError:
    """A 400 naming the field at fault."""
    return APIError(400, message, param=param, code=code)


def unsupported(what: str, param: str) -> APIError:
    """A 400 for something OpenAI's API has and the Qwen Spaces cannot carry."""
    return APIError(
        400,
        f"{what} is not supported by this server (the Qwen Spaces take text only)",
        param=param,
        code="unsupported_parameter",
    )


def from_sdk_error(error: QwenSpacesError) -> APIError:
    """The HTTP answer for a failed call; the message is the SDK's, already without
    credentials, and without the partial answer."""
    message = error.message
    if isinstance(error, QueueFullError):
        return APIError(
            429,
            f"the Space's queue is full: {message}",
            type="rate_limit_error",
            code="queue_full",
            retry_after=error.retry_after or DEFAULT_RETRY_AFTER,
        )
    if isinstance(error, SpaceHTTPError) and error.status_code == 429:
        return APIError(
            429,
            f"the Space is rate limiting: {message}",
            type="rate_limit_error",
            code="rate_limited",
            retry_after=error.retry_after or DEFAULT_RETRY_AFTER,
        )
    if isinstance(error, SpaceTimeoutError):
        return APIError(
            504, f"the Space timed out: {message}", type="api_error", code="space_timeout"
        )
    if isinstance(error, SpaceError):  # its message says it is the Space's
        return APIError(502, message, type="api_error", code="space_error")
    if isinstance(error, SpaceConnectionError):
        return APIError(502, message, type="api_error", code="space_unreachable")
    if isinstance(error, SpaceNotFoundError):
        return APIError(502, message, type="api_error", code="space_not_found")
    if isinstance(error, SpaceHTTPError):
        return APIError(502, message, type="api_error", code="space_http_error")
    if isinstance(error, ProtocolError):
        return APIError(502, message, type="api_error", code="space_protocol_error")
    return APIError(502, message, type="api_error", code="space_failure")
