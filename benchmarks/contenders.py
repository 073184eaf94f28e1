"""The contenders of the streaming benchmarks, for ``benchmarks/worker.py`` (and
``benchmarks/profile.py``): the floors (requests or aiohttp and the raw protocol), the
qwen_spaces clients and gradio_client, each built for one layout of the fake server.

Only the standard library at the top: each contender imports its own HTTP library when it
is built, so a worker loads nothing another contender needs.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, Optional

PROMPT = "hi"
SYSTEM = "You are a helpful assistant."
FOOTER = re.compile(r"\n<summary>.*</summary>\s*\Z", re.DOTALL)

MODEL = {"max": "qwen-2.5-max", "1m": "qwen-2.5-1m"}

# One stream's outcome: deltas delivered, the answer text (or None), the
# perf_counter time of the first delta (or None), messages parsed (floors).
Outcome = dict[str, Any]


# --- the raw protocol, for the floors ---------------------------------------------------


class Layout:
    """What the floors need to speak the raw protocol, read from /config once (not timed)."""

    def __init__(self, url: str, layout: str) -> None:
        with urllib.request.urlopen(f"{url}/config", timeout=30) as response:
            config = json.loads(response.read())
        self.prefix = (config.get("api_prefix") or "").rstrip("/")
        deps = config.get("dependencies", [])
        types = {c.get("id"): str(c.get("type", "")).lower() for c in config.get("components", [])}

        def find(name: str, default: int) -> tuple[int, dict[str, Any]]:
            for position, dep in enumerate(deps):
                if str(dep.get("api_name") or "").lstrip("/") == name:
                    return dep.get("id", position), dep
            return default, deps[default] if default < len(deps) else {}

        def trigger(dep: dict[str, Any]) -> Optional[int]:
            for target in dep.get("targets") or []:
                if target and isinstance(target[0], int):
                    return int(target[0])
            return None

        self.layout = layout
        if layout == "max":
            self.fn_index, dep = find("model_chat", 0)
            self.trigger_id = trigger(dep) if trigger(dep) is not None else 11
            self.predict: Optional[tuple[int, Optional[int]]] = None
        else:
            self.fn_index, dep = find("agent_run", 2)
            p_index, p_dep = find("add_text", 1)
            p_trigger = trigger(p_dep) if trigger(p_dep) is not None else 5
            self.trigger_id = trigger(dep) if trigger(dep) is not None else p_trigger
            self.predict = (p_index, p_trigger)
        outputs = dep.get("outputs") or []
        chatbots = [i for i, o in enumerate(outputs) if "chatbot" in types.get(o, "")]
        self.chatbot_output = chatbots[0] if chatbots else (1 if layout == "max" else 0)

    def join_url(self, url: str) -> str:
        return f"{url}{self.prefix}/queue/join"

    def data_url(self, url: str) -> str:
        return f"{url}{self.prefix}/queue/data"

    def predict_url(self, url: str) -> str:
        return f"{url}{self.prefix}/run/predict"

    def predict_body(self, session_hash: str) -> dict[str, Any]:
        assert self.predict is not None
        return {
            "data": [{"files": [], "text": PROMPT}, [], []],
            "event_data": None,
            "fn_index": self.predict[0],
            "trigger_id": self.predict[1],
            "session_hash": session_hash,
        }

    def join_body(self, session_hash: str, chatbot: Any = None) -> dict[str, Any]:
        if self.layout == "max":
            data: list[Any] = [PROMPT, [], SYSTEM]
        else:
            if not chatbot:
                user = {
                    "id": None,
                    "elem_id": None,
                    "elem_classes": None,
                    "name": None,
                    "text": PROMPT,
                    "flushing": None,
                    "avatar": "",
                    "files": [],
                }
                chatbot = [[user, None]]
            data = [chatbot, None, 0]
        return {
            "data": data,
            "event_data": None,
            "fn_index": self.fn_index,
            "trigger_id": self.trigger_id,
            "session_hash": session_hash,
        }

    def answer(self, completed: dict[str, Any]) -> Optional[str]:
        """The answer text in a process_completed message (footer removed); not timed."""
        try:
            return self.answer_in(completed["output"]["data"][self.chatbot_output])
        except (KeyError, IndexError, TypeError):
            return None

    def answer_in(self, chatbot: Any) -> Optional[str]:
        """The answer text in a chatbot value: the last assistant turn."""
        try:
            for item in reversed(chatbot):
                if isinstance(item, dict):  # a messages chatbot
                    if item.get("role") == "assistant":
                        content = item.get("content")
                        if isinstance(content, list):
                            return "".join(p.get("text", "") for p in content)
                        return str(content)
                    continue
                bot = item[1]
                if bot is None:
                    continue
                if self.layout == "1m":
                    text = bot[0]["text"] if isinstance(bot, list) else bot["text"]
                    return FOOTER.sub("", text)
                return str(bot)
        except (KeyError, IndexError, TypeError):
            return None
        return None


def session_hash() -> str:
    return os.urandom(6).hex()


def make_floor_sync(url: str, layout: str) -> Callable[[], Outcome]:
    """requests: join, then iter_lines() + json.loads of each data line until completed."""
    import requests

    proto = Layout(url, layout)
    http = requests.Session()

    def run() -> Outcome:
        h = session_hash()
        chatbot = None
        if proto.predict is not None:
            answer = http.post(proto.predict_url(url), json=proto.predict_body(h)).json()
            chatbot = answer["data"][1]
        http.post(proto.join_url(url), json=proto.join_body(h, chatbot)).raise_for_status()
        response = http.get(proto.data_url(url), params={"session_hash": h}, stream=True)
        first = None
        generating = 0
        messages = 0
        completed = None
        for line in response.iter_lines():
            if line[:5] == b"data:":
                message = json.loads(line[5:])
                messages += 1
                kind = message["msg"]
                if kind == "process_generating":
                    generating += 1
                    if first is None:
                        first = time.perf_counter()
                elif kind == "process_completed":
                    completed = message
                    break
        response.close()
        return {
            "deltas": generating,
            "first": first,
            "messages": messages,
            "completed": completed,
            "proto": proto,
        }

    return run


def make_floor_async(url: str, layout: str) -> tuple[Callable[[], Awaitable[Outcome]], Any]:
    """aiohttp: join, then ``async for line in resp.content`` + json.loads until completed."""
    import aiohttp

    proto = Layout(url, layout)
    holder: dict[str, aiohttp.ClientSession] = {}

    async def run() -> Outcome:
        http = holder.get("s")
        if http is None:
            http = holder["s"] = aiohttp.ClientSession()
        h = session_hash()
        chatbot = None
        if proto.predict is not None:
            async with http.post(proto.predict_url(url), json=proto.predict_body(h)) as r:
                chatbot = (await r.json())["data"][1]
        async with http.post(proto.join_url(url), json=proto.join_body(h, chatbot)) as r:
            r.raise_for_status()
            await r.read()
        first = None
        generating = 0
        messages = 0
        completed = None
        async with http.get(proto.data_url(url), params={"session_hash": h}) as response:
            async for line in response.content:
                if line[:5] == b"data:":
                    message = json.loads(line[5:])
                    messages += 1
                    kind = message["msg"]
                    if kind == "process_generating":
                        generating += 1
                        if first is None:
                            first = time.perf_counter()
                    elif kind == "process_completed":
                        completed = message
                        break
        return {
            "deltas": generating,
            "first": first,
            "messages": messages,
            "completed": completed,
            "proto": proto,
        }

    async def close() -> None:
        if "s" in holder:
            await holder["s"].close()

    return run, close


# --- qwen_spaces -------------------------------------------------------------------------


def _join(parts: list[str], backtrack: int, text: str) -> None:
    if backtrack:
        whole = "".join(parts)
        parts[:] = [whole[: max(0, len(whole) - backtrack)]]
    parts.append(text)


def make_qs_sync(url: str, layout: str, client: Any = None) -> tuple[Callable[[], Outcome], Any]:
    import qwen_spaces as qs

    TextDelta = qs.TextDelta
    if client is None:
        client = qs.Client(model=MODEL[layout], base_url=url)

    def run() -> Outcome:
        first = None
        parts: list[str] = []
        deltas = 0
        for event in client.stream(PROMPT):
            if type(event) is TextDelta:
                if first is None:
                    first = time.perf_counter()
                deltas += 1
                if event.backtrack:
                    _join(parts, event.backtrack, event.text)
                else:
                    parts.append(event.text)
        return {"deltas": deltas, "first": first, "text": "".join(parts)}

    return run, client


def make_qs_async(url: str, layout: str) -> tuple[Callable[[], Awaitable[Outcome]], Any]:
    import qwen_spaces as qs

    TextDelta = qs.TextDelta
    holder: dict[str, Any] = {}

    def client() -> Any:
        if "c" not in holder:  # built inside the running loop
            holder["c"] = qs.AsyncClient(model=MODEL[layout], base_url=url)
        return holder["c"]

    async def run() -> Outcome:
        first = None
        parts: list[str] = []
        deltas = 0
        async for event in client().stream(PROMPT):
            if type(event) is TextDelta:
                if first is None:
                    first = time.perf_counter()
                deltas += 1
                if event.backtrack:
                    _join(parts, event.backtrack, event.text)
                else:
                    parts.append(event.text)
        return {"deltas": deltas, "first": first, "text": "".join(parts)}

    async def close() -> None:
        if "c" in holder:
            await holder["c"].close()

    run.client = client  # type: ignore[attr-defined]
    return run, close


# --- gradio_client -----------------------------------------------------------------------


def make_gradio_client(url: str, layout: str) -> Callable[[], Outcome]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if layout != "max":
        raise RuntimeError("measured on the Max layout only")
    from gradio_client import Client

    proto = Layout(url, layout)
    client = Client(url, verbose=False, download_files=False, analytics_enabled=False)

    def run() -> Outcome:
        first = None
        outputs = 0
        last: Any = None
        job = client.submit(PROMPT, [], SYSTEM, fn_index=proto.fn_index)
        for output in job:
            outputs += 1
            last = output
            if first is None:
                first = time.perf_counter()
        final = job.result()
        try:
            text = proto.answer_in((final if final is not None else last)[proto.chatbot_output])
        except (TypeError, IndexError, KeyError):
            text = None
        return {"deltas": outputs, "first": first, "text": text}

    return run
