"""An in-memory transport: a client's requests answered by a function, no server, no socket.

As httpx's ``MockTransport``: ``handler`` takes each request the client sends
(a :class:`MockRequest`) and returns a :class:`MockResponse`; its body is bytes,
or an iterable of byte chunks that the client reads as a stream::

    import qwen_spaces as qs
    from qwen_spaces.testing import MockResponse, MockSpace, MockTransport

    client = qs.Client(transport=MockTransport(MockSpace(answer="Paris.").handle))
    assert client.chat("Capital of France?").text == "Paris."

The same object serves ``Client`` (a plain handler) and ``AsyncClient`` (a
plain or an ``async`` handler; chunks may then be an async iterable). A
handler raising ``OSError`` (or a body's iterator raising it mid-way) plays a
broken connection, ``TimeoutError`` a read timeout; any other exception
reaches the test as it is. No time limit applies: the handler is in-process.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Union
from urllib.parse import parse_qsl, urlsplit

from .._core.wire import FailureKind, TransportError

if TYPE_CHECKING:
    from .._core.wire import Request
    from .._transports.transport import AsyncTransport, Transport

__all__ = ["MockRequest", "MockResponse", "MockTransport"]

Body = Union[bytes, Iterable[bytes], AsyncIterable[bytes]]


@dataclass(frozen=True)
class MockRequest:
    """A request as the client sends it, for a :class:`MockTransport`'s handler.

    ``method`` and ``url`` (``path`` and ``params`` are its parts); ``headers``:
    every header sent, the client's own (``User-Agent``, ``headers=``, the
    token's ``Authorization``) included; ``body``: the bytes sent (``json``
    decodes them), None for a GET; ``files``: an upload's files as
    ``(name, content, mime_type)``.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Optional[bytes] = None
    files: tuple[tuple[str, bytes, str], ...] = ()

    @property
    def path(self) -> str:
        """The URL's path."""
        return urlsplit(self.url).path

    @property
    def params(self) -> dict[str, str]:
        """The URL's query parameters."""
        return dict(parse_qsl(urlsplit(self.url).query))

    @property
    def json(self) -> Any:
        """The JSON body, decoded (None without a body)."""
        return None if self.body is None else json.loads(self.body)


