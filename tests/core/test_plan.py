"""The call runs its Space's plan: one phase value, a fresh attempt per try, side calls kept."""

from __future__ import annotations

import json
import time

import pytest

import qwen_spaces as qs
from qwen_spaces._core.call import ChatCall
from qwen_spaces._core.state import FINISHED, TRANSITIONS, Attempt, Cause, Phase
from qwen_spaces._core.wire import Request
from qwen_spaces._errors import QueueFullError
from qwen_spaces._events import ConversationState, SpaceSession
from qwen_spaces._gradio.endpoints import Endpoints, Function
from qwen_spaces._spaces.adapters import CHAT, Stage, Step
from qwen_spaces._spaces.spaces import QWEN_MAX, resolve_model

CLOCK = time.monotonic

QWEN3_IDS = Endpoints(
    api_prefix="/gradio_api",
    fn_index=13,
    trigger_id=33,
    chatbot_output=5,
    chatbot_format="ms_pro",
    side=(Function("thinking", 3, 61),),
)


def sse(message: dict[str, object]) -> bytes:
    return f"data: {json.dumps(message)}\n\n".encode()


def qwen3_call(thinking: bool | None, state: ConversationState | None = None) -> ChatCall:
    spec = resolve_model("qwen-3-32b")
    state = state or ConversationState(spec.model, session=SpaceSession("s1"))
    messages = [*state.messages, {"role": "user", "content": "hi"}]
    return ChatCall(
        spec, "http://space", messages, state, endpoints=QWEN3_IDS, thinking=thinking, clock=CLOCK
    )


def open_stream(call: ChatCall, event_id: str) -> Request:
    """Join the current stage's function and open its event stream; the join sent."""
    join = call.next_request()
    assert join is not None and join.step is Step.JOIN
    call.on_response(join, 200, {}, json.dumps({"event_id": event_id}).encode())
    data = call.next_request()
    assert data is not None and data.step is Step.DATA and call.on_headers(data, 200)
    return join


def completed(event_id: str, data: list[object]) -> bytes:
    return sse(
        {
            "msg": "process_completed",
            "event_id": event_id,
            "success": True,
            "output": {"data": data},
        }
    )


def run_toggle(call: ChatCall, trailing: bytes = b"") -> None:
    """The thinking toggle's stage; ``trailing``: bytes after its completion, never read."""
    join = open_stream(call, "t1")
    assert join.json is not None and (join.json["fn_index"], join.json["data"]) == (3, [None])
    assert call.feed(completed("t1", [None]) + trailing) == [] and call.phase is Phase.COMPLETED
    call.end_of_stream()
    assert call.phase is Phase.READY


def answer_turn(text: str, reasoning: str = "") -> list[object]:
    parts: list[dict[str, object]] = []
    if reasoning:
        parts.append(
            {
                "type": "tool",
                "content": reasoning,
                "options": {"title": "End of Thought (1.50s)", "status": "done"},
            }
        )
    parts.append({"type": "text", "content": text})
    chatbot = {
        "__type__": "update",
        "value": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": parts, "status": "done", "footer": "2.00s"},
        ],
    }
    return [None, None, None, None, None, chatbot, None]


def test_every_phase_moves_only_along_the_table() -> None:
    # Only streaming phases and the end of a stage stay or move on to themselves.
    for (phase, cause), target in TRANSITIONS.items():
        assert target is not phase or (phase, cause) == (Phase.RUNNING, Cause.STARTED)
    assert FINISHED == {Phase.COMPLETED, Phase.FAILED, Phase.CLOSED, Phase.CANCELLED, Phase.DONE}
    call = qwen3_call(None)
    with pytest.raises(AssertionError, match="from ready on completed"):
        call._attempt.process(Cause.COMPLETED)
    assert call.phase is Phase.READY  # a refused move changes nothing


def test_a_stage_that_ends_goes_on_to_the_next_or_the_end_of_the_plan() -> None:
    attempt = Attempt((Stage(Step.UPLOAD), Stage(Step.JOIN)), 1024)
    assert attempt.process(Cause.SENT) is Phase.WAITING and not attempt.finished
    assert attempt.process(Cause.ANSWERED) is Phase.READY and attempt.stage == Stage(Step.JOIN)
    attempt.process(Cause.SENT)
    attempt.joined("e1", 5.0)
    assert (attempt.phase, attempt.event_id, attempt.queue_at) == (Phase.READY, "e1", 5.0)
    attempt.process(Cause.SENT)
    assert attempt.process(Cause.STREAM) is Phase.QUEUED
    attempt.start()
    assert attempt.phase is Phase.RUNNING and attempt.queue_at is None
    assert attempt.process(Cause.COMPLETED) is Phase.COMPLETED and attempt.finished
    assert attempt.process(Cause.END) is Phase.DONE and attempt.finished
    with pytest.raises(AttributeError):
        attempt.stage.fn = "other"  # type: ignore[misc]


def test_thinking_off_runs_the_toggle_first_then_the_chat() -> None:
    call = qwen3_call(False)
    assert [s.fn for s in call._attempt.plan] == ["thinking", CHAT]
    run_toggle(call)
    join = open_stream(call, "c1")
    assert join.json is not None and join.json["fn_index"] == 13
    settings = join.json["data"][1]
    assert settings == {
        "model": "qwen3-32b",
        "sys_prompt": "You are a helpful and harmless assistant.",
        "thinking_budget": 38,
    }
    events = call.feed(completed("c1", answer_turn("Four.")))
    assert [e.text for e in events if isinstance(e, qs.TextDelta)] == ["Four."]
    call.end_of_stream()
    assert call.next_request() is None
    reply = call.reply()
    assert reply.text == "Four." and reply.reasoning == "" and reply.thinking_seconds is None
    assert reply.conversation is not None
    assert reply.conversation.session == SpaceSession("s1", 2, False)


