"""The public API against real Gradio servers: replicas of both Spaces on loopback.

Max layout on Gradio 4.44 (no prefix), 5.12 (tuples chatbot), 6.31 (messages
chatbot) and 5.12 with every component id shifted; 1M layout on Gradio 4.44
with modelscope_studio, with and without a changing <summary> footer. The fake
model (tests/support/replicas/fake_model.py) answers a known text with repeated words
and non-ASCII characters, and says how many earlier turns it received.
"""

from __future__ import annotations

from typing import Any

import pytest

import qwen_spaces as qs
from tests.support.replicas import fake_model
from tests.support.replicas.launcher import Replica

MAX = "qwen-2.5-max"
ONEM = "qwen-2.5-1m"
TIMEOUT = 30.0
FAIL_MESSAGE = "replica failure (requested by the query)"

QUERY = "Laugh: ha ha — café ☕?"
SYSTEM = "Be brief — très."


def max_answer(query: str, turns: int, system: str = fake_model.DEFAULT_SYSTEM) -> str:
    return fake_model.expected_answer(query, turns, system)


def onem_answer(query: str, turns: int) -> str:
    return fake_model.expected_answer(query, turns, fake_model.ONEM_SYSTEM)


def texts(events: list[Any]) -> list[str]:
    return [e.text for e in events if isinstance(e, qs.TextDelta)]


def check_exact(events: list[Any], reply: qs.Reply, expected: str) -> None:
    deltas = [e for e in events if isinstance(e, qs.TextDelta)]
    assert "".join(d.text for d in deltas) == reply.text == expected
    assert all(d.backtrack == 0 for d in deltas)
    # The answer streams: one delta per chunk, not one block at the end.
    assert len(deltas) >= len(fake_model.tokens(expected)) // 2


# --- sanity of the fixtures ----------------------------------------------------------------


def test_replicas_report_the_gradio_they_run(max_replica: Replica) -> None:
    assert max_replica.version.split(".")[0] == str(max_replica.gradio)
    prefix = max_replica.config.get("api_prefix")
    assert (prefix or "") == ("" if max_replica.gradio == 4 else "/gradio_api")


def test_shifted_replica_really_shifts_ids(max_g5: Replica, max_g5_shifted: Replica) -> None:
    def trigger(replica: Replica) -> int:
        dep = next(d for d in replica.config["dependencies"] if d["api_name"] == "model_chat")
        return int(dep["targets"][0][0])

    assert trigger(max_g5) == 11
    assert trigger(max_g5_shifted) == 12


# --- Max: one call ---------------------------------------------------------------------------


def test_max_sync_stream_gives_the_exact_answer(max_replica: Replica) -> None:
    with qs.Client(model=MAX, base_url=max_replica.url, timeout=TIMEOUT) as client:
        with client.stream(QUERY) as stream:
            events = list(stream)
            reply = stream.reply
    check_exact(events, reply, max_answer(QUERY, 0))
    assert reply.model == MAX


async def test_max_async_stream_gives_the_exact_answer(max_replica: Replica) -> None:
    async with qs.AsyncClient(model=MAX, base_url=max_replica.url, timeout=TIMEOUT) as client:
        stream = client.stream(QUERY)
        events = [e async for e in stream]
        reply = await stream.get_reply()
    check_exact(events, reply, max_answer(QUERY, 0))


def test_max_sends_system_and_real_history_as_pairs(max_replica: Replica) -> None:
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! ☕"},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4, ha ha."},
        {"role": "user", "content": QUERY},
    ]
    with qs.Client(model=MAX, base_url=max_replica.url, timeout=TIMEOUT) as client:
        stream = client.stream(messages)
        events = list(stream)
    # turns == 2 proves the two earlier pairs reached the Space as chatbot history.
    check_exact(events, stream.reply, max_answer(QUERY, 2, SYSTEM))


def test_max_text_stream_and_chat(max_g5: Replica) -> None:
    with qs.Client(model=MAX, base_url=max_g5.url, timeout=TIMEOUT) as client:
        assert "".join(client.stream(QUERY).text_stream) == max_answer(QUERY, 0)
        assert client.chat(QUERY).text == max_answer(QUERY, 0)


# --- Max: conversations ----------------------------------------------------------------------


def test_max_sync_conversation_sends_growing_history(max_replica: Replica) -> None:
    with qs.Client(model=MAX, base_url=max_replica.url, timeout=TIMEOUT) as client:
        conv = client.conversation(system=SYSTEM)
        for turn, query in enumerate(["One, ha.", "Two — ☕", "Three ✓"]):
            reply = conv.send(query)
            assert reply.text == max_answer(query, turn, SYSTEM)
        with conv.stream("Four") as stream:
            events = list(stream)
        check_exact(events, stream.reply, max_answer("Four", 3, SYSTEM))
    roles = [m["role"] for m in conv.messages]
    assert roles == ["system"] + ["user", "assistant"] * 4
    assert conv.messages[-1]["content"] == max_answer("Four", 3, SYSTEM)


