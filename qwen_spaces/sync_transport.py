"""The blocking transport: urllib3 connection pools, with a watchdog for the total budget.

``Client`` sends its requests through urllib3, the library requests itself
runs on, without requests' own layer: that layer (preparing a request,
Session.send, building a Response) costs about 0.1 ms of CPU a request, and
the 1M Space needs three requests before its first token (issue #13). What
requests added that a call needs is kept here, each in a few lines: proxies
from the environment (read once), the certifi CA bundle (or
``$REQUESTS_CA_BUNDLE``), a cookie jar, redirects that drop the token on the
way to another host (urllib3's own), and a streamed multipart body
(requests-toolbelt's encoder).

urllib3's exception shapes are known here only, in one table (``_FAILURES``).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Optional, Union
from urllib.parse import unquote, urlsplit

import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from .protocol import Request
from .transport import FailureKind, TransportError, keeps_connection
from .watchdog import WATCHDOG, Guard, current

if TYPE_CHECKING:
    import http.cookiejar

    from .client_core import ClientCore

__all__ = ["Urllib3Transport"]

log = logging.getLogger("qwen_spaces")

READ_SIZE = 65536
# As requests sends them: the Space's proxy may compress a whole (non-stream) body.
_BASE_HEADERS = {"Accept-Encoding": "gzip, deflate", "Accept": "*/*"}

# The one table: urllib3's (and the OS's) exceptions -> neutral kinds, first
# match wins. NewConnectionError is a subclass of ConnectTimeoutError in
# urllib3 2, but a refused connection is no timeout: it comes first.
_FAILURES: tuple[tuple[type[BaseException], FailureKind], ...] = (
    (urllib3.exceptions.NewConnectionError, FailureKind.CONNECTION),
    (urllib3.exceptions.ConnectTimeoutError, FailureKind.CONNECT_TIMEOUT),
    (urllib3.exceptions.ReadTimeoutError, FailureKind.READ_TIMEOUT),
    (TimeoutError, FailureKind.READ_TIMEOUT),
    (urllib3.exceptions.HTTPError, FailureKind.CONNECTION),
    (http.client.HTTPException, FailureKind.CONNECTION),
    (OSError, FailureKind.CONNECTION),
)
_LIBRARY_ERRORS = tuple(error for error, _ in _FAILURES)

# urllib3 retries nothing (the call decides retries); it follows up to 5
# redirects, dropping Authorization and Cookie on the way to another host.
_RETRIES = urllib3.Retry(
    total=None, connect=0, read=0, status=0, other=0, redirect=5, raise_on_status=False
)


def _failure(exc: BaseException, guard: Guard) -> TransportError:
    if guard.fired:  # the watchdog cut the connection: the budget ran out
        return TransportError(FailureKind.DEADLINE, exc)
    # "Max retries exceeded" (with no retries allowed) wraps what happened.
    inner = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    kind = next(
        (kind for error, kind in _FAILURES if isinstance(inner, error)), FailureKind.CONNECTION
    )
    return TransportError(kind, exc)


class Urllib3Transport:
    """Sends a call's requests over urllib3 keep-alive pools, one per host.

    urllib3's timeouts bound each read, not the whole; a watchdog thread shuts
    a request's connection when its total budget runs out, so a Space that
    drips its headers or body still ends on time. Nothing is opened or read
    from the environment before the first request.
    """

    def __init__(self, core: ClientCore) -> None:
        self._core = core
        self._manager: Optional[urllib3.PoolManager] = None
        self._headers = {**_BASE_HEADERS, **core.headers}
        if core.authorization:
            # urllib3 drops it on a redirect to another host.
            self._headers["Authorization"] = core.authorization
        self._cookies: Optional[http.cookiejar.CookieJar] = None  # made at the first Set-Cookie
        self._lock = threading.Lock()  # a client may be shared by threads

    def _pools(self) -> urllib3.PoolManager:
        """The pool manager, made at the first request (raises urllib3's errors for a bad proxy)."""
        manager = self._manager
        if manager is None:
            with self._lock:
                manager = self._manager
                if manager is None:
                    manager = self._manager = _pool_manager(self._core)
        return manager

    @contextlib.contextmanager
    def open(self, request: Request) -> Iterator[_Exchange]:
        """Send ``request``; the answer's headers are in, its body is not read yet.

        Raises TransportError. On leaving, a body read to its end goes back to
        the pool; any other is closed with its connection.
        """
        guard = Guard(time.monotonic() + request.total)
        WATCHDOG.add(guard)
        log.debug("%s %s", request.method, request.url)
        try:
            manager = self._pools()
        except _LIBRARY_ERRORS as exc:  # e.g. a socks:// proxy from the environment
            guard.finish()
            raise _failure(exc, guard) from None
        url = request.url
        headers = self._headers
        if request.headers:
            headers = {**headers, **request.headers}
        readers = [upload.open(request.progress) for upload in request.files]
        try:
            body, headers = _body(request, readers, headers)
            if self._cookies:
                headers = _with_cookies(self._cookies, url, headers)
            current.guard = guard
            response = manager.urlopen(
                request.method,
                url,
                body=body,
                headers=headers,
                retries=_RETRIES,
                timeout=urllib3.Timeout(connect=request.connect, read=request.read),
                preload_content=False,
                decode_content=True,
            )
        except _LIBRARY_ERRORS as exc:
            guard.finish()
            raise _failure(exc, guard) from None
        finally:
            current.guard = None
            for reader in readers:
                reader.close()
        if "set-cookie" in response.headers:
            with self._lock:
                self._cookies = _keep_cookies(self._cookies, url, response)
        exchange = _Exchange(response, guard)
        try:
            yield exchange
        finally:
            exchange.close()

    def cancel(self, request: Request) -> None:
        """Send a cancel, best effort and briefly; a closed client sends nothing."""
        if self._manager is None:
            return
        try:
            with self.open(request) as response:
                response.read(4096)
                log.debug("cancel %s: HTTP %s", request.url, response.status)
        except TransportError as exc:
            log.debug("cancel failed: %s", exc.kind.value)

    def close(self) -> None:
        """Close every pooled connection; the next request opens new ones."""
        if self._manager is not None:
            self._manager.clear()
            self._manager = None


def _body(
    request: Request, readers: list[Any], headers: dict[str, str]
) -> tuple[Any, dict[str, str]]:
    """The request's body (the call's, or the files as multipart) and its headers."""
    if not readers:
        return request.body, headers
    # Streamed from the files as it is sent, never whole in memory.
    # Imported here: rarely needed, and it imports requests.
    from requests_toolbelt import MultipartEncoder  # type: ignore[import-untyped]

    body = MultipartEncoder(
        fields=[
            ("files", (upload.name, reader, upload.mime_type))
            for upload, reader in zip(request.files, readers, strict=True)
        ]
    )
    length = str(body.len)
    return body, {**headers, "Content-Type": body.content_type, "Content-Length": length}


class _Exchange:
    """One answer as the loop reads it: status and headers, then the body."""

    __slots__ = ("_chunks", "_complete", "_conn", "_guard", "_response", "headers", "status")

    def __init__(self, response: urllib3.BaseHTTPResponse, guard: Guard) -> None:
        self._response = response
        # urllib3 puts the connection back in the pool by itself once the body
        # is read to its end; close() may still have to close it.
        self._conn = getattr(response, "connection", None)
        self._guard = guard
        self._complete = False  # the body was read to its end
        self._chunks: Optional[Iterator[bytes]] = None
        self.status: int = response.status
        self.headers: Mapping[str, str] = response.headers

    def read(self, limit: int) -> bytes:
        """The whole body, or its first ``limit + 1`` bytes if it is longer."""
        try:
            body = self._response.read(limit + 1, decode_content=True)
        except _LIBRARY_ERRORS as exc:
            raise _failure(exc, self._guard) from None
        self._complete = len(body) <= limit
        return bytes(body)

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives."""
        chunks = self._chunks = _raw_chunks(self._response)
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
        except _LIBRARY_ERRORS:
            return

    def close(self) -> None:
        # A body read to its end goes back to the pool, unless the watchdog has
        # cut its connection. Any other connection is closed: urllib3 may have
        # put it back in the pool already (it does once a body is read).
        if self._guard.finish() and self._complete and keeps_connection(self.status):
            self._response.release_conn()
        else:
            self._response.close()
            self._response.release_conn()  # closed: the pool opens a new one in its place
            if self._conn is not None:
                self._conn.close()


def _raw_chunks(response: Any) -> Iterator[bytes]:
    """The body as it arrives, decoded (gzip included).

    A chunked body (what Gradio sends) goes through urllib3's own chunk
    reader, the fastest path; any other through read1, which returns whatever
    has arrived rather than waiting for a full buffer.
    """
    if getattr(response, "chunked", False) and response.supports_chunked_reads():
        chunks: Iterator[bytes] = response.read_chunked(READ_SIZE, decode_content=True)
        return chunks
    return iter(lambda: response.read1(READ_SIZE, decode_content=True), b"")


# --- what requests used to add: TLS, proxies, cookies ------------------------------------


def _ca_source(verify: Union[bool, str]) -> Optional[str]:
    """The CA bundle (file or directory) to verify against; None: no verification."""
    if verify is False:
        return None
    if isinstance(verify, str):
        return verify
    # As requests: $REQUESTS_CA_BUNDLE, $CURL_CA_BUNDLE, else certifi's bundle.
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        return bundle
    import certifi

    return str(certifi.where())


def _pool_manager(core: ClientCore) -> urllib3.PoolManager:
    """Pools for ``core``: its TLS settings and proxy (``proxy=``, else the environment's)."""
    ca = _ca_source(core.verify)
    tls: dict[str, Any]
    if ca is None:
        tls = {"cert_reqs": "CERT_NONE", "assert_hostname": False}
    elif os.path.isdir(ca):
        tls = {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": ca}
    else:
        tls = {"cert_reqs": "CERT_REQUIRED", "ca_certs": ca}
    proxy = core.proxy or _environment_proxy(core.base_url)
    manager: urllib3.PoolManager
    if proxy:
        parts = urlsplit(proxy)
        proxy_headers = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            proxy_headers = urllib3.make_headers(proxy_basic_auth=credentials)
            proxy = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        manager = urllib3.ProxyManager(proxy, maxsize=32, proxy_headers=proxy_headers, **tls)
    else:
        manager = urllib3.PoolManager(maxsize=32, **tls)
    manager.pool_classes_by_scheme = _POOLS  # connections the watchdog can find
    return manager


def _environment_proxy(url: str) -> Optional[str]:
    """The proxy the environment sets for ``url`` (``$https_proxy``, ``$no_proxy``...).

    Read once per client, at its first request (the standard library's
    parsing, as requests uses it).
    """
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    if not proxies:
        return None
    parts = urlsplit(url)
    if urllib.request.proxy_bypass_environment(parts.netloc, proxies):  # type: ignore[attr-defined]
        return None
    return proxies.get(parts.scheme) or proxies.get("all") or None


def _with_cookies(
    jar: http.cookiejar.CookieJar, url: str, headers: dict[str, str]
) -> dict[str, str]:
    """``headers`` with the Cookie header the jar has for ``url``."""
    import urllib.request

    probe = urllib.request.Request(url, headers=headers)
    jar.add_cookie_header(probe)
    cookie = probe.get_header("Cookie")
    return {**headers, "Cookie": cookie} if cookie else headers


def _keep_cookies(
    jar: Optional[http.cookiejar.CookieJar], url: str, response: urllib3.BaseHTTPResponse
) -> http.cookiejar.CookieJar:
    """The jar, with the cookies the answer to ``url`` set (made at the first)."""
    import http.cookiejar
    import urllib.request

    if jar is None:
        jar = http.cookiejar.CookieJar()
    jar.extract_cookies(_CookieResponse(response), urllib.request.Request(url))  # type: ignore[arg-type]
    return jar


class _CookieResponse:
    """What http.cookiejar reads of a response: ``info().get_all(name)``."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._headers = response.headers

    def info(self) -> _CookieResponse:
        return self

    def get_all(self, name: str, default: Any = None) -> Any:
        return self._headers.getlist(name) or default


# --- connections the watchdog can find ------------------------------------------------------


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
