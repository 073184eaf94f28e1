"""Qwen3 through both clients against the real-Gradio replica of the Qwen3 demo.

Gradio 5.27 with modelscope_studio 1.6.1, the Space's layout (and the same
layout with every id shifted). The replica's fake model answers with the
prompt, the model id, the budget, the thinking mode, any system message and
the number of turns its session holds, so each test sees what reached the
model. As on the Space, the settings form's system prompt never reaches it
(``fq.NO_SYSTEM``; test_session_restart.py holds the tests of delivering it).
"""

from __future__ import annotations

from typing import Any

import pytest

import qwen_spaces as qs
from qwen_spaces._gradio import payloads
from tests.support.replicas import fake_qwen3 as fq
from tests.support.replicas.launcher import Replica

TIMEOUT = 30.0
QUERY = "Laugh: ha ha — café ☕?"
SYSTEM = "Be brief — très."


def reasoning_of(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, qs.Reasoning))


def text_of(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, qs.TextDelta))


def check(
    events: list[Any], reply: qs.Reply, *, answer: str, reasoning: str, thinking: bool
) -> None:
    assert text_of(events) == reply.text == answer
    assert reasoning_of(events) == reply.reasoning == reasoning
    deltas = [e for e in events if isinstance(e, qs.TextDelta)]
    assert len(deltas) >= len(fq.tokens(answer)) // 2  # streamed, not one block
    if thinking:
        assert reply.thinking_seconds is not None and reply.thinking_seconds >= 0
        assert reply.to_openai()["choices"][0]["message"]["reasoning_content"] == reasoning
    else:
        assert reply.thinking_seconds is None and "reasoning_content" not in str(reply.to_openai())
    assert "<" not in reply.text  # no HTML


def test_thinking_streams_apart_from_the_answer_sync(qwen3_replica: Replica) -> None:
    with qs.Client(model="qwen-3-235b", base_url=qwen3_replica.url, timeout=TIMEOUT) as client:
        with client.stream(QUERY) as stream:
            events = list(stream)
            reply = stream.reply
    model, system = "qwen3-235b-a22b", fq.NO_SYSTEM
    check(
        events,
        reply,
        answer=fq.expected_answer(QUERY, model, 38, True, system, 0),
        reasoning=fq.expected_reasoning(QUERY, model, 38, system, 0),
        thinking=True,
    )
    assert reply.model == "qwen-3-235b"


async def test_thinking_streams_apart_from_the_answer_async(qwen3_replica: Replica) -> None:
    async with qs.AsyncClient(model="qwen-3-8b", base_url=qwen3_replica.url) as client:
        events = [e async for e in client.stream(QUERY, thinking_budget=3000)]
    model, system = "qwen3-8b", fq.NO_SYSTEM
    assert text_of(events) == fq.expected_answer(QUERY, model, 3, True, system, 0)
    assert reasoning_of(events) == fq.expected_reasoning(QUERY, model, 3, system, 0)


def test_thinking_off_holds_on_follow_ups_sync(qwen3_g527: Replica) -> None:
    with qs.Client(model="qwen-3-32b", base_url=qwen3_g527.url, timeout=TIMEOUT) as client:
        conv = client.conversation(system=SYSTEM, thinking=False)
        first = conv.send(QUERY, thinking_budget=4096)
        with conv.stream("Again, ha!", thinking_budget=4096) as stream:
            events = list(stream)
            second = stream.reply
    # The page never gives the model its form's system prompt: the session's
    # first prompt carries it, once (the follow-up does not repeat it).
    opening = payloads.flatten(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUERY}]
    )
    assert first.text == fq.expected_answer(opening, "qwen3-32b", 4, False, fq.NO_SYSTEM, 0)
    assert first.reasoning == ""
    check(
        events,
        second,
        answer=fq.expected_answer("Again, ha!", "qwen3-32b", 4, False, fq.NO_SYSTEM, 1),
        reasoning="",
        thinking=False,
    )
    assert second.conversation is not None and second.conversation.session.thinking is False


async def test_thinking_off_then_on_in_one_session_async(qwen3_g527: Replica) -> None:
    async with qs.AsyncClient(model="qwen-3-0.6b", base_url=qwen3_g527.url) as client:
        conv = client.conversation()
        off = await conv.send(QUERY, thinking=False)
        on = await conv.send("Again, ha!", thinking=True)
    model, system = "qwen3-0.6b", fq.NO_SYSTEM
    assert off.text == fq.expected_answer(QUERY, model, 38, False, system, 0)
    assert on.text == fq.expected_answer("Again, ha!", model, 38, True, system, 1)
    assert on.reasoning == fq.expected_reasoning("Again, ha!", model, 38, system, 1)


