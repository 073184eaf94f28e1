"""The blocking transport: a requests Session, with a watchdog for the total budget.

``Client`` sends its requests through a ``requests.Session``: its own (made at
the first request), or one the user hands in (``Client(session=...)``, never
closed here). requests does what a user expects of it: proxies and ``no_proxy``
from the environment, the CA bundle, cookies, redirects that drop the token on
the way to another host, mounted adapters, and ``responses`` in users' tests.

The body of an answer is read from requests' ``response.raw`` (urllib3's
response), as it arrives. requests and urllib3 are imported at the first
request (``sync_adapter.py``), never at ``import qwen_spaces``; their
exceptions are known there only, in one table.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Optional

from .._core.wire import UPLOAD_FIELD, FailureKind, TransportError
from .transport import TransportSettings, keeps_connection
from .watchdog import WATCHDOG, Guard, current

if TYPE_CHECKING:
    import requests

    from .._core.wire import Request

__all__ = ["RequestsTransport"]

log = logging.getLogger("qwen_spaces")

READ_SIZE = 65536


class RequestsTransport:
    """Sends a call's requests through one requests Session (a keep-alive pool per host).

    requests' timeouts bound the connect and each read, not the whole; a
    watchdog thread shuts a request's connection when its total budget runs
    out, so a Space that drips its headers or body still ends on time.
    Nothing is opened or read from the environment before the first request.
    It satisfies :class:`~qwen_spaces._transports.transport.Transport`.
    """

    def __init__(
        self, settings: TransportSettings, session: Optional[requests.Session] = None
    ) -> None:
        self._settings = settings
        self._session = session  # the user's: used, never closed
        self._own: Optional[requests.Session] = None  # ours, made at the first request
        proxy = settings.proxy
        self._proxies = {"http": proxy, "https": proxy} if proxy else None
        self._lock = threading.Lock()  # a client may be shared by threads

    def _ready(self) -> tuple[requests.Session, dict[str, Any]]:
        """The session, and what each request adds to its settings."""
        from . import sync_adapter  # imports requests: at the first request only

        options = self._settings
        settings: dict[str, Any] = {"proxies": self._proxies, "cert": options.cert}
        if self._session is not None:
            sync_adapter.watch_session(self._session)
            if options.verify is not True:  # else the session's own verify (and environment)
                settings["verify"] = options.ca_bundle() or False
            return self._session, settings
        session = self._own
        if session is None:
            with self._lock:
                session = self._own
                if session is None:
                    session = self._own = sync_adapter.new_session(options.trust_env)
        # The same CA bundle rule as AsyncClient's ($SSL_CERT_FILE too); else requests' default.
        settings["verify"] = options.ca_bundle() or bool(options.verify)
        return session, settings

    @contextlib.contextmanager
    def open(self, request: Request) -> Iterator[_Exchange]:
        """Send ``request``; the answer's headers are in, its body is not read yet.

        Raises TransportError. On leaving, a body read to its end goes back to
        the pool; any other is closed with its connection.
        """
        from .sync_adapter import LIBRARY_ERRORS, failure

        guard = Guard(time.monotonic() + request.total)
        WATCHDOG.add(guard)
        log.debug("%s %s", request.method, request.url)
        # Authorization among them: requests drops it on a redirect to another host.
        headers = self._settings.headers_for(request)
        readers = [upload.open(request.progress) for upload in request.files]
        try:
            session, settings = self._ready()
            body, headers = _body(request, readers, headers)
            current.guard = guard
            response = session.request(
                request.method,
                request.url,
                data=body,
                headers=headers,
                timeout=(request.connect, request.read),
                stream=True,
                **settings,
            )
        except LIBRARY_ERRORS as exc:
            guard.finish()
            raise failure(exc, guard) from None
        finally:
            current.guard = None
            for reader in readers:
                reader.close()
        exchange = _Exchange(response, guard)
        try:
            exchange._check()
            yield exchange
        finally:
            exchange.close()

    def cancel(self, request: Request) -> None:
        """Send a cancel, best effort and briefly; a closed client sends nothing."""
        if self._own is None and self._session is None:
            return
        try:
            with self.open(request) as response:
                response.read(4096)
                log.debug("cancel %s: HTTP %s", request.url, response.status)
        except TransportError as exc:
            log.debug("cancel failed: %s", exc.kind.value)

    def close(self) -> None:
        """Close our session's connections (the next request opens new ones); never the user's."""
        own, self._own = self._own, None
        if own is not None:
            own.close()


def _body(
    request: Request, readers: list[Any], headers: dict[str, str]
) -> tuple[Any, dict[str, str]]:
    """The request's body (the call's, or the files as multipart) and its headers."""
    if not readers:
        return request.body, headers
    # Streamed from the files as it is sent, never whole in memory.
    from requests_toolbelt import MultipartEncoder  # type: ignore[import-untyped]

    body = MultipartEncoder(
        fields=[
            (UPLOAD_FIELD, (upload.name, reader, upload.mime_type))
            for upload, reader in zip(request.files, readers, strict=True)
        ]
    )
    return body, {**headers, "Content-Type": body.content_type, "Content-Length": str(body.len)}


class _Exchange:
    """One answer as the loop reads it: status and headers, then the body."""

    __slots__ = ("_chunks", "_complete", "_conn", "_guard", "_raw", "headers", "status")

    def __init__(self, response: requests.Response, guard: Guard) -> None:
        raw = self._raw = response.raw  # urllib3's response: the body as it arrives
        # urllib3 puts the connection back in the pool by itself once the body
        # is read to its end; close() may still have to close it.
        self._conn = getattr(raw, "connection", None)
        if self._conn is not None:
            guard.watch(self._conn)  # a user's adapter's connection too
        self._guard = guard
        self._complete = False  # the body was read to its end
        self._chunks: Optional[Iterator[bytes]] = None
        self.status: int = response.status_code
        self.headers: Mapping[str, str] = response.headers

    def _check(self) -> None:
        """Raise DEADLINE if the watchdog cut the headers short.

        http.client takes the end of a shut connection for the end of the
        headers: a status line and half the headers look like an answer.
        """
        if self._guard.fired:
            raise TransportError(FailureKind.DEADLINE, TimeoutError("total"))

    def read(self, limit: int) -> bytes:
        """The whole body, or its first ``limit + 1`` bytes if it is longer."""
        from .sync_adapter import LIBRARY_ERRORS, failure

        try:
            body = self._raw.read(limit + 1, decode_content=True)
        except LIBRARY_ERRORS as exc:
            raise failure(exc, self._guard) from None
        self._check()
        self._complete = len(body) <= limit
        return bytes(body)

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives."""
        from .sync_adapter import LIBRARY_ERRORS, failure

        chunks = self._chunks = _raw_chunks(self._raw)
        try:
            yield from chunks
        except LIBRARY_ERRORS as exc:
            raise failure(exc, self._guard) from None
        self._check()  # a shut connection ends a body early, with no error
        self._complete = True

    def drain(self, seconds: float, max_bytes: int) -> None:
        """Read the rest of a finished stream, within ``seconds`` and ``max_bytes``."""
        from .sync_adapter import LIBRARY_ERRORS

        chunks = self._chunks
        if chunks is None:
            return
        sock = getattr(self._conn, "sock", None)
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
        except LIBRARY_ERRORS:
            return

    def close(self) -> None:
        # A body read to its end goes back to the pool, unless the watchdog has
        # cut its connection. Any other connection is closed: urllib3 may have
        # put it back in the pool already (it does once a body is read).
        raw = self._raw
        if self._guard.finish() and self._complete and keeps_connection(self.status):
            raw.release_conn()
        else:
            raw.close()
            raw.release_conn()  # closed: the pool opens a new one in its place
            if self._conn is not None:
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
    return iter(lambda: raw.read1(READ_SIZE, decode_content=True), b"")
