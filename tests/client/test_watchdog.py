"""The watchdog shuts a guarded connection when its time is up, and only then."""

from __future__ import annotations

import socket
import time

from qwen_spaces._transports.watchdog import WATCHDOG, Guard


class Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


def test_a_guard_past_its_deadline_shuts_a_blocked_read() -> None:
    left, right = socket.socketpair()
    with left, right:
        guard = Guard(time.monotonic() + 0.2)
        guard.watch(Conn(left))
        WATCHDOG.add(guard)
        started = time.monotonic()
        left.settimeout(5)
        assert left.recv(1) == b""  # the shutdown ends the read
        assert 0.15 < time.monotonic() - started < 2
        assert guard.fired and not guard.finish()  # the connection is not to be reused


def test_a_finished_guard_never_fires() -> None:
    left, right = socket.socketpair()
    with left, right:
        guard = Guard(time.monotonic() + 0.1)
        guard.watch(Conn(left))
        WATCHDOG.add(guard)
        assert guard.finish()
        time.sleep(0.3)
        right.sendall(b"x")
        left.settimeout(1)
        assert left.recv(1) == b"x" and not guard.fired
