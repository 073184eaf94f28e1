"""The transport contract: what a client asks of the transport that moves its bytes.

A ``Request`` (``_core/wire.py``: one HTTP request the call decided, with its
time limits, as data) is what every transport is given. A driver (``Client``,
``AsyncClient``) sends the requests its call decides through a transport:
:class:`Transport` (blocking) or :class:`AsyncTransport` (asyncio). A
transport opens a request and hands back an exchange (status and headers,
then the body: ``read(limit)`` whole, or ``chunks()`` as it arrives, and
``drain`` of a finished stream's rest); leaving the ``open`` block releases
it. ``cancel`` sends a best-effort cancel; ``close`` closes the pool.
requests (``sync_transport.py``), aiohttp (``async_transport.py``) and the
in-memory ``qwen_spaces.testing.MockTransport`` satisfy these Protocols.

The built-in transports read the client's options from one frozen
:class:`TransportSettings`, never from the client. Each maps its library's
exceptions onto a :class:`FailureKind` in one table and raises
:class:`TransportError`; the call (``_core/call.py``) turns that into the user's
error, with its limit, partial text and no credentials. No library's exception
shapes leak past the transport that knows them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from types import MappingProxyType
from typing import ClassVar, Optional, Protocol, Union

from .._core.wire import FailureKind, Request, TransportError
from .._value import Frozen

__all__ = [
    "CA_VARIABLES",
    "AsyncExchange",
    "AsyncTransport",
    "AsyncUserTransport",
    "CertArg",
    "Exchange",
    "FailureKind",
    "Request",
    "Transport",
    "TransportError",
    "TransportSettings",
    "UserTransport",
    "keeps_connection",
]

#: A client certificate: the path of a PEM file holding both, or (cert file, key file).
CertArg = Union[None, str, tuple[str, str]]
#: Where both clients look for a CA bundle (with trust_env), in this order.
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


# --- the exchange and the transport, blocking and asyncio ----------------------------------


class Exchange(Protocol):
    """One answer as a blocking driver reads it: status and headers, then the body.

    The body is read once, one way: ``read`` or ``chunks``. Raises TransportError.
    """

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def read(self, limit: int) -> bytes:
        """The whole body, or its first ``limit + 1`` bytes if it is longer."""
        ...

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives."""
        ...

    def drain(self, seconds: float, max_bytes: int) -> None:
        """Read the rest of a finished stream, within ``seconds`` and ``max_bytes``, no error."""
        ...


class Transport(Protocol):
    """What ``Client`` sends its requests through (``Client(transport=...)``)."""

    def open(self, request: Request) -> AbstractContextManager[Exchange]:
        """Send ``request``: the answer's headers are in, its body is not read yet.

        Raises TransportError. Leaving the block releases the answer (and its
        connection, unless the body was read to its end).
        """
        ...

    def cancel(self, request: Request) -> None:
        """Send a cancel, best effort and briefly: never raises TransportError."""
        ...

    def close(self) -> None:
        """Close the transport's own connections; it may be used again afterwards."""
        ...


class AsyncExchange(Protocol):
    """The asyncio twin of :class:`Exchange`."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self, limit: int) -> bytes:
        """The whole body, or its first ``limit + 1`` bytes if it is longer."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        ...

    async def drain(self, seconds: float, max_bytes: int) -> None:
        """Read the rest of a finished stream, within ``seconds`` and ``max_bytes``, no error."""
        ...


class AsyncTransport(Protocol):
    """What ``AsyncClient`` sends its requests through (``AsyncClient(transport=...)``).

    The methods carry an ``a`` (as ``aclose``), so that one object may serve
    both clients, as ``MockTransport`` does (and httpx's).
    """

    def aopen(self, request: Request) -> AbstractAsyncContextManager[AsyncExchange]:
        """Send ``request`` (see :meth:`Transport.open`)."""
        ...

    async def acancel(self, request: Request) -> None:
        """Send a cancel, best effort and briefly: never raises TransportError."""
        ...

    async def aclose(self) -> None:
        """Close the transport's own connections; it may be used again afterwards."""
        ...


# --- the client's options a transport reads --------------------------------------------------


