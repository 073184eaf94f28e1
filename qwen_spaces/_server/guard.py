"""Who may call a server that has no API key: the checks against web pages.

Without a key, anything that reaches the port may call the server, including a
web page in the user's browser: through DNS rebinding (a hostile name that
resolves to 127.0.0.1, seen in the ``Host`` header), or a cross-site ``POST``
of ``text/plain``, which needs no CORS preflight (seen in ``Origin`` and
``Content-Type``). So, without a key, the ``Host`` must name this server (a
loopback name or the address the client connected to, with the port it
connected to, or a name the user allowed), a ``POST`` must be
``application/json``, and an ``Origin`` must be one the user allowed.

Allowed origins get CORS headers (with a key too), so that a page the user
trusts can call the server from a browser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

from .errors import APIError

__all__ = ["Guard", "cors_headers", "split_host"]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
ANY = "*"


def split_host(value: str) -> tuple[str, Optional[int]]:
    """``Host`` header -> (lower-case name without brackets, port or None); ("", None) if
    it is not a host[:port]."""
    value = value.strip().lower()
    if value.startswith("["):
        name, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return "", None
        port = rest[1:]
    else:
        name, _, port = value.partition(":") if value.count(":") == 1 else (value, "", "")
    if port and not port.isdigit():
        return "", None
    return name.rstrip("."), int(port) if port else None


@dataclass(frozen=True)
class Guard:
    """The checks of a server without an API key.

    ``hosts``: names a ``Host`` header may give besides this server's own
    (``name`` for any port, ``name:port`` for that port; ``*`` for any).
    ``origins``: web origins (``https://app.example``) allowed to call; ``*`` any.
    """

    hosts: frozenset[str] = frozenset()
    origins: frozenset[str] = frozenset()

    @classmethod
    def of(cls, hosts: Iterable[str] = (), origins: Iterable[str] = ()) -> Guard:
        return cls(
            frozenset(h.strip().lower().rstrip(".") for h in hosts),
            frozenset(o.strip().lower().rstrip("/") for o in origins),
        )

    def host_allowed(self, host: str, local: Optional[tuple[str, int]]) -> bool:
        """Whether ``host`` (the header) names this server, reached at ``local``
        (the address and port the client connected to)."""
        if ANY in self.hosts:
            return True
        name, port = split_host(host)
        if name in self.hosts or f"{name}:{port or 80}" in self.hosts:
            return bool(name)
        return _own(name, port, local)

    def origin_allowed(self, origin: str, local: Optional[tuple[str, int]]) -> bool:
        """Whether a page at ``origin`` may call: an allowed one, or this server's own."""
        origin = origin.strip().lower().rstrip("/")
        if ANY in self.origins or origin in self.origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme == "http" and _own(*split_host(parts.netloc), local)

    def check(
        self,
        method: str,
        headers: Mapping[str, str],
        content_type: str,
        local: Optional[tuple[str, int]],
    ) -> None:
        """Raise the APIError for a request a server without a key must refuse."""
        host = headers.get("Host", "")
        if not self.host_allowed(host, local):
            raise APIError(
                403,
                f"the Host header {host[:100]!r} does not name this server; a server "
                "without an API key answers only its own address (127.0.0.1, localhost or "
                "[::1] with its port) and the names given with --allowed-host",
                code="host_not_allowed",
            )
        origin = headers.get("Origin")
        if origin is not None and not self.origin_allowed(origin, local):
            raise APIError(
                403,
                f"requests from web pages at {origin[:100]!r} are refused: a server "
                "without an API key answers pages only from the origins given with "
                "--allow-origin",
                code="origin_not_allowed",
            )
        if method == "POST" and content_type != "application/json":
            raise APIError(
                415,
                f"the request body must be JSON sent as 'Content-Type: application/json' "
                f"(got {content_type[:100]!r})",
                code="unsupported_media_type",
            )

    def cors_origin(self, origin: Optional[str]) -> Optional[str]:
        """The ``Access-Control-Allow-Origin`` value for ``origin``, if it is allowed."""
        if origin is None or not self.origins:
            return None
        if ANY in self.origins or origin.strip().lower().rstrip("/") in self.origins:
            return origin
        return None


def _own(name: str, port: Optional[int], local: Optional[tuple[str, int]]) -> bool:
    """Whether name:port is this server: a loopback name or the address the client
    connected to, with the port it connected to."""
    if not name or local is None:
        return False
    address, local_port = local
    return (name in LOOPBACK_NAMES or name == address.lower()) and (port or 80) == local_port


def cors_headers(origin: str, preflight: bool) -> dict[str, str]:
    """The CORS headers for an allowed origin; a preflight's answer says what may come."""
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    if preflight:
        headers.update(
            {
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type",
                "Access-Control-Max-Age": "600",
            }
        )
    return headers
