"""A failure in the event stream comes after the events that came before it, in one chunk too."""

from __future__ import annotations

import json
import time

import pytest

import qwen_spaces as qs
from qwen_spaces._core.call import ChatCall
from qwen_spaces._events import ConversationState
from qwen_spaces._spaces.adapters import Step
from qwen_spaces._spaces.spaces import QWEN_MAX


def sse(message: dict[str, object]) -> bytes:
    return f"data: {json.dumps(message)}\n\n".encode()


def streaming_call() -> ChatCall:
    state = ConversationState(model=QWEN_MAX.model, session_hash="abc")
    call = ChatCall(
        QWEN_MAX,
        "http://space",
        [{"role": "user", "content": "hi"}],
        state,
        endpoints=QWEN_MAX.fallback,
        clock=time.monotonic,
    )
    join = call.next_request()
    assert join is not None and join.step is Step.JOIN
    call.on_response(join, 200, {}, b'{"event_id": "e1"}')
    data = call.next_request()
    assert data is not None and call.on_headers(data, 200)
    return call


def test_events_before_a_failure_in_the_same_chunk_are_returned_then_it_is_raised() -> None:
    call = streaming_call()
    first = {
        "msg": "process_generating",
        "event_id": "e1",
        "success": True,
        "output": {"data": ["", [["hi", "Hello"]], "sys"]},
    }
    failed = {
        "msg": "process_completed",
        "event_id": "e1",
        "success": False,
        "output": {"error": "GPU quota exceeded"},
    }
    events = call.feed(sse(first) + sse(failed))
    assert [e.text for e in events if isinstance(e, qs.TextDelta)] == ["Hello"]
    assert call.finished and call.drain_budget() == (0.0, 0)  # no drain for a failed stream
    with pytest.raises(qs.SpaceError, match="GPU quota") as info:
        call.end_of_stream()
    with pytest.raises(qs.SpaceError) as final:
        call.next_attempt(info.value)  # text arrived: not retried
    assert final.value.partial_text == "Hello"


def test_an_unreadable_diff_after_text_keeps_the_text() -> None:
    call = streaming_call()
    first = {
        "msg": "process_generating",
        "event_id": "e1",
        "success": True,
        "output": {"data": ["", [["hi", "Hello"]], "sys"]},
    }
    bad = {
        "msg": "process_generating",
        "event_id": "e1",
        "success": True,
        "output": {"data": [[], [["frobnicate", [0, 1], "x"]], []]},
    }
    events = call.feed(sse(first) + sse(bad))
    assert [e.text for e in events if isinstance(e, qs.TextDelta)] == ["Hello"]
    with pytest.raises(qs.ProtocolError) as info:
        call.end_of_stream()
    with pytest.raises(qs.ProtocolError) as final:
        call.next_attempt(info.value)
    assert final.value.partial_text == "Hello"
