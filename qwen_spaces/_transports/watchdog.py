"""A watchdog for blocking I/O: it shuts a request's connections when its time is up.

requests' (urllib3's) timeouts bound each read, not a whole request, so a server that drips
its headers or body one byte at a time would hold a call past its total limit.
Each request gets a :class:`Guard` with its deadline; one daemon thread per
process fires the guards whose time has come, shutting their sockets so that a
blocked read returns at once. Pure threading: no HTTP library is imported here.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any, Optional

__all__ = ["WATCHDOG", "Guard", "Watchdog", "current"]


class Guard:
    """One request's total budget: when it runs out, its connections are shut.

    A shut socket makes a blocked read return at once, and the read's error
    is then reported as DEADLINE.
    """

    __slots__ = ("at", "conns", "done", "fired", "lock")

    def __init__(self, at: float) -> None:
        self.at = at
        self.conns: list[Any] = []
        self.fired = False
        self.done = False
        self.lock = threading.Lock()

    def watch(self, conn: Any) -> None:
        with self.lock:
            if conn not in self.conns:
                self.conns.append(conn)

    def fire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.fired = True
            for conn in self.conns:
                sock = getattr(conn, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

    def finish(self) -> bool:
        """Stop watching; True if the budget was kept (the connection is intact)."""
        with self.lock:
            self.done = True
            return not self.fired


class Watchdog:
    """One daemon thread for the process that fires guards when their time comes."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Guard]] = []
        self._cond = threading.Condition()
        self._ids = itertools.count()
        self._thread: Optional[threading.Thread] = None

    def add(self, guard: Guard) -> None:
        with self._cond:
            heap = self._heap
            if len(heap) > 256 and len(heap) > 4 * sum(not g.done for _, _, g in heap):
                heap[:] = [item for item in heap if not item[2].done]  # drop finished guards
                heapq.heapify(heap)
            first = not heap or guard.at < heap[0][0]
            heapq.heappush(heap, (guard.at, next(self._ids), guard))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="qwen_spaces-watchdog", daemon=True
                )
                self._thread.start()
            elif first:
                self._cond.notify()

    def _run(self) -> None:
        heap = self._heap
        with self._cond:
            while True:
                now = time.monotonic()
                while heap and (heap[0][2].done or heap[0][0] <= now):
                    guard = heapq.heappop(heap)[2]
                    if not guard.done:
                        guard.fire()
                self._cond.wait(heap[0][0] - now if heap else None)


WATCHDOG = Watchdog()
current = threading.local()  # the guard of the request this thread is sending
