"""What ``qwen-spaces serve`` adds: latency to the first token and CPU per streamed chunk.

    python -m benchmarks.serve [--quick]      # this part alone: prints its Markdown table

Side by side on the same fake Gradio server (``--tokens N``, Max layout):

- direct: ``AsyncClient.stream()`` in a fresh worker process (``benchmarks/worker.py``,
  contender ``qs_async``): CPU of that process per diff, time to the first text delta;
- served: ``qwen-spaces serve`` in its own process, pinned where the direct worker runs,
  streaming ``/v1/chat/completions`` to a plain aiohttp reader in this process. Its CPU
  is read from ``/proc/PID/task/*/schedstat`` (nanoseconds, every thread) around each
  stream, per diff; latency is from the POST to the first chunk with content.

``benchmarks.run`` includes this section in RESULTS.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from benchmarks.harness import (
    CLIENT_CPU,
    ROOT,
    Figure,
    Plan,
    Server,
    fmt_ratio,
    log,
    pin,
    ratio,
    stop_process,
    worker,
)
from benchmarks.report import run_alone, table, verdict

MODEL = "qwen-2.5-max"
TTFT_LIMIT_MS = 2.0
CPU_LIMIT = 1.5


class Served:
    """``qwen-spaces serve`` in front of ``space_url``, pinned to the clients' CPU."""

    def __init__(self, space_url: str) -> None:
        self.args = [
            sys.executable,
            "-m",
            "qwen_spaces",
            "serve",
            "--port",
            "0",
            "--space",
            f"{MODEL}={space_url}",
        ]
        self.proc: Optional[subprocess.Popen[str]] = None
        self.url = ""

    def __enter__(self) -> Served:
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=pin(CLIENT_CPU),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "http://" not in line:
            self.__exit__()
            raise RuntimeError(f"serve did not start: {line!r}")
        self.url = line.split()[2]  # "qwen-spaces serve: http://127.0.0.1:PORT/v1 (...)"
        return self

    def __exit__(self, *exc: Any) -> None:
        stop_process(self.proc)

    def cpu_ns(self) -> int:
        """CPU time of every thread of the server so far, in ns."""
        assert self.proc is not None
        total = 0
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pass  # a thread that just ended
        return total


async def read_stream(session: Any, url: str) -> dict[str, Any]:
    """One streamed completion: time to the first content, its chunks and text."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    t0 = time.perf_counter()
    first: Optional[float] = None
    parts: list[str] = []
    chunks = 0
    async with session.post(url + "/chat/completions", json=body) as response:
        assert response.status == 200, await response.text()
        async for line in response.content:
            if not line.startswith(b"data: {"):
                continue
            chunk = json.loads(line[6:])
            content = chunk["choices"][0]["delta"].get("content") if chunk["choices"] else None
            if content:
                if first is None:
                    first = time.perf_counter()
                chunks += 1
                parts.append(content)
    text = "".join(parts)
    return {
        "ttft_s": None if first is None else first - t0,
        "chunks": chunks,
        "sha": hashlib.sha256(text.encode()).hexdigest(),
    }


def measure_served(space_url: str, n: int, repeat: int) -> dict[str, Any]:
    import aiohttp

    samples: list[dict[str, Any]] = []
    with Served(space_url) as served:

        async def main() -> None:
            async with aiohttp.ClientSession() as session:
                await read_stream(session, served.url)  # warm-up: /config, connections
                for _ in range(repeat):
                    c0 = served.cpu_ns()
                    sample = await read_stream(session, served.url)
                    sample["cpu_per_msg_s"] = (served.cpu_ns() - c0) / 1e9 / n
                    samples.append(sample)

        asyncio.run(main())
    return {"samples": samples}


def _alternate(
    plan: Plan, n: int, runs: int, repeat: int, errors: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Direct and served samples from one fake server of N diffs, the two alternating."""
    direct: list[dict[str, Any]] = []
    served: list[dict[str, Any]] = []
    with Server("max", n) as server:
        for r in range(runs):
            for who in ("direct", "served") if r % 2 == 0 else ("served", "direct"):
                if who == "direct":
                    answer = worker(
                        {
                            "url": server.url,
                            "layout": "max",
                            "contender": "qs_async",
                            "mode": "stream",
                            "warmup": 1,
                            "repeat": repeat,
                        },
                        plan.worker_timeout,
                    )
                    if answer.get("ok"):
                        direct += answer["samples"]
                    else:
                        errors.append(f"direct: {answer.get('error')}")
                else:
                    try:
                        served += measure_served(server.url, n, repeat)["samples"]
                    except Exception as exc:  # reported in the table, not fatal to the suite
                        errors.append(f"served: {type(exc).__name__}: {exc}")
            log(f"  N={n} round {r + 1}/{runs} done")
    return direct, served


