"""Byte-level network shaping for tests, on 127.0.0.1 only.

``ByteProxy`` is an asyncio TCP proxy in front of any HTTP server (a FakeSpace, a
real Gradio replica) that reshapes the bytes as they pass: one byte (or N) per
write, a delay per write (drip), a delay before a response's first byte, a cut
after N response bytes, and a fixed one-way latency each direction (for
benchmarks). Response shapes can be chosen per request, from the request line::

    shapes = {"/config": Shape(write_size=1, per_write=0.2), "": Shape(write_size=1)}
    with ByteProxy(space.url, response=shapes) as proxy:
        Client(base_url=proxy.url).chat("hi")

``RawServer`` answers each request path with a scripted list of raw byte writes
and sleeps, for replies no real server sends (broken chunking, gzip without
chunking, endless heartbeats). Both run in a background thread with their own
loop, are context managers, bound their connections in number and in time, and
stop cleanly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Optional, Union
from urllib.parse import urlsplit

__all__ = [
    "ByteProxy",
    "DelayProxy",
    "RawServer",
    "Shape",
    "chunk",
    "http_response",
    "sse",
    "stream_head",
]

_REQUEST_LINE = re.compile(rb"(?:^|\r\n)([A-Z]{3,7}) (\S+) HTTP/1\.[01]\r\n")
_READ = 65536


@dataclass(frozen=True)
class Shape:
    """How the proxy writes one response (or the requests): all fields combine."""

    write_size: Optional[int] = None  # bytes per write; None: as read
    per_write: float = 0.0  # seconds after each write (drip); 0 still yields to the loop
    pause_every: int = 1  # sleep per_write after every Nth write only (the others just yield)
    first_byte: float = 0.0  # seconds before the first byte
    cut_after: Optional[int] = None  # close the connection after this many bytes
    skip_head: bool = False  # the response head (status line, headers) passes as is


AS_IS = Shape()
ShapeRule = Union[Shape, Mapping[str, Shape], Callable[[str, str], Shape]]


class _LoopThread:
    """An asyncio server in a daemon thread with its own loop; start/stop are idempotent."""

    def __init__(self, max_connections: int, max_seconds: float) -> None:
        self.max_connections, self.max_seconds = max_connections, max_seconds
        self.url = ""
        self.connections = 0  # accepted so far
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._server: Optional[asyncio.Server] = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()  # every socket opened, closed at stop

    def start(self) -> Any:
        loop = self._loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._connected, "127.0.0.1", 0)
                )
                port = self._server.sockets[0].getsockname()[1]
                self.url = f"http://127.0.0.1:{port}"
                ready.set_result(None)
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        ready.result(timeout=10)
        return self

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in list(self._writers):  # a task cancelled before it ran closed nothing
            writer.close()
        self._writers.clear()

    def stop(self) -> None:
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self,
        t: Optional[type[BaseException]],
        e: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Synchronous, so every accepted socket is known before any task runs.
        self.connections += 1
        if len(self._tasks) >= self.max_connections:
            writer.close()
            return
        self._writers.add(writer)
        task = asyncio.get_running_loop().create_task(self._accept(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await asyncio.wait_for(self._serve(reader, writer), self.max_seconds)
        except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError, _Cut):
            pass
        except asyncio.CancelledError:
            pass  # stopping
        finally:
            writer.close()
            self._writers.discard(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class _Cut(Exception):
    pass


@dataclass
class _Response:
    """The response in flight on one proxied connection."""

    target: str = ""
    method: str = ""
    sent: int = 0
    head: bytes = b""
    head_done: bool = False
    writes: int = 0

    def reset(self, method: str, target: str) -> None:
        self.method, self.target, self.sent, self.head, self.head_done = (
            method,
            target,
            0,
            b"",
            False,
        )
        self.writes = 0


class ByteProxy(_LoopThread):
    """A TCP proxy in front of ``upstream`` (an ``http://127.0.0.1:port`` URL).

    ``response`` shapes what goes back to the client: one Shape, a mapping from
    request-path prefix to Shape (the longest prefix wins, ``""`` is the default),
    or ``fn(method, target) -> Shape``. ``request`` shapes what goes upstream
    (its first_byte and cut_after count per piece read, not per request).
    ``latency`` delays every piece by that many seconds each way (no throttling).
    ``writes`` counts the writes made to clients: one-byte mode makes it the byte count.
    """

    def __init__(
        self,
        upstream: str,
        response: ShapeRule = AS_IS,
        request: Shape = AS_IS,
        latency: float = 0.0,
        max_connections: int = 64,
        max_seconds: float = 30.0,
    ) -> None:
        super().__init__(max_connections, max_seconds)
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.response, self.request, self.latency = response, request, latency
        self.targets: list[str] = []  # "METHOD target" of every request seen
        self.writes = 0

    def shape_for(self, method: str, target: str) -> Shape:
        rule = self.response
        if isinstance(rule, Shape):
            return rule
        if callable(rule):
            return rule(method, target)
        keys = [k for k in rule if target.startswith(k)]
        return rule[max(keys, key=len)] if keys else AS_IS

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        self._writers.add(up_writer)
        current = _Response()
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, current, upward=True)),
            asyncio.create_task(self._pump(up_reader, writer, current, upward=False)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            up_writer.close()
            self._writers.discard(up_writer)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        current: _Response,
        *,
        upward: bool,
    ) -> None:
        """Read one direction and write it shaped, ``latency`` later (through a bounded queue)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=64)

        async def read() -> None:
            while data := await reader.read(_READ):
                if upward and (found := _REQUEST_LINE.findall(data)):
                    method, target = (x.decode("latin-1") for x in found[-1])
                    self.targets.append(f"{method} {target}")
                    current.reset(method, target)
                await queue.put((loop.time() + self.latency, data))
            await queue.put((loop.time() + self.latency, b""))

        reading = asyncio.create_task(read())
        try:
            while True:
                at, data = await queue.get()
                if (wait := at - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if not data:
                    return
                if upward:
                    await self._write(writer, data, self.request, _Response(), count=False)
                else:
                    shape = self.shape_for(current.method, current.target)
                    await self._write(writer, data, shape, current, count=True)
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

    async def _write(
        self,
        writer: asyncio.StreamWriter,
        data: bytes,
        shape: Shape,
        state: _Response,
        *,
        count: bool,
    ) -> None:
        if shape.skip_head and not state.head_done:
            state.head += data
            end = state.head.find(b"\r\n\r\n")
            if end < 0:
                return  # held until the head is complete
            head, data = state.head[: end + 4], state.head[end + 4 :]
            state.head_done = True
            writer.write(head)
            await writer.drain()
            if not data:
                return
        if state.sent == 0 and shape.first_byte:
            await asyncio.sleep(shape.first_byte)
        cut = False
        if shape.cut_after is not None:
            data = data[: max(0, shape.cut_after - state.sent)]
            cut = state.sent + len(data) >= shape.cut_after
        step = shape.write_size or len(data) or 1
        for i in range(0, len(data), step):
            writer.write(data[i : i + step])
            await writer.drain()
            state.sent += len(data[i : i + step])
            self.writes += count
            state.writes += 1
            pause = shape.per_write if state.writes % shape.pause_every == 0 else 0.0
            await asyncio.sleep(pause)
        if cut:
            raise _Cut


def DelayProxy(upstream: str, seconds: float, **options: Any) -> ByteProxy:  # reads as a class
    """A proxy that only adds ``seconds`` of one-way latency each direction (benchmarks)."""
    return ByteProxy(upstream, latency=seconds, **options)


# --- the raw server ------------------------------------------------------------------------

Step = Union[bytes, float]  # bytes: one write; float: sleep that many seconds
Script = Union[Sequence[Step], Callable[[], Iterable[Step]]]


class RawServer(_LoopThread):
    """An HTTP/1.1 server that answers ``"METHOD /path"`` (or ``"/path"``, query ignored)
    with a script of raw writes and sleeps, then closes the connection. Other
    requests get a 404. A script may be a callable returning an iterable (possibly
    endless: the connection's ``max_seconds`` bounds it). ``requests`` records
    ``(method, target, body)`` of every request."""

    def __init__(
        self, routes: Mapping[str, Script], max_connections: int = 64, max_seconds: float = 20.0
    ) -> None:
        super().__init__(max_connections, max_seconds)
        self.routes = dict(routes)
        self.requests: list[tuple[str, str, bytes]] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, target = head.split(b" ", 2)[:2]
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        body = await reader.readexactly(int(length.group(1))) if length else b""
        m, t = method.decode("latin-1"), target.decode("latin-1")
        self.requests.append((m, t, body))
        path = t.split("?", 1)[0]
        script = self.routes.get(f"{m} {path}", self.routes.get(path))
        if script is None:
            script = [http_response(b'{"detail":"Not Found"}', status=404)]
        steps = script() if callable(script) else script
        for step in steps:
            if isinstance(step, float):
                await asyncio.sleep(step)
            else:
                writer.write(step)
                await writer.drain()


def http_response(
    body: bytes,
    status: int = 200,
    content_type: str = "application/json",
    headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A whole HTTP/1.1 response with Content-Length and ``Connection: close``."""
    lines = [
        f"HTTP/1.1 {status} X",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def stream_head(headers: Sequence[tuple[str, str]] = (), chunked: bool = True) -> bytes:
    """The head of an event-stream response, chunked unless told otherwise."""
    lines = [
        "HTTP/1.1 200 OK",
        "Content-Type: text/event-stream; charset=utf-8",
        *(["Transfer-Encoding: chunked"] if chunked else []),
        *(f"{k}: {v}" for k, v in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One HTTP chunk (``b""`` gives the last chunk)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse(message: Mapping[str, Any]) -> bytes:
    """One SSE event as Gradio writes it: ``data: <json>`` and a blank line."""
    return b"data: " + json.dumps(message, ensure_ascii=False).encode() + b"\n\n"
