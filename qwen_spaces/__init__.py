"""qwen_spaces: Qwen's chat models on Hugging Face Spaces, from sync and async Python.

>>> import qwen_spaces as qs
>>> reply = qs.Client(model="qwen-2.5-max").chat("What is 2+2?")   # doctest: +SKIP

AsyncClient is loaded on first use, so importing this package does not import
aiohttp.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ._client.sync_client import Client, Conversation, Stream
from ._core.policy import Timeouts
from ._errors import (
    ProtocolError,
    QueueFullError,
    QwenSpacesError,
    SessionLostError,
    SpaceConnectionError,
    SpaceError,
    SpaceHTTPError,
    SpaceNotFoundError,
    SpaceNotRunningError,
    SpaceTimeoutError,
)
from ._events import ConversationState, Event, QueueStatus, Reasoning, Reply, TextDelta
from ._spaces.spaces import MODELS

if TYPE_CHECKING:
    from ._client.async_client import AsyncClient, AsyncConversation, AsyncStream

__version__ = "0.1.0"

# A library stays quiet unless the application configures logging
# (or sets QWEN_SPACES_LOG=debug|info).
logging.getLogger("qwen_spaces").addHandler(logging.NullHandler())

__all__ = [
    "MODELS",
    "AsyncClient",
    "AsyncConversation",
    "AsyncStream",
    "Client",
    "Conversation",
    "ConversationState",
    "Event",
    "ProtocolError",
    "QueueFullError",
    "QueueStatus",
    "QwenSpacesError",
    "Reasoning",
    "Reply",
    "SessionLostError",
    "SpaceConnectionError",
    "SpaceError",
    "SpaceHTTPError",
    "SpaceNotFoundError",
    "SpaceNotRunningError",
    "SpaceTimeoutError",
    "Stream",
    "TextDelta",
    "Timeouts",
]

_ASYNC = {"AsyncClient", "AsyncConversation", "AsyncStream"}


def __getattr__(name: str) -> Any:
    if name in _ASYNC:
        from ._client import async_client

        return getattr(async_client, name)
    raise AttributeError(f"module 'qwen_spaces' has no attribute {name!r}")
