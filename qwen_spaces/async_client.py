"""AsyncClient: the asyncio driver (aiohttp) of the shared core.

It moves bytes and nothing else: the call (``protocol.ChatCall``) decides every
request, limit and retry. aiohttp's exception shapes are known here only, in
one table (``_FAILURES``). This is the only module that imports aiohttp: at
the first request, in a thread, never on the event loop (see ``_prepare``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import ssl
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, Union

from .client_core import DEFAULT_MODEL, ClientCore, ConversationCore, EndHook, StreamState
from .errors import QwenSpacesError
from .events import ConversationState, Event, QueueStatus, Reply, TextDelta
from .files import FileArg
from .payloads import Messages
from .policy import TimeoutArg
from .progress import ChatProgress
from .protocol import CANCEL_TIMEOUT, ChatCall, Request
from .sse import DEFAULT_MAX_EVENT_BYTES
from .transport import FailureKind, TransportError, keeps_connection

if TYPE_CHECKING:
    import aiohttp
    import aiohttp.http_exceptions

__all__ = ["AsyncClient", "AsyncConversation", "AsyncStream"]

log = logging.getLogger("qwen_spaces")

StatusCallback = Callable[[QueueStatus], Any]

# The one table: aiohttp's exceptions -> neutral kinds (first match wins),
# filled in by _prepare. A total timeout is a bare asyncio.TimeoutError;
# sock_connect and sock_read raise aiohttp's subclasses of it.
_FAILURES: tuple[tuple[type[BaseException], FailureKind], ...] = ()
_LIBRARY_ERRORS: tuple[type[BaseException], ...] = ()

# Importing aiohttp takes 0.2-0.4 s (it builds its default SSL contexts then,
# loading the system's certificates), and so does building one: blocking work
# that would stall every task of the loop. It runs once per process, in a
# thread, at the first request (_ready), with the SSL context this module
# gives every connector (aiohttp versions that build theirs lazily then build
# none at the first HTTPS connection either).
_SSL_VERIFIED: Optional[ssl.SSLContext] = None
_prepare_lock = threading.Lock()
_start_lock = threading.Lock()
_preparing: Optional[concurrent.futures.Future[None]] = None


def _ssl_context(cafile: Optional[str] = None) -> ssl.SSLContext:
    """A verifying context (the system's CAs, or ``cafile``): blocking file I/O."""
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(("http/1.1",))  # as aiohttp's own
    return context


def _prepare() -> None:
    """Import aiohttp, fill the failure table, build the SSL context. Blocking; idempotent."""
    global aiohttp, _FAILURES, _LIBRARY_ERRORS, _SSL_VERIFIED
    with _prepare_lock:
        if _SSL_VERIFIED is not None:
            return
        import aiohttp
        import aiohttp.http_exceptions

        _FAILURES = (
            (aiohttp.ConnectionTimeoutError, FailureKind.CONNECT_TIMEOUT),
            (aiohttp.ServerTimeoutError, FailureKind.READ_TIMEOUT),
            (asyncio.TimeoutError, FailureKind.DEADLINE),
            (aiohttp.ClientError, FailureKind.CONNECTION),
            # Raised bare by the pure-Python parser (AIOHTTP_NO_EXTENSIONS=1).
            (aiohttp.http_exceptions.HttpProcessingError, FailureKind.CONNECTION),
            (OSError, FailureKind.CONNECTION),
        )
        _LIBRARY_ERRORS = tuple(error for error, _ in _FAILURES)
        _SSL_VERIFIED = _ssl_context()


async def _ready() -> None:
    """``_prepare`` in a thread, once per process (every loop awaits the same one)."""
    global _preparing
    if _SSL_VERIFIED is not None:
        return
    with _start_lock:
        future = _preparing
        if future is None or (future.done() and future.exception() is not None):
            future = _preparing = concurrent.futures.Future()

            def run(done: concurrent.futures.Future[None] = future) -> None:
                try:
                    _prepare()
                except BaseException as exc:  # handed to every waiter
                    done.set_exception(exc)
                else:
                    done.set_result(None)

            threading.Thread(target=run, name="qwen_spaces-prepare", daemon=True).start()
    await asyncio.wrap_future(future)


def _failure(exc: BaseException) -> TransportError:
    kind = next(kind for error, kind in _FAILURES if isinstance(exc, error))
    return TransportError(kind, exc)


class AsyncClient:
    """The asyncio twin of :class:`Client`: the same methods, awaited.

    >>> import qwen_spaces as qs
    >>> async def main():                                  # doctest: +SKIP
    ...     async with qs.AsyncClient(model="qwen-2.5-1m") as client:
    ...         async for text in client.stream("Hi").text_stream:
    ...             print(text, end="", flush=True)

    Nothing touches the network until the first call. The client owns an
    aiohttp session (a keep-alive pool): use ``async with`` or ``await close()``.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        base_url: Optional[str] = None,
        hf_token: Optional[str] = None,
        proxy: Optional[str] = None,
        timeout: TimeoutArg = None,
        max_retries: int = 2,
        headers: Optional[Mapping[str, str]] = None,
        verify: Union[bool, str] = True,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._core = ClientCore(
            model,
            base_url=base_url,
            hf_token=hf_token,
            proxy=proxy,
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
            verify=verify,
            max_event_bytes=max_event_bytes,
        )
        self._transport = AiohttpTransport(self._core)

    @property
    def model(self) -> str:
        """The canonical name of the model this client talks to."""
        return self._core.model

    @property
    def base_url(self) -> str:
        """The Space's URL (``base_url=``, or the model's own Space)."""
        return self._core.base_url

    def __repr__(self) -> str:
        return self._core.describe("AsyncClient")

    # --- public API ---------------------------------------------------------

    async def chat(
        self,
        messages: Messages,
        *,
        files: Optional[Sequence[FileArg]] = None,
        conversation: Optional[ConversationState] = None,
        timeout: TimeoutArg = None,
        on_status: Optional[StatusCallback] = None,
        progress: bool = False,
        thinking: Optional[bool] = None,
        thinking_budget: Optional[int] = None,
    ) -> Reply:
        """Send ``messages`` (a str or OpenAI-style messages) and return the Reply.

        ``files``, ``conversation``, ``timeout``, ``thinking`` and
        ``thinking_budget`` as on ``Client.chat``.
        ``on_status`` (a function or a coroutine function) gets each
        QueueStatus; ``progress=True`` shows the upload and the queue position
        as tqdm bars.
        """
        bars = ChatProgress() if progress else None
        call = self._core.new_call(
            messages,
            conversation=conversation,
            timeout=timeout,
            files=files,
            on_upload=bars.upload if bars is not None else None,
            thinking=thinking,
            thinking_budget=thinking_budget,
        )
        return await self._consume(AsyncStream(self, call), on_status, bars)

    def stream(
        self,
        messages: Messages,
        *,
        files: Optional[Sequence[FileArg]] = None,
        conversation: Optional[ConversationState] = None,
        timeout: TimeoutArg = None,
        thinking: Optional[bool] = None,
        thinking_budget: Optional[int] = None,
    ) -> AsyncStream:
        """Start a call and return its AsyncStream of events.

        Input is checked here, before any network.
        """
        call = self._core.new_call(
            messages,
            conversation=conversation,
            timeout=timeout,
            files=files,
            thinking=thinking,
            thinking_budget=thinking_budget,
        )
        return AsyncStream(self, call)

    def conversation(
        self,
        *,
        system: Optional[str] = None,
        messages: Optional[Messages] = None,
        session_hash: Optional[str] = None,
        state: Optional[ConversationState] = None,
        thinking: Optional[bool] = None,
    ) -> AsyncConversation:
        """A multi-turn conversation: ``await send(text) -> Reply``, ``stream(text)``.

        ``state`` resumes a saved one (``Reply.conversation``, or
        ``conversation.state``), on the same Space session. ``thinking``
        sets the conversation's thinking mode (a model that has one: it
        holds for every turn; ``conversation.thinking`` changes it).
        """
        return AsyncConversation(
            self,
            system=system,
            messages=messages,
            session_hash=session_hash,
            state=state,
            thinking=thinking,
        )

    async def close(self) -> None:
        """Close the connection pool. The client can still be used: it reopens.

        A stream kept open in a variable is not stopped: ``await`` its
        ``close()`` (or use it in an ``async with`` block).

        Cancel requests still under way (from streams stopped just before) get
        up to a couple of seconds to reach the Space first.
        """
        await self._transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()

    # --- the driver ---------------------------------------------------------

    @staticmethod
    async def _consume(
        stream: AsyncStream, on_status: Optional[StatusCallback], bars: Optional[ChatProgress]
    ) -> Reply:
        try:
            async with stream:
                async for event in stream:
                    if type(event) is QueueStatus:
                        if on_status is not None:
                            result = on_status(event)
                            if isinstance(result, Awaitable):
                                await result
                        if bars is not None:
                            bars.update(event)
                return await stream.get_reply()
        finally:
            if bars is not None:
                bars.close()

    async def _run(self, call: ChatCall, state: StreamState) -> AsyncGenerator[Event, None]:
        transport = self._transport
        try:
            while (request := call.next_request()) is not None:
                try:
                    async with transport.open(request) as response:
                        if call.on_headers(request, response.status):
                            async for chunk in response.chunks():
                                for event in call.feed(chunk):
                                    yield event
                                if call.finished:
                                    await response.drain(*call.drain_budget())
                                    break
                            call.end_of_stream()
                        else:
                            body = await response.read(call.body_limit)
                            call.on_response(request, response.status, response.headers, body)
                except (QwenSpacesError, TransportError) as error:
                    await asyncio.sleep(call.next_attempt(error))
            state.reply = call.reply()
        finally:
            if (cancel := call.cancel_request()) is not None:
                await transport.cancel(cancel)
            state.ended(call)


# --- the transport: aiohttp --------------------------------------------------------


class AiohttpTransport:
    """Sends a call's requests over one aiohttp session (a keep-alive pool).

    The session belongs to one event loop: used from another (a second
    ``asyncio.run``), it is dropped and a new one opened.
    """

    def __init__(self, core: ClientCore) -> None:
        self._core = core
        self._session: Optional[aiohttp.ClientSession] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._cafile_context: Optional[ssl.SSLContext] = None  # for verify="path"
        # Cancel requests still under way; close() lets them finish, briefly.
        self._cancels: set[asyncio.Task[None]] = set()

    async def _ready_http(self) -> aiohttp.ClientSession:
        """The session, its blocking preparation done in threads (the loop never waits on it)."""
        await _ready()
        verify = self._core.verify
        if isinstance(verify, str) and self._cafile_context is None:
            loop = asyncio.get_running_loop()
            self._cafile_context = await loop.run_in_executor(None, _ssl_context, verify)
        return self._http()

    def _http(self) -> aiohttp.ClientSession:
        if _SSL_VERIFIED is None:
            _prepare()  # only when called before _ready_http (tests): blocking, but right
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._loop is not loop:
            _abandon(session, self._loop)  # its loop is gone or elsewhere: not awaitable here
            session = self._session = None
            self._cancels.clear()
        if session is None or session.closed:
            core = self._core
            headers = dict(core.headers)
            auth = core.authorization
            if auth:
                # aiohttp drops Authorization on a redirect to another origin.
                headers["Authorization"] = auth
            context: Union[ssl.SSLContext, bool] = _SSL_VERIFIED or True
            if isinstance(core.verify, str):
                if self._cafile_context is None:
                    self._cafile_context = _ssl_context(core.verify)
                context = self._cafile_context
            elif core.verify is False:
                context = False
            connector = aiohttp.TCPConnector(limit=0, ssl=context)
            session = aiohttp.ClientSession(
                headers=headers,
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                proxy=core.proxy,
            )
            self._session, self._loop = session, loop
        return session

    @contextlib.asynccontextmanager
    async def open(self, request: Request) -> AsyncIterator[_Exchange]:
        """Send ``request``; the answer's headers are in, its body is not read yet.

        Raises TransportError. On leaving, a body read to its end goes back to
        the pool; any other is closed.
        """
        session = await self._ready_http()
        timeout = aiohttp.ClientTimeout(
            total=request.total, sock_connect=request.connect, sock_read=request.read
        )
        log.debug("%s %s", request.method, request.url)
        form, readers = None, [upload.open(request.progress) for upload in request.files]
        if readers:
            # Streamed from the files as it is sent; file names as UTF-8, as
            # browsers send them (Gradio does not decode RFC 5987 names).
            form = aiohttp.FormData(quote_fields=False)
            for upload, reader in zip(request.files, readers, strict=True):
                form.add_field(
                    "files", reader, filename=upload.name, content_type=upload.mime_type
                )
        try:
            response = await session.request(
                request.method,
                request.url,
                data=form if form is not None else request.body,
                headers=request.headers,
                timeout=timeout,
            )
        except _LIBRARY_ERRORS as exc:
            raise _failure(exc) from None
        finally:
            for reader in readers:  # aiohttp closes them once sent; not if it failed first
                reader.close()
        exchange = _Exchange(response)
        try:
            yield exchange
        finally:
            exchange.close()

    async def cancel(self, request: Request) -> None:
        """Send a cancel, best effort and briefly; shielded, so a cancelled task still sends it."""
        session = self._session
        if session is None or session.closed or self._loop is not asyncio.get_running_loop():
            return  # a closed client sends nothing

        async def send() -> None:
            async with self.open(request) as response:
                await response.read(4096)
                log.debug("cancel %s: HTTP %s", request.url, response.status)

        task = asyncio.ensure_future(send())
        self._cancels.add(task)
        task.add_done_callback(self._settle_cancel)
        try:
            # Shielded: a task cancelled again meanwhile leaves the request going.
            await asyncio.shield(task)
        except (TransportError, asyncio.CancelledError) as exc:
            log.debug("cancel failed: %s", type(exc).__name__)

    def _settle_cancel(self, task: asyncio.Task[None]) -> None:
        self._cancels.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("cancel failed: %s", type(task.exception()).__name__)

    async def close(self) -> None:
        """Close the session, after cancels under way had a moment to reach the Space."""
        if self._session is not None and self._loop is not asyncio.get_running_loop():
            _abandon(self._session, self._loop)
            self._session = None
            self._cancels.clear()
        if self._cancels:
            await asyncio.wait(set(self._cancels), timeout=CANCEL_TIMEOUT)
        if self._session is not None:
            await self._session.close()
            self._session = None


def _abandon(session: aiohttp.ClientSession, loop: Optional[asyncio.AbstractEventLoop]) -> None:
    """Let go of a session that belongs to another event loop, leaking nothing.

    A loop still running (in another thread) closes it itself. A closed loop
    (the end of an ``asyncio.run``) can run nothing more, so aiohttp cannot close
    its pooled connections: their sockets are closed here, outside asyncio,
    which is safe only because that loop is gone for good.
    """
    connector = session.connector
    if loop is not None and loop.is_running() and not loop.is_closed():
        asyncio.run_coroutine_threadsafe(session.close(), loop)
        return
    if connector is not None:
        stranded = [proto for conns in connector._conns.values() for proto, _ in conns]
        stranded += list(connector._acquired)
        for proto in stranded:
            transport = proto.transport
            sock = getattr(transport, "_sock", None)  # asyncio's selector transports
            if transport is not None and sock is not None and loop is not None and loop.is_closed():
                sock.close()
                transport._sock = None  # type: ignore[attr-defined]  # closed above
        with contextlib.suppress(Exception):
            # Marks it closed (its close() is a coroutine, which no loop will run).
            connector._close()
    session.detach()


class _Exchange:
    """One answer as the loop reads it: status and headers, then the body."""

    __slots__ = ("_complete", "_response", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._complete = False  # the body was read to its end
        self.status: int = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self, limit: int) -> bytes:
        """The whole body, or its first ``limit + 1`` bytes if it is longer."""
        content = self._response.content
        parts: list[bytes] = []
        size = 0
        try:
            while size <= limit:
                part = await content.read(limit + 1 - size)
                if not part:
                    self._complete = True
                    break
                parts.append(part)
                size += len(part)
        except _LIBRARY_ERRORS as exc:
            raise _failure(exc) from None
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        content = self._response.content
        try:
            while chunk := await content.readany():
                yield chunk
            self._complete = True
        except _LIBRARY_ERRORS as exc:
            raise _failure(exc) from None

    async def drain(self, seconds: float, max_bytes: int) -> None:
        """Read the rest of a finished stream, within ``seconds`` and ``max_bytes``."""
        content = self._response.content
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        total = 0
        try:
            while total < max_bytes:
                left = until - loop.time()
                if left <= 0:
                    return
                chunk = await asyncio.wait_for(content.readany(), left)
                if not chunk:
                    self._complete = True
                    return
                total += len(chunk)
        except _LIBRARY_ERRORS:
            return

    def close(self) -> None:
        if self._complete and keeps_connection(self.status):
            self._response.release()
        else:
            self._response.close()


class AsyncStream:
    """The events of one call, as they arrive (``async for``).

    ``text_stream`` yields str deltas only; ``await get_reply()`` (or
    ``reply`` once done) gives the final Reply. Breaking off, ``await
    close()``, leaving ``async with`` or cancelling the task stops the call
    on the Space and releases the connection.
    """

    def __init__(
        self, client: AsyncClient, call: ChatCall, on_end: Optional[EndHook] = None
    ) -> None:
        self._call = call
        self._state = StreamState(on_end)
        self._events: AsyncGenerator[Event, None] = client._run(call, self._state)

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Event:
        return await self._events.__anext__()

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """The answer as str deltas, nothing else."""
        return self._texts()

    async def _texts(self) -> AsyncIterator[str]:
        async for event in self:
            if type(event) is TextDelta:
                yield event.text

    async def openai_chunks(self) -> AsyncIterator[dict[str, Any]]:
        """The stream as OpenAI ``chat.completion.chunk`` dicts."""
        from .openai_format import OpenAIChunks  # rarely used: not loaded at import

        chunks = OpenAIChunks(self._call.spec.model, self._call.completion_id)
        async for event in self:
            for chunk in chunks.convert(event):
                yield chunk
        yield chunks.finish()

    @property
    def reply(self) -> Reply:
        """The final Reply, once the stream is done (see get_reply to wait for it)."""
        if self._state.reply is None:
            raise ValueError("the stream is not done yet: await stream.get_reply()")
        return self._state.reply

    async def get_reply(self) -> Reply:
        """The final Reply; reads whatever of the stream is left first.

        Raises the call's error, or ValueError if the stream was closed before
        the answer was complete.
        """
        if self._state.reply is None:
            async for _ in self:
                pass
            if self._state.reply is None:
                raise ValueError("the stream was closed before the answer was complete")
        return self._state.reply

    @property
    def partial_text(self) -> str:
        """The answer text received so far."""
        return self._call.partial_text

    async def close(self) -> None:
        """Stop reading; a call still running is cancelled on the Space."""
        await self._events.aclose()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()


class AsyncConversation(ConversationCore):
    """A multi-turn conversation with a Space (see ``AsyncClient.conversation``)."""

    def __init__(
        self,
        client: AsyncClient,
        system: Optional[str] = None,
        messages: Optional[Messages] = None,
        session_hash: Optional[str] = None,
        state: Optional[ConversationState] = None,
        thinking: Optional[bool] = None,
    ) -> None:
        super().__init__(client._core, system, messages, session_hash, state, thinking)
        self._client = client

    async def send(
        self,
        text: Messages,
        *,
        files: Optional[Sequence[FileArg]] = None,
        timeout: TimeoutArg = None,
        on_status: Optional[StatusCallback] = None,
        progress: bool = False,
        thinking: Optional[bool] = None,
        thinking_budget: Optional[int] = None,
    ) -> Reply:
        """Add a user message (and ``files``, for a model that reads them); return the Reply."""
        bars = ChatProgress() if progress else None
        on_upload = bars.upload if bars is not None else None
        call = self._new_call(text, timeout, files, on_upload, thinking, thinking_budget)
        stream = AsyncStream(self._client, call, self.commit)
        return await self._client._consume(stream, on_status, bars)

    def stream(
        self,
        text: Messages,
        *,
        files: Optional[Sequence[FileArg]] = None,
        timeout: TimeoutArg = None,
        thinking: Optional[bool] = None,
        thinking_budget: Optional[int] = None,
    ) -> AsyncStream:
        """Like send(), as an AsyncStream; the turn is recorded when it completes."""
        call = self._new_call(text, timeout, files, None, thinking, thinking_budget)
        return AsyncStream(self._client, call, on_end=self.commit)