async def test_max_async_conversation_sends_growing_history(max_replica: Replica) -> None:
    async with qs.AsyncClient(model=MAX, base_url=max_replica.url, timeout=TIMEOUT) as client:
        conv = client.conversation(system=SYSTEM)
        for turn, query in enumerate(["One, ha.", "Two — ☕"]):
            reply = await conv.send(query)
            assert reply.text == max_answer(query, turn, SYSTEM)
        stream = conv.stream("Three ✓")
        events = [e async for e in stream]
        reply = await stream.get_reply()
    check_exact(events, reply, max_answer("Three ✓", 2, SYSTEM))
    assert [m["role"] for m in conv.messages] == ["system"] + ["user", "assistant"] * 3


# --- 1M --------------------------------------------------------------------------------------


def check_onem(events: list[Any], reply: qs.Reply, expected: str) -> None:
    check_exact(events, reply, expected)
    reasoning = [e.text for e in events if isinstance(e, qs.Reasoning)]
    assert any(fake_model.THINKING in text for text in reasoning)
    for text in [reply.text, *texts(events)]:
        assert "thinking" not in text and "<summary>" not in text and "</summary>" not in text


def test_onem_sync_stream_gives_the_exact_answer(onem_replica: Replica) -> None:
    with qs.Client(model=ONEM, base_url=onem_replica.url, timeout=TIMEOUT) as client:
        with client.stream(QUERY) as stream:
            events = list(stream)
            reply = stream.reply
    check_onem(events, reply, onem_answer(QUERY, 0))
    assert reply.model == ONEM


async def test_onem_async_stream_gives_the_exact_answer(onem_replica: Replica) -> None:
    async with qs.AsyncClient(model=ONEM, base_url=onem_replica.url, timeout=TIMEOUT) as client:
        stream = client.stream(QUERY)
        events = [e async for e in stream]
        reply = await stream.get_reply()
    check_onem(events, reply, onem_answer(QUERY, 0))


def test_onem_sync_follow_up_uses_server_side_history(onem_replica: Replica) -> None:
    with qs.Client(model=ONEM, base_url=onem_replica.url, timeout=TIMEOUT) as client:
        conv = client.conversation()
        first = conv.send(QUERY)
        assert first.text == onem_answer(QUERY, 0)
        with conv.stream("Again, ha!") as stream:
            events = list(stream)
        # turns == 1 and the query is the new message alone: the Space kept the
        # first turn under the same session hash, and nothing was flattened.
        check_onem(events, stream.reply, onem_answer("Again, ha!", 1))
        third = conv.send("Once more ☕")
        assert third.text == onem_answer("Once more ☕", 2)
    assert [m["role"] for m in conv.messages] == ["user", "assistant"] * 3


async def test_onem_async_follow_up_uses_server_side_history(onem_replica: Replica) -> None:
    async with qs.AsyncClient(model=ONEM, base_url=onem_replica.url, timeout=TIMEOUT) as client:
        conv = client.conversation(system=SYSTEM)
        first = await conv.send(QUERY)
        # However the system prompt was folded into the first prompt, it was sent once.
        assert first.text.startswith(f"[{fake_model.ONEM_SYSTEM}] turn 0: you said «")
        assert QUERY in first.text
        stream = conv.stream("Again, ha!")
        events = [e async for e in stream]
        reply = await stream.get_reply()
    check_onem(events, reply, onem_answer("Again, ha!", 1))


def test_onem_one_shot_history_is_flattened_into_one_prompt(onem_g4: Replica) -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! ☕"},
        {"role": "user", "content": QUERY},
    ]
    flattened = f"User: Hi\nAssistant: Hello! ☕\nUser: {QUERY}"  # PROTOCOL.md section 3
    with qs.Client(model=ONEM, base_url=onem_g4.url, timeout=TIMEOUT) as client:
        reply = client.chat(messages)
    assert reply.text == onem_answer(flattened, 0)


# --- failures the Space reports --------------------------------------------------------------


def test_max_error_mid_stream_raises_space_error_with_partial_text(max_replica: Replica) -> None:
    query = "__fail_midway__"
    partial = "".join(fake_model.tokens(max_answer(query, 0))[:5])
    seen: list[str] = []
    with qs.Client(model=MAX, base_url=max_replica.url, timeout=TIMEOUT, max_retries=0) as client:
        with pytest.raises(qs.SpaceError) as info:
            for text in client.stream(query).text_stream:
                seen.append(text)
    assert FAIL_MESSAGE in str(info.value)
    assert "".join(seen) == partial
    assert getattr(info.value, "partial_text", None) == partial


async def test_onem_error_raises_space_error(onem_g4: Replica) -> None:
    async with qs.AsyncClient(
        model=ONEM, base_url=onem_g4.url, timeout=TIMEOUT, max_retries=0
    ) as client:
        with pytest.raises(qs.SpaceError) as info:
            await client.chat("__fail__")
    assert FAIL_MESSAGE in str(info.value)


@pytest.mark.parametrize("fixture", ["max_g4", "max_g6"])
def test_max_error_before_output_raises_space_error(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    replica: Replica = request.getfixturevalue(fixture)
    with qs.Client(model=MAX, base_url=replica.url, timeout=TIMEOUT, max_retries=0) as client:
        with pytest.raises(qs.SpaceError) as info:
            client.chat("__fail__")
    assert FAIL_MESSAGE in str(info.value)
