"""The slotted value classes (``_value``) behave as the dataclasses they replace."""

from __future__ import annotations

import pytest

import qwen_spaces as qs
from qwen_spaces._core.policy import RetryPolicy, RetryState
from qwen_spaces._gradio.endpoints import Endpoints, Function
from qwen_spaces._patterns import LazyPattern
from qwen_spaces._transports.transport import TransportSettings


def test_events_compare_by_value_show_their_fields_and_are_not_hashable() -> None:
    delta = qs.TextDelta("hi")
    assert delta == qs.TextDelta("hi", 0) and delta != qs.TextDelta("hi", 1)
    assert delta != qs.Reasoning("hi")  # another type, same fields
    assert repr(delta) == "TextDelta(text='hi', backtrack=0)"
    assert repr(qs.QueueStatus(rank=2)) == (
        "QueueStatus(rank=2, queue_size=None, eta=None, started=False)"
    )
    with pytest.raises(TypeError):
        hash(delta)
    with pytest.raises(AttributeError):
        delta.other = 1  # type: ignore[attr-defined]  # slotted


def test_events_match_by_position_and_keyword() -> None:
    match qs.QueueStatus(3, 9, 1.5):
        case qs.QueueStatus(rank, size, eta, False):
            assert (rank, size, eta) == (3, 9, 1.5)
        case _:
            pytest.fail("no positional match")
    match qs.TextDelta("x", backtrack=2):
        case qs.TextDelta(text="x", backtrack=back):
            assert back == 2
        case _:
            pytest.fail("no keyword match")


def test_reply_fills_its_defaults_per_instance() -> None:
    a, b = qs.Reply("a", "m"), qs.Reply("b", "m")
    assert a.id != b.id and a.id.startswith("chatcmpl-")
    assert a.timings == {} and a.timings is not b.timings
    assert a.created > 0
    fixed = qs.Reply("a", "m", created=1.0, timings={"joined": 0.1}, id="chatcmpl-1")
    assert fixed == qs.Reply("a", "m", created=1.0, timings={"joined": 0.1}, id="chatcmpl-1")
    assert repr(fixed).startswith("Reply(text='a', model='m', reasoning='', conversation=None")


def test_frozen_values_hash_refuse_changes_and_replace() -> None:
    timeouts = qs.Timeouts(read=5)
    assert timeouts == qs.Timeouts(read=5) and hash(timeouts) == hash(qs.Timeouts(read=5))
    with pytest.raises(AttributeError, match="cannot assign to field 'read'"):
        timeouts.read = 1
    with pytest.raises(AttributeError):
        del timeouts.read
    shorter = timeouts.replace(total=30)
    assert (shorter.read, shorter.total, timeouts.total) == (5, 30, 900.0)
    with pytest.raises(ValueError, match="timeout total"):
        timeouts.replace(total=-1)  # checked again, as __post_init__ did
    assert RetryState(RetryPolicy(1)).replace(attempt=1) == RetryState(RetryPolicy(1), 1)
    ids = Endpoints("", 1, 2, 0, "tuples", (Function("add_text", 3, None),), True)
    assert {ids, ids.replace()} == {ids}


def test_transport_settings_keep_secrets_out_of_repr_and_hash_without_headers() -> None:
    settings = TransportSettings({"Authorization": "Bearer hf_x"}, proxy="http://u:pw@h:1")
    assert repr(settings) == "TransportSettings(verify=True, cert=None, trust_env=True)"
    assert hash(settings) == hash(TransportSettings({}, proxy="http://u:pw@h:1"))
    assert settings != TransportSettings({}, proxy="http://u:pw@h:1")  # == compares headers


def test_a_lazy_pattern_compiles_once_on_first_use() -> None:
    pattern = LazyPattern(r"a(b+)", 0)
    assert pattern._compiled is None
    found = pattern.search("xabbb")
    assert found is not None and found.group(1) == "bbb"
    compiled = pattern._compiled
    assert compiled is not None and pattern.sub("-", "ab ab") == "- -"
    assert pattern._compiled is compiled
