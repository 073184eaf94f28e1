"""What users see around the answer, against the fake Space: queue status, on_status,
progress bars, the OpenAI-shaped output, Markdown rendering and logging from the environment.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import tqdm.auto
import tqdm.std

import qwen_spaces as qs
from qwen_spaces.testing import Fault

if TYPE_CHECKING:  # imported by pytest_plugins below, so that pytest can rewrite its asserts
    from qwen_spaces.testing.pytest_plugin import FakeSpaceFactory

pytest_plugins = ["qwen_spaces.testing.pytest_plugin"]
pytestmark = pytest.mark.timeout(60)

ANSWER = "Hello — **café** ☕ 你好\n\n- one\n- two"
TIMEOUT = 20.0
WAIT = Fault.queue_wait(ahead=3, seconds=0.01, times=None)  # every event queues first
LAYOUTS = [("max", "qwen-2.5-max"), ("1m", "qwen-2.5-1m")]
Chunk = dict[str, Any]


def check_queue_then_answer(events: list[qs.Event]) -> None:
    """The queue counts down 3, 2, 1, 0, then starts, all before the answer; then the answer."""
    statuses = [e for e in events if isinstance(e, qs.QueueStatus)]
    assert [s.rank for s in statuses if not s.started] == [3, 2, 1, 0]
    assert statuses[-1].started
    last_status = max(i for i, e in enumerate(events) if isinstance(e, qs.QueueStatus))
    first_text = min(i for i, e in enumerate(events) if isinstance(e, qs.TextDelta))
    assert last_status < first_text
    assert "".join(e.text for e in events if isinstance(e, qs.TextDelta)) == ANSWER


def check_statuses(statuses: list[qs.QueueStatus]) -> None:
    assert all(type(s) is qs.QueueStatus for s in statuses)
    assert [s.rank for s in statuses if not s.started] == [3, 2, 1, 0]
    assert statuses[-1].started


# --- QueueStatus on every stream -----------------------------------------------------------


@pytest.mark.parametrize(("layout", "model"), LAYOUTS)
def test_every_sync_stream_reports_the_queue(
    fake_space: FakeSpaceFactory, layout: str, model: str
) -> None:
    space = fake_space(layout=layout, answer=ANSWER, faults=[WAIT])
    with qs.Client(model=model, base_url=space.url, timeout=TIMEOUT) as client:
        with client.stream("hi") as stream:
            check_queue_then_answer(list(stream))
        conversation = client.conversation()
        for text in ("first", "second"):
            with conversation.stream(text) as stream:
                check_queue_then_answer(list(stream))
    assert len(conversation.messages) == 4


@pytest.mark.parametrize(("layout", "model"), LAYOUTS)
async def test_every_async_stream_reports_the_queue(
    fake_space: FakeSpaceFactory, layout: str, model: str
) -> None:
    space = fake_space(layout=layout, answer=ANSWER, faults=[WAIT])
    async with qs.AsyncClient(model=model, base_url=space.url, timeout=TIMEOUT) as client:
        async with client.stream("hi") as stream:
            check_queue_then_answer([e async for e in stream])
        conversation = client.conversation()
        for text in ("first", "second"):
            async with conversation.stream(text) as stream:
                check_queue_then_answer([e async for e in stream])
    assert len(conversation.messages) == 4


# --- on_status ---------------------------------------------------------------------------------


def test_on_status_gets_every_queue_status_sync(fake_space: FakeSpaceFactory) -> None:
    space = fake_space(answer=ANSWER, faults=[WAIT])
    with qs.Client(base_url=space.url, timeout=TIMEOUT) as client:
        statuses: list[qs.QueueStatus] = []
        assert client.chat("hi", on_status=statuses.append).text == ANSWER
        check_statuses(statuses)
        statuses.clear()
        assert client.conversation().send("hi", on_status=statuses.append).text == ANSWER
        check_statuses(statuses)


@pytest.mark.parametrize("kind", ["function", "coroutine function"])
async def test_on_status_gets_every_queue_status_async(
    fake_space: FakeSpaceFactory, kind: str
) -> None:
    space = fake_space(answer=ANSWER, faults=[WAIT])
    statuses: list[qs.QueueStatus] = []

    async def record(status: qs.QueueStatus) -> None:
        await asyncio.sleep(0)  # only recorded if the SDK awaits the callback
        statuses.append(status)

    callback = record if kind == "coroutine function" else statuses.append
    async with qs.AsyncClient(base_url=space.url, timeout=TIMEOUT) as client:
        assert (await client.chat("hi", on_status=callback)).text == ANSWER
        check_statuses(statuses)
        statuses.clear()
        assert (await client.conversation().send("hi", on_status=callback)).text == ANSWER
        check_statuses(statuses)


def test_an_error_in_on_status_reaches_the_caller_and_cancels_the_call(
    fake_space: FakeSpaceFactory,
) -> None:
    space = fake_space(answer=ANSWER, faults=[WAIT])

    def fail(status: qs.QueueStatus) -> None:
        raise LookupError("from the callback")

    with qs.Client(base_url=space.url, timeout=TIMEOUT) as client:
        with pytest.raises(LookupError, match="from the callback"):
            client.chat("hi", on_status=fail)
    assert len(space.cancels) == 1


# --- progress=True -------------------------------------------------------------------------


class RecordingBar(tqdm.std.tqdm):  # type: ignore[type-arg]
    """A real text tqdm bar that remembers being closed."""

    made: list[RecordingBar] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.closed = False
        RecordingBar.made.append(self)

    def close(self) -> None:
        self.closed = True
        super().close()


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RecordingBar]]:
    """The progress bars made during the test (tqdm.auto.tqdm is what the SDK uses)."""
    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    RecordingBar.made = []
    yield RecordingBar.made


def check_bar_done(bars: list[RecordingBar]) -> None:
    assert len(bars) == 1
    bar = bars[0]
    assert bar.closed
    assert bar.desc.startswith("generating")
    assert bar.total and bar.n == bar.total


def test_progress_shows_a_bar_and_closes_it_sync(
    fake_space: FakeSpaceFactory, bars: list[RecordingBar]
) -> None:
    space = fake_space(answer=ANSWER, faults=[WAIT])
    with qs.Client(base_url=space.url, timeout=TIMEOUT) as client:
        assert client.chat("hi", progress=True).text == ANSWER
    check_bar_done(bars)


async def test_progress_shows_a_bar_and_closes_it_async(
    fake_space: FakeSpaceFactory, bars: list[RecordingBar]
) -> None:
    space = fake_space(answer=ANSWER, faults=[WAIT])
    async with qs.AsyncClient(base_url=space.url, timeout=TIMEOUT) as client:
        assert (await client.chat("hi", progress=True)).text == ANSWER
    check_bar_done(bars)


def test_progress_bar_is_closed_when_the_call_fails(
    fake_space: FakeSpaceFactory, bars: list[RecordingBar]
) -> None:
    space = fake_space(answer=ANSWER, faults=[WAIT, Fault.space_error("boom")])
    with qs.Client(base_url=space.url, timeout=TIMEOUT, max_retries=0) as client:
        with pytest.raises(qs.SpaceError, match="boom"):
            client.chat("hi", progress=True)
    assert len(bars) == 1 and bars[0].closed


async def test_progress_bar_is_closed_when_the_task_is_cancelled(
    fake_space: FakeSpaceFactory, bars: list[RecordingBar]
) -> None:
    space = fake_space(answer=ANSWER, faults=[Fault.queue_wait(ahead=50, seconds=0.1)])
    async with qs.AsyncClient(base_url=space.url, timeout=TIMEOUT) as client:
        task = asyncio.create_task(client.chat("hi", progress=True))
        while not bars or "ahead" not in bars[0].desc:  # waiting in the queue
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(bars) == 1 and bars[0].closed


def test_progress_with_the_real_tqdm_auto(fake_space: FakeSpaceFactory) -> None:
    space = fake_space(answer=ANSWER, faults=[WAIT])
    with qs.Client(base_url=space.url, timeout=TIMEOUT) as client:
        assert client.chat("hi", progress=True).text == ANSWER


# --- OpenAI-shaped output ----------------------------------------------------------------------


def check_chunks(chunks: list[Chunk], reply: qs.Reply) -> None:
    json.dumps(chunks)  # plain data, ready for an SSE "data:" line
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all(c["model"] == reply.model and isinstance(c["created"], int) for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content", "") for d in deltas) == reply.text == ANSWER
    assert "".join(d.get("reasoning_content", "") for d in deltas) == reply.reasoning
    assert all(d for d in deltas[:-1])  # queue statuses made no empty chunks
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * (len(chunks) - 1) + [
        "stop"
    ]
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}


@pytest.mark.parametrize(("layout", "model"), LAYOUTS)
def test_openai_chunks_sync(fake_space: FakeSpaceFactory, layout: str, model: str) -> None:
    space = fake_space(layout=layout, answer=ANSWER, faults=[WAIT])
    with qs.Client(model=model, base_url=space.url, timeout=TIMEOUT) as client:
        with client.stream("hi") as stream:
            chunks = list(stream.openai_chunks())
            check_chunks(chunks, stream.reply)


@pytest.mark.parametrize(("layout", "model"), LAYOUTS)
async def test_openai_chunks_async(fake_space: FakeSpaceFactory, layout: str, model: str) -> None:
    space = fake_space(layout=layout, answer=ANSWER, faults=[WAIT])
    async with qs.AsyncClient(model=model, base_url=space.url, timeout=TIMEOUT) as client:
        async with client.stream("hi") as stream:
            chunks = [chunk async for chunk in stream.openai_chunks()]
            check_chunks(chunks, stream.reply)


def test_reply_to_openai_is_a_chat_completion(fake_space: FakeSpaceFactory) -> None:
    space = fake_space(answer=ANSWER)
    with qs.Client(base_url=space.url, timeout=TIMEOUT) as client:
        completion = client.chat("hi").to_openai()
    assert json.loads(json.dumps(completion)) == completion
    assert completion["object"] == "chat.completion"
    assert completion["id"].startswith("chatcmpl-")
    assert isinstance(completion["created"], int)
    assert completion["model"] == "qwen-2.5-max"
    assert completion["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}
    ]


# --- Jupyter ---------------------------------------------------------------------------------


def test_reply_renders_as_markdown(fake_space: FakeSpaceFactory) -> None:
    space = fake_space(answer=ANSWER)
    with qs.Client(base_url=space.url, timeout=TIMEOUT) as client:
        reply = client.chat("hi")
    assert reply._repr_markdown_() == ANSWER
    formatters = pytest.importorskip("IPython.core.formatters")
    data, _ = formatters.DisplayFormatter().format(reply)
    assert data["text/markdown"] == ANSWER


# --- QWEN_SPACES_LOG ---------------------------------------------------------------------------

TOKEN = "hf_QwenSpacesTestToken0123456789abcdef"
LOG_SCRIPT = """
import asyncio, os, sys
import qwen_spaces as qs

