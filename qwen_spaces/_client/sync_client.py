"""Client: the blocking driver (requests) of the shared core.

It moves bytes and nothing else: the call (``_core.call.ChatCall``) decides every
request, limit and retry; the transport (``sync_transport.py``) sends them and
is the one place that knows requests' and urllib3's exceptions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, Union

from .._core.call import ChatCall
from .._core.policy import TimeoutArg
from .._core.wire import TransportError
from .._errors import QwenSpacesError
from .._events import ConversationState, Event, QueueStatus, Reply, TextDelta
from .._files import FileArg
from .._gradio.sse import DEFAULT_MAX_EVENT_BYTES
from .._transports.sync_transport import RequestsTransport
from .._transports.transport import Transport, UserTransport
from .client_core import CertArg, ClientCore, ConversationCore, EndHook, StreamState
from .messages import Messages
from .progress import ChatProgress

if TYPE_CHECKING:
    import requests

__all__ = ["Client", "Conversation", "Stream"]

log = logging.getLogger("qwen_spaces")

StatusCallback = Callable[[QueueStatus], Any]


class Client:
    """A blocking client for one Qwen Space.

    >>> import qwen_spaces as qs
    >>> with qs.Client(model="qwen-2.5-max") as client:   # doctest: +SKIP
    ...     for text in client.stream("What is 2+2?").text_stream:
    ...         print(text, end="", flush=True)

    Nothing touches the network until the first call. The client owns a
    requests Session (a keep-alive pool): use it as a context manager, or call
    close(). ``session=`` hands it one of yours instead (mounted adapters,
    auth, proxies, its own trust_env); it is used as it is and never closed by
    the client. ``transport=`` hands it a transport of yours in place of
    requests (:class:`qwen_spaces.testing.MockTransport` answers in memory).

    Arguments not given are read from the environment: ``model`` from
    ``$QWEN_SPACES_MODEL`` (else qwen-2.5-max), ``base_url`` from
    ``$QWEN_SPACES_BASE_URL`` (else the model's Space), ``hf_token`` from
    ``$HF_TOKEN``. With ``trust_env`` (the default), proxies come from
    ``$HTTPS_PROXY``/``$NO_PROXY`` and the CA bundle from
    ``$REQUESTS_CA_BUNDLE``, ``$CURL_CA_BUNDLE`` or ``$SSL_CERT_FILE``.

    Args:
        model: A model name or alias of :data:`qwen_spaces.MODELS`; an unknown
            one is a ValueError naming the known ones.
        base_url: The Gradio app's http(s) URL, for a duplicated Space or a
            local server: its root, or the path it is mounted at (the client
            adds Gradio's own routes).
        hf_token: A Hugging Face token for a private Space, sent as a bearer
            token to the Space's own host only, never shown in a log or error.
        proxy: An http(s) proxy URL for every request; it wins over the
            environment's proxy variables.
        timeout: Seconds (the whole call's limit, and a cap on the others) or
            a :class:`Timeouts`; None keeps the defaults (connect 10 s, read 60 s,
            queue 600 s, total 900 s). ``chat()`` and ``stream()`` take one too.
        max_retries: How many times a connection error, an HTTP 429, 500,
            502, 503 or 504 (a full queue included) or a waking Space is
            retried, with jittered backoff and ``Retry-After``; only before any
            answer text, and only while ``total`` leaves time. A timeout is not
            retried. 0 turns retries off.
        headers: Extra HTTP headers sent with every request to the Space (they
            may replace the default ``User-Agent``).
        verify: True verifies TLS against the default CA bundle, False not at
            all, and a str is the path of the CA bundle to use.
        max_event_bytes: The largest server-sent event accepted (16 MiB by
            default); a larger one is a :class:`ProtocolError`, not unbounded
            memory.
        cert: A client certificate for mutual TLS: the path of a PEM file
            holding both, or ``(cert_file, key_file)``.
        trust_env: Read proxies and the CA bundle from the environment.
        session: A requests Session of yours, used as it is and never closed.
        transport: A transport of yours that sends the requests (with
            ``headers`` and the token) instead of requests, such as
            :class:`qwen_spaces.testing.MockTransport`; ``proxy``, ``verify``,
            ``cert``, ``trust_env`` and ``session`` are then not taken.
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
        session: Optional[requests.Session] = None,
        transport: Optional[Transport] = None,
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
            self._transport: Transport = RequestsTransport(settings, _checked_session(session))
        else:
            self._transport = UserTransport(transport, settings, session)

    @property
    def model(self) -> str:
        """The canonical name of the model this client talks to."""
        return self._core.model

    @property
    def base_url(self) -> str:
        """The Space's URL (``base_url=``, or the model's own Space)."""
        return self._core.base_url

    def __repr__(self) -> str:
        return self._core.describe("Client")

    # --- public API ---------------------------------------------------------

    def chat(
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

        ``files``: documents for a model that reads them (qwen-2.5-1m): paths,
        ``(name, bytes)`` or ``(name, binary file)``. ``conversation``: a
        ``Reply.conversation`` to continue (``messages`` are then the new ones).
        ``timeout``: seconds or a Timeouts, for this call. ``on_status`` is
        called with each QueueStatus; ``progress=True`` shows the upload and
        the queue position as tqdm bars (in a notebook too). ``thinking``
        turns a thinking model's reasoning on or off (None: as the Space or
        the conversation has it) and ``thinking_budget`` caps it, in tokens
        (the Qwen3 Space takes 1 to 38912, rounded up to units of 1024); the
        reasoning streams as Reasoning events and is ``Reply.reasoning``. Raises a
        QwenSpacesError, or ValueError/TypeError for bad input before anything
        is sent.

        >>> Client().chat("What is 2+2?").text   # doctest: +SKIP
        '2 + 2 = 4.'
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
        return self._consume(Stream(self, call), on_status, bars)

    def stream(
        self,
        messages: Messages,
        *,
        files: Optional[Sequence[FileArg]] = None,
        conversation: Optional[ConversationState] = None,
        timeout: TimeoutArg = None,
        thinking: Optional[bool] = None,
        thinking_budget: Optional[int] = None,
    ) -> Stream:
        """Start a call and return its Stream of events (TextDelta, Reasoning, QueueStatus).

        ``messages``, ``files``, ``conversation``, ``timeout``, ``thinking`` and
        ``thinking_budget`` are as on :meth:`chat`. Input is checked here,
        before any network.
        """
        call = self._core.new_call(
            messages,
            conversation=conversation,
            timeout=timeout,
            files=files,
            thinking=thinking,
            thinking_budget=thinking_budget,
        )
        return Stream(self, call)

    def conversation(
        self,
        *,
        system: Optional[str] = None,
        messages: Optional[Messages] = None,
        session_hash: Optional[str] = None,
        state: Optional[ConversationState] = None,
        thinking: Optional[bool] = None,
    ) -> Conversation:
        """A multi-turn conversation: ``send(text) -> Reply``, ``stream(text)``.

        ``system`` is the system prompt, ``messages`` an earlier history to
        start from, ``session_hash`` a Space session to continue. ``state``
        resumes a saved one (``Reply.conversation``, or ``conversation.state``),
        on the same Space session. ``thinking`` sets the conversation's
        thinking mode (a model that has one: it holds for every turn;
        ``conversation.thinking`` changes it).
        """
        return Conversation(
            self,
            system=system,
            messages=messages,
            session_hash=session_hash,
            state=state,
            thinking=thinking,
        )

    def close(self) -> None:
        """Close the connection pool. The client can still be used: it reopens.

        A stream kept open in a variable is not stopped: close it (or use it
        in a ``with`` block).
        """
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    # --- the driver ---------------------------------------------------------

    @staticmethod
    def _consume(
        stream: Stream, on_status: Optional[StatusCallback], bars: Optional[ChatProgress]
    ) -> Reply:
        try:
            with stream:
                for event in stream:
                    if type(event) is QueueStatus:
                        if on_status is not None:
                            _report(on_status, event)
                        if bars is not None:
                            bars.update(event)
                return stream.get_reply()
        finally:
            if bars is not None:
                bars.close()

    def _run(self, call: ChatCall, state: StreamState) -> Generator[Event, None, None]:
        transport = self._transport
        try:
            while (request := call.next_request()) is not None:
                try:
                    with transport.open(request) as response:
                        if call.on_headers(request, response.status):
                            for chunk in response.chunks():
                                for event in call.feed(chunk):  # noqa: UP028 (the async twin's shape)
                                    yield event
                                if call.finished:
                                    response.drain(*call.drain_budget())
                                    break
                            call.end_of_stream()
                        else:
                            body = response.read(call.body_limit)
                            call.on_response(request, response.status, response.headers, body)
                except (QwenSpacesError, TransportError) as error:
                    time.sleep(call.next_attempt(error))
            state.reply = call.reply()
        finally:
            if (cancel := call.cancel_request()) is not None:
                transport.cancel(cancel)
            state.ended(call)


def _report(on_status: StatusCallback, event: QueueStatus) -> None:
    on_status(event)


def _checked_session(session: object) -> Optional[requests.Session]:
    if session is None:
        return None
    if not callable(getattr(session, "request", None)) or not hasattr(session, "adapters"):
        raise TypeError(f"session must be a requests.Session, got {type(session).__name__}")
    return session  # type: ignore[return-value]


# --- streams and conversations -------------------------------------------------


class Stream:
    """The events of one call, as they arrive.

    Iterate it for events; ``text_stream`` for str deltas only; ``get_reply()``
    (or ``reply``) for the final Reply, reading the rest of the stream first.
    Breaking off, ``close()``, leaving its ``with`` block or dropping it stops
    the call on the Space and releases the connection.

    Made by ``Client.stream()`` (or a conversation's ``stream()``): ``client`` is
    that Client, ``call`` the checked call and ``on_end`` what a conversation
    records when the answer is complete.
    """

    def __init__(self, client: Client, call: ChatCall, on_end: Optional[EndHook] = None) -> None:
        self._call = call
        self._state = StreamState(on_end)
        self._events: Generator[Event, None, None] = client._run(call, self._state)

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> Event:
        return next(self._events)

    @property
    def text_stream(self) -> Iterator[str]:
        """The answer as str deltas, nothing else."""
        for event in self:
            if type(event) is TextDelta:
                yield event.text

    def openai_chunks(self) -> Iterator[dict[str, Any]]:
        """The stream as OpenAI ``chat.completion.chunk`` dicts."""
        from .openai_format import OpenAIChunks  # rarely used: not loaded at import

        chunks = OpenAIChunks(self._call.spec.model, self._call.completion_id)
        for event in self:
            for chunk in chunks.convert(event):  # noqa: UP028 (the async twin's shape)
                yield chunk
        yield chunks.finish()

    def get_reply(self) -> Reply:
        """The final Reply; reads whatever of the stream is left first.

        Raises the call's error, or ValueError if the stream was closed before
        the answer was complete.
        """
        if self._state.reply is None:
            for _ in self:
                pass
            if self._state.reply is None:
                raise ValueError("the stream was closed before the answer was complete")
        return self._state.reply

    @property
    def reply(self) -> Reply:
        """The final Reply (the same as ``get_reply()``)."""
        return self.get_reply()

    @property
    def partial_text(self) -> str:
        """The answer text received so far."""
        return self._call.partial_text

    def close(self) -> None:
        """Stop reading; a call still running is cancelled on the Space."""
        self._events.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


class Conversation(ConversationCore):
    """A multi-turn conversation with a Space (see ``Client.conversation``).

    Made by ``Client.conversation()``, which takes the same arguments (``client`` is
    that Client).

    Args:
        client: The Client that sends the turns.
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
        client: Client,
        system: Optional[str] = None,
        messages: Optional[Messages] = None,
        session_hash: Optional[str] = None,
        state: Optional[ConversationState] = None,
        thinking: Optional[bool] = None,
    ) -> None:
        super().__init__(client._core, system, messages, session_hash, state, thinking)
        self._client = client

    def send(
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
        stream = Stream(self._client, call, self.commit)
        return self._client._consume(stream, on_status, bars)

    def stream(
        self,
        text: Messages,
        *,
        files: Optional[Sequence[FileArg]] = None,
        timeout: TimeoutArg = None,
        thinking: Optional[bool] = None,
        thinking_budget: Optional[int] = None,
    ) -> Stream:
        """Like send(), as a Stream; the turn is recorded when the stream completes.

        ``text``, ``files``, ``timeout``, ``thinking`` and ``thinking_budget`` as on send().
        """
        call = self._new_call(text, timeout, files, None, thinking, thinking_budget)
        return Stream(self._client, call, on_end=self.commit)
