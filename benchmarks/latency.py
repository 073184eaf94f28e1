"""Latency to the first token, against a fixed network delay (issue #13).

    python -m benchmarks.latency [--quick] [--out FILE]    # this section alone
    python -m benchmarks.latency --cold-only               # the cold CLI and its floor only
    python -m benchmarks.run                               # the whole suite, this included

The replay server (``python -m qwen_spaces.testing serve``) runs behind
``benchmarks/delay_proxy.py``, which delays every byte by 25 ms each way (a
50 ms round trip; opening a connection costs nothing). Each contender's time is
from the start of a call to its first text delta, the median of the runs, in
milliseconds and in round trips (time / 50 ms). Contenders:

- the floors: hand-written clients that know the ids, one keep-alive
  connection (1M: predict, join, stream; Max: join, stream): with http.client,
  and with requests alone as a user would write it (a Session, ``json=``,
  ``stream=True`` and ``iter_lines``); the warm clients' target is the
  requests floor (issue 19);
- ``Client`` and ``AsyncClient`` warm: a later call on the same client;
- cold processes running ``qwen-spaces ask``, with the discovery cache empty
  and filled; against them the cold floor (``benchmarks/cold_floor.py``: a
  fresh process that imports requests and makes the same requests as ``ask``
  with the cache filled, issue 26), and ``qwen-spaces --version`` alone (start-up);
- gradio_client 2.7.2 and gpt4free's own providers (its venv, ``.venvs/g4f``)
  where they can connect.

The Qwen3 layout (issue 18: the floors and the warm clients, thinking on and
off) is ``benchmarks/qwen3_latency.py``, run at the end of this section.

Every in-process contender runs in a fresh interpreter
(``benchmarks/latency_worker.py``, whose top imports the standard library only, so
gpt4free's venv can run it too); the contenders alternate, run by run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from benchmarks import qwen3_latency
from benchmarks.cold import Bytecode, cold_floor, cold_spec
from benchmarks.harness import (
    CLIENT_CPU,
    DELAY,
    ROOT,
    RTT,
    SERVER_CPU,
    Plan,
    Proxy,
    Server,
    fmt_ms,
    log,
    median_or_none,
    pin,
    run_module_worker,
)
from benchmarks.latency_worker import MODEL, PROMPT
from benchmarks.report import TARGETS_HEADER, table, verdict

FLOOR_RT = {"max": 2, "1m": 3}
TOKENS = 20  # diffs per answer: the first is what counts
WARM_LIMIT_MS = 1.0  # issue #13: warm clients within 1 ms of the floor
COLD_LIMIT_RT = 0.5  # issue 26: the cold CLI within half a round trip of the cold floor
COLD = ("cold_floor", "cli_empty", "cli_filled", "startup")

LABEL = {
    "floor": "floor: hand-written, ids known, one keep-alive connection",
    "floor_requests": "floor, requests: a Session, ids known, as a user would write it",
    "qs_sync": "qwen_spaces `Client`, warm (a later call)",
    "qs_async": "qwen_spaces `AsyncClient`, warm (a later call)",
    "cold_floor": "cold floor: a fresh process, `import requests`, `ask`'s requests (ids given)",
    "cli_empty": "`qwen-spaces ask`, cold process, cache empty",
    "cli_filled": "`qwen-spaces ask`, cold process, cache filled",
    "startup": "`qwen-spaces --version` alone (process start-up)",
    "gradio_client": "gradio_client 2.7.2 `Client.submit`, warm",
    "g4f": "gpt4free's provider (its own aiohttp session per call), warm",
}


# --- the cold processes and the runs --------------------------------------------------------


def _g4f_python() -> Optional[str]:
    python = os.environ.get("QWEN_SPACES_G4F_PYTHON") or str(
        ROOT / ".venvs" / "g4f" / "bin" / "python"
    )
    return python if Path(python).exists() else None


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "qwen-spaces"
    return [str(script)] if script.exists() else [sys.executable, "-m", "qwen_spaces"]


def _cold_cli(
    url: str, layout: str, cache_dir: str, preexec: Any, bytecode: Optional[Bytecode] = None
) -> float:
    """A fresh ``qwen-spaces ask`` process: from spawning it to its first byte of answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QWEN_SPACES")}
    env.update(QWEN_SPACES_CACHE_DIR=cache_dir, PYTHONDONTWRITEBYTECODE="1")
    if bytecode is not None:
        env = bytecode.env(env)
    args = [*_cli(), "ask", "-m", MODEL[layout], "--base-url", url, "--timeout", "60", PROMPT]
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=preexec
    )
    assert proc.stdout is not None
    first = os.read(proc.stdout.fileno(), 1)
    elapsed = time.perf_counter() - start
    _, err = proc.communicate(timeout=60)
    if not first or proc.returncode != 0:
        raise RuntimeError(f"qwen-spaces ask failed ({proc.returncode}): {err.decode()[-300:]}")
    return elapsed


