"""Client: the blocking driver (requests) of the shared core.

It moves bytes and nothing else: the call (``protocol.ChatCall``) decides every
request, limit and retry. requests' and urllib3's exception shapes are known
here only, in one table (``_FAILURES``).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Optional, Union

import requests
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from .client_core import DEFAULT_MODEL, ClientCore, ConversationCore, EndHook, Secret, StreamState
from .errors import QwenSpacesError
from .events import ConversationState, Event, QueueStatus, Reply, TextDelta
from .files import FileArg
from .payloads import Messages
from .policy import TimeoutArg
from .progress import ChatProgress
from .protocol import ChatCall, Request
from .sse import DEFAULT_MAX_EVENT_BYTES
from .transport import FailureKind, TransportError
from .watchdog import WATCHDOG, Guard, current

__all__ = ["Client", "Conversation", "Stream"]

log = logging.getLogger("qwen_spaces")

READ_SIZE = 65536
StatusCallback = Callable[[QueueStatus], Any]

# The one table: requests'/urllib3's exceptions -> neutral kinds (first match wins).
_FAILURES: tuple[tuple[type[BaseException], FailureKind], ...] = (
    (requests.exceptions.ConnectTimeout, FailureKind.CONNECT_TIMEOUT),
    (urllib3.exceptions.ConnectTimeoutError, FailureKind.CONNECT_TIMEOUT),
    (requests.exceptions.ReadTimeout, FailureKind.READ_TIMEOUT),
    (urllib3.exceptions.ReadTimeoutError, FailureKind.READ_TIMEOUT),
    (TimeoutError, FailureKind.READ_TIMEOUT),
    (requests.exceptions.RequestException, FailureKind.CONNECTION),
    (urllib3.exceptions.HTTPError, FailureKind.CONNECTION),
    (http.client.HTTPException, FailureKind.CONNECTION),
    (OSError, FailureKind.CONNECTION),
)
_LIBRARY_ERRORS = tuple(error for error, _ in _FAILURES)


def _failure(exc: BaseException, guard: Guard) -> TransportError:
    if guard.fired:  # the watchdog cut the connection: the budget ran out
        return TransportError(FailureKind.DEADLINE, exc)
    kind = next(kind for error, kind in _FAILURES if isinstance(exc, error))
    return TransportError(kind, exc)


class Client:
    """A blocking client for one Qwen Space.

    >>> import qwen_spaces as qs
    >>> with qs.Client(model="qwen-2.5-max") as client:   # doctest: +SKIP
    ...     for text in client.stream("What is 2+2?").text_stream:
    ...         print(text, end="", flush=True)

    Nothing touches the network until the first call. The client owns a
    keep-alive connection pool: use it as a context manager, or call close().
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
        self._transport = RequestsTransport(self._core)

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
    ) -> Reply:
        """Send ``messages`` (a str or OpenAI-style messages) and return the Reply.

        ``files``: documents for a model that reads them (qwen-2.5-1m): paths,
        ``(name, bytes)`` or ``(name, binary file)``. ``conversation``: a
        ``Reply.conversation`` to continue (``messages`` are then the new ones).
        ``timeout``: seconds or a Timeouts, for this call. ``on_status`` is
        called with each QueueStatus; ``progress=True`` shows the upload and
        the queue position as tqdm bars (in a notebook too). Raises a
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
        )
        return self._consume(Stream(self, call), on_status, bars)

    def stream(
        self,
        messages: Messages,
        *,
        files: Optional[Sequence[FileArg]] = None,
        conversation: Optional[ConversationState] = None,
        timeout: TimeoutArg = None,
    ) -> Stream:
        """Start a call and return its Stream of events (TextDelta, Reasoning, QueueStatus).

        Input is checked here, before any network.
        """
        call = self._core.new_call(
            messages, conversation=conversation, timeout=timeout, files=files
        )
        return Stream(self, call)

    def conversation(
        self,
        *,
        system: Optional[str] = None,
        messages: Optional[Messages] = None,
        session_hash: Optional[str] = None,
        state: Optional[ConversationState] = None,
    ) -> Conversation:
        """A multi-turn conversation: ``send(text) -> Reply``, ``stream(text)``.

        ``state`` resumes a saved one (``Reply.conversation``, or
        ``conversation.state``), on the same Space session.
        """
        return Conversation(
            self, system=system, messages=messages, session_hash=session_hash, state=state
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
                            on_status(event)
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


# --- the transport: requests, with a watchdog for the total budget ------------------


class RequestsTransport:
    """Sends a call's requests over one keep-alive requests Session.

    requests' timeouts bound each read, not the whole; a watchdog thread shuts
    a request's connection when its total budget runs out, so a Space that
    drips its headers or body still ends on time.
    """

    def __init__(self, core: ClientCore) -> None:
        self._core = core
        self._session: Optional[requests.Session] = None
        self._verify: Union[bool, str] = core.verify  # with $REQUESTS_CA_BUNDLE, once read

    def _http(self) -> requests.Session:
        session = self._session
        if session is None:
            core = self._core
            session = requests.Session()
            session.headers.update(core.headers)
            adapter = _WatchedAdapter(pool_maxsize=32, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.verify = core.verify
            # The environment (proxy variables, CA bundle) is read once, here:
            # requests would scan os.environ on every request, about 0.2 ms
            # each time, on the way to the first token.
            session.trust_env = False
            if core.proxy:
                session.proxies = {"http": core.proxy, "https": core.proxy}
            else:
                session.proxies = requests.utils.get_environ_proxies(core.base_url)
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            self._verify = bundle if core.verify is True and bundle else core.verify
            auth = core.authorization
            if auth:
                session.auth = _BearerAuth(auth)
            self._session = session
        return session

    @contextlib.contextmanager
    def open(self, request: Request) -> Iterator[_Exchange]:
        """Send ``request``; the answer's headers are in, its body is not read yet.

        Raises TransportError. On leaving, a body read to its end goes back to
        the pool; any other is closed.
        """
        guard = Guard(time.monotonic() + request.total)
        WATCHDOG.add(guard)
        log.debug("%s %s", request.method, request.url)
        readers = [upload.open(request.progress) for upload in request.files]
        headers, data = request.headers, None
        if readers:
            # Streamed from the files as it is sent: requests alone would build
            # the whole multipart body in memory. Imported here: rarely needed.
            from requests_toolbelt import MultipartEncoder  # type: ignore[import-untyped]

            data = MultipartEncoder(
                fields=[
                    ("files", (upload.name, reader, upload.mime_type))
                    for upload, reader in zip(request.files, readers, strict=True)
                ]
            )
            headers = {**(headers or {}), "Content-Type": data.content_type}
        try:
            current.guard = guard
            try:
                response = self._send(request, headers, data)
            finally:
                current.guard = None
                for reader in readers:
                    reader.close()
        except _LIBRARY_ERRORS as exc:
            guard.finish()
            raise _failure(exc, guard) from None
        exchange = _Exchange(response, guard)
        try:
            yield exchange
        finally:
            exchange.close()

    def _send(
        self, request: Request, headers: Optional[Mapping[str, str]], data: Any
    ) -> requests.Response:
        # Session.request, less its per-request merging of the session's
        # settings (Mapping checks on every key, ~60 µs a request on the way to
        # the first token): the same merge, done directly. Redirects, hooks
        # and cookies are still Session.send's.
        session = self._http()
        merged = requests.structures.CaseInsensitiveDict(session.headers)
        if headers:
            merged.update(headers)
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=request.method,
            url=request.url,
            headers=merged,
            data=data or {},
            json=request.json,
            params=request.params or {},
            auth=session.auth,
            cookies=session.cookies,
        )
        return session.send(
            prepared, stream=True, timeout=(request.connect, request.read), verify=self._verify
        )

    def cancel(self, request: Request) -> None:
        """Send a cancel, best effort and briefly; a closed client sends nothing."""
        if self._session is None:
            return
        try:
            with self.open(request) as response:
                response.read(4096)
                log.debug("cancel %s: HTTP %s", request.url, response.status)
        except TransportError as exc:
            log.debug("cancel failed: %s", exc.kind.value)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


class _Exchange:
    """One answer as the loop reads it: status and headers, then the body."""

    __slots__ = ("_chunks", "_complete", "_conn", "_guard", "_response", "headers", "status")

    def __init__(self, response: requests.Response, guard: Guard) -> None:
        self._response = response
        self._conn = getattr(response.raw, "connection", None)  # urllib3's, while it has one
        self._guard = guard
        self._complete = False  # the body was read to its end
        self._chunks: Optional[Iterator[bytes]] = None
        self.status: int = response.status_code
        self.headers: Mapping[str, str] = response.headers

    def read(self, limit: int) -> bytes:
        """The whole body, or its first ``limit + 1`` bytes if it is longer."""
        try:
            body = self._response.raw.read(limit + 1, decode_content=True)
        except _LIBRARY_ERRORS as exc:
            raise _failure(exc, self._guard) from None
        self._complete = len(body) <= limit
        return bytes(body)

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives."""
        chunks = self._chunks = _raw_chunks(self._response.raw)
        try:
            yield from chunks
            self._complete = True
        except _LIBRARY_ERRORS as exc:
            raise _failure(exc, self._guard) from None

    def drain(self, seconds: float, max_bytes: int) -> None:
        """Read the rest of a finished stream, within ``seconds`` and ``max_bytes``."""
        chunks = self._chunks
        if chunks is None:
            return
        raw = self._response.raw
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        until = time.monotonic() + seconds
        total = 0
        try:
            while total < max_bytes and seconds > 0:
                left = until - time.monotonic()
                if left <= 0:
                    return
                if sock is not None:
                    sock.settimeout(left)
                chunk = next(chunks, b"")
                if not chunk:
                    self._complete = True
                    return
                total += len(chunk)
        except _LIBRARY_ERRORS:
            return

    def close(self) -> None:
        # requests closes the socket of a streamed response it did not read
        # itself; a body read to its end can go back to the pool instead,
        # unless the watchdog has cut its connection.
        response = self._response
        if self._guard.finish() and self._complete:
            response._content_consumed = True  # type: ignore[attr-defined]  # requests' own flag
            response.raw.release_conn()
        response.close()
        if self.status >= 500 and self._conn is not None:
            # uvicorn closes the connection just after a 500 of the app; urllib3
            # has put it back in the pool already (the body was read), and the
            # next request (the /config refetch) would meet a reset. Closed
            # here, the pool opens a new one.
            self._conn.close()


