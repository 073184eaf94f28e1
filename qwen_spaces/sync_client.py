"""Client: the blocking driver (requests) of the shared core."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from types import TracebackType
from typing import Any, Optional, Union

import requests
import urllib3.exceptions

from .client_core import (
    CANCEL_TIMEOUT,
    DEFAULT_MODEL,
    DRAIN_BYTES,
    DRAIN_SECONDS,
    ClientCore,
    ConversationCore,
    QueueProgress,
    Secret,
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

__all__ = ["Client", "Conversation", "Stream"]

log = logging.getLogger("qwen_spaces")

READ_SIZE = 65536
StatusCallback = Callable[[QueueStatus], Any]


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
        self._session: Optional[requests.Session] = None

    @property
    def model(self) -> str:
        """The canonical name of the model this client talks to."""
        return self._core.model

    @property
    def base_url(self) -> str:
        return self._core.base_url

    def __repr__(self) -> str:
        return self._core.describe("Client")

    # --- public API ---------------------------------------------------------

    def chat(
        self,
        messages: Messages,
        *,
        conversation: Optional[ConversationState] = None,
        timeout: TimeoutArg = None,
        on_status: Optional[StatusCallback] = None,
        progress: bool = False,
    ) -> Reply:
        """Send ``messages`` (a str or OpenAI-style messages) and return the Reply.

        ``on_status`` is called with each QueueStatus; ``progress=True`` shows
        the queue position as a tqdm bar (in a notebook too) while waiting.

        >>> Client().chat("What is 2+2?").text   # doctest: +SKIP
        '2 + 2 = 4.'
        """
        bar = QueueProgress() if progress else None
        try:
            with self.stream(messages, conversation=conversation, timeout=timeout) as stream:
                for event in stream:
                    if type(event) is QueueStatus:
                        if on_status is not None:
                            on_status(event)
                        if bar is not None:
                            bar.update(event)
                return stream.reply
        finally:
            if bar is not None:
                bar.close()

    def stream(
        self,
        messages: Messages,
        *,
        conversation: Optional[ConversationState] = None,
        timeout: TimeoutArg = None,
    ) -> Stream:
        """Start a call and return its Stream of events (TextDelta, Reasoning, QueueStatus).

        Input is checked here, before any network.
        """
        call = self._core.new_call(messages, conversation=conversation, timeout=timeout)
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
        """Close the connection pool. The client can still be used: it reopens."""
        if self._session is not None:
            self._session.close()
            self._session = None

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

    def _http(self) -> requests.Session:
        session = self._session
        if session is None:
            core = self._core
            session = requests.Session()
            session.headers.update(core.headers)
            adapter = requests.adapters.HTTPAdapter(pool_maxsize=32, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.verify = core.verify
            if core.proxy:
                session.proxies = {"http": core.proxy, "https": core.proxy}
            auth = core.authorization
            if auth:
                session.auth = _BearerAuth(auth)
            self._session = session
        return session

    def _send(self, request: Request, call: ChatCall, stream: bool = False) -> requests.Response:
        timeouts = call.timeouts
        left = call.seconds_left()
        connect, read = min(timeouts.connect, left), min(timeouts.read, left)
        headers = {"Accept": "text/event-stream"} if request.stream else None
        log.debug("%s %s", request.method, request.url)
        try:
            return self._http().request(
                request.method,
                request.url,
                json=request.json,
                params=request.params,
                headers=headers,
                timeout=(connect, read),
                stream=True,
            )
        except requests.exceptions.ConnectTimeout:
            raise SpaceTimeoutError("connect", connect) from None
        except requests.exceptions.ReadTimeout:
            call.seconds_left()
            raise SpaceTimeoutError("read", read) from None
        except requests.exceptions.RequestException as exc:
            raise self._connection_error(exc, call) from None

    def _connection_error(
        self, exc: BaseException, call: ChatCall, streaming: bool = False
    ) -> SpaceConnectionError:
        return connection_error(self._core, exc, call, streaming)

    def _read_body(self, response: requests.Response, call: ChatCall) -> bytes:
        limit = call._max_event_bytes
        complete = False
        try:
            body = response.raw.read(limit + 1, decode_content=True)
            complete = len(body) <= limit
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._connection_error(exc, call) from None
        finally:
            _release(response, complete)
        return check_body_size(bytes(body), limit)

    def _attempt(self, call: ChatCall) -> Iterator[Event]:
        while (request := call.next_request()) is not None:
            response = self._send(request, call)
            if not request.stream:
                body = self._read_body(response, call)
                call.on_response(request, response.status_code, response.headers, body)
                continue
            ended = False  # read to its end: the connection can be reused
            try:
                if response.status_code != 200:
                    body = self._read_body(response, call)
                    check_response(response.status_code, response.headers, body, request.url)
                raw = response.raw
                chunks = _chunks(raw)
                clock = time.monotonic
                while True:
                    try:
                        chunk = next(chunks, b"")
                    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
                        call.seconds_left()  # the queue or total limit, if that is what passed
                        raise SpaceTimeoutError(
                            "read", call.timeouts.read, partial_text=call.partial_text
                        ) from None
                    except (urllib3.exceptions.HTTPError, OSError) as exc:
                        raise self._connection_error(exc, call, streaming=True) from None
                    if not chunk:
                        ended = True
                        break
                    events = call.feed(chunk)
                    if events:
                        yield from events
                    if call.finished:
                        ended = _drain(raw, chunks)
                        break
                    call.seconds_left(clock())
            finally:
                _release(response, ended)
            call.end_of_stream()

    def _run(self, call: ChatCall, state: StreamState) -> Generator[Event, None, None]:
        attempt = 0
        try:
            while True:
                try:
                    yield from self._attempt(call)
                    reply = call.reply()
                    break
                except QwenSpacesError as error:
                    delay = self._core.retry_delay(call, error, attempt)
                    if delay is None:
                        raise
                    attempt += 1
                    time.sleep(delay)
                    call.restart()
            self._core.remember(call)
            state.done(reply)
        finally:
            if not call.finished:
                self._cancel(call)
            state.ended()

    def _cancel(self, call: ChatCall) -> None:
        # Best effort, briefly: the user has stopped listening, tell the Space.
        request = call.cancel_request()
        if request is None or self._session is None:  # a closed client sends nothing
            return
        call.finished = True
        try:
            response = self._session.post(
                request.url, json=request.json, timeout=(CANCEL_TIMEOUT, CANCEL_TIMEOUT)
            )
            response.close()
            log.debug("cancelled event %s: HTTP %s", call.event_id, response.status_code)
        except requests.exceptions.RequestException as exc:
            log.debug("cancel failed: %s", type(exc).__name__)


def _chunks(raw: Any) -> Iterator[bytes]:
    """The body as it arrives.

    A chunked body (what Gradio sends) goes through urllib3's own chunk
    reader, the fastest path; any other through read1, which returns whatever
    has arrived rather than waiting for a full buffer.
    """
    if getattr(raw, "chunked", False) and raw.supports_chunked_reads():
        chunks: Iterator[bytes] = raw.read_chunked(READ_SIZE, decode_content=True)
        return chunks
    read = raw.read1 if hasattr(raw, "read1") else raw.read
    return iter(lambda: read(READ_SIZE), b"")


def _drain(raw: Any, chunks: Iterator[bytes]) -> bool:
    """Read the rest of a finished stream, briefly; True if it ended."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    try:
        if sock is not None:
            sock.settimeout(DRAIN_SECONDS)
        total = 0
        while total < DRAIN_BYTES:
            chunk = next(chunks, b"")
            if not chunk:
                return True
            total += len(chunk)
    except (urllib3.exceptions.HTTPError, OSError):
        pass
    return False


