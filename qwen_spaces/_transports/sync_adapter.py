"""What the blocking transport adds to requests: connections its watchdog can shut, one error table.

Loaded with the first request of a ``Client`` (it imports requests). requests
does everything else: environment proxies and ``no_proxy``, the CA bundle,
cookies, redirects that drop the token on the way to another host.
"""

from __future__ import annotations

import http.client
from typing import Any, Optional

import requests
import requests.adapters
import requests.exceptions
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.poolmanager

from .._core.wire import FailureKind, TransportError
from .watchdog import Guard, current

__all__ = ["LIBRARY_ERRORS", "WatchedAdapter", "failure", "new_session", "watch_session"]

# The one table: requests', urllib3's (a streamed body is read from urllib3's
# response) and the OS's exceptions -> neutral kinds, first match wins.
# ConnectTimeout is a ConnectionError, and urllib3 2's NewConnectionError a
# ConnectTimeoutError; requests tells a refused connection from a timeout.
_FAILURES: tuple[tuple[type[BaseException], FailureKind], ...] = (
    (requests.exceptions.ConnectTimeout, FailureKind.CONNECT_TIMEOUT),
    (requests.exceptions.ReadTimeout, FailureKind.READ_TIMEOUT),
    (requests.exceptions.RequestException, FailureKind.CONNECTION),
    (urllib3.exceptions.NewConnectionError, FailureKind.CONNECTION),
    (urllib3.exceptions.ConnectTimeoutError, FailureKind.CONNECT_TIMEOUT),
    (urllib3.exceptions.ReadTimeoutError, FailureKind.READ_TIMEOUT),
    (TimeoutError, FailureKind.READ_TIMEOUT),
    (urllib3.exceptions.HTTPError, FailureKind.CONNECTION),
    (http.client.HTTPException, FailureKind.CONNECTION),
    (OSError, FailureKind.CONNECTION),
)
LIBRARY_ERRORS = tuple(error for error, _ in _FAILURES)


def failure(exc: BaseException, guard: Optional[Guard]) -> TransportError:
    """The neutral failure for a library's exception (DEADLINE once the watchdog cut in)."""
    if guard is not None and guard.fired:
        return TransportError(FailureKind.DEADLINE, exc)
    kind = next(kind for error, kind in _FAILURES if isinstance(exc, error))
    return TransportError(kind, exc)


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
# urllib3's own (a PoolManager's attribute is this very dict unless someone chose others).
_DEFAULT_POOLS = urllib3.poolmanager.pool_classes_by_scheme


def _watch(manager: Any) -> None:
    """Make ``manager``'s new pools watched ones, unless it was given pools of its own."""
    if getattr(manager, "pool_classes_by_scheme", None) is _DEFAULT_POOLS:
        manager.pool_classes_by_scheme = _POOLS


class WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, on connections the watchdog can shut (``Timeouts.total``).

    It overrides no ``send``: ``responses`` (which patches HTTPAdapter.send)
    intercepts it like any other.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _watch(manager)
        return manager


def new_session(trust_env: bool) -> requests.Session:
    """A client's own session: requests' defaults on watched connections."""
    session = requests.Session()
    session.trust_env = trust_env
    for prefix in ("https://", "http://"):
        session.mount(prefix, WatchedAdapter(pool_maxsize=32))
    return session


def watch_session(session: requests.Session) -> None:
    """Watch the connections of a user's session where its adapters are requests' own.

    Only pools made from now on are watched (existing ones are left alone), and
    an adapter with pools of its own is not: there, a body still ends on time
    (its response is closed), but headers that drip are bounded by ``read`` only.
    """
    for adapter in session.adapters.values():
        if isinstance(adapter, requests.adapters.HTTPAdapter):
            _watch(adapter.poolmanager)
            for manager in adapter.proxy_manager.values():
                _watch(manager)
