"""Uploads that go wrong, through both clients: refused, cut, retried; and their progress.

A failed upload is retried like a join (before any answer text, on connection
errors and 429/5xx) and leaves no half-made turn in the conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any, Optional

import pytest

import qwen_spaces as qs
from qwen_spaces.testing import FakeSpace, Fault
from tests.support.fault_runs import Outcome, record

pytestmark = pytest.mark.timeout(60)

ONEM = "qwen-2.5-1m"
DATA = bytes(range(256)) * 1024  # 256 KiB


def fact(name: str, data: bytes) -> str:
    return f"{name} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()})"


def turn(mode: str, url: str, files: list[Any], **options: Any) -> tuple[Outcome, Any]:
    """One conversation turn with files; its outcome, and the conversation after it."""
    started = time.monotonic()
    outcome = Outcome()
    if mode == "sync":
        with qs.Client(ONEM, base_url=url, **options) as client:
            conv: Any = client.conversation()
            try:
                outcome.reply = conv.send("Read this", files=files)
            except qs.QwenSpacesError as error:
                outcome.error = error
    else:

        async def main() -> Any:
            async with qs.AsyncClient(ONEM, base_url=url, **options) as client:
                conv = client.conversation()
                try:
                    outcome.reply = await conv.send("Read this", files=files)
                except qs.QwenSpacesError as error:
                    outcome.error = error
                return conv

        conv = asyncio.run(main())
    outcome.seconds = time.monotonic() - started
    return outcome, conv


def test_upload_refused_with_413_is_an_http_error_and_leaves_no_turn(mode: str) -> None:
    with FakeSpace(layout="1m", faults=[Fault.upload_error(413, times=None)]) as space:
        out, conv = turn(mode, space.url, [("big.bin", DATA)])
        stats = space.stats()
    record("upload refused: 413", mode, out)
    assert isinstance(out.error, qs.SpaceHTTPError) and out.error.status_code == 413
    assert stats["uploads"] == 1 and stats["predicts"] == 0 and stats["joins"] == 0
    assert conv.messages == []  # no half-made turn


def test_upload_cut_mid_body_is_retried_then_answers(mode: str) -> None:
    with FakeSpace(layout="1m", faults=[Fault.upload_drop(after_bytes=64 * 1024)]) as space:
        out, _ = turn(mode, space.url, [("data.bin", DATA)])
        stats = space.stats()
    record("upload connection cut mid-body, then OK", mode, out)
    assert out.error is None and out.reply is not None
    assert fact("data.bin", DATA) in out.reply.text
    assert stats["uploads"] == 2 and stats["predicts"] == 1


def test_upload_5xx_then_success(mode: str) -> None:
    faults = [Fault.upload_error(503, '{"detail":"busy"}', times=1)]
    with FakeSpace(layout="1m", faults=faults) as space:
        out, conv = turn(mode, space.url, [("data.bin", DATA)])
        stats = space.stats()
    record("upload 503, then OK", mode, out)
    assert out.error is None and out.reply is not None
    assert fact("data.bin", DATA) in out.reply.text
    assert stats["uploads"] == 2
    assert [m["role"] for m in conv.messages] == ["user", "assistant"]


def test_upload_cut_every_time_is_a_connection_error_with_no_turn(mode: str) -> None:
    faults = [Fault.upload_drop(after_bytes=1024, times=None)]
    with FakeSpace(layout="1m", faults=faults) as space:
        out, conv = turn(mode, space.url, [("data.bin", DATA)], max_retries=1)
        stats = space.stats()
    record("upload cut every time (max_retries=1)", mode, out)
    assert isinstance(out.error, qs.SpaceConnectionError)
    assert stats["uploads"] == 2 and stats["predicts"] == 0
    assert conv.messages == []


def test_the_callers_file_object_is_left_open_and_retried_from_its_start(mode: str) -> None:
    import io

    stream = io.BytesIO(DATA)
    faults = [Fault.upload_drop(after_bytes=64 * 1024)]
    with FakeSpace(layout="1m", faults=faults) as space:
        out, _ = turn(mode, space.url, [("data.bin", stream)])
    assert out.reply is not None and fact("data.bin", DATA) in out.reply.text
    assert not stream.closed


@pytest.mark.parametrize("size", [8 << 20])
def test_progress_shows_the_upload_of_a_large_file(
    mode: str, size: int, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"x" * size
    with FakeSpace(layout="1m") as space:
        if mode == "sync":
            with qs.Client(ONEM, base_url=space.url) as client:
                reply: Optional[qs.Reply] = client.chat(
                    "hi", files=[("x.bin", data)], progress=True
                )
        else:

            async def main() -> qs.Reply:
                async with qs.AsyncClient(ONEM, base_url=space.url) as client:
                    return await client.chat("hi", files=[("x.bin", data)], progress=True)

            reply = asyncio.run(main())
    assert reply is not None and fact("x.bin", data) in reply.text
    err = capsys.readouterr().err
    assert "upload" in err and "8.00M" in err  # tqdm's bar reached the whole size