@dataclass(frozen=True)
class MockResponse:
    """A handler's answer: ``status``, ``headers`` and ``body``.

    ``body`` is bytes, or the byte chunks of a stream as they arrive: an
    iterable (a generator sees ``GeneratorExit`` when the client stops
    reading), or for AsyncClient an async iterable. A Gradio event stream
    needs ``{"Content-Type": "text/event-stream"}`` as a Space sends it.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Body = b""

    @classmethod
    def of_json(cls, value: Any, status: int = 200) -> MockResponse:
        """A JSON answer."""
        return cls(status, {"Content-Type": "application/json"}, json.dumps(value).encode())


Handler = Callable[[MockRequest], Union[MockResponse, Awaitable[MockResponse]]]

# The handler's exceptions that play a transport failure (first match wins).
_FAILURES = ((TimeoutError, FailureKind.READ_TIMEOUT), (OSError, FailureKind.CONNECTION))


def _failure(exc: OSError) -> TransportError:
    kind = next(kind for error, kind in _FAILURES if isinstance(exc, error))
    return TransportError(kind, exc)


class MockTransport:
    """A transport for ``Client(transport=...)`` and ``AsyncClient(transport=...)``.

    ``handler(request: MockRequest) -> MockResponse`` answers every request;
    an ``async`` handler works with AsyncClient only. The client's cancel
    requests reach it too (their failures are not reported, as on the wire).
    """

    def __init__(self, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type(handler).__name__}")
        self.handler = handler

    # --- Client -------------------------------------------------------------------------

    @contextlib.contextmanager
    def open(self, request: Request) -> Iterator[_Exchange]:
        """Answer ``request`` with the handler, as ``Client(transport=...)`` asks it."""
        try:
            response = self.handler(_mock_request(request))
        except OSError as exc:
            raise _failure(exc) from None
        if inspect.isawaitable(response):
            if inspect.iscoroutine(response):
                response.close()
            raise TypeError("an async handler works with AsyncClient only")
        exchange = _Exchange(_checked(response))
        try:
            yield exchange
        finally:
            exchange.close()

    def cancel(self, request: Request) -> None:
        """Send the cancel to the handler; a failure is not reported."""
        with contextlib.suppress(TransportError), self.open(request) as response:
            response.read(4096)

    def close(self) -> None:
        """Nothing to close: no connection is ever opened."""

    # --- AsyncClient --------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def aopen(self, request: Request) -> AsyncIterator[_AsyncExchange]:
        """Answer ``request`` as ``AsyncClient(transport=...)`` asks it."""
        try:
            response = self.handler(_mock_request(request))
            if inspect.isawaitable(response):
                response = await response
        except OSError as exc:
            raise _failure(exc) from None
        exchange = _AsyncExchange(_checked(response))
        try:
            yield exchange
        finally:
            await exchange.aclose()

    async def acancel(self, request: Request) -> None:
        """Send the cancel to the handler; a failure is not reported."""
        with contextlib.suppress(TransportError):
            async with self.aopen(request) as response:
                await response.read(4096)

    async def aclose(self) -> None:
        """Nothing to close: no connection is ever opened."""


def _mock_request(request: Request) -> MockRequest:
    files = []
    for upload in request.files:
        with upload.open(request.progress) as reader:
            files.append((upload.name, reader.read(), upload.mime_type))
    return MockRequest(
        request.method, request.url, dict(request.headers or {}), request.body, tuple(files)
    )


def _checked(response: object) -> MockResponse:
    if not isinstance(response, MockResponse):
        raise TypeError(f"the handler must return a MockResponse, got {type(response).__name__}")
    return response


class _Exchange:
    """A MockResponse as a blocking driver reads it."""

    __slots__ = ("_chunks", "headers", "status")

    def __init__(self, response: MockResponse) -> None:
        self.status: int = response.status
        self.headers: Mapping[str, str] = response.headers
        body = response.body
        if isinstance(body, AsyncIterable):
            raise TypeError("an async iterable body works with AsyncClient only")
        self._chunks: Iterator[bytes] = iter((body,) if isinstance(body, bytes) else body)

    def _next(self) -> bytes:
        try:
            return next(self._chunks, b"")
        except OSError as exc:
            raise _failure(exc) from None

    def read(self, limit: int) -> bytes:
        parts, size = [], 0
        while size <= limit and (part := self._next()):
            parts.append(part)
            size += len(part)
        return b"".join(parts)[: limit + 1]

    def chunks(self) -> Iterator[bytes]:
        while chunk := self._next():
            yield chunk

    def drain(self, seconds: float, max_bytes: int) -> None:
        total = 0
        with contextlib.suppress(TransportError):
            while total < max_bytes and (chunk := self._next()):
                total += len(chunk)

    def close(self) -> None:
        # A generator of the handler's sees the client hang up (GeneratorExit).
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class _AsyncExchange:
    """A MockResponse as the asyncio driver reads it."""

    __slots__ = ("_chunks", "headers", "status")

    def __init__(self, response: MockResponse) -> None:
        self.status: int = response.status
        self.headers: Mapping[str, str] = response.headers
        body = response.body
        self._chunks: Union[Iterator[bytes], AsyncIterator[bytes]]
        if isinstance(body, AsyncIterable):
            self._chunks = aiter(body)
        else:
            self._chunks = iter((body,) if isinstance(body, bytes) else body)

    async def _next(self) -> bytes:
        chunks = self._chunks
        try:
            if isinstance(chunks, AsyncIterator):
                return await anext(chunks, b"")
            return next(chunks, b"")
        except OSError as exc:
            raise _failure(exc) from None

    async def read(self, limit: int) -> bytes:
        parts, size = [], 0
        while size <= limit and (part := await self._next()):
            parts.append(part)
            size += len(part)
        return b"".join(parts)[: limit + 1]

    async def chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self._next():
            yield chunk

    async def drain(self, seconds: float, max_bytes: int) -> None:
        total = 0
        with contextlib.suppress(TransportError):
            while total < max_bytes and (chunk := await self._next()):
                total += len(chunk)

    async def aclose(self) -> None:
        chunks = self._chunks
        if isinstance(chunks, AsyncIterator):
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        else:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


if TYPE_CHECKING:

    def _serves_both(transport: MockTransport) -> tuple[Transport, AsyncTransport]:
        return transport, transport  # mypy checks MockTransport against both Protocols