def _release(response: requests.Response, complete: bool) -> None:
    # requests closes the socket of a streamed response it did not read itself;
    # a body read to its end can go back to the pool instead.
    if complete:
        response._content_consumed = True  # type: ignore[attr-defined]  # requests' own flag
        response.raw.release_conn()
    response.close()


class Stream:
    """The events of one call, as they arrive.

    Iterate it for events; ``text_stream`` for str deltas only; ``reply`` for
    the final Reply (it reads the rest of the stream if needed). Breaking
    off, ``close()``, leaving its ``with`` block or dropping it stops the
    call on the Space and releases the connection.
    """

    def __init__(self, client: Client, call: ChatCall) -> None:
        self._call = call
        self._state = StreamState()
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

        chunks = OpenAIChunks(self._call.spec.model)
        for event in self:
            yield from chunks.convert(event)
        yield chunks.finish()

    @property
    def reply(self) -> Reply:
        """The final Reply; reads whatever of the stream is left first."""
        if self._state.reply is None:
            for _ in self:
                pass
            if self._state.reply is None:
                raise QwenSpacesError("the stream was closed before the answer was complete")
        return self._state.reply

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
        timeout: TimeoutArg = None,
        on_status: Optional[StatusCallback] = None,
        progress: bool = False,
    ) -> Reply:
        """Add a user message and return the Space's Reply."""
        with self._turn():
            reply = self._client.chat(
                text,
                conversation=self.state,
                timeout=timeout,
                on_status=on_status,
                progress=progress,
            )
        self.commit(reply)
        return reply

    def stream(self, text: Messages, *, timeout: TimeoutArg = None) -> Stream:
        """Like send(), as a Stream; the turn is recorded when the stream completes."""
        stream = self._client.stream(text, conversation=self.state, timeout=timeout)
        stream._state.on_end = self.commit
        return stream
