"""The server's pure parts: request checks, the 1M session LRU, the error table."""

from __future__ import annotations

from typing import Any

import pytest

import qwen_spaces as qs
from qwen_spaces._events import ConversationState
from qwen_spaces._server.errors import APIError, from_sdk_error
from qwen_spaces._server.parse import parse_chat_request
from qwen_spaces._server.sessions import SessionCache, history_key

SERVED = {"qwen-2.5-max": None, "qwen-2.5-1m": None}
HI = [{"role": "user", "content": "hi"}]


def parse(**body: Any) -> Any:
    return parse_chat_request({"model": "qwen-2.5-max", "messages": HI, **body}, SERVED)


def test_a_request_is_normalized_and_unknown_fields_are_ignored() -> None:
    chat = parse_chat_request(
        {
            "model": "Qwen-2-5-Max",
            "temperature": 0.5,
            "max_tokens": 3,
            "whatever": [1],
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [
                {"role": "system", "content": "s", "name": "x"},
                {"role": "user", "content": [{"type": "text", "text": "a"}, "b"]},
            ],
        },
        SERVED,
    )
    assert chat.model == "qwen-2.5-max"  # an alias, any case
    assert chat.messages == [{"role": "system", "content": "s"}, {"role": "user", "content": "ab"}]
    assert chat.stream and chat.include_usage


@pytest.mark.parametrize(
    "body, status, param",
    [
        ({"tools": [{"type": "function"}]}, 400, "tools"),
        ({"functions": [{"name": "f"}]}, 400, "functions"),
        ({"tool_choice": "required"}, 400, "tool_choice"),
        ({"n": 2}, 400, "n"),
        ({"n": 0}, 400, "n"),
        ({"stream_options": "yes"}, 400, "stream_options"),
        ({"model": 5}, 400, "model"),
        ({"model": "qwen-3"}, 404, "model"),
        ({"messages": []}, 400, "messages"),
        ({"messages": [{"role": "user", "content": {"a": 1}}]}, 400, "messages"),
    ],
)
def test_what_cannot_be_carried_is_a_client_error_naming_the_field(
    body: dict[str, Any], status: int, param: str
) -> None:
    with pytest.raises(APIError) as caught:
        parse(**body)
    assert (caught.value.status, caught.value.param) == (status, param)
    assert set(caught.value.body()["error"]) == {"message", "type", "param", "code"}


def test_empty_tools_and_tool_choice_none_are_fine() -> None:
    assert parse(tools=[], tool_choice="none", n=1).messages == HI


def test_a_model_served_nowhere_here_is_404_even_if_known() -> None:
    with pytest.raises(APIError) as caught:
        parse_chat_request({"model": "qwen-2.5-1m", "messages": HI}, {"qwen-2.5-max": None})
    assert caught.value.status == 404 and caught.value.code == "model_not_found"


def state(session: str, messages: list[dict[str, str]]) -> ConversationState:
    return ConversationState("qwen-2.5-1m", session, [dict(m) for m in messages], len(messages))


def turn(n: int) -> list[dict[str, str]]:
    out = []
    for i in range(n):
        out += [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
    return out


def test_a_follow_up_takes_its_session_once_and_a_fork_gets_none() -> None:
    cache = SessionCache()
    cache.put(state("s1", turn(1)))
    follow = [*turn(1), {"role": "user", "content": "next"}]
    found = cache.take("qwen-2.5-1m", follow)
    assert found is not None
    assert (found.session_hash, found.messages, found.synced) == ("s1", turn(1), 2)
    # Taken: a second request extending the same history (a fork) starts fresh.
    assert cache.take("qwen-2.5-1m", [*turn(1), {"role": "user", "content": "other"}]) is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_sessions_are_keyed_on_model_roles_and_content() -> None:
    cache = SessionCache()
    cache.put(state("s1", turn(1)))
    follow = [*turn(1), {"role": "user", "content": "next"}]
    assert cache.take("qwen-2.5-max", follow) is None
    changed = [{"role": "system", "content": "q0"}, *turn(1)[1:], follow[-1]]
    assert cache.take("qwen-2.5-1m", changed) is None
    same = [{"role": "user", "content": "a"}]
    assert history_key("m", same) == history_key("m", [dict(same[0])])
    assert history_key("m", same) != history_key("m", [{"role": "system", "content": "a"}])


def test_the_lru_is_bounded_in_entries_and_age() -> None:
    now = [0.0]
    cache = SessionCache(max_entries=3, max_age=60, clock=lambda: now[0])
    for i in range(5):
        cache.put(state(f"s{i}", turn(i + 1)))
    assert len(cache) == 3
    assert cache.take("qwen-2.5-1m", [*turn(1), {"role": "user", "content": "x"}]) is None
    assert cache.take("qwen-2.5-1m", [*turn(5), {"role": "user", "content": "x"}]) is not None
    now[0] = 61.0
    assert cache.take("qwen-2.5-1m", [*turn(4), {"role": "user", "content": "x"}]) is None
    off = SessionCache(max_entries=0)
    off.put(state("s", turn(1)))
    assert len(off) == 0


def test_sdk_errors_map_to_statuses() -> None:
    cases: list[tuple[qs.QwenSpacesError, int, str]] = [
        (qs.QueueFullError("Queue is full.", retry_after=7), 429, "queue_full"),
        (qs.SpaceTimeoutError("read", 5), 504, "space_timeout"),
        (qs.SpaceError("the Space reported an error: boom"), 502, "space_error"),
        (qs.SpaceConnectionError("cannot reach"), 502, "space_unreachable"),
        (qs.ProtocolError("odd"), 502, "space_protocol_error"),
        (qs.QwenSpacesError("other"), 502, "space_failure"),
    ]
    for error, status, code in cases:
        mapped = from_sdk_error(error)
        assert (mapped.status, mapped.code) == (status, code), error
    assert from_sdk_error(cases[0][0]).headers() == {"Retry-After": "7"}
    # The partial answer stays out of the message.
    late = from_sdk_error(qs.SpaceError("boom", partial_text="secret answer"))
    assert "characters" not in late.message and late.message == "boom"


def test_file_parts_of_the_last_user_message_become_files_and_leave_the_text() -> None:
    part = {
        "type": "file",
        "file": {"filename": "a.txt", "file_data": "data:text/plain;base64,aGk="},
    }
    old = {"type": "file", "file": {"filename": "old.txt", "file_data": "b2xk"}}
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "first"}, old]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "read"}, part]},
    ]
    chat = parse_chat_request({"model": "qwen-2.5-1m", "messages": messages}, SERVED)
    assert chat.files == (("a.txt", b"hi"),)  # the earlier file went with its own turn
    assert [m["content"] for m in chat.messages] == ["first", "ok", "read"]


@pytest.mark.parametrize(
    ("file", "says"),
    [
        ({"filename": "a.txt", "file_data": "not base64!"}, "not base64"),
        ({"file_data": "aGk="}, "filename"),
        ({"file_id": "file-123"}, "file_id"),
    ],
)
def test_a_bad_file_part_is_a_400_naming_the_message(file: dict[str, Any], says: str) -> None:
    messages = [{"role": "user", "content": [{"type": "file", "file": file}]}]
    with pytest.raises(APIError) as info:
        parse_chat_request({"model": "qwen-2.5-1m", "messages": messages}, SERVED)
    assert info.value.status == 400 and says in info.value.message
    assert info.value.param == "messages[0]"
