"""AsyncClient: the asyncio driver (aiohttp) of the shared core.

This module is the only one that imports aiohttp, and ``import qwen_spaces``
loads it only when AsyncClient is first used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Optional, Union

import aiohttp

from .client_core import (
    CANCEL_TIMEOUT,
    DEFAULT_MODEL,
    DRAIN_BYTES,
    DRAIN_SECONDS,
    ClientCore,
    ConversationCore,
    QueueProgress,
    StreamState,
    connection_error,
)
from .errors import (
    QwenSpacesError,
    SpaceConnectionError,
    SpaceTimeoutError,
)
from .events import ConversationState, Event, QueueStatus, Reply, TextDelta
from .gradio import check_body_size, check_response
from .payloads import Messages
from .policy import TimeoutArg
from .protocol import ChatCall, Request
from .sse import DEFAULT_MAX_EVENT_BYTES

__all__ = ["AsyncClient", "AsyncConversation", "AsyncStream"]

log = logging.getLogger("qwen_spaces")

StatusCallback = Callable[[QueueStatus], Any]


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
        self._session: Optional[aiohttp.ClientSession] = None
        # Cancel requests still under way; close() lets them finish, briefly.
        self._cancels: set[asyncio.Task[None]] = set()

    @property
    def model(self) -> str:
        """The canonical name of the model this client talks to."""
        return self._core.model

    @property
    def base_url(self) -> str:
        return self._core.base_url

    def __repr__(self) -> str:
        return self._core.describe("AsyncClient")

    # --- public API ---------------------------------------------------------

    async def chat(
        self,
        messages: Messages,
        *,
        conversation: Optional[ConversationState] = None,
        timeout: TimeoutArg = None,
        on_status: Optional[StatusCallback] = None,
        progress: bool = False,
    ) -> Reply:
        """Send ``messages`` (a str or OpenAI-style messages) and return the Reply.

        ``on_status`` (a function or a coroutine function) gets each
        QueueStatus; ``progress=True`` shows the queue position as a tqdm bar.
        """
        bar = QueueProgress() if progress else None
        try:
            async with self.stream(messages, conversation=conversation, timeout=timeout) as stream:
                async for event in stream:
                    if type(event) is QueueStatus:
                        if on_status is not None:
                            result = on_status(event)
                            if isinstance(result, Awaitable):
                                await result
                        if bar is not None:
                            bar.update(event)
                return await stream.get_reply()
        finally:
            if bar is not None:
                bar.close()

    def stream(
        self,
        messages: Messages,
        *,
        conversation: Optional[ConversationState] = None,
        timeout: TimeoutArg = None,
    ) -> AsyncStream:
        """Start a call and return its AsyncStream of events.

        Input is checked here, before any network.
        """
        call = self._core.new_call(messages, conversation=conversation, timeout=timeout)
        return AsyncStream(self, call)

    def conversation(
        self,
        *,
        system: Optional[str] = None,
        messages: Optional[Messages] = None,
        session_hash: Optional[str] = None,
        state: Optional[ConversationState] = None,
    ) -> AsyncConversation:
        """A multi-turn conversation: ``await send(text) -> Reply``, ``stream(text)``.

        ``state`` resumes a saved one (``Reply.conversation``, or
        ``conversation.state``), on the same Space session.
        """
        return AsyncConversation(
            self, system=system, messages=messages, session_hash=session_hash, state=state
        )

    async def close(self) -> None:
        """Close the connection pool. The client can still be used: it reopens.

        Cancel requests still under way (from streams stopped just before) get
        up to a couple of seconds to reach the Space first.
        """
        if self._cancels:
            await asyncio.wait(set(self._cancels), timeout=CANCEL_TIMEOUT)
        if self._session is not None:
            await self._session.close()
            self._session = None

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

    def _http(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            core = self._core
            headers = dict(core.headers)
            auth = core.authorization
            if auth:
                # aiohttp drops Authorization on a redirect to another origin.
                headers["Authorization"] = auth
            ssl: Any = True
            if isinstance(core.verify, str):
                import ssl as ssl_module

                ssl = ssl_module.create_default_context(cafile=core.verify)
            elif core.verify is False:
                ssl = False
            connector = aiohttp.TCPConnector(limit=0, ssl=ssl)
            session = aiohttp.ClientSession(
                headers=headers,
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                proxy=core.proxy,
            )
            self._session = session
        return session

    async def _send(self, request: Request, call: ChatCall) -> aiohttp.ClientResponse:
        timeouts = call.timeouts
        left = call.seconds_left()
        connect, read = min(timeouts.connect, left), min(timeouts.read, left)
        headers = {"Accept": "text/event-stream"} if request.stream else None
        log.debug("%s %s", request.method, request.url)
        try:
            return await self._http().request(
                request.method,
                request.url,
                json=request.json,
                params=request.params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read),
            )
        except aiohttp.ConnectionTimeoutError:
            raise SpaceTimeoutError("connect", connect) from None
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError):
            call.seconds_left()
            raise SpaceTimeoutError("read", read) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._connection_error(exc, call) from None

    def _connection_error(
        self, exc: BaseException, call: ChatCall, streaming: bool = False
    ) -> SpaceConnectionError:
        return connection_error(self._core, exc, call, streaming)

    async def _read_body(self, response: aiohttp.ClientResponse, call: ChatCall) -> bytes:
        limit = call._max_event_bytes
        try:
            body = await response.content.read(limit + 1)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise self._connection_error(exc, call) from None
        finally:
            response.release()
        return check_body_size(body, limit)

    async def _attempt(self, call: ChatCall) -> AsyncIterator[Event]:
        while (request := call.next_request()) is not None:
            response = await self._send(request, call)
            if not request.stream:
                body = await self._read_body(response, call)
                call.on_response(request, response.status, response.headers, body)
                continue
            ended = False  # read to its end: the connection can be reused
            try:
                if response.status != 200:
                    body = await self._read_body(response, call)
                    check_response(response.status, response.headers, body, request.url)
                content = response.content
                loop_time = asyncio.get_running_loop().time
                while True:
                    try:
                        chunk = await content.readany()
                    except (aiohttp.ServerTimeoutError, asyncio.TimeoutError):
                        call.seconds_left()
                        raise SpaceTimeoutError(
                            "read", call.timeouts.read, partial_text=call.partial_text
                        ) from None
                    except (aiohttp.ClientError, OSError) as exc:
                        raise self._connection_error(exc, call, streaming=True) from None
                    if not chunk:
                        ended = True
                        break
                    for event in call.feed(chunk):
                        yield event
                    if call.finished:
                        ended = await _drain(content)
                        break
                    call.seconds_left(loop_time())
            finally:
                # A body read to its end goes back to the pool; else close it.
                if ended:
                    response.release()
                else:
                    response.close()
            call.end_of_stream()

    async def _run(self, call: ChatCall, state: StreamState) -> AsyncGenerator[Event, None]:
        attempt = 0
        try:
            while True:
                try:
                    async for event in self._attempt(call):
                        yield event
                    reply = call.reply()
                    break
                except QwenSpacesError as error:
                    delay = self._core.retry_delay(call, error, attempt)
                    if delay is None:
                        raise
                    attempt += 1
                    await asyncio.sleep(delay)
                    call.restart()
            self._core.remember(call)
            state.done(reply)
        finally:
            if not call.finished:
                await self._cancel(call)
            state.ended()

    async def _cancel(self, call: ChatCall) -> None:
        # Best effort, briefly; shielded so a cancelled task still tells the Space.
        request = call.cancel_request()
        if request is None or self._session is None or self._session.closed:
            return
        call.finished = True
        session = self._session

        async def send() -> None:
            timeout = aiohttp.ClientTimeout(total=CANCEL_TIMEOUT)
            async with session.post(request.url, json=request.json, timeout=timeout) as response:
                await response.read()
                log.debug("cancelled event %s: HTTP %s", call.event_id, response.status)

        task = asyncio.ensure_future(send())
        self._cancels.add(task)
        task.add_done_callback(_settle_cancel(self._cancels))
        try:
            # Shielded: a task cancelled again meanwhile leaves the request going.
            await asyncio.shield(task)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, asyncio.CancelledError) as exc:
            log.debug("cancel failed: %s", type(exc).__name__)


def _settle_cancel(
    pending: set[asyncio.Task[None]],
) -> Callable[[asyncio.Task[None]], None]:
    def done(task: asyncio.Task[None]) -> None:
        pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("cancel failed: %s", type(task.exception()).__name__)

    return done


async def _drain(content: aiohttp.StreamReader) -> bool:
    """Read the rest of a finished stream, briefly; True if it ended."""
    loop = asyncio.get_running_loop()
    until = loop.time() + DRAIN_SECONDS
    total = 0
    try:
        while total < DRAIN_BYTES:
            chunk = await asyncio.wait_for(content.readany(), max(0.0, until - loop.time()))
            if not chunk:
                return True
            total += len(chunk)
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
        pass
    return False


class AsyncStream:
    """The events of one call, as they arrive (``async for``).

    ``text_stream`` yields str deltas only; ``await get_reply()`` (or
    ``reply`` once done) gives the final Reply. Breaking off, ``await
    close()``, leaving ``async with`` or cancelling the task stops the call
    on the Space and releases the connection.
    """

    def __init__(self, client: AsyncClient, call: ChatCall) -> None:
        self._call = call
        self._state = StreamState()
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

        chunks = OpenAIChunks(self._call.spec.model)
        async for event in self:
            for chunk in chunks.convert(event):
                yield chunk
        yield chunks.finish()

    @property
    def reply(self) -> Reply:
        """The final Reply, once the stream is done (see get_reply to wait for it)."""
        if self._state.reply is None:
            raise QwenSpacesError("the stream is not done yet: await stream.get_reply()")
        return self._state.reply

    async def get_reply(self) -> Reply:
        """The final Reply; reads whatever of the stream is left first."""
        if self._state.reply is None:
            async for _ in self:
                pass
            if self._state.reply is None:
                raise QwenSpacesError("the stream was closed before the answer was complete")
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
    ) -> None:
        super().__init__(client._core, system, messages, session_hash, state)
        self._client = client

    async def send(
        self,
        text: Messages,
        *,
        timeout: TimeoutArg = None,
        on_status: Optional[StatusCallback] = None,
        progress: bool = False,
    ) -> Reply:
        """Add a user message and return the Space's Reply."""
        with self._turn():
            reply = await self._client.chat(
                text,
                conversation=self.state,
                timeout=timeout,
                on_status=on_status,
                progress=progress,
            )
        self.commit(reply)
        return reply

    def stream(self, text: Messages, *, timeout: TimeoutArg = None) -> AsyncStream:
        """Like send(), as an AsyncStream; the turn is recorded when it completes."""
        stream = self._client.stream(text, conversation=self.state, timeout=timeout)
        stream._state.on_end = self.commit
        return stream
