"""The fake Space's thread: its own event loop, serving the app on 127.0.0.1.

FakeSpace runs here so that sync tests, asyncio tests and other processes can
all talk to it over real sockets, and a test that blocks its own loop cannot
starve the Space.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Optional

from aiohttp import web

from ._app import SpaceApp

__all__ = ["ThreadServer"]

log = logging.getLogger("qwen_spaces.testing")


class ThreadServer:
    """Serves ``app`` on ``port`` (0: a free one) from a daemon thread."""

    def __init__(self, app: SpaceApp, port: int) -> None:
        self._app = app
        self._port = port
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runners: list[web.BaseRunner] = []

    def start(self) -> None:
        """Start the thread; returns once the app's ``url`` accepts connections."""
        if self._thread is not None:
            raise RuntimeError("this FakeSpace is already started")
        self._loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._serve, args=(self._loop, ready), name="FakeSpace", daemon=True
        )
        self._thread.start()
        try:
            ready.result(timeout=30)
        except BaseException:
            self._thread.join(timeout=5)
            self._thread = None
            raise

    def stop(self) -> None:
        """Close every connection and stop the thread. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=15)
            except (concurrent.futures.TimeoutError, RuntimeError):  # pragma: no cover
                log.warning("the fake Space did not shut down cleanly")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=15)
        self._thread = None
        self._loop = None

    def _serve(
        self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[None]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup())
        except BaseException as exc:
            loop.run_until_complete(self._cleanup_runners())
            loop.close()
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _setup(self) -> None:
        app = self._app
        main = web.ServerRunner(app.server(), shutdown_timeout=1.0)
        await main.setup()
        self._runners.append(main)
        site = web.TCPSite(main, "127.0.0.1", self._port)
        await site.start()
        app.url = f"http://127.0.0.1:{main.addresses[0][1]}"
        if "redirect_join" in {f.kind for f in app.faults}:
            other_server = web.Server(app.handle_other, handler_cancellation=True)
            other = web.ServerRunner(other_server, shutdown_timeout=1.0)
            await other.setup()
            self._runners.append(other)
            await web.TCPSite(other, "127.0.0.1", 0).start()
            # Same machine, another host name: a client must treat it as a different host.
            app.other_url = f"http://localhost:{other.addresses[0][1]}"

    async def _shutdown(self) -> None:
        self._app.stop_streams()
        await self._cleanup_runners()

    async def _cleanup_runners(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
