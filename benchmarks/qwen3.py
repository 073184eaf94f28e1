"""The Qwen3 layout's contenders in the CPU-per-message benchmark (issue 18); its section of
the report is ``benchmarks/stream_qwen3.py``, its worker ``benchmarks/worker.py``.

The fake Qwen3 Space (``python -m qwen_spaces.testing serve --layout qwen3``)
streams a reasoning block, then an answer, each a run of ``append`` diffs into
the chatbot's update dict (output 5): ``["append", ["value", n, "content", 0,
"content"], piece]`` for the reasoning (a ``tool`` part), ``[..., 1, ...]`` for
the answer (a ``text`` part), with the ``add``/``replace``/``delete`` ops of the
turn around them. Its benchmark mode (``--tokens``) streams no reasoning, so
the section serves a fixed reasoning and answer of N/2 pieces each on the
general path: the server computes every diff (its CPU is not counted).

The floors are what a user would write with requests or aiohttp alone: parse
the SSE lines, ``json.loads`` each, apply every op of the chatbot output into
its value as Gradio's client does, and take each append to a part's content
as a reasoning or answer delta by the part's type. Against them, ``Client`` and
``AsyncClient`` streaming ``Reasoning`` and ``TextDelta`` events. A text is
the reasoning and the answer joined by a NUL, so "exact" covers both.
"""

from __future__ import annotations

import functools
import json
import os
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, Optional

PROMPT = "hi"
MODEL = "qwen-3-235b"
ANSWER_PIECE = "ha "
REASONING_PIECE = "hm "
SEP = "\x00"  # between the reasoning and the answer in a compared text

Outcome = dict[str, Any]


def server_args(n: int) -> list[str]:
    """The fake server's arguments for N pieces: N/2 of reasoning, the rest of answer."""
    reasoning = n // 2
    return [
        "--answer",
        ANSWER_PIECE * (n - reasoning),
        "--reasoning",
        REASONING_PIECE * reasoning,
        "--chunk-size",
        str(len(ANSWER_PIECE)),
    ]


class Proto:
    """What a floor needs of the Space, read from /config once (not timed)."""

    def __init__(self, url: str) -> None:
        with urllib.request.urlopen(f"{url}/config", timeout=30) as response:
            config = json.loads(response.read())
        self.prefix = (config.get("api_prefix") or "").rstrip("/")
        comps = {c.get("id"): c for c in config.get("components", [])}
        deps = config.get("dependencies", [])

        def find(name: str) -> tuple[int, dict[str, Any]]:
            for position, dep in enumerate(deps):
                if str(dep.get("api_name") or "").lstrip("/") == name:
                    return int(dep.get("id", position)), dep
            raise RuntimeError(f"no {name} in /config")

        self.fn, chat = find("add_message")
        self.toggle_fn, toggle = find("toggle_thinking")
        self.trigger = chat["targets"][0][0]
        self.toggle_trigger = toggle["targets"][0][0]
        outputs = chat.get("outputs") or []
        self.chatbot = next(
            i for i, o in enumerate(outputs) if "chatbot" in str(comps.get(o, {}).get("type", ""))
        )
        form = next(c for c in comps.values() if c.get("type") == "antdform")
        self.settings = dict(form["props"]["value"])

    def join_url(self, url: str) -> str:
        return f"{url}{self.prefix}/queue/join"

    def data_url(self, url: str) -> str:
        return f"{url}{self.prefix}/queue/data"

    def join_body(self, session_hash: str) -> dict[str, Any]:
        return {
            "data": [PROMPT, self.settings, None, None],
            "event_data": None,
            "fn_index": self.fn,
            "trigger_id": self.trigger,
            "session_hash": session_hash,
        }

    def toggle_body(self, session_hash: str) -> dict[str, Any]:
        return {
            "data": [None],
            "event_data": None,
            "fn_index": self.toggle_fn,
            "trigger_id": self.toggle_trigger,
            "session_hash": session_hash,
        }


def apply(value: Any, ops: list[Any], reasoning: list[str], answer: list[str]) -> Any:
    """Gradio's apply_diff on one output value; every piece of text added to a
    part's content goes to ``reasoning`` (a tool part) or ``answer``. The value."""
    for action, path, item in ops:
        if not path:
            value = item if action == "replace" else value + item
            continue
        target = value
        for key in path[:-1]:
            target = target[key]
        key = path[-1]
        if action == "append":
            target[key] += item
            if key == "content" and len(path) == 5:
                (reasoning if target["type"] == "tool" else answer).append(item)
        elif action == "replace":
            target[key] = item
        elif action == "add":
            if isinstance(target, list):
                target.insert(key, item)
            else:
                target[key] = item
            if len(path) == 4 and path[2] == "content" and item.get("content"):
                (reasoning if item["type"] == "tool" else answer).append(item["content"])
        elif action == "delete":
            del target[key]
    return value


def text_in(value: Any) -> str:
    """The last assistant turn's reasoning and answer in a chatbot value, NUL-joined."""
    turn = next(m for m in reversed(value["value"]) if m["role"] == "assistant")
    parts = turn["content"]
    return SEP.join(
        (
            "".join(p["content"] for p in parts if p["type"] == "tool"),
            "".join(p["content"] for p in parts if p["type"] == "text"),
        )
    )