def test_a_follow_up_sends_only_the_new_message_sync(qwen3_replica: Replica) -> None:
    with qs.Client(model="qwen-3-14b", base_url=qwen3_replica.url, timeout=TIMEOUT) as client:
        reply = client.chat(QUERY)
        again = client.chat("Again, ha!", conversation=reply.conversation)
    # The session holds the first turn: the Space saw one earlier exchange and the bare prompt.
    assert again.text == fq.expected_answer("Again, ha!", "qwen3-14b", 38, True, fq.NO_SYSTEM, 1)


async def test_a_history_the_space_has_not_seen_goes_in_the_first_prompt_async(
    qwen3_g527: Replica,
) -> None:
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": QUERY},
    ]
    async with qs.AsyncClient(model="qwen-3-4b", base_url=qwen3_g527.url) as client:
        reply = await client.chat(messages)
    prompt = payloads.flatten(messages)  # the system prompt at its head
    assert reply.text == fq.expected_answer(prompt, "qwen3-4b", 38, True, fq.NO_SYSTEM, 0)


def test_saved_conversation_keeps_the_session_and_its_thinking_sync(qwen3_g527: Replica) -> None:
    with qs.Client(model="qwen-3-1.7b", base_url=qwen3_g527.url, timeout=TIMEOUT) as client:
        conv = client.conversation(thinking=False)
        conv.send(QUERY)
        saved = qs.ConversationState.from_dict(conv.state.to_dict())
        resumed = client.conversation(state=saved)
        reply = resumed.send("Again, ha!")
    assert reply.text == fq.expected_answer("Again, ha!", "qwen3-1.7b", 38, False, fq.NO_SYSTEM, 1)


@pytest.mark.parametrize("thinking", [True, False])
def test_the_spaces_error_turn_is_a_space_error_sync(qwen3_g527: Replica, thinking: bool) -> None:
    prompt = f"Fail please {fq.ERROR_MARKER}"
    with qs.Client(model="qwen-3-235b", base_url=qwen3_g527.url, timeout=TIMEOUT) as client:
        with pytest.raises(qs.SpaceError) as caught:
            client.chat(prompt, thinking=thinking)
    error = caught.value
    reasoning, partial = fq.partial_error_texts(
        prompt, "qwen3-235b-a22b", 38, thinking, fq.NO_SYSTEM, 0
    )
    assert error.message == f"the Space reported an error: {fq.ERROR_MESSAGE}"
    assert "<span" not in str(error)
    assert error.partial_text == partial and error.partial_reasoning == reasoning


async def test_the_spaces_error_turn_is_a_space_error_async(qwen3_g527: Replica) -> None:
    prompt = f"Fail please {fq.ERROR_MARKER}"
    async with qs.AsyncClient(model="qwen-3-235b", base_url=qwen3_g527.url) as client:
        with pytest.raises(qs.SpaceError) as caught:
            await client.chat(prompt)
    assert caught.value.message == f"the Space reported an error: {fq.ERROR_MESSAGE}"
    assert caught.value.partial_reasoning.startswith("(qwen3-235b-a22b, budget 38x1024)")


@pytest.mark.parametrize("model", ["qwen-2-72b", "qwen-2.5"])
def test_the_older_demos_answer_exactly_sync(
    model: str, qwen2_g4: Replica, qwen25_g4: Replica
) -> None:
    from tests.support.replicas import fake_model

    replica = qwen2_g4 if model == "qwen-2-72b" else qwen25_g4
    with qs.Client(model=model, base_url=replica.url, timeout=TIMEOUT) as client:
        reply = client.chat(
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUERY}]
        )
    system = SYSTEM if model == "qwen-2-72b" else fake_model.sized_system("72B", SYSTEM)
    assert reply.text == fake_model.expected_answer(QUERY, 0, system)


async def test_the_older_demos_keep_history_async(qwen2_g4: Replica, qwen25_g4: Replica) -> None:
    from tests.support.replicas import fake_model

    for model, replica in (("qwen-2-72b", qwen2_g4), ("qwen-2.5", qwen25_g4)):
        async with qs.AsyncClient(model=model, base_url=replica.url) as client:
            conv = client.conversation(system=SYSTEM)
            await conv.send("Hi")
            reply = await conv.send(QUERY)
        system = SYSTEM if model == "qwen-2-72b" else fake_model.sized_system("72B", SYSTEM)
        assert reply.text == fake_model.expected_answer(QUERY, 1, system)


def test_bad_thinking_input_is_refused_before_anything_is_sent() -> None:
    client = qs.Client(model="qwen-3-8b", base_url="http://127.0.0.1:9")  # nothing listens
    with pytest.raises(ValueError, match="thinking_budget must be from 1 to 38912 tokens"):
        client.chat("hi", thinking_budget=0)
    with pytest.raises(ValueError, match="38912"):
        client.stream("hi", thinking_budget=40000)
    with pytest.raises(TypeError, match="thinking must be True, False or None"):
        client.chat("hi", thinking="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"qwen-2\.5-max has no thinking mode"):
        qs.Client(model="qwen-2.5-max").chat("hi", thinking=False)