class TransportSettings(Frozen):
    """What the built-in transports take from the client's options, checked already.

    ``headers`` go with every request (``User-Agent``, the user's, and the
    token's ``Authorization``, which requests and aiohttp drop on a redirect
    to another host); ``proxy`` wins over the environment's; ``verify``,
    ``cert`` and ``trust_env`` are as on ``Client``.
    """

    __match_args__: ClassVar[tuple[str, ...]] = ("headers", "proxy", "verify", "cert", "trust_env")
    __slots__ = __match_args__
    headers: Mapping[str, str]
    proxy: Optional[str]
    verify: Union[bool, str]
    cert: CertArg
    trust_env: bool

    def __init__(
        self,
        headers: Optional[Mapping[str, str]] = None,
        proxy: Optional[str] = None,
        verify: Union[bool, str] = True,
        cert: CertArg = None,
        trust_env: bool = True,
    ) -> None:
        # Frozen all the way down: a read-only copy of the caller's headers.
        self._set("headers", MappingProxyType(dict(headers or {})))
        self._set("proxy", proxy)
        self._set("verify", verify)
        self._set("cert", cert)
        self._set("trust_env", trust_env)

    def __repr__(self) -> str:
        # Not in the repr: a token in a header, a password in a proxy URL.
        return (
            f"TransportSettings(verify={self.verify!r}, cert={self.cert!r}, "
            f"trust_env={self.trust_env!r})"
        )

    def __hash__(self) -> int:  # type: ignore[override]
        return hash((self.proxy, self.verify, self.cert, self.trust_env))  # headers: a dict

    def ca_bundle(self) -> Optional[str]:
        """The CA bundle to verify against, if not the HTTP library's default.

        ``verify="path"``, else (with ``trust_env``) ``$REQUESTS_CA_BUNDLE``,
        ``$CURL_CA_BUNDLE`` or ``$SSL_CERT_FILE``, the first set: one rule that
        both clients follow, read at each request as requests reads them.
        """
        if isinstance(self.verify, str):
            return self.verify
        if self.verify and self.trust_env:
            for name in CA_VARIABLES:
                if value := os.environ.get(name):
                    return value
        return None

    def headers_for(self, request: Request) -> dict[str, str]:
        """The headers ``request`` is sent with: these, then its own (they win)."""
        if request.headers:
            return {**self.headers, **request.headers}
        return dict(self.headers)

    def merged(self, request: Request) -> Request:
        """``request`` carrying every header it is sent with (for a transport of the user's)."""
        return request.replace(headers=self.headers_for(request))


def keeps_connection(status: int) -> bool:
    """Whether a connection whose answer was read to its end may serve another request.

    Not after a 5xx: uvicorn closes the connection just after an app error, and
    the next request (often the /config refetch) would meet a reset.
    """
    return status < 500


# --- a transport of the user's ---------------------------------------------------------------


def _check_custom(
    transport: object, session: object, settings: TransportSettings, methods: tuple[str, ...]
) -> None:
    """``transport=`` has ``methods``, and no option of the built-in transport came with it."""
    if session is not None:
        raise TypeError("give session= or transport=, not both")
    given = [
        name
        for name, default in (
            ("proxy", None),
            ("verify", True),
            ("cert", None),
            ("trust_env", True),
        )
        if getattr(settings, name) != default
    ]
    if given:
        raise TypeError(
            f"{'= and '.join(given)}= set the built-in transport; with transport=, yours decides"
        )
    missing = [name for name in methods if not callable(getattr(transport, name, None))]
    if missing:
        raise TypeError(
            f"transport must have the methods {', '.join(methods)}; "
            f"{type(transport).__name__} lacks {', '.join(missing)}"
        )


class UserTransport:
    """A user's :class:`Transport` (``Client(transport=...)``), sent the client's headers too.

    proxy, verify, cert and trust_env are the built-in transport's settings:
    the user's transport has its own.
    """

    __slots__ = ("_settings", "_transport")

    def __init__(self, transport: Transport, settings: TransportSettings, session: object) -> None:
        _check_custom(transport, session, settings, ("open", "cancel", "close"))
        self._transport = transport
        self._settings = settings

    def open(self, request: Request) -> AbstractContextManager[Exchange]:
        return self._transport.open(self._settings.merged(request))

    def cancel(self, request: Request) -> None:
        self._transport.cancel(self._settings.merged(request))

    def close(self) -> None:
        self._transport.close()


class AsyncUserTransport:
    """A user's :class:`AsyncTransport` (``AsyncClient(transport=...)``), with our headers."""

    __slots__ = ("_settings", "_transport")

    def __init__(
        self, transport: AsyncTransport, settings: TransportSettings, session: object
    ) -> None:
        _check_custom(transport, session, settings, ("aopen", "acancel", "aclose"))
        self._transport = transport
        self._settings = settings

    def aopen(self, request: Request) -> AbstractAsyncContextManager[AsyncExchange]:
        return self._transport.aopen(self._settings.merged(request))

    async def acancel(self, request: Request) -> None:
        await self._transport.acancel(self._settings.merged(request))

    async def aclose(self) -> None:
        await self._transport.aclose()