def session_hash() -> str:
    return os.urandom(6).hex()


class Reader:
    """One stream's state as a floor keeps it: the chatbot value and the pieces."""

    def __init__(self, output: int) -> None:
        self.output = output
        self.value: Any = None
        self.reasoning: list[str] = []
        self.answer: list[str] = []
        self.first: Optional[float] = None
        self.completed: Any = None

    def line(self, line: bytes) -> bool:
        """Take one SSE line; True once the event completed."""
        if line[:5] != b"data:":
            return False
        message = json.loads(line[5:])
        kind = message["msg"]
        if kind == "process_generating":
            data = message["output"]["data"][self.output]
            if self.value is None:
                self.value = data  # the first message carries full values
            else:
                self.value = apply(self.value, data, self.reasoning, self.answer)
            if self.first is None and (self.reasoning or self.answer):
                self.first = time.perf_counter()
        elif kind == "process_completed":
            if not message.get("success"):
                raise RuntimeError(f"the Space failed: {message.get('output')}")
            self.completed = message["output"]["data"][self.output]
            return True
        return False

    def outcome(self) -> Outcome:
        if self.completed is None:
            raise RuntimeError("the stream ended without process_completed")
        return {
            "deltas": len(self.reasoning) + len(self.answer),
            "first": self.first,
            "text": SEP.join(("".join(self.reasoning), "".join(self.answer))),
            # Read from process_completed after the timing (benchmarks.worker.text_of).
            "check": functools.partial(text_in, self.completed),
        }


def make_floor_sync(url: str) -> Callable[[], Outcome]:
    """requests: join, then iter_lines() + json.loads + the diffs applied, until completed."""
    import requests

    proto = Proto(url)
    http = requests.Session()

    def run() -> Outcome:
        h = session_hash()
        http.post(proto.join_url(url), json=proto.join_body(h)).raise_for_status()
        reader = Reader(proto.chatbot)
        with http.get(proto.data_url(url), params={"session_hash": h}, stream=True) as response:
            for line in response.iter_lines():
                if reader.line(line):
                    break
        return reader.outcome()

    return run


def make_floor_async(url: str) -> tuple[Callable[[], Awaitable[Outcome]], Any]:
    """aiohttp: the same with ``async for line in resp.content``."""
    import aiohttp

    proto = Proto(url)
    holder: dict[str, aiohttp.ClientSession] = {}

    async def run() -> Outcome:
        http = holder.get("s")
        if http is None:
            http = holder["s"] = aiohttp.ClientSession()
        h = session_hash()
        async with http.post(proto.join_url(url), json=proto.join_body(h)) as r:
            r.raise_for_status()
            await r.read()
        reader = Reader(proto.chatbot)
        async with http.get(proto.data_url(url), params={"session_hash": h}) as response:
            async for line in response.content:
                if reader.line(line):
                    break
        return reader.outcome()

    async def close() -> None:
        if "s" in holder:
            await holder["s"].close()

    return run, close


def make_qs_sync(url: str) -> tuple[Callable[[], Outcome], Any]:
    """``Client.stream``: every ``Reasoning`` and ``TextDelta`` joined."""
    import qwen_spaces as qs

    TextDelta, Reasoning = qs.TextDelta, qs.Reasoning
    client = qs.Client(model=MODEL, base_url=url)

    def run() -> Outcome:
        first = None
        reasoning: list[str] = []
        answer: list[str] = []
        for event in client.stream(PROMPT):
            kind = type(event)
            if kind is Reasoning:
                reasoning.append(event.text)
            elif kind is TextDelta:
                if event.backtrack:
                    raise RuntimeError("unexpected backtrack")
                answer.append(event.text)
            else:
                continue
            if first is None:
                first = time.perf_counter()
        return {
            "deltas": len(reasoning) + len(answer),
            "first": first,
            "text": SEP.join(("".join(reasoning), "".join(answer))),
        }

    return run, client


def make_qs_async(url: str) -> tuple[Callable[[], Awaitable[Outcome]], Any]:
    """``AsyncClient.stream``: the same, ``async for``."""
    import qwen_spaces as qs

    TextDelta, Reasoning = qs.TextDelta, qs.Reasoning
    holder: dict[str, Any] = {}

    def client() -> Any:
        if "c" not in holder:  # built inside the running loop
            holder["c"] = qs.AsyncClient(model=MODEL, base_url=url)
        return holder["c"]

    async def run() -> Outcome:
        first = None
        reasoning: list[str] = []
        answer: list[str] = []
        async for event in client().stream(PROMPT):
            kind = type(event)
            if kind is Reasoning:
                reasoning.append(event.text)
            elif kind is TextDelta:
                if event.backtrack:
                    raise RuntimeError("unexpected backtrack")
                answer.append(event.text)
            else:
                continue
            if first is None:
                first = time.perf_counter()
        return {
            "deltas": len(reasoning) + len(answer),
            "first": first,
            "text": SEP.join(("".join(reasoning), "".join(answer))),
        }

    async def close() -> None:
        if "c" in holder:
            await holder["c"].close()

    run.client = client  # type: ignore[attr-defined]
    return run, close
