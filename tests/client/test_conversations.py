"""Conversations resume from saved state, and a failed turn never corrupts the next one."""

from __future__ import annotations

import asyncio
import socket

import pytest

import qwen_spaces as qs
from qwen_spaces.testing import FakeSpace, Fault

pytestmark = pytest.mark.timeout(60)


def answer(query: str, turns: int, system: str) -> str:
    return f"turn {turns}: {query}"


def test_saved_state_resumes_the_same_space_session() -> None:
    with (
        FakeSpace(layout="1m", answer=answer) as space,
        qs.Client("qwen-2.5-1m", base_url=space.url) as client,
    ):
        conv = client.conversation()
        assert conv.send("a").text == "turn 0: a"
        saved = conv.state
        resumed = client.conversation(state=saved)
        assert resumed.session_hash == saved.session_hash
        # The Space kept the earlier turn: only the new message is sent.
        assert resumed.send("b").text == "turn 1: b"
        assert [m["content"] for m in resumed.messages] == ["a", "turn 0: a", "b", "turn 1: b"]


def test_state_and_other_arguments_are_exclusive() -> None:
    with qs.Client() as client:
        state = client.conversation(system="s").state
        with pytest.raises(ValueError, match="either state"):
            client.conversation(state=state, system="x")
        with pytest.raises(TypeError):
            client.conversation(state={"messages": []})  # type: ignore[arg-type]


def test_failed_1m_turn_moves_to_a_fresh_session_and_resends_the_history() -> None:
    def flat(query: str, turns: int, system: str) -> str:
        return f"turns={turns} prompt={query!r}"

    with FakeSpace(
        layout="1m", answer=flat, faults=[Fault.drop_after(updates=2, times=1)]
    ) as space:
        with qs.Client("qwen-2.5-1m", base_url=space.url, max_retries=0) as client:
            conv = client.conversation()
            first = conv.session_hash
            with pytest.raises(qs.SpaceConnectionError):
                conv.send("lost question")
            assert conv.session_hash != first and conv.messages == []
            reply = conv.send("hello")
            assert reply.text == "turns=0 prompt='hello'"
            assert conv.send("again").text == "turns=1 prompt='again'"


def test_failed_streamed_turn_leaves_no_trace() -> None:
    with (
        FakeSpace(answer="ok", faults=[Fault.space_error("boom")]) as space,
        qs.Client(base_url=space.url) as client,
    ):
        conv = client.conversation(system="S")
        with pytest.raises(qs.SpaceError):
            for _ in conv.stream("q"):
                pass
        assert conv.messages == [{"role": "system", "content": "S"}]
        conv.stream("q2").reply  # noqa: B018
        assert [m["role"] for m in conv.messages] == ["system", "user", "assistant"]


def test_bad_input_does_not_touch_the_session() -> None:
    with qs.Client() as client:
        conv = client.conversation()
        before = conv.session_hash
        with pytest.raises(ValueError):
            conv.send("")
        assert conv.session_hash == before


def test_connection_error_names_the_root_cause_briefly() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with qs.Client(base_url=f"http://127.0.0.1:{port}", max_retries=0) as client:
        with pytest.raises(qs.SpaceConnectionError) as info:
            client.chat("hi")
    message = str(info.value)
    assert "Connection refused" in message and "Max retries" not in message, message


async def test_async_close_lets_pending_cancels_reach_the_space() -> None:
    with FakeSpace(answer="x " * 200, chunk_size=2, delay=0.02) as space:
        client = qs.AsyncClient(base_url=space.url)
        started = asyncio.Event()

        async def consume() -> None:
            async for event in client.stream("hi"):
                if isinstance(event, qs.TextDelta):
                    started.set()

        tasks = [asyncio.create_task(consume()) for _ in range(3)]
        await asyncio.wait_for(started.wait(), 5)
        await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.sleep(0)
        for task in tasks:  # cancelled again while their cancel requests are in flight
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()
        assert len(space.cancels) == 3


def test_conversation_state_round_trips_through_json() -> None:
    import json

    state = qs.ConversationState(
        model="qwen-2.5-1m",
        session_hash="abc123abc123",
        messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
        synced=2,
    )
    again = qs.ConversationState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"model": "m"},
        {"model": "m", "session_hash": "h", "messages": [{"role": "tool", "content": "x"}]},
    ],
)
def test_a_bad_saved_conversation_is_a_clear_error(data: object) -> None:
    with pytest.raises(ValueError):
        qs.ConversationState.from_dict(data)


def test_an_out_of_range_synced_count_is_not_trusted() -> None:
    state = qs.ConversationState.from_dict(
        {"model": "m", "session_hash": "h", "messages": [], "synced": 5}
    )
    assert state.synced == 0


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_follow_up_whose_add_text_answers_a_diff_still_sends_the_user_turn(mode: str) -> None:
    # Gradio 4 answers a follow-up's add_text with a diff when CPython reuses
    # the earlier generator's address (see gradio.is_diff); sent on as the
    # chatbot, the real Space refuses it ("Tuple should have at most 2 items").
    with FakeSpace(layout="1m", answer=answer, faults=[Fault.predict_diff()]) as space:
        if mode == "sync":
            with qs.Client("qwen-2.5-1m", base_url=space.url, max_retries=0) as client:
                conv = client.conversation()
                texts = [conv.send("a").text, conv.send("b").text]
        else:

            async def run() -> list[str]:
                async with qs.AsyncClient("qwen-2.5-1m", base_url=space.url, max_retries=0) as c:
                    conversation = c.conversation()
                    return [(await conversation.send(q)).text for q in ("a", "b")]

            texts = asyncio.run(run())
        joins = [r.json for r in space.requests if r.path.endswith("/queue/join")]
    assert texts == ["turn 0: a", "turn 1: b"]
    chatbot = joins[1]["data"][0]  # the follow-up's: add_text's answer, the user turn
    assert len(chatbot) == 1 and chatbot[0][0]["text"] == "b" and chatbot[0][1] is None
