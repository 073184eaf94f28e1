"""The SSE decoder: bytes cut anywhere give the same events."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwen_spaces._errors import ProtocolError
from qwen_spaces._gradio.sse import SSEDecoder

MESSAGES = [
    {"msg": "estimation", "event_id": "e1", "rank": 0, "queue_size": 1, "rank_eta": 1.5},
    {"msg": "process_generating", "output": {"data": ["", [["append", [0, 1], "naïve ☕ 你好"]]]}},
    {"msg": "heartbeat", "event_id": None},
    {"msg": "process_completed", "output": {"data": ["done 😀"]}, "success": True},
]
STREAM = b"".join(
    b"data: " + json.dumps(m, ensure_ascii=False).encode() + b"\n\n" for m in MESSAGES
)
EXPECTED = [json.dumps(m, ensure_ascii=False) for m in MESSAGES]


def feed_all(decoder: SSEDecoder, chunks: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


def test_whole_stream_in_one_chunk_gives_every_payload() -> None:
    assert feed_all(SSEDecoder(), [STREAM]) == EXPECTED


def test_every_single_cut_point_gives_the_same_events() -> None:
    for i in range(len(STREAM) + 1):
        assert feed_all(SSEDecoder(), [STREAM[:i], STREAM[i:]]) == EXPECTED, i


def test_one_byte_at_a_time_keeps_multibyte_characters_whole() -> None:
    out = feed_all(SSEDecoder(), [STREAM[i : i + 1] for i in range(len(STREAM))])
    assert out == EXPECTED
    assert json.loads(out[1])["output"]["data"][1][0][2] == "naïve ☕ 你好"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_property_splitting_anywhere_gives_the_same_events(cuts: list[int]) -> None:
    assert feed_all(SSEDecoder(), split_at(STREAM, cuts)) == EXPECTED


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=20),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_property_crlf_and_cr_line_ends_are_the_same_as_lf(cuts: list[int], eol: bytes) -> None:
    stream = STREAM.replace(b"\n", eol)
    assert feed_all(SSEDecoder(), split_at(stream, cuts)) == EXPECTED


def test_multiline_data_comments_and_other_fields() -> None:
    raw = b": comment\nevent: message\nid: 7\ndata: first\ndata:second\nretry: 10\n\n"
    assert SSEDecoder().feed(raw) == ["first\nsecond"]


def test_event_without_data_is_not_dispatched() -> None:
    assert SSEDecoder().feed(b": keepalive\n\nevent: ping\n\n") == []


def test_incomplete_event_waits_for_its_separator() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: {}") == []
    assert d.buffered == 8
    assert d.feed(b"\n") == []
    assert d.feed(b"\n") == ["{}"]


def test_event_over_the_limit_raises_protocol_error_without_buffering_it_all() -> None:
    d = SSEDecoder(max_event_bytes=1000)
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        for _ in range(100):
            d.feed(b"x" * 100)
    assert d.buffered == 0


def test_complete_event_over_the_limit_in_one_chunk_raises() -> None:
    with pytest.raises(ProtocolError):
        SSEDecoder(max_event_bytes=10).feed(b"data: " + b"y" * 50 + b"\n\n")


def test_large_event_dribbled_in_small_chunks_is_linear() -> None:
    # 4 MiB in 4 KiB pieces: quadratic buffering would take seconds here.
    d = SSEDecoder()
    piece = b"z" * 4096
    assert d.feed(b"data: ") == []
    for _ in range(1024):
        d.feed(piece)
    (payload,) = d.feed(b"\n\n")
    assert len(payload) == 4 * 1024 * 1024


def test_zero_or_negative_limit_is_rejected() -> None:
    with pytest.raises(ValueError):
        SSEDecoder(max_event_bytes=0)
