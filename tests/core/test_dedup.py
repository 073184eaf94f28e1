"""Snapshots and diffs of a chatbot -> exactly-once answer deltas."""

from __future__ import annotations

from typing import Any

import pytest

from qwen_spaces._errors import ProtocolError
from qwen_spaces._events import Event, Reasoning, TextDelta
from qwen_spaces._gradio.dedup import AnswerTracker, locate_answer
from qwen_spaces._spaces.adapters.agent import THINKING, FooterCleaner, clean_onem


def texts(events: list[Event]) -> str:
    out = ""
    for e in events:
        if isinstance(e, TextDelta):
            out = out[: len(out) - e.backtrack] + e.text
    return out


def max_tracker(first: int = 0) -> AnswerTracker:
    return AnswerTracker("tuples", 1, first)


def test_append_diff_on_last_pair_yields_delta() -> None:
    t, out = max_tracker(), []
    t.full(["", [["hi", "Hel"]], "sys"], out)
    t.diff([[], [["append", [0, 1], "lo"]], []], out)
    assert out == [TextDelta("Hel"), TextDelta("lo")]
    assert t.text == "Hello"


def test_repeated_words_are_all_kept() -> None:
    t, out = max_tracker(), []
    t.full(["", [["q", "ha"]], ""], out)
    for piece in [" ha", " ha", " ha"]:
        t.diff([[], [["append", [0, 1], piece]], []], out)
    assert t.text == "ha ha ha ha"
    assert "".join(e.text for e in out if isinstance(e, TextDelta)) == "ha ha ha ha"


def test_history_pairs_are_never_the_answer() -> None:
    t, out = max_tracker(first=1), []
    t.full(["", [["old q", "old answer"], ["new q", None]], ""], out)
    assert out == [] and not t.located
    t.full(["", [["old q", "old answer"], ["new q", "new"]], ""], out)
    assert out == [TextDelta("new")]


def test_completed_full_value_equal_to_streamed_text_adds_nothing() -> None:
    t, out = max_tracker(), []
    t.full(["", [["q", "a"]], ""], out)
    t.diff([[], [["append", [0, 1], "b"]], []], out)
    t.full(["", [["q", "ab"]], ""], out, final=True)
    assert out == [TextDelta("a"), TextDelta("b")]


def test_replace_that_extends_gives_the_suffix() -> None:
    t, out = max_tracker(), []
    t.full(["", [["q", "abc"]], ""], out)
    t.diff([[], [["replace", [0, 1], "abcdef"]], []], out)
    assert out[-1] == TextDelta("def")


def test_non_prefix_rewrite_backtracks_exactly() -> None:
    t, out = max_tracker(), []
    t.full(["", [["q", "Hello  world"]], ""], out)
    t.diff([[], [["replace", [0, 1], "Hello world!"]], []], out)
    assert out[-1] == TextDelta("world!", backtrack=6)
    assert texts(out) == t.text == "Hello world!"


def test_fast_appends_then_a_slow_op_keep_the_text_whole() -> None:
    t, out = max_tracker(), []
    t.full(["", [["q", "a"]], ""], out)
    t.diff([[], [["append", [0, 1], "b"]], []], out)
    t.diff([[], [["append", [0, 1], "c"]], []], out)
    # A new pair appears (some Spaces add turns): the old answer is materialised first.
    t.diff([[], [["add", [1], ["q2", "x"]]], []], out)
    assert t.value[0][1] == "abc"


def test_messages_chatbot_append_path() -> None:
    t, out = AnswerTracker("messages", 1, 0), []
    value = [
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]},
    ]
    t.full(["", value, ""], out)
    t.diff([[], [["append", [1, "content", 0, "text"], " there"]], []], out)
    assert t.text == "Hi there" and out == [TextDelta("Hi"), TextDelta(" there")]