def section(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The Markdown of this section and its rows for the targets table."""
    n = 2000 if plan.quick else 10000
    n_first = 20  # short answers: the first token is not held up by the rest of the stream
    runs = 2 if plan.quick else 5
    errors: list[str] = []
    log(f"serve: AsyncClient direct vs through qwen-spaces serve, CPU at N={n}")
    direct, served = _alternate(plan, n, runs, 1 if plan.quick else 3, errors)
    log(f"serve: first token at N={n_first}")
    direct_first, served_first = _alternate(plan, n_first, runs, 3 if plan.quick else 10, errors)

    direct_cpu = Figure([s["cpu_s"] / n for s in direct])
    served_cpu = Figure([s["cpu_per_msg_s"] for s in served])
    direct_ttfd = Figure([s["ttfd_s"] for s in direct_first if s["ttfd_s"] is not None])
    served_ttft = Figure([s["ttft_s"] for s in served_first if s["ttft_s"] is not None])
    chunks = sorted({s["chunks"] for s in served})
    shas = {s["text_sha"] or "none" for s in direct}
    exact = len(shas) == 1 and {s["sha"] for s in served} == shas
    x = ratio(
        served_cpu.median if served_cpu.values else None,
        direct_cpu.median if direct_cpu.values else None,
    )
    added_ms = (
        (served_ttft.median - direct_ttfd.median) * 1e3
        if (served_ttft.values and direct_ttfd.values)
        else None
    )
    rows = [
        [
            "`AsyncClient` direct",
            direct_cpu.fmt(1e6, 2),
            "1 (baseline)",
            direct_ttfd.fmt(1e3, 2),
            "",
            f"{n:,} deltas",
        ],
        [
            "through `qwen-spaces serve`",
            served_cpu.fmt(1e6, 2),
            fmt_ratio(x),
            served_ttft.fmt(1e3, 2),
            "n/a" if added_ms is None else f"{added_ms:+.2f}",
            "/".join(f"{c:,}" for c in chunks)
            + " content chunks"
            + ("" if exact else " (**text differs**)"),
        ],
    ]
    lines = [
        "## OpenAI-compatible server: `qwen-spaces serve` vs `AsyncClient` direct",
        "",
        "The same fake Gradio server for both. Direct: `AsyncClient.stream()` in a fresh "
        "worker, CPU of that process. Served: `qwen-spaces serve` (its own process, pinned "
        "where the worker runs) streams `/v1/chat/completions` to an aiohttp reader; its CPU "
        "is every thread's (`/proc/PID/task/*/schedstat`). CPU per chunk from answers of "
        f"{n:,} diffs ({runs} runs x {1 if plan.quick else 3} streams); first token (from "
        f"the call or the POST to the first text) from answers of {n_first} diffs, so that "
        "the rest of the stream does not compete for the two cores "
        f"({runs} runs x {3 if plan.quick else 10}). Median [min-max], after a warm-up "
        "stream each.",
        "",
        *table(
            ["path", "CPU µs/chunk", "x direct", "first token ms", "added ms", "delivered"], rows
        ),
    ]
    if errors:
        lines += ["Errors: " + "; ".join(e[:200] for e in errors), ""]
    targets = [
        [
            "`qwen-spaces serve`: added latency to the first token",
            "n/a" if added_ms is None else f"{added_ms:+.2f} ms",
            f"≤ {TTFT_LIMIT_MS:g} ms",
            verdict(None if added_ms is None else added_ms <= TTFT_LIMIT_MS),
        ],
        [
            "`qwen-spaces serve`: CPU per streamed chunk vs `AsyncClient` direct, exact text",
            fmt_ratio(x),
            f"≤ {CPU_LIMIT}x",
            verdict(None if x is None else x <= CPU_LIMIT and exact),
        ],
    ]
    return lines, targets


def main(argv: Optional[list[str]] = None) -> int:
    return run_alone(section, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
