"""Gradio's diff ops, HTTP error answers and failure messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from qwen_spaces._errors import ProtocolError, QueueFullError, SpaceHTTPError
from qwen_spaces._gradio.gradio import (
    apply_diff,
    check_response,
    failure_message,
    parse_retry_after,
)


def test_replace_at_root_returns_the_new_value() -> None:
    assert apply_diff("old", [["replace", [], "new"]]) == "new"


def test_append_at_root_concatenates() -> None:
    assert apply_diff("ab", [["append", [], "cd"]]) == "abcd"


def test_append_to_a_pair_cell() -> None:
    value = [["hi", "Hel"]]
    assert apply_diff(value, [["append", [0, 1], "lo"]]) == [["hi", "Hello"]]


def test_append_inside_a_messages_chatbot() -> None:
    value = [
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
    ]
    apply_diff(value, [["append", [1, "content", 0, "text"], "bc"]])
    assert value[1]["content"][0]["text"] == "abc"


def test_add_inserts_into_a_list_and_sets_a_dict_key() -> None:
    value: Any = [["a", "b"], {"k": 1}]
    apply_diff(value, [["add", [1], ["x", None]], ["add", [2, "j"], 2]])
    assert value == [["a", "b"], ["x", None], {"k": 1, "j": 2}]


def test_delete_removes_list_items_and_dict_keys() -> None:
    value: Any = {"a": [1, 2, 3], "b": 4}
    apply_diff(value, [["delete", ["b"], None], ["delete", ["a", 0], None]])
    assert value == {"a": [2, 3]}


def test_unshifted_list_deletes_are_applied_highest_index_first() -> None:
    # Gradio before 5.29.1: deleting items 1 and 2 of [a, b, c, d] said "1, 2".
    value = ["a", "b", "c", "d"]
    assert apply_diff(value, [["delete", [1], None], ["delete", [2], None]]) == ["a", "d"]


def test_deletes_already_in_descending_order_stay_correct() -> None:
    value = ["a", "b", "c", "d"]
    assert apply_diff(value, [["delete", [2], None], ["delete", [1], None]]) == ["a", "d"]


def test_replace_nested_value() -> None:
    value = [["q", [{"text": "Qwen is thinking..."}]]]
    apply_diff(value, [["replace", [0, 1, 0, "text"], "Hello"]])
    assert value[0][1][0]["text"] == "Hello"


def test_a_path_that_does_not_exist_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="cannot apply a diff"):
        apply_diff([["q", "a"]], [["append", [5, 1], "x"]])


def test_an_unknown_action_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="unknown diff action"):
        apply_diff([1], [["move", [0], None]])


def test_empty_diff_leaves_value_alone() -> None:
    value = [["q", "a"]]
    before = copy.deepcopy(value)
    assert apply_diff(value, []) == before


def test_queue_full_503_becomes_queue_full_error() -> None:
    body = b'{"detail": "Queue is full. Max size is 1 and size is 1."}'
    with pytest.raises(QueueFullError, match="Queue is full"):
        check_response(503, {}, body, "http://x/queue/join")


def test_html_502_becomes_http_error_with_a_short_excerpt() -> None:
    body = b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 5000 + b"</body>"
    with pytest.raises(SpaceHTTPError) as info:
        check_response(502, {}, body, "http://x/queue/join")
    assert info.value.status_code == 502
    assert "502 Bad Gateway" in str(info.value)
    assert len(info.value.body_excerpt) <= 300


def test_429_carries_retry_after() -> None:
    with pytest.raises(SpaceHTTPError) as info:
        check_response(429, {"Retry-After": "1"}, b"slow down", "u")
    assert info.value.retry_after == 1.0


def test_success_passes() -> None:
    check_response(200, {}, b"{}", "u")


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None


def test_failure_without_a_reason_says_so() -> None:
    message = {"msg": "process_completed", "success": False, "output": {"error": None}}
    assert "did not give a reason" in failure_message(message)


def test_failure_with_a_message_carries_it() -> None:
    message = {"msg": "process_completed", "success": False, "output": {"error": "GPU quota"}}
    assert "GPU quota" in failure_message(message)


def test_unexpected_error_message_is_used() -> None:
    assert "Session not found" in failure_message(
        {"msg": "unexpected_error", "message": "404: Session not found."}
    )
