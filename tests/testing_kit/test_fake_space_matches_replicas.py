"""The fake Qwen Spaces against real Gradio replicas: same requests, same stream, message for message.

Each transcript recorded from the Gradio 5.27 replica of the Qwen3 demo
(``tests/support/replicas/record_qwen3.py``) is replayed against FakeSpace(layout="qwen3"),
scripted with the replica's own reasoning and answer chunks (and, for an error
transcript, a ``Fault.space_error`` where the replica failed). The two streams
must have the same messages, the same diff ops on the same paths, and end with
the same conversation (but its uuids and timings).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
import requests

from qwen_spaces.testing import FakeSpace, Fault

pytestmark = pytest.mark.timeout(60)

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "support" / "transcripts"
NAMES = [
    "qwen3-g527-thinking",
    "qwen3-g527-no-think",
    "qwen3-g527-followup",
    "errors/qwen3-g527-error",
    "errors/qwen3-g527-error-early",
    "errors/qwen3-g527-error-no-think",
]
CHATBOT = 5
SPAN = re.compile(r'^<span style="color: var\(--color-red-500\)">(.*)</span>$', re.S)
# What differs between runs: uuids and the timings the Space measures.
VARYING = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+\.\d\ds")


def load(name: str) -> dict[str, Any]:
    path = TRANSCRIPTS / f"{name}.json"
    # Recorded on the replicas branch; missing, this test fails rather than skips.
    assert path.exists(), (
        f"transcript {path} missing (recorded by tests/support/replicas/record_qwen3.py)"
    )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def exchanges(transcript: dict[str, Any]) -> list[dict[str, Any]]:
    turns = transcript.get("turns") or [transcript]
    return [e for turn in turns for e in turn["exchanges"]]


def sse(body: str) -> list[dict[str, Any]]:
    return [json.loads(b[6:]) for b in body.split("\n\n") if b.startswith("data: ")]


def apply(value: Any, ops: list[list[Any]]) -> Any:
    for action, path, new in ops:
        *parents, last = path
        target = value
        for key in parents:
            target = target[key]
        if action == "append":
            target[last] += new
        elif action == "add" and isinstance(target, list):
            target.insert(last, new)
        elif action == "delete":
            del target[last]
        else:
            target[last] = new
    return value


def values(messages: list[dict[str, Any]]) -> Iterator[list[Any]]:
    """The outputs each process_generating shows, rebuilt."""
    shown: Optional[list[Any]] = None
    for m in messages:
        if m["msg"] == "process_generating":
            data = copy.deepcopy(m["output"]["data"])
            if shown is None:
                shown = data
            else:
                shown = [apply(v, ops) for v, ops in zip(shown, data, strict=True)]
            yield shown


class Script:
    """The chunks a replica's run streamed, and where it failed."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.reasoning: list[str] = []
        self.answer: list[str] = []
        self.error: Optional[tuple[str, int]] = None  # (message, updates before it)
        seen_reasoning = seen_answer = ""
        for sent, shown in enumerate(values(messages)):
            turn = shown[CHATBOT]["value"][-1]
            if turn["role"] != "assistant" or self.error is not None:
                continue
            parts = turn["content"]
            spans = [SPAN.match(p["content"]) for p in parts if p["type"] == "text"]
            failed = next((m for m in spans if m), None)
            if failed:
                self.error = (failed.group(1), sent)
                continue
            reasoning = next((p["content"] for p in parts if p["type"] == "tool"), "")
            answer = next((p["content"] for p in parts if p["type"] == "text"), "")
            if reasoning != seen_reasoning:
                self.reasoning.append(reasoning[len(seen_reasoning) :])
                seen_reasoning = reasoning
            if answer != seen_answer:
                self.answer.append(answer[len(seen_answer) :])
                seen_answer = answer