url, token = os.environ["FAKE_SPACE_URL"], os.environ["FAKE_SPACE_TOKEN"]
with qs.Client(base_url=url, hf_token=token) as client:
    print(client.chat("hi").text)

async def main():
    async with qs.AsyncClient(base_url=url, hf_token=token) as client:
        print((await client.chat("hi")).text)

asyncio.run(main())
"""
REQUEST_LINE = re.compile(r"qwen_spaces DEBUG (GET|POST) (http://127\.0\.0\.1:\d+\S*)")


@pytest.mark.parametrize("level", ["debug", "info", ""])
def test_qwen_spaces_log_switches_logging_on_and_never_logs_the_token(
    fake_space: FakeSpaceFactory, level: str
) -> None:
    space = fake_space(answer=ANSWER)
    env = {k: v for k, v in os.environ.items() if k != "QWEN_SPACES_LOG"}
    env.update(FAKE_SPACE_URL=space.url, FAKE_SPACE_TOKEN=TOKEN, PYTHONIOENCODING="utf-8")
    if level:
        env["QWEN_SPACES_LOG"] = level
    done = subprocess.run(
        [sys.executable, "-c", LOG_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{ANSWER}\n" * 2
    # The token was really sent, and appears in no output.
    assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in space.requests)
    assert TOKEN not in done.stderr and TOKEN[3:] not in done.stderr
    lines = [(method, url.split("?")[0]) for method, url in REQUEST_LINE.findall(done.stderr)]
    if level == "debug":
        joins = [u for m, u in lines if m == "POST" and u.endswith("/queue/join")]
        streams = [u for m, u in lines if m == "GET" and u.endswith("/queue/data")]
        assert len(joins) == len(streams) == 2  # one call from each client
        assert all(u.startswith(space.url) for u in joins + streams)
    elif level == "info":
        assert not lines and " DEBUG " not in done.stderr
    else:
        assert done.stderr == ""  # silent unless asked
