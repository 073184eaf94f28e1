"""``progress=True`` when stderr is not a terminal (a log, a CI job): one line per change.

Through both clients against the fake 1M Space: a large upload, then the queue.
On a terminal the bars still redraw in place.
"""

from __future__ import annotations

import asyncio
import io
import sys
from typing import TYPE_CHECKING

import pytest

import qwen_spaces as qs
from qwen_spaces._client.progress import UPLOAD_BAR_BYTES
from qwen_spaces.testing import Fault

if TYPE_CHECKING:
    from qwen_spaces.testing.pytest_plugin import FakeSpaceFactory

pytest_plugins = ["qwen_spaces.testing.pytest_plugin"]
pytestmark = pytest.mark.timeout(60)

ONEM = "qwen-2.5-1m"
DOCUMENT = ("big.bin", b"x" * (UPLOAD_BAR_BYTES + 1))
QUEUE_LINES = ["queue: 3 ahead, eta 0 s", "queue: 2 ahead, eta 0 s", "queue: 1 ahead, eta 0 s"]


class Stream(io.StringIO):
    """stderr as a log file (``tty=False``) or as a terminal."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def chat(space_url: str, driver: str) -> qs.Reply:
    options = {"base_url": space_url, "timeout": 20, "max_retries": 0}
    if driver == "sync":
        with qs.Client(ONEM, **options) as client:
            return client.chat("hi", files=[DOCUMENT], progress=True)

    async def run() -> qs.Reply:
        async with qs.AsyncClient(ONEM, **options) as client:
            return await client.chat("hi", files=[DOCUMENT], progress=True)

    return asyncio.run(run())


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_progress_into_a_log_writes_one_line_per_change(
    fake_space: FakeSpaceFactory, monkeypatch: pytest.MonkeyPatch, driver: str
) -> None:
    log = Stream(tty=False)
    monkeypatch.setattr(sys, "stderr", log)
    space = fake_space(layout="1m", faults=[Fault.queue_wait(ahead=3, seconds=0.01)])
    reply = chat(space.url, driver)
    assert reply.text.startswith("You said: hi [files: big.bin")
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text  # no frames redrawn in place
    lines = text.splitlines()
    assert len(lines) == len(set(lines))  # each line says something new
    uploads = [line for line in lines if line.startswith("upload: ")]
    assert uploads[-1].startswith("upload: 100% 4.00M/4.00M [")  # the end of the upload shows
    assert [line for line in lines if line.startswith("queue: ")][:3] == QUEUE_LINES
    assert lines[-1] == "generating"


def test_progress_on_a_terminal_still_redraws_in_place(
    fake_space: FakeSpaceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Stream(tty=True)
    monkeypatch.setattr(sys, "stderr", terminal)
    space = fake_space(layout="1m", faults=[Fault.queue_wait(ahead=3, seconds=0.01)])
    chat(space.url, "sync")
    text = terminal.getvalue()
    assert text.count("\r") > 3 and "queue: 3 ahead" in text and "upload:" in text
