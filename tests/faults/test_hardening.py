"""Hardening (issue #9): what outside tests found, each through both clients."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import qwen_spaces as qs
from qwen_spaces.testing import FakeSpace, Fault
from qwen_spaces.testing._layouts import make_layout
from tests.support.fault_runs import call
from tests.support.hf_status_pages import PAGES

pytestmark = pytest.mark.timeout(60)

ANSWER = "Hello from the fake Space."


def joins(space: FakeSpace) -> list[Any]:
    return [r.json for r in space.requests if r.path.endswith("/queue/join")]


# --- 6. OpenAI message variants ----------------------------------------------------


def test_developer_message_is_sent_as_the_system_prompt(mode: str) -> None:
    messages = [
        {"role": "developer", "content": "Answer in French.", "name": "ops"},
        {"role": "user", "content": "u1", "name": "alice"},
        {"role": "assistant", "content": None},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q"},
    ]
    with FakeSpace(answer=ANSWER) as space:
        out = call(mode, space.url, messages)
        sent = joins(space)
    assert out.error is None and out.reply is not None and out.reply.text == ANSWER
    assert len(sent) == 1
    query, history, system = sent[0]["data"]
    assert (query, history, system) == ("q", [["u1", "a1"]], "Answer in French.")


@pytest.mark.parametrize(
    "message",
    [
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]},
    ],
)
def test_unsupported_openai_features_fail_before_anything_is_sent(
    mode: str, message: dict[str, Any]
) -> None:
    with FakeSpace(answer=ANSWER) as space:
        with pytest.raises(ValueError, match="not supported"):
            call(mode, space.url, [message, {"role": "user", "content": "q"}])
        assert joins(space) == []


# --- 1. /config of an unexpected shape -------------------------------------------


def broken_config(layout: str, how: str) -> str:
    config = make_layout(layout, None).config("http://127.0.0.1:1")
    if how == "component id is a list":
        config["components"][0]["id"] = [config["components"][0]["id"]]
    elif how == "inputs is not a list":
        for dep in config["dependencies"]:
            dep["inputs"] = 3
    elif how == "outputs hold a dict":
        config["dependencies"][-1]["outputs"] = [{"id": 1}]
    elif how == "api_prefix leaves the host":
        config["api_prefix"] = "@127.0.0.2"
    elif how == "dependencies is a dict":
        config["dependencies"] = {"0": config["dependencies"][0]}
    return json.dumps(config)


@pytest.mark.parametrize("layout", ["max", "1m"])
@pytest.mark.parametrize(
    "how",
    [
        "component id is a list",
        "inputs is not a list",
        "outputs hold a dict",
        "api_prefix leaves the host",
        "dependencies is a dict",
    ],
)
def test_a_malformed_config_falls_back_to_the_known_ids(
    mode: str, layout: str, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    fault = Fault.config_answer(broken_config(layout, how))
    model = "qwen-2.5-max" if layout == "max" else "qwen-2.5-1m"
    with FakeSpace(layout, answer=ANSWER, faults=[fault]) as space:
        out = call(mode, space.url, "hi", model=model, max_retries=0)
        paths = [r.path for r in space.requests]
    assert out.error is None, out.error
    assert out.reply is not None and out.reply.text == ANSWER
    assert "/config" in paths and "cannot use the Space's /config" in caplog.text


# --- 2. token hygiene ------------------------------------------------------------------

TOKEN = "hf_HardeningTestToken0123456789"


@pytest.mark.parametrize("raw", [f"{TOKEN}\n", f"  {TOKEN}\r\n"])
def test_a_token_read_from_a_file_is_sent_stripped(mode: str, raw: str) -> None:
    with FakeSpace(answer=ANSWER) as space:
        out = call(mode, space.url, hf_token=raw)
        sent = {r.headers.get("Authorization") for r in space.requests}
    assert out.error is None and out.reply is not None and out.reply.text == ANSWER
    assert sent == {f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    "raw",
    [f"{TOKEN[:6]} {TOKEN[6:]}", f"{TOKEN}\x00", f"{TOKEN}\u2019", f"{TOKEN[:6]}\n{TOKEN[6:]}"],
)
def test_a_malformed_token_is_refused_at_construction(mode: str, raw: str) -> None:
    with pytest.raises(ValueError, match="expected printable ASCII without spaces") as info:
        if mode == "sync":
            qs.Client(hf_token=raw)
        else:
            qs.AsyncClient(hf_token=raw)  # no network, nothing to close yet
    assert TOKEN[6:] not in str(info.value) and TOKEN[:6] not in str(info.value)


# --- 3. a byte-order mark opening the event stream --------------------------------------


@pytest.mark.parametrize("layout", ["max", "1m"])
@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
def test_a_bom_at_the_start_of_the_stream_loses_no_event(
    mode: str, layout: str, split: bool
) -> None:
    model = "qwen-2.5-max" if layout == "max" else "qwen-2.5-1m"
    with FakeSpace(layout, answer=ANSWER, faults=[Fault.stream_bom(split=split)]) as space:
        out = call(mode, space.url, "hi", model=model)
    assert out.error is None and out.reply is not None and out.reply.text == ANSWER
    # The first message on the stream is the queue estimation: it must not be lost.
    queued = [e for e in out.events if isinstance(e, qs.QueueStatus) and not e.started]
    assert queued and queued[0].rank == 0
    assert out.text == ANSWER


# --- 5. OpenAI ids -------------------------------------------------------------------------


def test_concurrent_replies_have_distinct_ids(mode: str) -> None:
    with FakeSpace(answer=ANSWER, delay=0.01) as space:
        if mode == "sync":
            with ThreadPoolExecutor(8) as pool:
                outs = list(pool.map(lambda _: call("sync", space.url), range(8)))
            replies = [out.reply for out in outs]
        else:

            async def run() -> list[qs.Reply]:
                async with qs.AsyncClient(base_url=space.url) as client:
                    return list(await asyncio.gather(*(client.chat("hi") for _ in range(8))))

            replies = list(asyncio.run(run()))
    ids = [r.to_openai()["id"] for r in replies if r is not None]
    assert len(ids) == 8 and len(set(ids)) == 8
    assert all(re.fullmatch(r"chatcmpl-[0-9a-f]{32}", i) for i in ids)


def test_a_streams_chunks_and_its_reply_share_one_id(mode: str) -> None:
    with FakeSpace(answer=ANSWER) as space:
        if mode == "sync":
            with qs.Client(base_url=space.url) as client:
                stream = client.stream("hi")
                chunks = list(stream.openai_chunks())
                reply = stream.reply
        else:

            async def run() -> tuple[list[dict[str, Any]], qs.Reply]:
                async with qs.AsyncClient(base_url=space.url) as client:
                    stream = client.stream("hi")
                    got = [chunk async for chunk in stream.openai_chunks()]
                    return got, await stream.get_reply()

            chunks, reply = asyncio.run(run())
    assert len(chunks) >= 3
    assert {c["id"] for c in chunks} == {reply.id} == {reply.to_openai()["id"]}


# --- 4. a Space that is not running -----------------------------------------------------

STATES = ["sleeping", "building", "paused", "runtime_error"]


@pytest.mark.parametrize("layout", ["max", "1m"])
@pytest.mark.parametrize("state", STATES)
def test_a_status_page_on_config_is_space_not_running(mode: str, layout: str, state: str) -> None:
    # HF serves its page with status 200 too: /config must not be read as "not JSON".
    fault = Fault.config_answer(PAGES[state], content_type="text/html")
    model = "qwen-2.5-max" if layout == "max" else "qwen-2.5-1m"
    with FakeSpace(layout, answer=ANSWER, faults=[fault]) as space:
        out = call(mode, space.url, "hi", model=model, max_retries=0)
        sent = [r.path for r in space.requests]
    assert isinstance(out.error, qs.SpaceNotRunningError), out.error
    assert out.error.state == state and state.split("_")[0] in str(out.error)
    assert sent == ["/config"]  # nothing else was tried on a Space that is not there


@pytest.mark.parametrize("status", [200, 404, 503])
@pytest.mark.parametrize("state", STATES)
def test_a_status_page_on_join_is_space_not_running(mode: str, status: int, state: str) -> None:
    fault = Fault.join_error(status, PAGES[state], content_type="text/html", times=None)
    with FakeSpace(answer=ANSWER, faults=[fault]) as space:
        out = call(mode, space.url, max_retries=0)
    assert isinstance(out.error, qs.SpaceNotRunningError), out.error
    assert out.error.state == state
    assert out.error.status_code == (None if status == 200 else status)


def test_a_sleeping_space_is_retried_and_answers_once_awake(mode: str) -> None:
    fault = Fault.join_error(
        503, PAGES["sleeping"], content_type="text/html", headers=(("Retry-After", "1"),)
    )
    with FakeSpace(answer=ANSWER, faults=[fault]) as space:
        out = call(mode, space.url, max_retries=2)
        joins_sent = space.stats()["joins"]
    assert out.error is None and out.reply is not None and out.reply.text == ANSWER
    assert joins_sent == 2 and out.seconds >= 1.0


@pytest.mark.parametrize("state", ["paused", "runtime_error"])
def test_a_paused_or_broken_space_is_not_retried(mode: str, state: str) -> None:
    fault = Fault.join_error(503, PAGES[state], content_type="text/html", times=None)
    with FakeSpace(answer=ANSWER, faults=[fault]) as space:
        out = call(mode, space.url, max_retries=3)
        joins_sent = space.stats()["joins"]
    assert isinstance(out.error, qs.SpaceNotRunningError) and out.error.state == state
    assert joins_sent == 1


def test_a_sleeping_space_everywhere_is_space_not_running(mode: str) -> None:
    faults = [
        Fault.config_answer(PAGES["sleeping"], status=503, content_type="text/html"),
        Fault.join_error(503, PAGES["sleeping"], content_type="text/html", times=None),
    ]
    with FakeSpace(answer=ANSWER, faults=faults) as space:
        out = call(mode, space.url, max_retries=0)
    assert isinstance(out.error, qs.SpaceNotRunningError) and out.error.state == "sleeping"


def test_a_status_page_with_an_error_status_on_config_is_not_a_fallback(mode: str) -> None:
    fault = Fault.config_answer(PAGES["paused"], status=503, content_type="text/html")
    with FakeSpace(answer=ANSWER, faults=[fault]) as space:
        out = call(mode, space.url, max_retries=0)
    assert isinstance(out.error, qs.SpaceNotRunningError) and out.error.state == "paused"


def test_gradio3_queue_full_join_answer_is_queue_full(mode: str) -> None:
    fault = Fault.join_error(200, '{"msg": "queue_full"}', times=None)
    with FakeSpace(answer=ANSWER, faults=[fault]) as space:
        out = call(mode, space.url, max_retries=0)
    assert isinstance(out.error, qs.QueueFullError), out.error


def test_gradio3_queue_full_stream_message_is_queue_full(mode: str) -> None:
    fault = Fault.stream_message({"msg": "queue_full", "event_id": None})
    with FakeSpace(answer=ANSWER, faults=[fault]) as space:
        out = call(mode, space.url, max_retries=0)
    assert isinstance(out.error, qs.QueueFullError), out.error


def test_a_conversation_history_takes_the_openai_variants(mode: str) -> None:
    history = [
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": "u1", "name": "alice"},
        {"role": "assistant", "content": None},
        {"role": "assistant", "content": "a1"},
    ]
    with FakeSpace(answer=ANSWER) as space:
        if mode == "sync":
            with qs.Client(base_url=space.url) as client:
                conv = client.conversation(messages=history)
                reply = conv.send("q")
        else:

            async def run() -> qs.Reply:
                async with qs.AsyncClient(base_url=space.url) as client:
                    return await client.conversation(messages=history).send("q")

            reply = asyncio.run(run())
        sent = joins(space)
    assert reply.text == ANSWER
    assert sent[0]["data"] == ["q", [["u1", "a1"]], "Answer in French."]