def shape(messages: list[dict[str, Any]]) -> list[Any]:
    """A stream with what varies between runs left out: kinds, ops, paths, value shapes."""

    def of(value: Any) -> Any:
        if isinstance(value, dict):
            return sorted(value)
        if isinstance(value, (bool, type(None))):
            return value
        return type(value).__name__

    out: list[Any] = []
    first = True
    for m in messages:
        if m["msg"] == "process_generating" and first:
            out.append(["full", [of(v) for v in m["output"]["data"]]])
            first = False
        elif m["msg"] == "process_generating":
            ops = m["output"]["data"]
            out.append([[i, a, p, of(v)] for i, o in enumerate(ops) for a, p, v in o])
        elif m["msg"] == "process_completed":
            out.append(["completed", m["success"], m["output"].get("error", "...")])
        else:
            out.append(m["msg"])
    return out


def final(messages: list[dict[str, Any]]) -> str:
    """The conversation the stream ends with, uuids and timings masked."""
    *_, last = values(messages)
    return VARYING.sub("~", json.dumps(last[CHATBOT]["value"], ensure_ascii=False))


@pytest.mark.parametrize("name", NAMES)
def test_the_fake_streams_what_the_qwen3_replica_streamed(name: str) -> None:
    steps = exchanges(load(name))
    joins = [e for e in steps if e["path"].endswith("/queue/join")]
    streams = [sse(e["body"]) for e in steps if e["path"].endswith("/queue/data")]
    scripts = [Script(s) for s in streams if any(m["msg"] == "process_generating" for m in s)]
    errors = [s.error for s in scripts if s.error is not None]
    faults = [Fault.space_error(text, updates=n) for text, n in errors]
    answers, reasonings = iter([s.answer for s in scripts]), iter([s.reasoning for s in scripts])
    space = FakeSpace(
        "qwen3",
        answer=lambda *_: next(answers),
        reasoning=lambda *_: next(reasonings),
        faults=faults,
    )
    with space, requests.Session() as http:
        for join, theirs in zip(joins, streams, strict=True):
            joined = http.post(space.url + join["path"], json=join["request_json"], timeout=10)
            assert joined.status_code == 200, joined.text
            session = join["request_json"]["session_hash"]
            resp = http.get(
                space.url + "/gradio_api/queue/data", params={"session_hash": session}, timeout=10
            )
            mine = sse(resp.text)
            assert shape(mine) == shape(theirs)
            if any(m["msg"] == "process_generating" for m in theirs):
                assert final(mine) == final(theirs)


def bot_text(cell: Any) -> str:
    return str(cell["text"] if isinstance(cell, dict) else cell or "")


@pytest.mark.parametrize(
    ("name", "layout", "gradio"),
    [("qwen25-g4", "qwen2.5", 4), ("qwen25-g4-history", "qwen2.5", 4), ("qwen2-g4", "max", 4)],
)
def test_the_fake_streams_what_the_older_demos_replicas_streamed(
    name: str, layout: str, gradio: int
) -> None:
    steps = exchanges(load(name))
    (join,) = [e for e in steps if e["path"].endswith("/queue/join")]
    (theirs,) = [sse(e["body"]) for e in steps if e["path"].endswith("/queue/data")]
    chunks, seen = [], ""
    for shown in values(theirs):
        text = bot_text(shown[1][-1][1])
        chunks.append(text[len(seen) :])
        seen = text
    with FakeSpace(layout, gradio=gradio, answer=chunks) as space, requests.Session() as http:
        joined = http.post(space.url + join["path"], json=join["request_json"], timeout=10)
        assert joined.status_code == 200, joined.text
        session = join["request_json"]["session_hash"]
        resp = http.get(space.url + "/queue/data", params={"session_hash": session}, timeout=10)
    mine = sse(resp.text)
    assert shape(mine) == shape(theirs)
    *_, last_mine = values(mine)
    *_, last_theirs = values(theirs)
    assert last_mine == last_theirs