def _startup(preexec: Any, bytecode: Optional[Bytecode] = None) -> float:
    """``qwen-spaces --version``: from spawning it to its first byte on stdout."""
    env = dict(os.environ) if bytecode is None else bytecode.env(os.environ)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*_cli(), "--version"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        preexec_fn=preexec,
    )
    assert proc.stdout is not None
    first = os.read(proc.stdout.fileno(), 1)
    elapsed = time.perf_counter() - start
    proc.communicate(timeout=60)
    if not first or proc.returncode != 0:
        raise RuntimeError(f"qwen-spaces --version failed ({proc.returncode})")
    return elapsed


def _rt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value / RTT:.2f}"


def measure_layout(
    layout: str, runs: int, quick: bool = False, cold_only: bool = False
) -> dict[str, Any]:
    """All contenders on one layout; name -> {"samples": [...]} or {"error": ...}."""
    results: dict[str, dict[str, Any]] = {c: {"samples": []} for c in LABEL}
    workers = ["floor", "floor_requests", "qs_sync", "qs_async"]
    if layout == "max":
        workers.append("gradio_client")
    g4f_python = _g4f_python()
    if cold_only:
        for name in [*workers, "g4f", "gradio_client"]:
            results[name]["error"] = "not run with --cold-only"
        workers = []
    elif quick:
        results["g4f"]["error"] = "not run with --quick (importing gpt4free takes seconds)"
    elif g4f_python is not None:
        workers.append("g4f")
    else:
        results["g4f"]["error"] = "no gpt4free venv (.venvs/g4f or $QWEN_SPACES_G4F_PYTHON)"
    if layout == "1m":
        results["gradio_client"]["error"] = (
            "not run: the 1M layout is two chained functions (add_text, then agent_run)"
        )
    client_pin = pin(CLIENT_CPU)
    with (
        Server("max" if layout == "max" else "1m", TOKENS) as server,
        Proxy(server.url, pin(SERVER_CPU)) as proxy,
    ):
        url = proxy.url
        filled = tempfile.mkdtemp(prefix="qs-lat-filled-")
        bytecode = Bytecode()  # the cold processes' .pyc, as an installed package has them
        try:
            spec = cold_spec(url, layout)
            with bytecode.writing():  # the first runs compile what they import
                _cold_cli(url, layout, filled, client_pin, bytecode)  # fills the cache too
                _startup(client_pin, bytecode)
                cold_floor(spec, client_pin, bytecode)
            contenders = [*workers, *COLD]
            for r in range(runs):
                order = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
                for name in order:
                    result = results[name]
                    if result.get("error"):
                        continue
                    try:
                        if name == "cli_empty":
                            empty = tempfile.mkdtemp(prefix="qs-lat-empty-")
                            try:
                                result["samples"].append(
                                    _cold_cli(url, layout, empty, client_pin, bytecode)
                                )
                            finally:
                                shutil.rmtree(empty, ignore_errors=True)
                        elif name == "cli_filled":
                            result["samples"].append(
                                _cold_cli(url, layout, filled, client_pin, bytecode)
                            )
                        elif name == "startup":
                            result["samples"].append(_startup(client_pin, bytecode))
                        elif name == "cold_floor":
                            result["samples"].append(cold_floor(spec, client_pin, bytecode))
                        else:
                            python = g4f_python if name == "g4f" else sys.executable
                            assert python is not None
                            answer = run_module_worker(
                                "benchmarks.latency_worker",
                                python,
                                {"contender": name, "url": url, "layout": layout, "runs": 1},
                                client_pin,
                                300,
                            )
                            if not answer.get("ok"):
                                result["error"] = answer.get("error", "failed")
                            else:
                                result["samples"].extend(answer["samples"])
                    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                        result["error"] = f"{type(exc).__name__}: {exc}"[:300]
                log(f"  latency {layout} run {r + 1}/{runs}")
        finally:
            shutil.rmtree(filled, ignore_errors=True)
            bytecode.remove()
    return results


