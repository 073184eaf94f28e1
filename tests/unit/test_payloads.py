"""User input -> checked messages -> request bodies for both Spaces."""

from __future__ import annotations

from typing import Any

import pytest

from qwen_spaces.payloads import (
    chatbot_value,
    flatten,
    join_body,
    max_data,
    new_session_hash,
    normalize_messages,
    onem_data,
    predict_body,
    split_messages,
)
from qwen_spaces.spaces import QWEN_1M, QWEN_MAX


def test_a_str_is_one_user_message() -> None:
    assert normalize_messages("hi") == [{"role": "user", "content": "hi"}]


def test_text_parts_are_joined() -> None:
    msgs = [{"role": "user", "content": [{"type": "text", "text": "a"}, "b"]}]
    assert normalize_messages(msgs)[0]["content"] == "ab"


@pytest.mark.parametrize(
    ("messages", "error", "match"),
    [
        ("", ValueError, "empty"),
        ("   ", ValueError, "empty"),
        ([], ValueError, "empty"),
        (b"hi", TypeError, "str or a list"),
        (42, TypeError, "str or a list"),
        (["hi"], TypeError, r"messages\[0\] must be a dict"),
        ([{"role": "tool", "content": "x"}], ValueError, "role 'tool'"),
        ([{"role": "user", "content": 5}], TypeError, "content must be a str"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}], TypeError, "not text"),
        ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], ValueError, "last message"),
        ([{"role": "system", "content": "s"}], ValueError, "last message"),
        ([{"role": "user", "content": " "}], ValueError, "empty"),
    ],
)
def test_bad_input_gets_a_clear_error(messages: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        normalize_messages(messages)


def test_split_gives_system_pairs_and_query() -> None:
    prompt = split_messages(
        normalize_messages(
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "u1"},
                {"role": "assistant", "content": "a1"},
                {"role": "user", "content": "u2"},
                {"role": "assistant", "content": "a2"},
                {"role": "user", "content": "q"},
            ]
        )
    )
    assert prompt.system == "Be brief."
    assert prompt.history == [("u1", "a1"), ("u2", "a2")]
    assert prompt.query == "q"


def test_consecutive_user_messages_are_merged_into_one_turn() -> None:
    prompt = split_messages(
        normalize_messages([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    )
    assert prompt.history == [] and prompt.query == "a\n\nb"


def test_max_body_sends_real_history_and_default_system() -> None:
    prompt = split_messages(
        normalize_messages(
            [
                {"role": "user", "content": "u1"},
                {"role": "assistant", "content": "a1"},
                {"role": "user", "content": "q"},
            ]
        )
    )
    body = join_body(QWEN_MAX.fallback, max_data(prompt, QWEN_MAX.fallback, QWEN_MAX.default_system), "abc")
    assert body == {
        "data": ["q", [["u1", "a1"]], "You are a helpful assistant."],
        "event_data": None,
        "fn_index": 0,
        "trigger_id": 11,
        "session_hash": "abc",
    }


def test_history_shapes_for_each_chatbot_type() -> None:
    history = [("u", "a")]
    assert chatbot_value(history, "tuples") == [["u", "a"]]
    assert chatbot_value(history, "messages_str") == [
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a"},
    ]
    assert chatbot_value(history, "messages")[1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "a"}],
    }
    legacy = chatbot_value(history, "ms_legacy")
    assert legacy[0][0]["text"] == "u" and legacy[0][1][0]["text"] == "a"


def test_onem_predict_and_join_bodies() -> None:
    predict = predict_body(QWEN_1M.fallback, "hello", "h1")
    assert predict["data"] == [{"files": [], "text": "hello"}, [], []]
    assert (predict["fn_index"], predict["trigger_id"]) == (1, 5)
    data = onem_data(None, "hello")
    assert data[1:] == [None, 0]
    assert data[0][0][0]["text"] == "hello" and data[0][0][1] is None
    returned = [[{"text": "from predict"}, None]]
    assert onem_data(returned, "x")[0] is returned


def test_flatten_lone_message_is_sent_as_is() -> None:
    assert flatten([{"role": "user", "content": "hi"}]) == "hi"


def test_flatten_conversation_into_lines() -> None:
    msgs = normalize_messages(
        [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "U"},
            {"role": "assistant", "content": "A"},
            {"role": "user", "content": "Q"},
        ]
    )
    assert flatten(msgs) == "System: S\nUser: U\nAssistant: A\nUser: Q"


def test_session_hash_is_12_hex_and_fresh() -> None:
    a, b = new_session_hash(), new_session_hash()
    assert len(a) == 12 and int(a, 16) >= 0 and a != b
