"""The asyncio transport: an aiohttp ClientSession, the twin of ``sync_transport.py``.

``AsyncClient`` sends through its own session (made at the first request), or
one the user hands in (``AsyncClient(session=...)``, never closed here). With
``trust_env`` (the default) it reads ``$HTTPS_PROXY``/``$NO_PROXY`` as aiohttp's
``trust_env`` and requests do, and both clients take the CA bundle from the same
variables (``TransportSettings.ca_bundle``). aiohttp's exception shapes are known here only, in
one table (``_FAILURES``). aiohttp is imported at the first request, in a
thread, never on the event loop (see ``_prepare``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import ssl
import threading
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Optional, Union
from urllib.parse import urlsplit

from .._core.wire import CANCEL_TIMEOUT, UPLOAD_FIELD, FailureKind, TransportError
from .transport import CertArg, TransportSettings, keeps_connection

if TYPE_CHECKING:
    import aiohttp
    import aiohttp.http_exceptions

    from .._core.wire import Request

__all__ = ["AiohttpTransport"]

log = logging.getLogger("qwen_spaces")

# The one table: aiohttp's exceptions -> neutral kinds (first match wins),
# filled in by _prepare. A total timeout is a bare asyncio.TimeoutError;
# sock_connect and sock_read raise aiohttp's subclasses of it.
_FAILURES: tuple[tuple[type[BaseException], FailureKind], ...] = ()
_LIBRARY_ERRORS: tuple[type[BaseException], ...] = ()
# aiohttp rounds a timeout above this up to a whole second of the loop's
# clock (up to 1 s late): a limit is kept to the millisecond instead.
_NO_CEIL = 1e9

# Importing aiohttp takes 0.2-0.4 s (it builds its default SSL contexts then,
# loading the system's certificates), and so does building one: blocking work
# that would stall every task of the loop. It runs once per process, in a
# thread, at the first request (_ready), with the SSL context this module
# gives every request (aiohttp versions that build theirs lazily then build
# none at the first HTTPS connection either).
_SSL_VERIFIED: Optional[ssl.SSLContext] = None
_prepare_lock = threading.Lock()
_start_lock = threading.Lock()
_preparing: Optional[concurrent.futures.Future[None]] = None


def _ssl_context(cafile: Optional[str] = None, cert: CertArg = None) -> ssl.SSLContext:
    """A verifying context (the system's CAs, or ``cafile``), with the client certificate ``cert``.

    Blocking file I/O.
    """
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(("http/1.1",))  # as aiohttp's own
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
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


async def _closes_with_its_loop(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """An async generator that closes ``session`` when its event loop shuts down.

    ``asyncio.run`` (and every runner that calls ``loop.shutdown_asyncgens()``)
    closes the async generators still suspended before it closes the loop: the
    session's pooled connections are then closed by that loop, while it still
    runs, so a client used again from another loop leaves nothing behind.
    """
    loop = asyncio.get_running_loop()
    try:
        yield
    finally:
        if asyncio.get_running_loop() is loop and not session.closed:
            await session.close()


class AiohttpTransport:
    """Sends a call's requests over one aiohttp session (a keep-alive pool).

    Our session belongs to one event loop: used from another (a second
    ``asyncio.run``), it is dropped (its loop closed it as it ended) and a new
    one opened. A user's session is used as it is, from its own loop. It
    satisfies :class:`~qwen_spaces._transports.transport.AsyncTransport`.
    """

    def __init__(
        self, settings: TransportSettings, session: Optional[aiohttp.ClientSession] = None
    ) -> None:
        self._settings = settings
        self._user_session = session  # the user's: used, never closed
        self._session: Optional[aiohttp.ClientSession] = None  # ours
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._closer: Optional[AsyncGenerator[None, None]] = None
        self._contexts: dict[tuple[Optional[str], CertArg], ssl.SSLContext] = {}
        # Cancel requests still under way; close() lets them finish, briefly.
        self._cancels: set[asyncio.Task[None]] = set()

    async def _ready_http(self) -> tuple[aiohttp.ClientSession, Union[ssl.SSLContext, bool, None]]:
        """The session and the request's SSL setting (blocking work in threads)."""
        await _ready()
        options = self._settings
        ssl_arg: Union[ssl.SSLContext, bool, None] = None
        user = self._user_session
        if options.verify is False:
            ssl_arg = False
        elif user is None or options.verify is not True or options.cert is not None:
            # Ours, or a user's session told otherwise: the CA bundle rule both clients share.
            key = (options.ca_bundle(), options.cert)
            ssl_arg = self._contexts.get(key)
            if ssl_arg is None:
                if key == (None, None) and _SSL_VERIFIED is not None:
                    ssl_arg = _SSL_VERIFIED
                else:
                    loop = asyncio.get_running_loop()
                    ssl_arg = await loop.run_in_executor(None, _ssl_context, *key)
                self._contexts[key] = ssl_arg
        if user is not None:
            return user, ssl_arg
        return await self._own_session(), ssl_arg

    async def _own_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._loop is not loop:
            await self._let_go()
            session = None
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=0, ssl=_SSL_VERIFIED or True)
            # trust_env is read by open() (_environment_proxy): aiohttp's own reading
            # costs two hops to a thread per request (~1 ms on the first token).
            session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None)
            )
            closer = _closes_with_its_loop(session)
            await closer.asend(None)
            self._session, self._loop, self._closer = session, loop, closer
        return session

    async def _let_go(self) -> None:
        """Drop a session of another event loop (our own only)."""
        session, loop, closer = self._session, self._loop, self._closer
        self._session = self._loop = self._closer = None
        self._cancels.clear()
        if session is None:
            return
        if loop is not None and loop.is_running() and not loop.is_closed():
            # Still running, in another thread: it closes the session itself.
            asyncio.run_coroutine_threadsafe(_finish(closer, session), loop)
        elif not session.closed:
            # Closed without shutting down its async generators (not asyncio.run):
            # nothing can close its connections now; the collector will.
            log.debug("a session of a closed event loop was left to the garbage collector")
            session.detach()

    @contextlib.asynccontextmanager
    async def aopen(self, request: Request) -> AsyncIterator[_Exchange]:
        """Send ``request``; the answer's headers are in, its body is not read yet.

        Raises TransportError. On leaving, a body read to its end goes back to
        the pool; any other is closed.
        """
        try:
            session, ssl_arg = await self._ready_http()
        except OSError as exc:  # a CA bundle or client certificate that cannot be loaded
            raise TransportError(FailureKind.CONNECTION, exc) from None
        timeout = aiohttp.ClientTimeout(
            total=request.total,
            sock_connect=request.connect,
            sock_read=request.read,
            ceil_threshold=_NO_CEIL,
        )
        log.debug("%s %s", request.method, request.url)
        # Authorization among them: aiohttp drops it on a redirect to another origin.
        headers = self._settings.headers_for(request)
        form, readers = None, [upload.open(request.progress) for upload in request.files]
        if readers:
            # Streamed from the files as it is sent; file names as UTF-8, as
            # browsers send them (Gradio does not decode RFC 5987 names).
            form = aiohttp.FormData(quote_fields=False)
            for upload, reader in zip(request.files, readers, strict=True):
                form.add_field(
                    UPLOAD_FIELD, reader, filename=upload.name, content_type=upload.mime_type
                )
        options: dict[str, Any] = {}
        if ssl_arg is not None:
            options["ssl"] = ssl_arg
        proxy: Optional[str] = self._settings.proxy
        if proxy is None and self._settings.trust_env and self._user_session is None:
            proxy = _environment_proxy(request.url)
        if proxy:
            options["proxy"] = proxy
        try:
            response = await session.request(
                request.method,
                request.url,
                data=form if form is not None else request.body,
                headers=headers,
                timeout=timeout,
                **options,
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

    async def acancel(self, request: Request) -> None:
        """Send a cancel, best effort and briefly; shielded, so a cancelled task still sends it."""
        if self._user_session is None:
            session = self._session
            if session is None or session.closed or self._loop is not asyncio.get_running_loop():
                return  # a closed client sends nothing
        elif self._user_session.closed:
            return

        async def send() -> None:
            async with self.aopen(request) as response:
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

    async def aclose(self) -> None:
        """Close our session (never the user's), after cancels under way had a moment."""
        if self._session is not None and self._loop is not asyncio.get_running_loop():
            await self._let_go()
        if self._cancels:
            await asyncio.wait(set(self._cancels), timeout=CANCEL_TIMEOUT)
        session, closer = self._session, self._closer
        self._session = self._loop = self._closer = None
        if session is not None:
            await _finish(closer, session)


def _environment_proxy(url: str) -> Optional[str]:
    """The proxy ``$HTTP(S)_PROXY`` names for ``url``, unless ``$NO_PROXY`` names its host.

    What aiohttp's ``trust_env`` reads (the standard library's parsing, by host),
    read here on the loop: a few environment look-ups, no I/O.
    """
    proxies = urllib.request.getproxies_environment()
    if not proxies:
        return None
    parts = urlsplit(url)
    if urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):  # type: ignore[attr-defined]
        return None
    return proxies.get(parts.scheme) or None


async def _finish(
    closer: Optional[AsyncGenerator[None, None]], session: aiohttp.ClientSession
) -> None:
    """Close ``session`` and end its loop's watch over it, in that loop."""
    if closer is not None:
        await closer.aclose()
    if not session.closed:
        await session.close()


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
