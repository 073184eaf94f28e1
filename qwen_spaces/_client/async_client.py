"""AsyncClient: the asyncio driver (aiohttp) of the shared core.

It moves bytes and nothing else: the call (``_core.call.ChatCall``) decides every
request, limit and retry; the transport (``async_transport.py``) sends them and
is the one place that knows aiohttp's exceptions. aiohttp is imported at the
first request, in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, Union

from .._core.call import ChatCall
from .._core.policy import TimeoutArg
from .._core.wire import TransportError
from .._errors import QwenSpacesError
from .._events import ConversationState, Event, QueueStatus, Reply, TextDelta
from .._files import FileArg
from .._gradio.sse import DEFAULT_MAX_EVENT_BYTES
from .._transports.async_transport import AiohttpTransport
from .._transports.transport import AsyncTransport, AsyncUserTransport
from .client_core import CertArg, ClientCore, ConversationCore, EndHook, StreamState
from .messages import Messages
from .progress import ChatProgress

if TYPE_CHECKING:
    import aiohttp

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
    ``session=`` hands it one of yours instead (your connector, proxy, auth,
    trust_env); it is used as it is and never closed by the client.
    ``transport=`` hands it a transport of yours in place of aiohttp
    (:class:`qwen_spaces.testing.MockTransport` answers in memory). The other
    arguments are as on :class:`Client`.

    Args:
        model: A model name or alias of :data:`qwen_spaces.MODELS`.
        base_url: The Space's http(s) root, for a duplicate or a local server.
        hf_token: A Hugging Face token for a private Space (its own host only).
        proxy: An http(s) proxy URL; it wins over the environment's.
        timeout: Seconds or a :class:`Timeouts`, as on :class:`Client`.
        max_retries: Retries before any answer text, as on :class:`Client`.
        headers: Extra HTTP headers sent with every request to the Space.
        verify: True, False, or the path of a CA bundle.
        max_event_bytes: The largest server-sent event accepted (16 MiB by
            default); a larger one is a :class:`ProtocolError`.
        cert: A client certificate for mutual TLS: a PEM path or
            ``(cert_file, key_file)``.
        trust_env: Read proxies and the CA bundle from the environment
            (``AsyncClient`` reads the proxy variables itself, the way aiohttp does).
        session: An aiohttp ClientSession of yours, used as it is and never closed.
        transport: A transport of yours, such as
            :class:`qwen_spaces.testing.MockTransport`, as on :class:`Client`.
    """

    def __init__(
        self,
        model: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        hf_token: Optional[str] = None,
        proxy: Optional[str] = None,
        timeout: TimeoutArg = None,
        max_retries: int = 2,
        headers: Optional[Mapping[str, str]] = None,
        verify: Union[bool, str] = True,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        cert: CertArg = None,
        trust_env: bool = True,
        session: Optional[aiohttp.ClientSession] = None,
        transport: Optional[AsyncTransport] = None,
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
            cert=cert,
            trust_env=trust_env,
        )
        settings = self._core.settings
        if transport is None:
            self._transport: AsyncTransport = AiohttpTransport(settings, _checked_session(session))
        else:
            self._transport = AsyncUserTransport(transport, settings, session)

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

        ``messages``, ``files``, ``conversation``, ``timeout``, ``thinking`` and
        ``thinking_budget`` are as on :meth:`Client.chat`. Input is checked
        here, before any network.
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

        ``system`` is the system prompt, ``messages`` an earlier history to
        start from, ``session_hash`` a Space session to continue. ``state``
        resumes a saved one (``Reply.conversation``, or ``conversation.state``),
        on the same Space session. ``thinking`` sets the conversation's
        thinking mode (a model that has one: it holds for every turn;
        ``conversation.thinking`` changes it).
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
        await self._transport.aclose()

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
                            await _report(on_status, event)
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
                    async with transport.aopen(request) as response:
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
                await transport.acancel(cancel)
            state.ended(call)


async def _report(on_status: StatusCallback, event: QueueStatus) -> None:
    result = on_status(event)  # a function or a coroutine function
    if isinstance(result, Awaitable):
        await result


def _checked_session(session: object) -> Optional[aiohttp.ClientSession]:
    if session is None:
        return None
    module = type(session).__module__
    if not module.startswith("aiohttp") or not hasattr(session, "request"):
        raise TypeError(f"session must be an aiohttp.ClientSession, got {type(session).__name__}")
    return session  # type: ignore[return-value]


class AsyncStream:
    """The events of one call, as they arrive (``async for``).

    ``text_stream`` yields str deltas only; ``await get_reply()`` (or
    ``reply`` once done) gives the final Reply. Breaking off, ``await
    close()``, leaving ``async with`` or cancelling the task stops the call
    on the Space and releases the connection.

    Made by ``AsyncClient.stream()`` (or a conversation's ``stream()``): ``client`` is
    that AsyncClient, ``call`` the checked call and ``on_end`` what a conversation
    records when the answer is complete.
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
    async def text_stream(self) -> AsyncIterator[str]:
        """The answer as str deltas, nothing else."""
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
    """A multi-turn conversation with a Space (see ``AsyncClient.conversation``).

    Made by ``AsyncClient.conversation()``, which takes the same arguments (``client`` is
    that AsyncClient).

    Args:
        client: The AsyncClient that sends the turns.
        system: A system prompt for every turn.
        messages: An earlier history (a str or OpenAI-style messages) to start from;
            the Space is sent it with the first turn.
        session_hash: The Space session to continue (the 1M and Qwen3 Spaces
            keep the history in it); None starts a new one.
        state: A saved ``ConversationState`` (``Reply.conversation`` or
            ``conversation.state``) to resume, instead of the arguments above.
        thinking: The thinking mode of every turn, on a model that has one
            (None: as the Space has it); ``conversation.thinking`` changes it.
    """

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
        """Add a user message (and ``files``, for a model that reads them); return the Reply.

        ``text`` is the message (a str, or OpenAI-style messages ending with the
        user's); ``timeout``, ``on_status``, ``progress``, ``thinking`` and
        ``thinking_budget`` are as on ``chat()``.
        """
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
        """Like send(), as an AsyncStream; the turn is recorded when it completes.

        ``text``, ``files``, ``timeout``, ``thinking`` and ``thinking_budget`` as on send().
        """
        call = self._new_call(text, timeout, files, None, thinking, thinking_budget)
        return AsyncStream(self._client, call, on_end=self.commit)
