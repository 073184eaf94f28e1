"""A reverse proxy on 127.0.0.1 that serves an upstream URL under a path prefix.

``PrefixProxy(upstream, "/edge/qwen")`` answers ``/edge/qwen/X`` with what
``upstream + "/X"`` answers, streamed chunk by chunk (an event stream stays a
stream), and 404 for every other path: a Gradio app behind a proxy's prefix,
as nginx's ``location /edge/qwen/ { proxy_pass http://app/; }`` serves it.
It runs in a thread with its own loop, bounded in time per request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from types import TracebackType
from typing import Optional

import aiohttp
from aiohttp import web

__all__ = ["PrefixProxy"]

# Hop-by-hop headers, and the length: the body is re-chunked on the way.
_DROPPED = frozenset(
    {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
)


class PrefixProxy:
    """``upstream`` (an app's URL) served under ``prefix``; a context manager."""

    def __init__(self, upstream: str, prefix: str, max_seconds: float = 60.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.prefix = "/" + prefix.strip("/")
        self.max_seconds = max_seconds
        self.targets: list[str] = []  # "METHOD path?query" of every request received
        self.url = ""  # the app's URL through the proxy, set by start()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: Optional[web.AppRunner] = None
        self._session: Optional[aiohttp.ClientSession] = None

    def start(self) -> PrefixProxy:
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self._setup(), self._loop).result(timeout=30)
        self.url = f"http://127.0.0.1:{port}{self.prefix}"
        return self

    async def _setup(self) -> int:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", self.prefix + "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        return int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        self.targets.append(f"{request.method} {request.path_qs}")
        target = f"{self.upstream}/{request.match_info['tail']}"
        if request.query_string:
            target += f"?{request.query_string}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED}
        body = await request.read()
        async with self._session.request(
            request.method,
            target,
            headers=headers,
            data=body or None,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=self.max_seconds),
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            for key, value in upstream.headers.items():
                if key.lower() not in _DROPPED:
                    response.headers.add(key, value)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=15)
        except concurrent.futures.TimeoutError:  # pragma: no cover
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=15)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> PrefixProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()
