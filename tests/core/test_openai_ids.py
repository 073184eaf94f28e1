"""OpenAI ids: unique per reply, assigned once, shared by a stream's chunks when given."""

from __future__ import annotations

import re

from qwen_spaces._client.openai_format import OpenAIChunks
from qwen_spaces._events import Reasoning, Reply, TextDelta, new_completion_id

ID = re.compile(r"chatcmpl-[0-9a-f]{32}")


def test_every_reply_gets_its_own_id_even_in_the_same_instant() -> None:
    replies = [Reply(text="a", model="m", created=1.0) for _ in range(1000)]
    ids = {r.id for r in replies}
    assert len(ids) == 1000 and all(ID.fullmatch(i) for i in ids)


def test_the_id_is_assigned_once() -> None:
    reply = Reply(text="a", model="m")
    first = reply.to_openai()["id"]
    assert first == reply.id == reply.to_openai()["id"]


def test_an_id_given_is_kept() -> None:
    assert Reply(text="a", model="m", id="chatcmpl-x").to_openai()["id"] == "chatcmpl-x"


def test_chunks_carry_the_id_they_are_given() -> None:
    completion_id = new_completion_id()
    chunks = OpenAIChunks("m", id=completion_id)
    out = [
        *chunks.convert(Reasoning("thinking")),
        *chunks.convert(TextDelta("hi")),
        chunks.finish(),
    ]
    assert len(out) == 4 and {c["id"] for c in out} == {completion_id}


def test_chunk_streams_without_an_id_get_distinct_ones() -> None:
    ids = {OpenAIChunks("m").id for _ in range(100)}
    assert len(ids) == 100 and all(ID.fullmatch(i) for i in ids)
