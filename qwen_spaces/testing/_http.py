"""Small aiohttp helpers of the fake Space: JSON answers and broken connections."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

from aiohttp import web

__all__ = ["abort", "json_response", "reset", "title_case"]


def title_case(name: str) -> str:
    """A header name in Title-Case, as RecordedRequest keeps them."""
    return "-".join(part.capitalize() for part in name.split("-"))


def json_response(body: Any, status: int = 200) -> web.Response:
    """A JSON answer as Gradio writes it (compact, UTF-8, no charset parameter)."""
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(status=status, body=data, content_type="application/json")


def abort(request: web.BaseRequest) -> None:
    """Break the connection: no answer, no clean end."""
    if request.transport is not None:
        request.transport.abort()


async def reset(request: web.BaseRequest) -> web.StreamResponse:
    """Reset the connection: SO_LINGER 0 makes the close an RST, not a FIN."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    # Wait to be cancelled by the closed connection; never answer.
    await asyncio.sleep(5)
    return web.Response(status=500)
