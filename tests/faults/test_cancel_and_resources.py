"""Stopping a stream tells the Space and frees the connection; nothing leaks over 1,000 calls."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Iterator

import pytest

import qwen_spaces as qs
from qwen_spaces.testing import FakeSpace
from tests.support.waiting import holds_within

pytestmark = pytest.mark.timeout(120)

SLOW = {
    "answer": "one two three four five six seven eight nine ten " * 4,
    "chunk_size": 4,
    "delay": 0.02,
}


@pytest.fixture
def slow_space() -> Iterator[FakeSpace]:
    with FakeSpace(**SLOW) as space:  # type: ignore[arg-type]
        yield space


def cancelled_and_closed(space: FakeSpace, count: int = 1) -> None:
    assert holds_within(lambda: len(space.cancels) >= count), "the cancel never reached the Space"
    assert holds_within(lambda: space.stats()["streams_open"] == 0), (
        "the stream connection stayed open"
    )


def first_text(stream: qs.Stream) -> None:
    for event in stream:
        if isinstance(event, qs.TextDelta):
            return


# --- sync -------------------------------------------------------------------


def test_sync_break_out_of_a_for_loop_cancels(slow_space: FakeSpace) -> None:
    with qs.Client(base_url=slow_space.url) as client:
        for event in client.stream("hi"):
            if isinstance(event, qs.TextDelta):
                break  # the stream is dropped right here
        cancelled_and_closed(slow_space)


def test_sync_close_cancels(slow_space: FakeSpace) -> None:
    with qs.Client(base_url=slow_space.url) as client:
        stream = client.stream("hi")
        first_text(stream)
        stream.close()
        cancelled_and_closed(slow_space)
        with pytest.raises(ValueError, match="closed before"):
            stream.reply  # noqa: B018


def test_sync_leaving_the_with_block_cancels(slow_space: FakeSpace) -> None:
    with qs.Client(base_url=slow_space.url) as client:
        with client.stream("hi") as stream:
            first_text(stream)
        cancelled_and_closed(slow_space)


def test_sync_garbage_collected_stream_cancels(slow_space: FakeSpace) -> None:
    with qs.Client(base_url=slow_space.url) as client:
        stream = client.stream("hi")
        first_text(stream)
        del stream
        gc.collect()
        cancelled_and_closed(slow_space)


def test_sync_stream_never_started_sends_nothing(slow_space: FakeSpace) -> None:
    with qs.Client(base_url=slow_space.url) as client:
        stream = client.stream("hi")
        stream.close()
    assert slow_space.stats()["joins"] == 0 and slow_space.cancels == []


def test_sync_completed_stream_sends_no_cancel() -> None:
    with FakeSpace(answer="short") as space, qs.Client(base_url=space.url) as client:
        assert client.chat("hi").text == "short"
        time.sleep(0.1)
        assert space.cancels == []


# --- async ------------------------------------------------------------------


async def async_first_text(stream: qs.AsyncStream) -> None:
    async for event in stream:
        if isinstance(event, qs.TextDelta):
            return


async def test_async_break_and_close_cancels(slow_space: FakeSpace) -> None:
    async with qs.AsyncClient(base_url=slow_space.url) as client:
        stream = client.stream("hi")
        await async_first_text(stream)
        await stream.close()
        await asyncio.to_thread(cancelled_and_closed, slow_space)


async def test_async_leaving_async_with_cancels(slow_space: FakeSpace) -> None:
    async with qs.AsyncClient(base_url=slow_space.url) as client:
        async with client.stream("hi") as stream:
            await async_first_text(stream)
        await asyncio.to_thread(cancelled_and_closed, slow_space)


async def test_async_task_cancellation_cancels_on_the_space(slow_space: FakeSpace) -> None:
    async with qs.AsyncClient(base_url=slow_space.url) as client:
        started = asyncio.Event()

        async def consume() -> None:
            async for event in client.stream("hi"):
                if isinstance(event, qs.TextDelta):
                    started.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.to_thread(cancelled_and_closed, slow_space)


async def test_async_abandoned_stream_is_cancelled_by_the_loop(slow_space: FakeSpace) -> None:
    async with qs.AsyncClient(base_url=slow_space.url) as client:
        stream = client.stream("hi")
        await async_first_text(stream)
        del stream
        gc.collect()  # the loop's async-generator hook schedules aclose()
        for _ in range(50):
            await asyncio.sleep(0.05)
            if slow_space.cancels:
                break
        await asyncio.to_thread(cancelled_and_closed, slow_space)


# --- 1,000 calls --------------------------------------------------------------


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def settled_sockets() -> int:
    gc.collect()
    time.sleep(0.3)  # let the server side finish closing what the client closed
    return open_sockets()


CALLS, EARLY = 1000, 300
SOCKETS: dict[str, tuple[int, int]] = {}


@pytest.mark.timeout(300)
def test_sync_1000_calls_300_broken_off_hold_no_more_sockets(
    recwarn: pytest.WarningsRecorder,
) -> None:
    with FakeSpace(answer="ha ha ha done", chunk_size=4, delay=0.002) as space:
        with qs.Client(base_url=space.url) as client:

            def one(i: int) -> None:
                if i % 10 < 3:  # 300 of 1,000 are broken off after the first text
                    with client.stream("hi") as stream:
                        first_text(stream)
                else:
                    assert client.chat("hi").text == "ha ha ha done"

            for i in range(10):
                one(i)
            after_10 = settled_sockets()
            for i in range(10, CALLS):
                one(i)
            after_1000 = settled_sockets()
        assert holds_within(lambda: len(space.cancels) >= EARLY - 10, 10)
    SOCKETS["sync"] = (after_10, after_1000)
    _report()
    assert after_1000 <= after_10, (after_10, after_1000)
    assert not [w for w in recwarn if issubclass(w.category, ResourceWarning)]


@pytest.mark.timeout(300)
def test_async_1000_calls_300_broken_off_hold_no_more_sockets(
    caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder
) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    with FakeSpace(answer="ha ha ha done", chunk_size=4, delay=0.002) as space:

        async def run() -> tuple[int, int]:
            async with qs.AsyncClient(base_url=space.url) as client:

                async def one(i: int) -> None:
                    if i % 10 < 3:
                        async with client.stream("hi") as stream:
                            await async_first_text(stream)
                    else:
                        assert (await client.chat("hi")).text == "ha ha ha done"

                for i in range(10):
                    await one(i)
                after_10 = await asyncio.to_thread(settled_sockets)
                for i in range(10, CALLS):
                    await one(i)
                after_1000 = await asyncio.to_thread(settled_sockets)
                return after_10, after_1000

        after_10, after_1000 = asyncio.run(run())
        assert holds_within(lambda: len(space.cancels) >= EARLY - 10, 10)
    SOCKETS["async"] = (after_10, after_1000)
    _report()
    assert after_1000 <= after_10, (after_10, after_1000)
    assert "Unclosed" not in caplog.text
    assert not [w for w in recwarn if issubclass(w.category, ResourceWarning)]


def _report() -> None:
    path = os.environ.get("QWEN_SPACES_SOCKET_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            for mode, (a, b) in SOCKETS.items():
                out.write(
                    f"{mode}: {a} open sockets after 10 calls, {b} after {CALLS} ({EARLY} broken off)\n"
                )
