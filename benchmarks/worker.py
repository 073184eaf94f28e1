"""Run one contender against a running fake server and print one JSON line.

    python -m benchmarks.worker '{"contender": "qs_sync", "mode": "stream", "url": ..., ...}'

Each run of a contender is its own fresh interpreter (``run.py`` starts it), so
imports, caches and allocator state of one contender never touch another. Only
the contender's modules are imported: the floor never imports qwen_spaces, the
sync contenders never import aiohttp.

Modes:

- ``stream``: ``warmup`` streams (connections, /config, caches), then one
  measured stream: process CPU time (all threads) and wall time around that
  stream only, time to the first delta, deltas delivered, the answer's hash.
- ``memory``: in a fresh process, after imports and client construction, the
  growth of ``ru_maxrss`` over one stream; then, tracemalloc started, the peak
  traced memory of a second stream.
- ``concurrency``: ``streams`` streams of one shared client at once (async:
  tasks on one loop; sync: ``threads`` threads), errors and exact text.
- ``reuse``: 5 sequential calls on one client, with the server's
  ``connections_opened`` read between calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import resource
import sys
import time
import traceback
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


# --- the modes ---------------------------------------------------------------------------


def text_of(outcome: Outcome) -> Optional[str]:
    if "completed" in outcome:
        completed = outcome.pop("completed")
        proto = outcome.pop("proto")
        return proto.answer(completed) if completed else None
    text = outcome.get("text")
    if "check" in outcome and outcome["check"]() != text:  # the Qwen3 floors
        raise RuntimeError("the floor's streamed deltas differ from process_completed")
    return text


def digest(text: Optional[str]) -> Optional[str]:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def summarise(outcome: Outcome, t0: float, t1: float, c0: float, c1: float) -> dict[str, Any]:
    text = text_of(outcome)
    first = outcome.get("first")
    return {
        "cpu_s": c1 - c0,
        "wall_s": t1 - t0,
        "ttfd_s": None if first is None else first - t0,
        "deltas": outcome["deltas"],
        "messages": outcome.get("messages"),
        "text_sha": digest(text),
        "text_len": None if text is None else len(text),
    }


def sync_runner(spec: dict[str, Any]) -> tuple[Callable[[], Outcome], Callable[[], None]]:
    contender, url, layout = spec["contender"], spec["url"], spec["layout"]
    if layout == "qwen3":
        from benchmarks import qwen3

        if contender == "qs_sync":
            run, client = qwen3.make_qs_sync(url)
            return run, client.close
        return qwen3.make_floor_sync(url), lambda: None
    if contender == "floor_sync":
        return make_floor_sync(url, layout), lambda: None
    if contender == "qs_sync":
        run, client = make_qs_sync(url, layout)
        return run, client.close
    if contender == "gradio_client":
        return make_gradio_client(url, layout), lambda: None
    raise ValueError(contender)


def async_runner(spec: dict[str, Any]) -> tuple[Any, Any]:
    contender, url, layout = spec["contender"], spec["url"], spec["layout"]
    if layout == "qwen3":
        from benchmarks import qwen3

        return (qwen3.make_qs_async if contender == "qs_async" else qwen3.make_floor_async)(url)
    if contender == "floor_async":
        return make_floor_async(url, layout)
    if contender == "qs_async":
        return make_qs_async(url, layout)
    raise ValueError(contender)


def maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def mode_stream(spec: dict[str, Any]) -> dict[str, Any]:
    warmup, repeat = spec.get("warmup", 1), spec.get("repeat", 1)
    pt, pc = time.perf_counter, time.process_time
    samples: list[dict[str, Any]] = []
    if spec["contender"] in ("floor_async", "qs_async"):
        run, close = async_runner(spec)

        async def main() -> None:
            try:
                for _ in range(warmup):
                    await run()
                for _ in range(repeat):
                    t0, c0 = pt(), pc()
                    outcome = await run()
                    c1, t1 = pc(), pt()
                    samples.append(summarise(outcome, t0, t1, c0, c1))
            finally:
                await close()

        asyncio.run(main())
    else:
        run_sync, close_sync = sync_runner(spec)
        try:
            for _ in range(warmup):
                run_sync()
            for _ in range(repeat):
                t0, c0 = pt(), pc()
                outcome = run_sync()
                c1, t1 = pc(), pt()
                samples.append(summarise(outcome, t0, t1, c0, c1))
        finally:
            close_sync()
    return {"samples": samples}


def mode_memory(spec: dict[str, Any]) -> dict[str, Any]:
    import tracemalloc

    result: dict[str, Any] = {}
    if spec["contender"] in ("floor_async", "qs_async"):
        run, close = async_runner(spec)

        async def main() -> None:
            if spec["contender"] == "qs_async":
                run.client()  # construct before the baseline, like the others
            try:
                base = maxrss_kib()
                outcome = await run()
                result["rss_delta_kib"] = maxrss_kib() - base
                result["rss_peak_kib"] = maxrss_kib()
                result["text_sha"] = digest(text_of(outcome))
                tracemalloc.start()
                outcome = await run()
                result["traced_peak_bytes"] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            finally:
                await close()

        asyncio.run(main())
        return result
    run_sync, close_sync = sync_runner(spec)
    try:
        base = maxrss_kib()
        outcome = run_sync()
        result["rss_delta_kib"] = maxrss_kib() - base
        result["rss_peak_kib"] = maxrss_kib()
        result["text_sha"] = digest(text_of(outcome))
        tracemalloc.start()
        run_sync()
        result["traced_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        close_sync()
    return result


def mode_concurrency(spec: dict[str, Any]) -> dict[str, Any]:
    streams, expect = spec["streams"], spec.get("expect_sha")
    errors: list[str] = []
    wrong = 0
    short = 0
    min_deltas = spec.get("min_deltas", 0)

    def check(outcome: Outcome) -> None:
        nonlocal wrong, short
        if digest(outcome["text"]) != expect:
            wrong += 1
        if outcome["deltas"] < min_deltas:
            short += 1

    pt, pc = time.perf_counter, time.process_time
    if spec["contender"] == "qs_async":
        run, close = make_qs_async(spec["url"], spec["layout"])

        async def main() -> tuple[float, float]:
            try:
                await run()  # warm-up: /config, one connection
                t0, c0 = pt(), pc()
                results = await asyncio.gather(
                    *(run() for _ in range(streams)), return_exceptions=True
                )
                c1, t1 = pc(), pt()
            finally:
                await close()
            for outcome in results:
                if isinstance(outcome, BaseException):
                    errors.append(f"{type(outcome).__name__}: {outcome}"[:200])
                else:
                    check(outcome)
            return t1 - t0, c1 - c0

        wall, cpu = asyncio.run(main())
    else:
        from concurrent.futures import ThreadPoolExecutor

        threads = spec["threads"]
        run_sync, client = make_qs_sync(spec["url"], spec["layout"])
        try:
            run_sync()  # warm-up
            t0, c0 = pt(), pc()
            with ThreadPoolExecutor(max_workers=threads) as pool:
                futures = [pool.submit(run_sync) for _ in range(streams)]
                outcomes = []
                for future in futures:
                    try:
                        outcomes.append(future.result())
                    except Exception as exc:
                        errors.append(f"{type(exc).__name__}: {exc}"[:200])
            c1, t1 = pc(), pt()
        finally:
            client.close()
        for outcome in outcomes:
            check(outcome)
        wall, cpu = t1 - t0, c1 - c0
    return {
        "streams": streams,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:3],
        "wrong_text": wrong,
        "short": short,
        "wall_s": wall,
        "cpu_s": cpu,
    }


def server_connections(url: str) -> int:
    with urllib.request.urlopen(f"{url}/_fake/stats", timeout=30) as response:
        return int(json.loads(response.read())["connections_opened"])


def mode_reuse(spec: dict[str, Any]) -> dict[str, Any]:
    url, calls = spec["url"], spec.get("calls", 5)
    # Reading the stats is itself a connection: measure what one read adds.
    a = server_connections(url)
    overhead = server_connections(url) - a
    per_call: list[int] = []
    texts: list[Optional[str]] = []
    if spec["contender"] == "qs_async":
        run, close = make_qs_async(url, spec["layout"])

        async def main() -> None:
            try:
                before = server_connections(url)
                for _ in range(calls):
                    outcome = await run()
                    after = server_connections(url)
                    per_call.append(after - before - overhead)
                    texts.append(digest(outcome["text"]))
                    before = after
            finally:
                await close()

        asyncio.run(main())
    else:
        run_sync, client = make_qs_sync(url, spec["layout"])
        try:
            before = server_connections(url)
            for _ in range(calls):
                outcome = run_sync()
                after = server_connections(url)
                per_call.append(after - before - overhead)
                texts.append(digest(outcome["text"]))
                before = after
        finally:
            client.close()
    return {
        "per_call": per_call,
        "total": sum(per_call),
        "stats_overhead": overhead,
        "text_shas": sorted(set(t for t in texts if t)),
    }


MODES = {
    "stream": mode_stream,
    "memory": mode_memory,
    "concurrency": mode_concurrency,
    "reuse": mode_reuse,
}


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        result = {"ok": True, **MODES[spec["mode"]](spec)}
    except BaseException as exc:  # report, don't crash: run.py records n/a with the reason
        error = " ".join("".join(traceback.format_exception_only(type(exc), exc)).split())
        if len(error) > 500:
            error = f"{error[:300]} ... {error[-150:]}"
        result = {"ok": False, "error": error}
        if os.environ.get("QS_BENCH_DEBUG"):
            traceback.print_exc()
    result["modules"] = {
        name: name in sys.modules for name in ("aiohttp", "qwen_spaces", "requests")
    }
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