def test_messages_str_content() -> None:
    t, out = AnswerTracker("messages_str", 1, 0), []
    t.full(["", [{"role": "user", "content": "q"}, {"role": "assistant", "content": "A"}], ""], out)
    t.diff([[], [["append", [1, "content"], "B"]], []], out)
    assert t.text == "AB"


def onem(text: str) -> list[Any]:
    return [[[{"text": "q"}, [{"text": text, "flushing": True}]]], None]


def test_onem_thinking_placeholder_is_reasoning_not_text() -> None:
    t, out = AnswerTracker("ms_legacy", 0, 0, FooterCleaner()), []
    t.full(onem(THINKING), out)
    t.diff([[["replace", [0, 1, 0, "text"], "Hello"]], []], out)
    assert out == [Reasoning(THINKING), TextDelta("Hello")]
    assert t.reasoning == THINKING and t.text == "Hello"


def test_onem_changing_summary_footer_is_stripped() -> None:
    t, out = AnswerTracker("ms_legacy", 0, 0, FooterCleaner()), []
    t.full(onem("Hel\n<summary>1 token</summary>"), out)
    t.diff([[["replace", [0, 1, 0, "text"], "Hello\n<summary>2 tokens</summary>"]], []], out)
    t.diff([[["replace", [0, 1, 0, "text"], "Hello ha ha\n<summary>5 tokens</summary>"]], []], out)
    t.full(onem("Hello ha ha\n<summary>done</summary>"), out, final=True)
    assert texts(out) == t.text == "Hello ha ha"
    assert all(e.backtrack == 0 for e in out if isinstance(e, TextDelta))


def test_onem_appends_without_footer_take_the_fast_path() -> None:
    t, out = AnswerTracker("ms_legacy", 0, 0, FooterCleaner()), []
    t.full(onem("a"), out)
    t.diff([[["append", [0, 1, 0, "text"], "b"]], []], out)
    t.diff([[["append", [0, 1, 0, "text"], "c"]], []], out)
    assert texts(out) == "abc"


def test_onem_append_that_opens_a_footer_is_held_back() -> None:
    t, out = AnswerTracker("ms_legacy", 0, 0, FooterCleaner()), []
    t.full(onem("answer"), out)
    t.diff([[["append", [0, 1, 0, "text"], "\n<sum"]], []], out)
    assert texts(out) == "answer"
    t.diff([[["append", [0, 1, 0, "text"], "mary>x</summary>"]], []], out)
    assert texts(out) == "answer"


def test_clean_onem_keeps_text_after_a_closed_summary() -> None:
    assert clean_onem("a <summary>b</summary> c", final=True) == ("a <summary>b</summary> c", "")


def test_locate_answer_in_ms_legacy_skips_null_bot_cells() -> None:
    value = [[{"text": "q"}, [{"text": "a"}]], [{"text": "q2"}, None]]
    assert locate_answer(value, "ms_legacy", 0) == [0, 1, 0, "text"]
    assert locate_answer(value, "ms_legacy", 1) is None


def test_diff_before_full_value_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        max_tracker().diff([[], [["append", [0, 1], "x"]], []], [])


def test_per_message_work_does_not_grow_with_the_text() -> None:
    # The fast path must not copy the text: the value's string stays stale.
    t, out = max_tracker(), []
    t.full(["", [["q", ""]], ""], out)
    for _ in range(1000):
        t.diff([[], [["append", [0, 1], "xy"]], []], out)
    assert t.value[0][1] == ""  # not materialised while only appends arrive
    assert t.text == "xy" * 1000


def test_first_message_with_root_replace_ops_is_applied_not_taken_as_a_value() -> None:
    # Gradio 4 reuses a stale diff state when a new iterator gets a freed id().
    t, out = AnswerTracker("ms_legacy", 0, 0, FooterCleaner()), []
    t.full([[["replace", [], onem("Hello")[0]]], []], out)
    t.diff([[["append", [0, 1, 0, "text"], " there"]], []], out)
    assert t.text == "Hello there" and texts(out) == "Hello there"
