"""A TCP proxy on 127.0.0.1 that delays every byte by a fixed one-way time.

    python -m benchmarks.delay_proxy --target 127.0.0.1:8000 --delay 0.025

prints ``READY http://127.0.0.1:PORT`` and forwards until SIGTERM/SIGINT. Each
chunk read from one side is written to the other ``--delay`` seconds after it
was read, in order, in both directions: a round trip costs twice the delay, as
on a network with that latency and unlimited bandwidth. Opening a connection
is not delayed (the TCP handshake is not modelled): a new connection costs no
round trip here, where a real one costs one (and TLS one or two more).

Threads and blocking sockets rather than asyncio: ``time.sleep`` wakes within
about 0.1 ms of its time, where an event loop's timers (epoll's millisecond
timeout) overshoot by up to a millisecond a hop, which would blur a
comparison made to the millisecond.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import signal
import socket
import sys
import threading
import time
from typing import Optional

CHUNK = 65536


def _carry(src: socket.socket, dst: socket.socket, delay: float) -> None:
    """Copy src -> dst, each chunk ``delay`` seconds after it was read; EOF too."""
    pending: queue.Queue[tuple[float, Optional[bytes]]] = queue.Queue()

    def deliver() -> None:
        while True:
            at, data = pending.get()
            wait = at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                if data is None:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
            except OSError:
                return

    writer = threading.Thread(target=deliver, daemon=True)
    writer.start()
    while True:
        try:
            data = src.recv(CHUNK)
        except OSError:
            data = b""
        pending.put((time.monotonic() + delay, data or None))
        if not data:
            break
    writer.join()


def _serve(client: socket.socket, target: tuple[str, int], delay: float) -> None:
    try:
        upstream = socket.create_connection(target)
    except OSError:
        client.close()
        return
    for sock in (client, upstream):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=_carry, args=(upstream, client, delay), daemon=True)
    back.start()
    _carry(client, upstream, delay)
    back.join()
    for sock in (client, upstream):
        with contextlib.suppress(OSError):
            sock.close()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="HOST:PORT (or a URL) to forward to")
    parser.add_argument("--delay", type=float, default=0.025, help="one-way delay in seconds")
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    args = parser.parse_args(argv)
    host, _, port = args.target.split("://", 1)[-1].rstrip("/").rpartition(":")
    target = (host or "127.0.0.1", int(port))

    listener = socket.create_server(("127.0.0.1", args.port))
    sys.stdout.write(f"READY http://127.0.0.1:{listener.getsockname()[1]}\n")
    sys.stdout.flush()

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: stopping
            threading.Thread(target=_serve, args=(client, target, args.delay), daemon=True).start()

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    threading.Thread(target=accept, daemon=True).start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
