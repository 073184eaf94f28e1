"""The benchmark suite: ``python -m benchmarks.run [--quick] [--out benchmarks/RESULTS.md]``.

Starts the fake Gradio server (``python -m qwen_spaces.testing serve``) in its
own process, so its CPU is never counted, and runs every contender in a fresh
interpreter (``benchmarks/worker.py``), alternating the contenders round by
round. Writes one Markdown report: the machine, the versions, every figure as
a median of several runs with its min and max and its ratio to the floor, and
each target of issues 4, 12 and 18 with PASS or FAIL. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
SERVER_MODULE = os.environ.get("QS_BENCH_SERVER_MODULE", "qwen_spaces.testing")

FLOORS = ("floor_sync", "floor_async")
LABEL = {
    "floor_sync": "floor sync (requests `iter_lines` + `json.loads`)",
    "floor_async": "floor async (aiohttp line iteration + `json.loads`)",
    "qs_sync": "qwen_spaces `Client`",
    "qs_async": "qwen_spaces `AsyncClient`",
    "gradio_client": "gradio_client `Client.submit`",
}
# Which floor each contender is a ratio to.
FLOOR_OF = {
    "floor_sync": "floor_sync",
    "floor_async": "floor_async",
    "qs_sync": "floor_sync",
    "qs_async": "floor_async",
    "gradio_client": "floor_sync",
}

# Targets of issue 4, tightened by issue 19 (Client back on requests: within
# 1.1x the requests floor a user would write; import within 1.1x requests').
SYNC_LIMIT = 1.1
ASYNC_LIMIT = 1.5
SCALING_LIMIT = 1.2
IMPORT_LIMIT = 1.1


@dataclass
class Plan:
    quick: bool
    runs: int  # rounds of the alternating stream measurements
    repeat: int  # measured streams per worker (after one warm-up)
    mem_runs: int
    main_n: int
    onem_n: int
    scaling_ns: tuple[int, int, int]
    scaling_runs: int
    conc_n: int
    async_streams: int
    sync_threads: int
    sync_streams: int
    import_runs: int
    worker_timeout: float
    sse_args: list[str] = field(default_factory=list)
    # Independent runs of the CPU-per-message measurements (each: ``runs`` rounds
    # x ``repeat`` streams); the ratios are reported as median [min-max] of them.
    cpu_runs: int = 3

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                quick=True,
                runs=2,
                repeat=1,
                mem_runs=1,
                main_n=200,
                onem_n=200,
                scaling_ns=(200, 400, 1000),
                scaling_runs=2,
                conc_n=200,
                async_streams=20,
                sync_threads=16,
                sync_streams=16,
                import_runs=2,
                worker_timeout=60,
                sse_args=["--quick"],
                cpu_runs=2,
            )
        return cls(
            quick=False,
            runs=5,
            repeat=3,
            mem_runs=3,
            main_n=5000,
            onem_n=2000,
            scaling_ns=(1000, 10000, 100000),
            scaling_runs=3,
            conc_n=200,
            async_streams=500,
            sync_threads=16,
            sync_streams=64,
            import_runs=9,
            worker_timeout=900,
        )


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# --- processes ---------------------------------------------------------------------------


def _pin(cpu: Optional[int]) -> Any:
    if cpu is None:
        return None

    def preexec() -> None:
        os.sched_setaffinity(0, {cpu})

    return preexec


def pinning() -> tuple[Optional[int], Optional[int]]:
    """(server cpu, client cpu): apart when there are two cores to give."""
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) >= 2:
        cpus = sorted(os.sched_getaffinity(0))
        return cpus[1], cpus[0]
    return None, None


SERVER_CPU, CLIENT_CPU = pinning()


class Server:
    """The fake Gradio server in a subprocess; ``url`` once it said READY."""

    def __init__(self, layout: str, tokens: int, footer: bool = False) -> None:
        self.args = [
            sys.executable,
            "-m",
            SERVER_MODULE,
            "serve",
            "--layout",
            layout,
            "--port",
            "0",
        ]
        if layout == "qwen3":  # N pieces of reasoning and answer (benchmarks/qwen3.py)
            from benchmarks.qwen3 import server_args

            self.args += server_args(tokens)
        else:
            self.args += ["--tokens", str(tokens)]
        if footer:
            self.args.append("--footer")
        self.layout, self.tokens = layout, tokens
        self.proc: Optional[subprocess.Popen[str]] = None
        self.url = ""

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=_pin(SERVER_CPU),
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY "):
                self.url = line.split()[1].rstrip("/")
                return self
            if not line and self.proc.poll() is not None:
                break
        self.__exit__(None, None, None)
        raise RuntimeError(f"the fake server did not start: {' '.join(self.args)!r} {line!r}")

    def __exit__(self, *exc: Any) -> None:
        stop_process(self.proc)


def stop_process(proc: Optional[subprocess.Popen[str]]) -> None:
    """Terminate a helper process (kill it if it lingers) and close its stdout."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


