"""A UTF-8 byte-order mark opening an event stream is ignored, as the SSE spec says."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qwen_spaces._gradio.sse import SSEDecoder
from tests.core.test_sse import EXPECTED, STREAM, feed_all, split_at

BOM = "\ufeff".encode()


def test_a_bom_before_the_first_event_is_skipped() -> None:
    assert feed_all(SSEDecoder(), [BOM + STREAM]) == EXPECTED


def test_a_bom_alone_in_the_first_chunk_is_skipped() -> None:
    assert feed_all(SSEDecoder(), [BOM, STREAM]) == EXPECTED


def test_a_bom_cut_at_every_point_is_skipped() -> None:
    data = BOM + STREAM
    for i in range(1, 8):
        for j in range(i, 9):
            chunks = [data[:i], data[i:j], data[j:]]
            assert feed_all(SSEDecoder(), chunks) == EXPECTED, (i, j)


def test_a_bom_dribbled_byte_by_byte_is_skipped() -> None:
    data = BOM + STREAM
    assert feed_all(SSEDecoder(), [data[i : i + 1] for i in range(len(data))]) == EXPECTED


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_property_a_bom_and_any_cuts_give_the_same_events(cuts: list[int], eol: bytes) -> None:
    data = BOM + STREAM.replace(b"\n", eol)
    assert feed_all(SSEDecoder(), split_at(data, cuts)) == EXPECTED


def test_only_one_bom_and_only_at_the_start() -> None:
    # A second BOM is part of the first line (an unknown field): that event is not data.
    assert feed_all(SSEDecoder(), [BOM + BOM + STREAM]) == EXPECTED[1:]
    # Later in the stream a BOM is content, as in any other line.
    d = SSEDecoder()
    assert d.feed(b"data: a\n\n") == ["a"]
    assert d.feed(BOM + b"data: b\n\n") == []
    assert d.feed(b"data: " + BOM + b"c\n\n") == ["\ufeffc"]


def test_a_stream_that_starts_like_a_bom_but_is_not_one_is_kept() -> None:
    d = SSEDecoder()
    assert d.feed(b"\xef") == []
    assert d.buffered == 1
    # Not a BOM after all: the bytes are the stream's, decoded with replacement as before.
    assert d.feed(b"data: x\n\n") == []  # the first line's field is "\ufffddata": not data
    assert d.feed(b"data: y\n\n") == ["y"]
