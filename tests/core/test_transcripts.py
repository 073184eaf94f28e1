"""The pure layer replays recorded real-Gradio transcripts exactly, however the bytes are cut."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qwen_spaces._client.client_core import ClientCore
from qwen_spaces._core.wire import Request
from qwen_spaces._events import ConversationState, Reasoning, SpaceSession, TextDelta
from qwen_spaces._gradio.gradio import is_diff
from qwen_spaces._spaces.adapters import Step
from tests.support.transcript_replay import (
    BASE,
    exchange_for,
    joined,
    load,
    messages_of,
    model_of,
    names,
    options_of,
    replay_call,
    turns,
)

NAMES = names()
pytestmark = pytest.mark.skipif(not NAMES, reason="no transcripts recorded yet")


def run(name: str, chunk_size: int | None) -> list[tuple[list[Any], Any, dict[str, Any]]]:
    transcript = load(name)
    core = ClientCore(model_of(transcript), base_url=BASE)
    state: ConversationState | None = None
    results = []
    for turn in turns(transcript):
        messages = messages_of(turn)
        if state is not None:
            messages = messages[-1:]
        if state is None:  # the recorded session
            state = ConversationState(core.model, session=SpaceSession(turn["session_hash"]))
        call = core.new_call(messages, conversation=state, **options_of(turn))
        events = replay_call(call, turn, chunk_size)
        reply = call.reply()
        state = reply.conversation
        results.append((events, reply, turn))
    return results


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("chunk_size", [None, 1, 7, 4096])
def test_transcript_gives_the_exact_answer(name: str, chunk_size: int | None) -> None:
    for events, reply, turn in run(name, chunk_size):
        assert reply.text == turn["expected_answer"]
        assert joined(events) == reply.text
        assert all(e.backtrack == 0 for e in events if isinstance(e, TextDelta))
        assert "Qwen is thinking" not in reply.text and "<summary>" not in reply.text


@pytest.mark.parametrize("name", NAMES)
def test_every_streamed_chunk_is_its_own_delta(name: str) -> None:
    for events, reply, _turn in run(name, None):
        deltas = [e for e in events if isinstance(e, TextDelta)]
        assert len(deltas) > 1, "the answer must stream, not arrive at the end"
        assert "".join(d.text for d in deltas) == reply.text


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("onem")])
def test_onem_thinking_is_reasoning(name: str) -> None:
    for events, _reply, _turn in run(name, None):
        assert any(isinstance(e, Reasoning) and "thinking" in e.text for e in events)


@pytest.mark.parametrize("name", NAMES)
def test_join_body_matches_what_was_recorded(name: str) -> None:
    transcript = load(name)
    core = ClientCore(model_of(transcript), base_url=BASE)
    state: ConversationState | None = None
    for turn in turns(transcript):
        messages = messages_of(turn)
        if state is not None:
            messages = messages[-1:]
        recorded_join = next(e for e in turn["exchanges"] if e["path"].endswith("/queue/join"))
        if state is None:  # the recorded session
            recorded = recorded_join["request_json"]["session_hash"]
            state = ConversationState(core.model, session=SpaceSession(recorded))
        call = core.new_call(messages, conversation=state, **options_of(turn))
        requests: list[Request] = []
        replay_call(call, turn, sent=requests)
        state = call.reply().conversation
        sent = dict(recorded_join["request_json"])
        ours = next(r.json for r in requests if r.step is Step.JOIN)
        for key in ("fn_index", "trigger_id", "session_hash"):
            assert ours[key] == sent[key], key
        if name.startswith("qwen25"):
            # Recorded with history cells as dicts and another size; the query and system match.
            assert (ours["data"][0], ours["data"][2]) == (sent["data"][0], sent["data"][2])
        elif not name.startswith("onem"):
            assert ours["data"] == sent["data"]
        predict = [e for e in turn["exchanges"] if e["path"].endswith("/run/predict")]
        if predict:
            assert call.next_request() is None  # finished
            ours_predict = next(r.json for r in requests if r.step is Step.PREDICT)
            assert predict[0]["request_json"]["data"][0]["text"] == ours_predict["data"][0]["text"]
        assert exchange_for(turn, "GET", BASE + recorded_join["path"].replace("join", "data"))


def test_an_add_text_answer_that_is_a_diff_still_joins_with_the_user_turn() -> None:
    # Seen on a real Gradio 4 replica (CI): a follow-up's add_text answered with
    # a diff against the session's earlier add_text (Gradio keys its streams by
    # id() of the generator, and CPython reused the freed one's address). Sent
    # on as the chatbot, the Space failed: "Tuple should have at most 2 items".
    transcript = load("onem-g4-followup")
    first, second = turns(transcript)[:2]
    core = ClientCore(model_of(transcript), base_url=BASE)
    call = core.new_call(messages_of(first))
    replay_call(call, first)
    state = call.reply().conversation
    query = messages_of(second)[-1]["content"]
    predict = next(e for e in second["exchanges"] if e["path"].endswith("/run/predict"))
    answer = json.loads(predict["body"])
    answer["data"][1] = [["replace", [0, 0, "text"], query]]
    diffed = {
        **second,
        "exchanges": [
            {**e, "body": json.dumps(answer)} if e is predict else e for e in second["exchanges"]
        ],
    }
    call = core.new_call([{"role": "user", "content": query}], conversation=state)
    sent: list[Request] = []
    events = replay_call(call, diffed, sent=sent)
    join = next(r.json for r in sent if r.step is Step.JOIN)
    chatbot = join["data"][0]
    assert len(chatbot) == 1 and chatbot[0][1] is None  # add_text's own answer: the user turn
    assert chatbot[0][0]["text"] == query and chatbot[0][0]["files"] == []
    assert call.reply().text == second["expected_answer"] == joined(events)


def test_is_diff_tells_a_diff_from_a_chatbot() -> None:
    assert is_diff([["replace", [0, 0, "text"], "x"], ["append", [0, 1], "y"]])
    assert not is_diff([[{"text": "hi", "files": []}, None]])  # a chatbot of one pair
    assert not is_diff([["hi", "hello"]]) and not is_diff([]) and not is_diff(None)
    assert not is_diff([["replace", "not a path", "x"]])
