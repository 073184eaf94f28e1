"""The command line on a real terminal (a pty): what a silent call waits for, and colour."""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional

import pytest

from qwen_spaces._cli.status import WAIT_SECONDS
from qwen_spaces.testing import FakeSpace, Fault
from tests.support.cli_runs import ROOT, child_env, cli_command, default_sigint, run_child

pytestmark = pytest.mark.timeout(60)

ERASE = b"\r\x1b[K"
DIM = b"\x1b[2m"


@dataclass
class Screen:
    code: int
    chunks: list[tuple[float, bytes]]  # (seconds since start, bytes read from the terminal)

    @property
    def data(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)

    def first(self, needle: bytes) -> float:
        """When ``needle`` was first complete on the terminal."""
        seen = b""
        for at, chunk in self.chunks:
            seen += chunk
            if needle in seen:
                return at
        raise AssertionError(f"{needle!r} never shown: {self.data!r}")


def on_a_terminal(*args: str, env: Optional[dict[str, str]] = None, timeout: float = 30) -> Screen:
    """Run ``qwen-spaces ARGS`` with stdin, stdout and stderr on one pty."""
    master, slave = pty.openpty()
    start = time.monotonic()
    child = subprocess.Popen(
        cli_command(*args),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**child_env(), "TERM": "xterm", **(env or {})},
        cwd=ROOT,
        preexec_fn=default_sigint,
    )
    os.close(slave)
    chunks: list[tuple[float, bytes]] = []
    try:
        while time.monotonic() - start < timeout:
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                if child.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: every end of the terminal's other side is closed
                break
            if not data:
                break
            chunks.append((time.monotonic() - start, data))
        code = child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
    return Screen(code, chunks)


@pytest.fixture
def silent_space() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_silent_space_is_shown_connecting_after_a_while(silent_space: str) -> None:
    host = silent_space.split("://")[1]
    screen = on_a_terminal("ask", "--base-url", silent_space, "--timeout", "4", "hi")
    assert screen.code == 1
    shown_at = screen.first(f"connecting to {host}...".encode())
    assert WAIT_SECONDS - 0.3 <= shown_at < WAIT_SECONDS + 1.5, shown_at
    # Erased before the error line, which stands alone.
    data = screen.data
    line_at = data.index(b"connecting to")
    error_at = data.index(b"qwen-spaces: SpaceTimeoutError")
    assert data.rfind(ERASE, line_at, error_at) > line_at
    assert re.search(rb"\r\x1b\[Kqwen-spaces: SpaceTimeoutError", data), data


def test_a_retry_counts_down_then_the_line_clears_for_the_answer() -> None:
    with FakeSpace(answer="Here at last.", faults=[Fault.rate_limited(retry_after=4)]) as space:
        screen = on_a_terminal("ask", "--base-url", space.url, "hi")
    assert screen.code == 0, screen.data
    data = screen.data
    assert screen.first(b"retry 1 of 2 in ") >= WAIT_SECONDS - 0.3
    countdown = [int(n) for n in re.findall(rb"retry 1 of 2 in (\d+) s", data)]
    assert countdown and countdown == sorted(countdown, reverse=True) and countdown[-1] <= 2
    answer_at = data.index(b"Here at last.")
    last_status = data.rindex(b"retry 1 of 2")
    assert data.rfind(ERASE, last_status, answer_at) > last_status  # cleared first
    assert b"retry" not in data[answer_at:] and b"connecting" not in data[answer_at:]


def test_a_quick_answer_shows_no_waiting_line() -> None:
    with FakeSpace(answer="Quick.") as space:
        screen = on_a_terminal("ask", "--base-url", space.url, "hi")
    assert screen.code == 0
    assert b"Quick." in screen.data
    assert b"connecting" not in screen.data and b"retry" not in screen.data


def test_not_a_terminal_gets_no_waiting_line_and_no_escape_codes() -> None:
    with FakeSpace(answer="Plain.", faults=[Fault.rate_limited(retry_after=3)]) as space:
        done = run_child("ask", "--base-url", space.url, "hi")
    assert done.returncode == 0 and done.stdout == "Plain.\n"
    assert "\x1b" not in done.stderr and "retry" not in done.stderr


THINKER = ("-m", "qwen-3-8b")


@pytest.fixture
def thinking_space() -> Iterator[FakeSpace]:
    with FakeSpace("qwen3", reasoning="Let me think.", answer="Four.") as space:
        yield space


def test_reasoning_is_dimmed_on_a_terminal(thinking_space: FakeSpace) -> None:
    screen = on_a_terminal("ask", *THINKER, "--base-url", thinking_space.url, "2+2?")
    assert screen.code == 0
    assert DIM + b"Let me think." in screen.data and b"Four." in screen.data


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_no_color_and_a_dumb_terminal_turn_colour_off(
    thinking_space: FakeSpace, env: dict[str, str]
) -> None:
    screen = on_a_terminal("ask", *THINKER, "--base-url", thinking_space.url, "2+2?", env=env)
    assert screen.code == 0
    assert b"Let me think." in screen.data and b"Four." in screen.data
    assert b"\x1b[" + b"2m" not in screen.data and b"\x1b[0m" not in screen.data


def test_an_empty_no_color_keeps_colour(thinking_space: FakeSpace) -> None:
    # no-color.org: only a non-empty value turns colour off.
    screen = on_a_terminal(
        "ask", *THINKER, "--base-url", thinking_space.url, "2+2?", env={"NO_COLOR": ""}
    )
    assert DIM in screen.data