def _raw_chunks(raw: Any) -> Iterator[bytes]:
    """The body as it arrives, decoded (gzip included).

    A chunked body (what Gradio sends) goes through urllib3's own chunk
    reader, the fastest path; any other through read1, which returns whatever
    has arrived rather than waiting for a full buffer.
    """
    if getattr(raw, "chunked", False) and raw.supports_chunked_reads():
        chunks: Iterator[bytes] = raw.read_chunked(READ_SIZE, decode_content=True)
        return chunks
    if hasattr(raw, "read1"):
        return iter(lambda: raw.read1(READ_SIZE, decode_content=True), b"")
    return iter(lambda: raw.read(READ_SIZE, decode_content=True), b"")


class _BearerAuth(requests.auth.AuthBase):
    # requests drops an auth's header on a redirect to another host and does not
    # add it again, so the token only reaches the Space's own host.
    def __init__(self, value: Secret) -> None:
        self._value = value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._value
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(***)"


class _Watched:
    """A urllib3 connection that shows itself to the guard of the request it sends."""

    def _qs_watch(self) -> None:
        guard: Optional[Guard] = getattr(current, "guard", None)
        if guard is not None:
            guard.watch(self)

    def connect(self) -> None:
        self._qs_watch()
        super().connect()  # type: ignore[misc]  # a mixin of urllib3's connections

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._qs_watch()
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter with connections the watchdog can find."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


