"""The benchmarks' harness: the plan, the fake server, pinning, worker processes, the delay
proxy, and the statistics every section shares. Imports no section (and only the standard
library and ``benchmarks.qwen3``'s stdlib-only protocol at the top).

Every contender runs in a fresh interpreter (``python -m benchmarks.worker``, and the
sections' own ``worker`` modes), pinned to one core while the server runs on the other.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from benchmarks.qwen3 import server_args

ROOT = Path(__file__).resolve().parent.parent
SERVER_MODULE = os.environ.get("QS_BENCH_SERVER_MODULE", "qwen_spaces.testing")
DELAY = 0.025  # one way, through benchmarks/delay_proxy.py
RTT = 2 * DELAY


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


def pin(cpu: Optional[int]) -> Any:
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
            preexec_fn=pin(SERVER_CPU),
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
    return run_json_worker(cmd, timeout, env, pin(CLIENT_CPU))


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


# --- the delay proxy (a 50 ms round trip) ----------------------------------------------


class Proxy:
    """benchmarks/delay_proxy.py in its own process, in front of ``target``."""

    def __init__(self, target: str, preexec: Any) -> None:
        self.args = [
            sys.executable,
            "-m",
            "benchmarks.delay_proxy",
            "--target",
            target,
            "--delay",
            str(DELAY),
        ]
        self.preexec = preexec
        self.proc: Optional[subprocess.Popen[str]] = None
        self.url = ""

    def __enter__(self) -> Proxy:
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=self.preexec,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.__exit__()
            raise RuntimeError(f"the delay proxy did not start: {line!r}")
        self.url = line.split()[1]
        return self

    def __exit__(self, *exc: Any) -> None:
        stop_process(self.proc)


def run_module_worker(
    module: str, python: str, spec: dict[str, Any], preexec: Any, timeout: float
) -> dict[str, Any]:
    """``python -m module worker SPEC`` in ``python`` (maybe another venv's), cache off."""
    env = dict(
        os.environ,
        PYTHONDONTWRITEBYTECODE="1",
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        QWEN_SPACES_CACHE="off",
        PYTHONPATH=str(ROOT),
    )
    cmd = [python, "-m", module, "worker", json.dumps(spec)]
    return run_json_worker(cmd, timeout, env, preexec)


def median_or_none(values: list[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def fmt_ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"{statistics.median(values) * 1e3:,.1f} "
        f"[{min(values) * 1e3:,.1f}-{max(values) * 1e3:,.1f}]"
    )
