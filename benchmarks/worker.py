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
import resource
import sys
import time
import traceback
import urllib.request
from collections.abc import Callable
from typing import Any, Optional

from benchmarks.contenders import (
    Outcome,
    make_floor_async,
    make_floor_sync,
    make_gradio_client,
    make_qs_async,
    make_qs_sync,
)

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