def run_json_worker(
    cmd: list[str], timeout: float, env: Optional[dict[str, str]] = None, preexec: Any = None
) -> dict[str, Any]:
    """Run a worker process that prints its answer as a JSON line; that answer.

    A worker that fails, prints no JSON or outlives ``timeout`` answers
    ``{"ok": False, "error": ...}``. Shared by every benchmark's workers.
    """
    try:
        done = subprocess.run(
            cmd,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=preexec,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"ok": False, "error": f"worker exited {done.returncode}: {tail[0][:300]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def worker(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one contender in a fresh interpreter; its JSON answer (ok False on failure)."""
    env = dict(
        os.environ,
        PYTHONDONTWRITEBYTECODE="1",
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
    )
    cmd = [sys.executable, "-m", "benchmarks.worker", json.dumps(spec)]
    return run_json_worker(cmd, timeout, env, _pin(CLIENT_CPU))


# --- statistics and formatting ------------------------------------------------------------


@dataclass
class Figure:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def fmt(self, scale: float = 1.0, digits: int = 1) -> str:
        if not self.values:
            return "n/a"
        med, lo, hi = (v * scale for v in (self.median, min(self.values), max(self.values)))
        if len(self.values) == 1:
            return f"{med:,.{digits}f}"
        return f"{med:,.{digits}f} [{lo:,.{digits}f}-{hi:,.{digits}f}]"


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def fmt_spread(values: Sequence[Optional[float]]) -> str:
    """Ratios of independent runs: median [min-max] (n/a if any run gave none)."""
    if not values or any(v is None for v in values):
        return "n/a"
    known = [v for v in values if v is not None]
    if len(known) == 1:
        return fmt_ratio(known[0])
    lo, hi = min(known), max(known)
    return f"{statistics.median(known):.2f}x [{lo:.2f}-{hi:.2f}x, {len(known)} runs]"


def verdict(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("**PASS**" if ok else "**FAIL**")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return [*out, ""]


# --- the measurements ---------------------------------------------------------------------


@dataclass
class Result:
    """One contender's figures for one server configuration."""

    contender: str
    cpu_per_msg: Figure = field(default_factory=lambda: Figure([]))
    wall: Figure = field(default_factory=lambda: Figure([]))
    ttfd: Figure = field(default_factory=lambda: Figure([]))
    rss_delta: Figure = field(default_factory=lambda: Figure([]))
    traced_peak: Figure = field(default_factory=lambda: Figure([]))
    deltas: list[int] = field(default_factory=list)
    shas: set[str] = field(default_factory=set)
    error: Optional[str] = None

    def add_stream(self, answer: dict[str, Any], n: int) -> None:
        if not answer.get("ok"):
            self.error = self.error or answer.get("error", "failed")
            return
        for sample in answer["samples"]:
            self.cpu_per_msg.values.append(sample["cpu_s"] / n)
            self.wall.values.append(sample["wall_s"])
            if sample["ttfd_s"] is not None:
                self.ttfd.values.append(sample["ttfd_s"])
            self.deltas.append(sample["deltas"])
            self.shas.add(sample["text_sha"] or "none")

    def add_memory(self, answer: dict[str, Any]) -> None:
        if not answer.get("ok"):
            self.error = self.error or answer.get("error", "failed")
            return
        self.rss_delta.values.append(answer["rss_delta_kib"] * 1024)
        self.traced_peak.values.append(answer["traced_peak_bytes"])

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.cpu_per_msg.values)


def measure(
    plan: Plan,
    server: Server,
    contenders: list[str],
    runs: int,
    mem_runs: int,
) -> dict[str, Result]:
    """Alternate the contenders round by round (rotating who goes first)."""
    results = {c: Result(c) for c in contenders}
    base = {"url": server.url, "layout": server.layout}
    for r in range(runs):
        order = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
        for contender in order:
            result = results[contender]
            if result.error and not result.cpu_per_msg.values:
                continue  # it failed to run at all: don't retry every round
            answer = worker(
                {
                    **base,
                    "contender": contender,
                    "mode": "stream",
                    "warmup": 1,
                    "repeat": plan.repeat,
                },
                plan.worker_timeout,
            )
            result.add_stream(answer, server.tokens)
            log(
                f"  {server.layout} N={server.tokens} round {r + 1}/{runs} {contender}: "
                + (
                    f"{result.cpu_per_msg.values[-1] * 1e6:.2f} µs/msg"
                    if answer.get("ok")
                    else f"n/a ({answer.get('error', '')[:120]})"
                )
            )
    for r in range(mem_runs):
        for contender in contenders[r % len(contenders) :] + contenders[: r % len(contenders)]:
            result = results[contender]
            if not result.ok:
                continue
            answer = worker({**base, "contender": contender, "mode": "memory"}, plan.worker_timeout)
            result.add_memory(answer)
            if not answer.get("ok"):
                log(f"  memory {contender}: n/a ({answer.get('error', '')[:120]})")
    return results


def reference(results: dict[str, Result]) -> Optional[str]:
    """The answer's hash as the floor read it from process_completed."""
    for floor in FLOORS:
        if floor in results and len(results[floor].shas) == 1:
            sha = next(iter(results[floor].shas))
            return None if sha == "none" else sha
    return None


def exact(result: Result, ref: Optional[str]) -> Optional[bool]:
    if not result.ok or ref is None:
        return None
    return result.shas == {ref}


def stream_table(
    results: dict[str, Result], n: int, labels: Optional[dict[str, str]] = None
) -> tuple[list[str], Optional[str]]:
    labels = {**LABEL, **(labels or {})}
    ref = reference(results)
    rows = []
    for contender, result in results.items():
        floor = results.get(FLOOR_OF[contender])
        if not result.ok:
            reason = (result.error or "no result").replace("\n", " ")[:300]
            rows.append([labels[contender], f"n/a: {reason}", "", "", "", "", "", "", ""])
            continue
        x = ratio(
            result.cpu_per_msg.median, floor.cpu_per_msg.median if floor and floor.ok else None
        )
        is_floor = contender in FLOORS
        rows.append(
            [
                labels[contender],
                result.cpu_per_msg.fmt(1e6, 2),
                "1 (floor)"
                if is_floor
                else f"{fmt_ratio(x)} {FLOOR_OF[contender].replace('_', ' ')}",
                result.wall.fmt(1e3, 1),
                result.ttfd.fmt(1e3, 2),
                result.rss_delta.fmt(1 / 2**20, 2),
                result.traced_peak.fmt(1 / 2**20, 2),
                "/".join(str(d) for d in sorted(set(result.deltas))),
                {True: "yes", False: "**no**", None: "n/a"}[exact(result, ref)],
            ]
        )
    header = [
        "contender",
        "CPU µs/msg",
        "x floor",
        "wall ms/stream",
        "first delta ms",
        "peak RSS Δ MiB",
        "traced peak MiB",
        "deltas",
        "exact text",
    ]
    return table(header, rows), ref


def run_import(plan: Plan) -> dict[str, Any]:
    """-X importtime cumulative µs of the top-level import, fresh interpreters, alternating."""

    def once(module: str) -> Optional[float]:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_pin(CLIENT_CPU),
        )
        for line in done.stderr.splitlines():
            m = re.match(r"import time:\s*(\d+)\s*\|\s*(\d+)\s*\|(\s*)(\S+)\s*$", line)
            if m and m.group(4) == module and len(m.group(3)) == 1:
                return float(m.group(2))
        return None

    modules = ("requests", "qwen_spaces")
    for module in modules:
        once(module)  # warm the file cache and the bytecode cache
    times: dict[str, list[float]] = {m: [] for m in modules}
    for r in range(plan.import_runs):
        for module in modules if r % 2 == 0 else modules[::-1]:
            value = once(module)
            if value is not None:
                times[module].append(value)
    probe = (
        "import sys, qwen_spaces; qwen_spaces.Client(); sync = 'aiohttp' in sys.modules; "
        "req = 'requests' in sys.modules; "
        "qwen_spaces.AsyncClient; print(sync, 'aiohttp' in sys.modules, req)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    words = done.stdout.split()
    return {
        "times": {m: Figure(v) for m, v in times.items()},
        "aiohttp_sync": words[0] == "True" if len(words) == 3 else None,
        "aiohttp_async": words[1] == "True" if len(words) == 3 else None,
        "requests_at_import": words[2] == "True" if len(words) == 3 else None,
        "probe_error": None if len(words) == 3 else (done.stderr.strip()[-300:] or "no output"),
    }


def run_sse(plan: Plan) -> list[str]:
    """The SSE decoder micro-benchmark's own table (benchmarks/sse_decoders.py)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.sse_decoders", "--markdown", *plan.sse_args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            preexec_fn=_pin(CLIENT_CPU),
        )
    except subprocess.TimeoutExpired:
        return ["n/a: the SSE decoder benchmark timed out", ""]
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return [f"n/a: {tail[0][:300]}", ""]
    return [*done.stdout.rstrip().splitlines(), ""]


def versions() -> list[tuple[str, str]]:
    from importlib import metadata

    out = []
    for name in (
        "qwen_spaces",
        "requests",
        "urllib3",
        "aiohttp",
        "gradio_client",
        "orjson",
        "sseclient-py",
    ):
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return out


def machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pin = (
        f"server on CPU {SERVER_CPU}, clients on CPU {CLIENT_CPU}"
        if SERVER_CPU is not None
        else "none (one CPU)"
    )
    return [
        ("CPU", cpu),
        ("cores", str(os.cpu_count())),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("OS", platform.platform()),
        ("pinning", pin),
    ]


def cpu_runs(
    plan: Plan, server: Server, first: dict[str, Result], pairs: Sequence[tuple[str, str]]
) -> list[dict[str, Result]]:
    """``plan.cpu_runs`` independent measurements of the contenders of ``pairs`` (contender,
    floor): ``first`` (already measured), then each further one anew, alternating, no memory.
    """
    names = list(dict.fromkeys(name for pair in pairs for name in pair))
    runs = [first]
    for i in range(1, plan.cpu_runs):
        log(f"  CPU per message, run {i + 1}/{plan.cpu_runs}")
        runs.append(measure(plan, server, names, plan.runs, 0))
    return runs


def run_ratios(
    runs: Sequence[dict[str, Result]], contender: str, floor: str
) -> list[Optional[float]]:
    """The contender's CPU/msg ratio to its floor (medians) in each run."""
    return [
        ratio(
            r[contender].cpu_per_msg.median if r[contender].ok else None,
            r[floor].cpu_per_msg.median if r[floor].ok else None,
        )
        for r in runs
    ]


def spread_target(
    runs: Sequence[dict[str, Result]],
    contender: str,
    floor: str,
    n: int,
    ref: Optional[str],
    limit: float,
) -> tuple[str, Optional[bool]]:
    """(measured, ok) of a CPU ratio target over runs: every delta and the exact text in
    every run, and the median of the runs' ratios within ``limit``."""
    if not all(r[contender].ok for r in runs):
        return "did not run", False  # it did not run: that fails the target
    ratios = run_ratios(runs, contender, floor)
    complete = all(
        bool(r[contender].deltas)
        and min(r[contender].deltas) >= n
        and exact(r[contender], ref) is True
        for r in runs
    )
    measured = fmt_spread(ratios) + ("" if complete else " (deltas or text wrong)")
    if any(x is None for x in ratios):
        return measured, None
    known = [x for x in ratios if x is not None]
    return measured, statistics.median(known) <= limit and complete


def max_section(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """Streaming on the Max layout: the table, and the CPU-per-message targets over
    ``plan.cpu_runs`` runs (``python -m benchmarks.run --only cpu`` runs this alone)."""
    n = plan.main_n
    log(f"streaming, Max layout, N={n}")
    contenders = ["floor_sync", "floor_async", "qs_sync", "qs_async", "gradio_client"]
    pairs = (("qs_sync", "floor_sync"), ("qs_async", "floor_async"))
    with Server("max", n) as server:
        main_results = measure(plan, server, contenders, plan.runs, plan.mem_runs)
        runs = cpu_runs(plan, server, main_results, pairs)
    lines, ref = stream_table(main_results, n)
    per_run = "; ".join(
        f"{c.replace('qs_', '')} " + " / ".join(fmt_ratio(x) for x in run_ratios(runs, c, f))
        for c, f in pairs
    )
    body = [
        f"## Streaming, Max layout: {n:,} append diffs a stream",
        "",
        f"Median [min-max] of {plan.runs} runs x {plan.repeat} streams, each run a fresh "
        "process with one warm-up stream first; memory from "
        f"{plan.mem_runs} separate fresh process(es) (peak RSS growth over one cold stream; "
        "tracemalloc peak over one more). CPU is the process's CPU time (all threads) "
        "around the stream, divided by N.",
        "",
        *lines,
        f"CPU per message to the floor in {len(runs)} independent runs (the table's first, "
        f"then the floors and clients measured again, {plan.runs} x {plan.repeat} streams "
        f"each): {per_run}. The targets take the median of the runs.",
        "",
    ]
    targets = []
    for (contender, floor), limit in zip(pairs, (SYNC_LIMIT, ASYNC_LIMIT), strict=True):
        measured, ok = spread_target(runs, contender, floor, n, ref, limit)
        side = contender.replace("qs_", "")
        targets.append(
            [
                f"{side} CPU/msg vs {side} floor, every delta delivered, exact text (N={n:,})",
                measured,
                f"≤ {limit}x",
                verdict(ok),
            ]
        )
    return body, targets


# --- the report -----------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, two runs: a check that the suite works (< 60 s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the Markdown report (default: benchmarks/RESULTS.md; "
        "a temporary file with --quick or --only)",
    )
    parser.add_argument(
        "--only",
        choices=("cpu",),
        default=None,
        help="cpu: only the Max layout's streaming section (CPU per message, sync and async)",
    )
    parser.add_argument(
        "--cpu-runs",
        type=int,
        default=None,
        help="independent runs of the CPU-per-message measurements, given as median "
        "[min-max] (default: 3; 2 with --quick)",
    )
    args = parser.parse_args(argv)
    if args.cpu_runs is not None and args.cpu_runs < 1:
        parser.error("--cpu-runs must be at least 1")
    # Every contender starts from /config, as the figures say, and the user's
    # discovery cache is left alone (the latency section gives its cold
    # processes caches of their own).
    os.environ["QWEN_SPACES_CACHE"] = "off"
    plan = Plan.of(args.quick)
    if args.cpu_runs is not None:
        plan.cpu_runs = args.cpu_runs
    out: Path = args.out or (
        Path(tempfile.mkstemp(prefix="qs-bench-", suffix=".md")[1])
        if args.quick or args.only
        else ROOT / "benchmarks" / "RESULTS.md"
    )
    started = time.monotonic()
    targets: list[list[str]] = []
    body: list[str] = []

    def target(name: str, measured: str, limit: str, ok: Optional[bool]) -> None:
        targets.append([name, measured, limit, verdict(ok)])

    # 1. Side by side, Max layout (CPU per message: plan.cpu_runs independent runs).
    max_lines, max_targets = max_section(plan)
    body += max_lines
    targets += max_targets
    if args.only == "cpu":
        return finish(plan, out, started, targets, body, "cpu")

    # 2. The 1M layout: replace ops with a growing footer.
    n1 = plan.onem_n
    log(f"streaming, 1M layout with footer, N={n1}")
    with Server("1m", n1, footer=True) as server:
        onem = measure(
            plan,
            server,
            ["floor_sync", "floor_async", "qs_sync", "qs_async"],
            plan.runs,
            plan.mem_runs,
        )
    lines, onem_ref = stream_table(onem, n1)
    body += [
        f"## Streaming, 1M layout: {n1:,} `replace` diffs with a growing footer",
        "",
        "The whole text (answer + a changing `<summary>` footer) arrives in every message, "
        "so the bytes per message grow with the answer for every client, the floor "
        "included. Text is compared without the footer.",
        "",
        *lines,
    ]
    for contender in ("qs_sync", "qs_async"):
        result = onem[contender]
        same = exact(result, onem_ref) if result.ok else False
        target(
            f"1M layout, {contender.replace('qs_', '')}: exact text, footer removed",
            "did not run"
            if not result.ok
            else {True: "exact", False: "differs", None: "n/a"}[same],
            "exact",
            same,
        )

    # 2b. The Qwen3 layout: reasoning and answer in nested diffs (benchmarks/qwen3.py).
    from benchmarks.qwen3 import section as qwen3_section  # it imports this module

    qwen3_lines, qwen3_targets = qwen3_section(plan)
    body += qwen3_lines
    targets += qwen3_targets

    # 3. Scaling.
    log(f"scaling, N={plan.scaling_ns}")
    scaling: dict[int, dict[str, Result]] = {}
    for size in plan.scaling_ns:
        with Server("max", size) as server:
            scaling[size] = measure(
                plan,
                server,
                ["floor_sync", "floor_async", "qs_sync", "qs_async"],
                plan.scaling_runs,
                0,
            )
    small, large = plan.scaling_ns[0], plan.scaling_ns[-1]
    rows = []
    for contender in ("floor_sync", "floor_async", "qs_sync", "qs_async"):
        cells = [scaling[s][contender].cpu_per_msg.fmt(1e6, 2) for s in plan.scaling_ns]
        lo, hi = scaling[small][contender], scaling[large][contender]
        x = ratio(
            hi.cpu_per_msg.median if hi.ok else None, lo.cpu_per_msg.median if lo.ok else None
        )
        ok = None if x is None else x <= SCALING_LIMIT
        if contender.startswith("qs_") and not (hi.ok and lo.ok):
            ok = False
        if contender.startswith("qs_"):
            target(
                f"{contender.replace('qs_', '')} CPU/msg at N={large:,} vs N={small:,}",
                fmt_ratio(x),
                f"≤ {SCALING_LIMIT}x",
                ok,
            )
        rows.append(
            [
                LABEL[contender],
                *cells,
                fmt_ratio(x),
                verdict(ok) if contender.startswith("qs_") else "(reference)",
            ]
        )
    body += [
        "## Scaling: CPU µs per message as the answer grows",
        "",
        f"Max layout; median [min-max] of {plan.scaling_runs} runs x {plan.repeat} streams.",
        "",
        *table(
            [
                "contender",
                *(f"N={s:,}" for s in plan.scaling_ns),
                f"N={large:,} / N={small:,}",
                "≤ 1.2x",
            ],
            rows,
        ),
    ]

    # 4. Concurrency and 5. connection reuse, on one small-N server.
    cn = plan.conc_n
    log(f"concurrency ({plan.async_streams} async, {plan.sync_threads} threads) and reuse")
    with Server("max", cn) as server:
        refs = measure(plan, server, ["floor_sync"], 1, 0)["floor_sync"]
        conc_ref = next(iter(refs.shas)) if len(refs.shas) == 1 else None
        base = {"url": server.url, "layout": "max", "expect_sha": conc_ref, "min_deltas": cn}
        conc_async = worker(
            {**base, "contender": "qs_async", "mode": "concurrency", "streams": plan.async_streams},
            plan.worker_timeout,
        )
        conc_sync = worker(
            {
                **base,
                "contender": "qs_sync",
                "mode": "concurrency",
                "streams": plan.sync_streams,
                "threads": plan.sync_threads,
            },
            plan.worker_timeout,
        )
        reuse = {
            c: worker({**base, "contender": c, "mode": "reuse", "calls": 5}, plan.worker_timeout)
            for c in ("qs_sync", "qs_async")
        }
    rows = []
    for name, answer, how in (
        ("qwen_spaces `AsyncClient`", conc_async, f"{plan.async_streams} tasks, one client"),
        (
            "qwen_spaces `Client`",
            conc_sync,
            f"{plan.sync_threads} threads, one client, {plan.sync_streams} streams",
        ),
    ):
        if not answer.get("ok"):
            rows.append([name, how, f"n/a: {answer.get('error', '')[:300]}", "", "", "", "", ""])
            ok = False
        else:
            ok = (
                answer["errors"] == 0
                and answer["wrong_text"] == 0
                and answer["short"] == 0
                and conc_ref is not None
            )
            msgs = answer["streams"] * cn
            rows.append(
                [
                    name,
                    how,
                    str(answer["errors"])
                    + (f" ({'; '.join(answer['error_samples'])})" if answer["errors"] else ""),
                    str(answer["wrong_text"]),
                    f"{answer['wall_s']:.2f}",
                    f"{answer['cpu_s'] * 1e6 / msgs:.2f}",
                    f"{msgs / answer['wall_s']:,.0f}",
                    verdict(ok),
                ]
            )
        if name.endswith("`AsyncClient`"):
            target(
                f"{plan.async_streams} concurrent async streams: zero errors, exact text",
                "see Concurrency",
                "0 errors",
                ok,
            )
        else:
            target(
                f"sync, {plan.sync_threads} threads sharing one Client: zero errors, exact text",
                "see Concurrency",
                "0 errors",
                ok,
            )
    body += [
        f"## Concurrency: streams of {cn:,} appends at once",
        "",
        "One warm-up stream first (reads `/config`), then all at once; CPU is the whole "
        "process's over the whole run.",
        "",
        *table(
            [
                "client",
                "how",
                "errors",
                "wrong text",
                "total wall s",
                "CPU µs/msg",
                "msgs/s",
                "result",
            ],
            rows,
        ),
    ]

    rows = []
    for contender, answer in reuse.items():
        if not answer.get("ok"):
            rows.append([LABEL[contender], f"n/a: {answer.get('error', '')[:300]}", "", "", ""])
            target(f"connection reuse, {contender.replace('qs_', '')}", "n/a", "", False)
            continue
        per_call = answer["per_call"]
        later = sum(per_call[1:])
        ok = later == 0
        rows.append(
            [
                LABEL[contender],
                ", ".join(map(str, per_call)),
                str(answer["total"]),
                str(later),
                verdict(ok),
            ]
        )
        target(
            f"connection reuse, {contender.replace('qs_', '')}: calls 2-5 open no new connection",
            f"{answer['total']} in 5 calls ({later} after the first)",
            "1 in 5 calls",
            ok,
        )
    body += [
        "## Connection reuse: 5 sequential calls on one client",
        "",
        "New TCP connections the server accepted during each call (`connections_opened` "
        "from `/_fake/stats`, less the one each stats read costs, measured first).",
        "",
        *table(
            ["client", "new connections per call", "total", "after the first call", "result"], rows
        ),
    ]

    # 6. Import.
    log("import time")
    imports = run_import(plan)
    req, qs_ = imports["times"]["requests"], imports["times"]["qwen_spaces"]
    x = ratio(qs_.median if qs_.values else None, req.median if req.values else None)
    target(
        "`import qwen_spaces` vs `import requests` (cumulative, -X importtime, paired runs)",
        fmt_ratio(x),
        f"≤ {IMPORT_LIMIT}x",
        None if x is None else x <= IMPORT_LIMIT,
    )
    sync_aio = imports["aiohttp_sync"]
    target(
        "aiohttp not imported by `import qwen_spaces; qwen_spaces.Client()`",
        {True: "imported", False: "not imported", None: "n/a"}[sync_aio],
        "not imported",
        None if sync_aio is None else not sync_aio,
    )
    sync_req = imports["requests_at_import"]
    target(
        "requests not imported by `import qwen_spaces; qwen_spaces.Client()`",
        {True: "imported", False: "not imported", None: "n/a"}[sync_req],
        "not imported",
        None if sync_req is None else not sync_req,
    )
    rows = [
        ["`import requests`", req.fmt(1e-3, 1), "1 (baseline)"],
        ["`import qwen_spaces`", qs_.fmt(1e-3, 1), fmt_ratio(x)],
    ]
    body += [
        "## Import",
        "",
        f"`python -X importtime -c 'import X'`, cumulative time of the top-level import, "
        f"fresh interpreters, {plan.import_runs} runs alternating after one warm-up each.",
        "",
        *table(["import", "ms", "x requests"], rows),
        f"aiohttp in `sys.modules` after `import qwen_spaces; qwen_spaces.Client`: "
        f"**{sync_aio}**; after `qwen_spaces.AsyncClient`: {imports['aiohttp_async']}."
        + (f" (probe failed: {imports['probe_error']})" if imports["probe_error"] else ""),
        "",
    ]

    # 7. Latency to the first token behind a 50 ms round trip (benchmarks/latency.py).
    from benchmarks import latency

    latency_lines, latency_rows = latency.section(plan.quick, log)
    body += latency_lines
    for name, measured, limit, passed in latency_rows:
        target(name, measured, limit, passed)

    # 8. The SSE decoders.
    log("SSE decoders")
    body += [
        "## SSE decoders: sseclient-py vs `qwen_spaces.sse.SSEDecoder`",
        "",
        "`python -m benchmarks.sse_decoders`: the same recorded bytes through each.",
        "",
        *run_sse(plan),
    ]

    # 9. The OpenAI-compatible server.
    from benchmarks.serve import run_section as serve_section  # it imports this module

    serve_lines, serve_targets = serve_section(plan)
    body += serve_lines
    targets += serve_targets

    # 10. Uploading a large file (issue 11).
    from benchmarks.uploads import section as upload_section  # it imports this module

    log("uploads")
    upload_lines, upload_targets = upload_section(plan.quick)
    body += upload_lines
    targets += upload_targets

    # 11. What noticing a lost session costs a follow-up (issue 23).
    from benchmarks.followup import section as followup_section  # it imports this module

    log("follow-ups")
    followup_lines, followup_targets = followup_section(plan.quick, log)
    body += followup_lines
    targets += followup_targets

    return finish(plan, out, started, targets, body)


def finish(
    plan: Plan, out: Path, started: float, targets: list[list[str]], body: list[str], only: str = ""
) -> int:
    """Write the report (head, targets, then the sections' body) to ``out``."""
    elapsed = time.monotonic() - started
    flags = (" --quick" if plan.quick else "") + (f" --only {only}" if only else "")
    head = [
        "# qwen_spaces benchmarks",
        "",
        f"`python -m benchmarks.run{flags}`, "
        f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, {elapsed:.0f} s"
        + (" — **quick mode: tiny sizes, too noisy to judge the targets**" if plan.quick else ""),
        "",
        *table(["machine", ""], machine()),
        *table(["package", "version"], versions()),
        "## Targets (issues 4, 11, 12, 13, 18, 19 and 23)",
        "",
        *table(["target", "measured", "limit", "result"], targets),
    ]
    out.write_text("\n".join(head + body))
    log(f"wrote {out} in {elapsed:.0f} s")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
