"""The core tier opens no socket: every test here runs with connect and bind refused.

The sans-I/O call, Gradio's wire, the decoders and the policy are tested by feeding them bytes
and reading what they decide. A test that needs a server belongs to another tier
(tests/README.rst); here it fails at its first connect or bind, with the test named.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest


class SocketInCoreTest(AssertionError):
    """A core test tried to connect or bind a socket."""


@pytest.fixture(autouse=True)
def _no_socket(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(self: socket.socket, *args: Any, **kwargs: Any) -> NoReturn:
        self.close()  # not left for the garbage collector (ResourceWarning is an error here)
        raise SocketInCoreTest(
            f"{request.node.nodeid} opened a socket ({args[0] if args else ''!r}): "
            "tests/core is sans-I/O; a test with a server goes to tests/client or above"
        )

    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, refuse)
    yield