def test_the_chat_stream_starts_clean_after_the_toggle_stream_left_half_an_event() -> None:
    # The toggle's last chunk carries its completion and the start of an event
    # the driver never reads (it stops at the completion and drains): the
    # chat's stream is a new response, read by a fresh decoder.
    call = qwen3_call(False)
    run_toggle(call, trailing=b'data: {"msg": "heartb')
    open_stream(call, "c1")
    events = call.feed(completed("c1", answer_turn("Four.")))
    assert [e.text for e in events if isinstance(e, qs.TextDelta)] == ["Four."]
    call.end_of_stream()
    assert call.reply().text == "Four."


def test_a_retry_after_the_toggle_does_not_toggle_again() -> None:
    call = qwen3_call(False)
    run_toggle(call)
    join = call.next_request()
    assert join is not None
    full = QueueFullError("Queue is full. Max size is 100 and size is 100.", url=join.url)
    assert call.next_attempt(full) >= 0  # retried: a fresh attempt
    assert call.phase is Phase.READY
    assert [s.fn for s in call._attempt.plan] == [CHAT]
    again = call.next_request()
    assert again is not None and again.json is not None and again.json["fn_index"] == 13


def test_a_session_already_off_needs_no_toggle_and_one_on_needs_it_to_think() -> None:
    off = ConversationState(
        "qwen-3-32b",
        messages=[
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
        ],
        session=SpaceSession("s1", 2, False),
    )
    assert [s.fn for s in qwen3_call(None, off)._attempt.plan] == [CHAT]
    assert [s.fn for s in qwen3_call(False, off)._attempt.plan] == [CHAT]
    assert [s.fn for s in qwen3_call(True, off)._attempt.plan] == ["thinking", CHAT]
    # A follow-up of a session that holds the history sends only the new message.
    join = qwen3_call(None, off).next_request()
    assert join is not None and join.json is not None and join.json["data"][0] == "hi"


def test_reasoning_streams_as_its_own_deltas_and_the_error_span_is_not_answer() -> None:
    call = qwen3_call(None)
    open_stream(call, "c1")
    first = {
        "msg": "process_generating",
        "event_id": "c1",
        "success": True,
        "output": {"data": answer_turn("Fo", "Let me")},
    }
    more = {
        "msg": "process_generating",
        "event_id": "c1",
        "success": True,
        "output": {
            "data": [
                [],
                [],
                [],
                [],
                [],
                [
                    ["append", ["value", 1, "content", 0, "content"], " think"],
                    ["append", ["value", 1, "content", 1, "content"], "ur"],
                    [
                        "add",
                        ["value", 1, "content", 2],
                        {
                            "type": "text",
                            "content": '<span style="color: var(--color-red-500)">Upstream &amp; down</span>',
                        },
                    ],
                ],
                [],
            ]
        },
    }
    failed = {
        "msg": "process_completed",
        "event_id": "c1",
        "success": False,
        "output": {"error": None},
    }
    events = call.feed(sse(first) + sse(more) + sse(failed))
    assert [e.text for e in events if isinstance(e, qs.Reasoning)] == ["Let me", " think"]
    assert [e.text for e in events if isinstance(e, qs.TextDelta)] == ["Fo", "ur"]
    with pytest.raises(qs.SpaceError) as info:
        call.end_of_stream()
    with pytest.raises(qs.SpaceError) as final:
        call.next_attempt(info.value)
    assert final.value.message == "the Space reported an error: Upstream & down"
    assert final.value.partial_text == "Four" and final.value.partial_reasoning == "Let me think"


def test_a_layout_without_side_functions_plans_only_the_chat() -> None:
    state = ConversationState(QWEN_MAX.model)
    call = ChatCall(
        QWEN_MAX, "http://space", [{"role": "user", "content": "hi"}], state, clock=CLOCK
    )
    assert call._attempt.plan == (Stage(Step.CONFIG), Stage(Step.JOIN))


def test_without_config_the_toggle_is_a_clear_error_not_a_guess() -> None:
    spec = resolve_model("qwen-3-8b")
    state = ConversationState(spec.model)
    call = ChatCall(
        spec,
        "http://space",
        [{"role": "user", "content": "hi"}],
        state,
        endpoints=spec.fallback,
        thinking=False,
        clock=CLOCK,
    )
    with pytest.raises(qs.SpaceError, match="'thinking' function"):
        call.next_request()


def test_a_history_the_session_does_not_hold_starts_a_fresh_session() -> None:
    held = ConversationState(
        "qwen-3-32b",
        messages=[
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
        ],
        session=SpaceSession("s1", 2, False),
    )
    spec = resolve_model("qwen-3-32b")
    more = [
        *held.messages,
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
        {"role": "user", "content": "e"},
    ]
    call = ChatCall(spec, "http://space", more, held, endpoints=QWEN3_IDS, clock=CLOCK)
    # The old session had thinking off: the new one is switched off too
    # before the whole history goes in its first message.
    assert [s.fn for s in call._attempt.plan] == ["thinking", CHAT]
    run_toggle(call)
    join = call.next_request()
    assert join is not None and join.json is not None
    assert join.json["session_hash"] != "s1"
    assert join.json["data"][0] == "User: a\nAssistant: b\nUser: c\nAssistant: d\nUser: e"
