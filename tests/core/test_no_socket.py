"""The guard of this tier holds: a core test cannot reach even a server of its own."""

from __future__ import annotations

import asyncio
import socket

import pytest
import requests

from tests.core.conftest import SocketInCoreTest


def test_connect_and_bind_are_refused() -> None:
    with socket.socket() as sock, pytest.raises(SocketInCoreTest, match="tests/core is sans-I/O"):
        sock.bind(("127.0.0.1", 0))
    with pytest.raises(SocketInCoreTest):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


def test_requests_cannot_reach_loopback() -> None:
    with pytest.raises(SocketInCoreTest):
        requests.get("http://127.0.0.1:9/", timeout=1)


async def test_asyncio_cannot_open_a_connection() -> None:
    # The event loop itself still runs (its self-pipe is a socketpair, neither connect nor bind).
    with pytest.raises(SocketInCoreTest):
        await asyncio.open_connection("127.0.0.1", 9)