# --- streams and conversations -------------------------------------------------


class Stream:
    """The events of one call, as they arrive.

    Iterate it for events; ``text_stream`` for str deltas only; ``get_reply()``
    (or ``reply``) for the final Reply, reading the rest of the stream first.
    Breaking off, ``close()``, leaving its ``with`` block or dropping it stops
    the call on the Space and releases the connection.
    """

    def __init__(self, client: Client, call: ChatCall, on_end: Optional[EndHook] = None) -> None:
        self._call = call
        self._state = StreamState(on_end)
        self._events = client._run(call, self._state)

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
            yield from chunks.convert(event)
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
    """A multi-turn conversation with a Space (see ``Client.conversation``)."""

    def __init__(
        self,
        client: Client,
        system: Optional[str] = None,
        messages: Optional[Messages] = None,
        session_hash: Optional[str] = None,
        state: Optional[ConversationState] = None,
    ) -> None:
        super().__init__(client._core, system, messages, session_hash, state)
        self._client = client

    def send(
        self,
        text: Messages,
        *,
        files: Optional[Sequence[FileArg]] = None,
        timeout: TimeoutArg = None,
        on_status: Optional[StatusCallback] = None,
        progress: bool = False,
    ) -> Reply:
        """Add a user message (and ``files``, for a model that reads them); return the Reply."""
        bars = ChatProgress() if progress else None
        on_upload = bars.upload if bars is not None else None
        call = self._new_call(text, timeout, files, on_upload)
        stream = Stream(self._client, call, self.commit)
        return self._client._consume(stream, on_status, bars)

    def stream(
        self,
        text: Messages,
        *,
        files: Optional[Sequence[FileArg]] = None,
        timeout: TimeoutArg = None,
    ) -> Stream:
        """Like send(), as a Stream; the turn is recorded when the stream completes."""
        return Stream(self._client, self._new_call(text, timeout, files), on_end=self.commit)
