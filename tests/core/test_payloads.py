"""User input -> checked messages -> request bodies for both Spaces."""

from __future__ import annotations

from typing import Any

import pytest

from qwen_spaces._client.messages import normalize_history, normalize_messages
from qwen_spaces._events import SpaceSession, new_session_hash
from qwen_spaces._gradio.payloads import chatbot_value, flatten, function_body, split_messages
from qwen_spaces._spaces.adapters import CallInput, Stage, Step
from qwen_spaces._spaces.spaces import QWEN_1M, QWEN_MAX


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
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}],
            ValueError,
            "not supported",
        ),
        ([{"role": "user", "content": [{"text": 5}]}], TypeError, "not text"),
        (
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            ValueError,
            "last message",
        ),
        ([{"role": "system", "content": "s"}], ValueError, "last message"),
        ([{"role": "user", "content": " "}], ValueError, "empty"),
    ],
)
def test_bad_input_gets_a_clear_error(messages: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        normalize_messages(messages)


def test_developer_is_a_system_message_and_name_is_ignored() -> None:
    msgs = [
        {"role": "developer", "content": "Be brief.", "name": "ops"},
        {"role": "user", "content": "hi", "name": "alice"},
    ]
    assert normalize_messages(msgs) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert split_messages(normalize_messages(msgs)).system == "Be brief."


@pytest.mark.parametrize(
    "assistant", [{"role": "assistant", "content": None}, {"role": "assistant"}]
)
def test_an_assistant_message_without_content_is_skipped(assistant: dict[str, Any]) -> None:
    msgs = [{"role": "user", "content": "a"}, assistant, {"role": "user", "content": "b"}]
    assert normalize_messages(msgs) == [
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
    ]


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
            r"role 'tool': tool results are not supported",
        ),
        ({"role": "function", "name": "f", "content": "42"}, r"role 'function': function results"),
        (
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function"}],
            },
            r"tool_calls: tool and function calls are not supported",
        ),
        (
            {"role": "assistant", "content": "", "function_call": {"name": "f"}},
            r"function_call: .*not supported",
        ),
        (
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "..."}}]},
            r"'input_audio' part: images, audio and files are not supported; expected text parts",
        ),
        ({"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}, r"'file' part"),
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            r"'image_url' part",
        ),
        (
            {"role": "user", "content": [{"type": "video", "video": "x"}]},
            r"type 'video'; expected text parts",
        ),
        (
            {"role": "critic", "content": "x"},
            r"role 'critic'; expected 'system', 'developer', 'user' or 'assistant'",
        ),
    ],
)
def test_unsupported_openai_features_say_so(message: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        normalize_messages([message, {"role": "user", "content": "q"}])


def test_a_user_message_with_none_content_is_still_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"messages\[0\] content must be a str"):
        normalize_messages([{"role": "user", "content": None}])


def test_history_may_end_with_an_answer_and_maps_developer() -> None:
    msgs = [
        {"role": "developer", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": None},
        {"role": "assistant", "content": "a"},
    ]
    assert normalize_history(msgs) == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a"},
    ]
    with pytest.raises(TypeError):
        normalize_history("hi")


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


def _input(messages: list[dict[str, str]], **options: Any) -> CallInput:
    return CallInput(normalize_messages(messages), SpaceSession("abc"), **options)


def test_max_body_sends_real_history_and_default_system() -> None:
    call = _input(
        [
            {"role": "user", "content": "u1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q"},
        ]
    )
    endpoints = QWEN_MAX.fallback
    data, first = QWEN_MAX.adapter.join_data(endpoints, call, {})
    body = function_body((endpoints.fn_index, endpoints.trigger_id), data, "abc")
    assert first == 1
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


def test_onem_plan_predict_and_join_bodies() -> None:
    adapter, endpoints = QWEN_1M.adapter, QWEN_1M.fallback
    call = _input([{"role": "user", "content": "hello"}])
    assert [(s.step.value, s.fn) for s in adapter.plan(call, {})] == [
        ("predict", "add_text"),
        ("join", "chat"),
    ]
    assert adapter.plan(call, {"add_text": None}) == (Stage(Step.JOIN),)
    assert adapter.side_data("add_text", endpoints, call, {}) == [
        {"files": [], "text": "hello"},
        [],
        [],
    ]
    assert endpoints.ids("add_text") == (1, 5)
    data, first = adapter.join_data(endpoints, call, {"add_text": None})
    assert data[1:] == [None, 0] and first == 0
    assert data[0][0][0]["text"] == "hello" and data[0][0][1] is None
    returned = [[{"text": "from predict"}, None]]
    assert adapter.join_data(endpoints, call, {"add_text": returned})[0][0] is returned


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
