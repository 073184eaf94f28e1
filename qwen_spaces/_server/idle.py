"""A bound on connections that never send a whole request.

aiohttp 3.14 starts its keep-alive timer when a connection opens, so
``keepalive_timeout`` also closes a connection that sends nothing or only
part of its request's headers; aiohttp 3.13 starts it only after a first
answer. This guard gives every version the same bound: a connection whose
first request has not arrived ``seconds`` after it opened is closed. After
that, aiohttp's own keep-alive timer takes over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Optional

__all__ = ["FirstRequestGuard"]


class FirstRequestGuard:
    """Arms a timer per new connection; ``request_seen`` disarms it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._timers: dict[Any, asyncio.TimerHandle] = {}

    def wrap(self, factory: Callable[[], asyncio.BaseProtocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server``: ``factory``'s protocols, guarded."""
        return lambda: _Guarded(factory(), self)

    def request_seen(self, transport: Optional[asyncio.BaseTransport]) -> None:
        """A whole request's headers arrived on ``transport``: no more first-request bound."""
        timer = self._timers.pop(transport, None)
        if timer is not None:
            timer.cancel()

    def _opened(self, transport: asyncio.BaseTransport) -> None:
        loop = asyncio.get_running_loop()
        self._timers[transport] = loop.call_later(self.seconds, self._expire, transport)

    def _expire(self, transport: asyncio.BaseTransport) -> None:
        if self._timers.pop(transport, None) is not None:
            transport.close()

    def _closed(self, transport: Optional[asyncio.BaseTransport]) -> None:
        self.request_seen(transport)


class _Guarded(asyncio.Protocol):
    """aiohttp's request handler, with the guard told when the connection opens and closes."""

    def __init__(self, inner: asyncio.BaseProtocol, guard: FirstRequestGuard) -> None:
        self._inner: Any = inner  # a RequestHandler: a streaming protocol
        self._guard = guard
        self._transport: Optional[asyncio.BaseTransport] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._guard._opened(transport)
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._guard._closed(self._transport)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> Optional[bool]:
        result: Optional[bool] = self._inner.eof_received()
        return result

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()