def report(layout: str, results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The section's Markdown lines, and its target rows [name, measured, limit, ok]."""
    med = {name: median_or_none(r["samples"]) for name, r in results.items()}
    base, startup, cold_base = med["floor"], med["startup"], med["cold_floor"]
    user_floor = med["floor_requests"]
    rows = []
    for name, result in results.items():
        if result.get("error") and not result["samples"]:
            rows.append([LABEL[name], f"n/a: {result['error']}", "", "", ""])
            continue
        value = med[name]
        over = (
            ""
            if value is None or base is None or name in ("startup", "cold_floor")
            else (f"{(value - base) * 1e3:+,.1f} ms ({(value - base) / RTT:+.2f} RT)")
        )
        if name.startswith("cli_") and value is not None and base is not None and startup:
            less = value - startup - base
            over += f"; less start-up: {less * 1e3:+,.1f} ms ({less / RTT:+.2f} RT)"
        if name.startswith("cli_") and value is not None and cold_base is not None:
            cold = value - cold_base
            over = "; ".join(
                part
                for part in (
                    over,
                    f"over the cold floor: {cold * 1e3:+,.1f} ms ({cold / RTT:+.2f} RT)",
                )
                if part
            )
        rows.append(
            [
                LABEL[name],
                fmt_ms(result["samples"]),
                _rt(value),
                "" if name == "floor" else over,
                str(len(result["samples"])),
            ]
        )
    lines = [
        f"### {'Max' if layout == 'max' else '1M'} layout (floor: {FLOOR_RT[layout]} round trips)",
        "",
        *table(
            [
                "contender",
                "first delta ms, median [min-max]",
                "round trips",
                "over the floor",
                "runs",
            ],
            rows,
        ),
    ]
    targets: list[list[Any]] = []

    def target(what: str, value: Optional[float], limit: str, ok: Optional[bool]) -> None:
        measured = "n/a" if value is None else f"{value * 1e3:+.2f} ms ({value / RTT:+.2f} RT)"
        targets.append([f"latency, {layout}: {what}", measured, limit, ok])

    for name in ("qs_sync", "qs_async"):
        if results[name].get("error") == "not run with --cold-only":
            continue
        delta = None if med[name] is None or user_floor is None else med[name] - user_floor
        target(
            f"{'Client' if name == 'qs_sync' else 'AsyncClient'} warm vs requests floor",
            delta,
            f"≤ +{WARM_LIMIT_MS:.0f} ms",
            None if delta is None else delta * 1e3 <= WARM_LIMIT_MS,
        )
    # Issue 26: the cold CLI against a cold process that imports requests and sends the
    # same requests (the empty cache adds /config: one round trip).
    for name, rts, limit in (
        ("cli_filled", 0, f"cold floor (± {COLD_LIMIT_RT} RT)"),
        ("cli_empty", 1, f"cold floor + 1 RT (± {COLD_LIMIT_RT} RT)"),
    ):
        extra = None if med[name] is None or cold_base is None else med[name] - cold_base
        ok = None if extra is None else abs(extra / RTT - rts) <= COLD_LIMIT_RT
        target(
            f"cold CLI, cache {'filled' if name == 'cli_filled' else 'empty'}: over the cold floor",
            extra,
            limit,
            ok,
        )
    return lines, targets


def section(plan: Plan, cold_only: bool = False) -> tuple[list[str], list[list[str]]]:
    """The whole latency section (both layouts, then the Qwen3 layout's) and its target
    rows; ``cold_only``: the cold CLI rows alone (``--cold-only``)."""
    quick = plan.quick
    runs = 2 if quick else 15
    body = [
        "## Latency to the first token (issue #13)",
        "",
        f"`python -m benchmarks.latency{' --quick' if quick else ''}"
        f"{' --cold-only' if cold_only else ''}`: the replay server "
        f"behind `benchmarks/delay_proxy.py`, {DELAY * 1e3:.0f} ms each way ({RTT * 1e3:.0f} ms "
        "a round trip; opening a connection is free, so cold processes pay no TCP or TLS "
        "handshake). Time from the start of a call to its first text delta (a cold CLI: from "
        "spawning the process to the first byte of answer on its stdout); median [min-max] "
        f"of {runs} runs, each contender alternating with the others, in fresh processes. "
        "Round trips = time / 50 ms. Warm clients: one call on the same client first "
        "(`/config`, connection). The cache rows use a discovery cache of their own "
        "(`QWEN_SPACES_CACHE_DIR`); the other contenders run with `QWEN_SPACES_CACHE=off`.",
        "",
    ]
    targets: list[list[Any]] = []
    for layout in ("max", "1m"):
        log(f"latency, {layout} layout, {runs} runs")
        results = measure_layout(layout, runs, quick, cold_only)
        lines, rows = report(layout, results)
        body += lines
        targets += rows
    if not cold_only:  # issue 18: the Qwen3 layout, thinking on and off
        log(f"latency, qwen3 layout, {runs} runs")
        lines, rows = qwen3_latency.section(runs)
        body += lines
        targets += rows
    return body, [[name, measured, limit, verdict(ok)] for name, measured, limit, ok in targets]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs: a check that it works")
    parser.add_argument(
        "--cold-only",
        action="store_true",
        help="only the cold processes: the cold floor, `qwen-spaces ask`, start-up",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the Markdown section there (default: print it)",
    )
    args = parser.parse_args(argv)
    body, targets = section(Plan.of(args.quick), args.cold_only)
    text = "\n".join([*body, *table(TARGETS_HEADER, targets)])
    if args.out:
        args.out.write_text(text)
        print(args.out)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
