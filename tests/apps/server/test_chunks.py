"""The server's chunk template gives exactly ``json.dumps`` of each chunk (issue 17, point 6).

Content chunks are written through a template cut from the first one; every chunk
``OpenAIChunks`` generates, over varied, Unicode and escaping content, must come
out as the bytes of ``json.dumps`` of the same dict. And end to end: every event a
real server streams is its own JSON re-dumped.
"""

from __future__ import annotations

import http.client
import json
import random
from typing import Any

import pytest

from qwen_spaces._client.openai_format import OpenAIChunks
from qwen_spaces._events import Reasoning, TextDelta
from qwen_spaces._server.sse import ChunkEncoder
from qwen_spaces.testing import FakeSpace
from tests.support.server_harness import KEY, Serve, space_args

MARK = ChunkEncoder._MARK

TRICKY = [
    "plain words",
    " leading and trailing ",
    '"quoted"',
    "back\\slash",
    "\\u0041 literally",
    "new\nline\ttab\rcarriage",
    "\x00\x01\x1f\x7f controls",
    "café ☕ naïve",
    "😀 emoji 🇫🇷",
    "中文 日本語 한국어",
    "שלום مرحبا",
    "e\u0301 combining",
    "\u2028 line sep \u2029",
    "</script><!--",
    "\ufeff bom",
    "\U0010ffff top",
    MARK,
    f'"{MARK}"',
    "}" * 50,
    '{"content":"x"}',
    "x" * 10_000,
    "\\",
    '"',
    "\u0000",
]


def dumped(chunk: dict[str, Any]) -> bytes:
    text = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
    return b"data: " + text.encode("utf-8") + b"\n\n"


def random_texts(n: int, seed: int = 20) -> list[str]:
    rng = random.Random(seed)
    pool = [
        chr(c)
        for c in (*range(0, 0x80), 0xA0, 0xE9, 0x2028, 0x2029, 0x4E2D, 0xFEFF, 0x1F600, 0x10FFFF)
    ] + ['"', "\\", MARK]
    return ["".join(rng.choice(pool) for _ in range(rng.randint(1, 40))) for _ in range(n)]


@pytest.mark.parametrize("model", ["qwen-2.5-max", "qwen-2.5-1m", f'odd {MARK} model "é"'])
def test_every_generated_chunk_is_exactly_json_dumps_of_it(model: str) -> None:
    chunks = OpenAIChunks(model)
    generated: list[dict[str, Any]] = []
    for text in [*TRICKY, *random_texts(500)]:
        generated += chunks.convert(TextDelta(text))
    generated += chunks.convert(Reasoning('thinking "hard" ☕'))
    generated.append(chunks.finish())
    encode = ChunkEncoder().encode
    assert len(generated) == len(TRICKY) + 500 + 3
    for chunk in generated:
        assert encode(chunk) == dumped(chunk), chunk


def test_reasoning_chunks_interleaved_with_content_are_exactly_json_dumps_of_them() -> None:
    # Qwen3 streams reasoning_content chunks, then content: each key has its own template.
    chunks = OpenAIChunks("qwen-3-32b")
    generated: list[dict[str, Any]] = []
    for i, text in enumerate([*TRICKY, *random_texts(300, seed=3)]):
        event = Reasoning(text) if i % 3 else TextDelta(text)
        generated += chunks.convert(event)
    generated.append(chunks.finish())
    kinds = {next(iter(c["choices"][0]["delta"]), None) for c in generated}
    assert {"content", "reasoning_content"} <= kinds
    encode = ChunkEncoder().encode
    for chunk in generated:
        assert encode(chunk) == dumped(chunk), chunk


def test_the_template_follows_a_chunk_whose_other_fields_change() -> None:
    one, two = OpenAIChunks("qwen-2.5-max", id="chatcmpl-1"), OpenAIChunks("qwen-2.5-1m")
    two.created += 7
    encode = ChunkEncoder().encode
    for text in TRICKY:
        for chunks in (one, two):
            for chunk in chunks.convert(TextDelta(text)):
                assert encode(chunk) == dumped(chunk)
    extra = {**one.convert(TextDelta("x"))[0], "system_fingerprint": "fp"}
    assert encode(extra) == dumped(extra)


def test_streamed_events_from_a_real_server_are_json_dumps_of_themselves() -> None:
    answer = "".join(TRICKY[:-3]) + "".join(random_texts(40))
    with (
        FakeSpace(answer=answer) as fake,
        Serve("--api-key", KEY, *space_args([("qwen-2.5-max", fake.url)])) as s,
    ):
        port = int(s.url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(
            "POST",
            "/v1/chat/completions",
            body=json.dumps(
                {
                    "model": "qwen-2.5-max",
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                }
            ),
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        body = conn.getresponse().read()
        conn.close()
    events = [e for e in body.split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    chunks = [json.loads(e.removeprefix(b"data: ")) for e in events[:-1]]
    assert len(chunks) > 3
    for event, chunk in zip(events[:-1], chunks, strict=True):
        assert event + b"\n\n" == dumped(chunk)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == answer
