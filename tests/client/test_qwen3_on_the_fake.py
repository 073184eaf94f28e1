"""Qwen3 through both clients on ``qwen_spaces.testing.FakeSpace("qwen3")``, as a user's tests would."""

from __future__ import annotations

import pytest

import qwen_spaces as qs
from qwen_spaces.testing import FakeSpace, Fault

REASONING = ["Let me ", "think ", "about ", "it."]
ANSWER = ["Four", " — ", "café ☕."]


def fake(**options: object) -> FakeSpace:
    return FakeSpace("qwen3", answer=ANSWER, reasoning=REASONING, **options)  # type: ignore[arg-type]


def test_sync_stream_and_what_reached_the_space() -> None:
    with fake() as space, qs.Client(model="qwen-3-4b", base_url=space.url) as client:
        with client.stream("2+2?", thinking_budget=5000) as stream:
            events = list(stream)
            reply = stream.reply
        chats = list(space.chats)
    assert [e.text for e in events if isinstance(e, qs.Reasoning)] == REASONING
    assert [e.text for e in events if isinstance(e, qs.TextDelta)] == ANSWER
    assert reply.text == "".join(ANSWER) and reply.reasoning == "".join(REASONING)
    assert reply.thinking_seconds == pytest.approx(1.23)
    assert [(c.model, c.thinking, c.thinking_budget, c.query) for c in chats] == [
        ("qwen3-4b", True, 5, "2+2?")
    ]


async def test_async_thinking_off_holds_and_the_history_stays_in_the_session() -> None:
    with fake() as space:
        async with qs.AsyncClient(model="qwen-3-30b-a3b", base_url=space.url) as client:
            conv = client.conversation(system="Be brief.", thinking=False)
            first = await conv.send("Hi")
            second = await conv.send("Again")
        chats = list(space.chats)
    assert first.reasoning == second.reasoning == "" and second.text == "".join(ANSWER)
    assert [(c.query, c.turns, c.thinking, c.system, c.model) for c in chats] == [
        # The page never gives the model its form's system prompt: the first
        # prompt of the session carries it, once.
        ("System: Be brief.\nUser: Hi", 0, False, "Be brief.", "qwen3-30b-a3b"),
        ("Again", 1, False, "Be brief.", "qwen3-30b-a3b"),
    ]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_full_queue_is_retried_then_answers(kind: str) -> None:
    with fake(faults=[Fault.queue_full(times=2)]) as space:
        if kind == "sync":
            with qs.Client(model="qwen-3-8b", base_url=space.url, max_retries=2) as client:
                reply = client.chat("hi", thinking=False)
        else:
            async with qs.AsyncClient(
                model="qwen-3-8b", base_url=space.url, max_retries=2
            ) as aclient:
                reply = await aclient.chat("hi", thinking=False)
        chats = list(space.chats)
    assert reply.text == "".join(ANSWER)
    # The toggle ran once, before the refused joins: a retry does not flip it back.
    assert [c.thinking for c in chats] == [False]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_full_queue_past_the_retries_is_queue_full_error(kind: str) -> None:
    with fake(faults=[Fault.queue_full(times=None)]) as space:
        with pytest.raises(qs.QueueFullError):
            if kind == "sync":
                with qs.Client(model="qwen-3-8b", base_url=space.url, max_retries=1) as client:
                    client.chat("hi")
            else:
                async with qs.AsyncClient(
                    model="qwen-3-8b", base_url=space.url, max_retries=1
                ) as aclient:
                    await aclient.chat("hi")


def test_the_error_turn_keeps_the_reasoning_on_the_error() -> None:
    with fake(faults=[Fault.space_error("GPU quota exceeded", updates=3)]) as space:
        with qs.Client(model="qwen-3-235b", base_url=space.url, max_retries=0) as client:
            with pytest.raises(qs.SpaceError) as caught:
                client.chat("hi")
    assert caught.value.message == "the Space reported an error: GPU quota exceeded"
    assert caught.value.partial_reasoning and "".join(REASONING).startswith(
        caught.value.partial_reasoning
    )
