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

Every in-process contender runs in a fresh interpreter (``worker`` below; the
top of this module imports the standard library only, so gpt4free's venv can
run it too); the contenders alternate, run by run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from benchmarks.cold import Bytecode

ROOT = Path(__file__).resolve().parent.parent
DELAY = 0.025  # one way
RTT = 2 * DELAY
PROMPT = "hi"
SYSTEM = "You are a helpful assistant."
MODEL = {"max": "qwen-2.5-max", "1m": "qwen-2.5-1m"}
FLOOR_RT = {"max": 2, "1m": 3}
TOKENS = 20  # diffs per answer: the first is what counts
WARM_LIMIT_MS = 1.0  # issue #13: warm clients within 1 ms of the floor
COLD_LIMIT_RT = 0.5  # issue 26: the cold CLI within half a round trip of the cold floor
COLD = ("cold_floor", "cli_empty", "cli_filled", "startup")
G4F_PROVIDER = {
    "max": ("g4f.Provider.hf_space.Qwen_Qwen_2_5_Max", "Qwen_Qwen_2_5_Max", "qwen-2-5-max"),
    "1m": ("g4f.Provider.hf_space.Qwen_Qwen_2_5M", "Qwen_Qwen_2_5M", "qwen-2.5-1m"),
}

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


# --- the contenders, each in a fresh interpreter ------------------------------------------


def _known_ids(url: str, layout: str) -> Any:
    """The floor's ids, read from /config before any timing (it "knows" them)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.worker import Layout

    return Layout(url, layout)


def floor(url: str, layout: str, runs: int) -> list[float]:
    """http.client: (predict,) join, stream; the first process_generating's arrival."""
    import http.client
    from urllib.parse import urlsplit

    proto = _known_ids(url, layout)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)
    prefix = urlsplit(proto.join_url(url)).path.rsplit("/queue/join", 1)[0]
    headers = {"Content-Type": "application/json"}
    samples = []
    for _ in range(runs):
        h = os.urandom(6).hex()
        start = time.perf_counter()
        chatbot = None
        if proto.predict is not None:
            conn.request(
                "POST", f"{prefix}/run/predict", json.dumps(proto.predict_body(h)), headers
            )
            chatbot = json.loads(conn.getresponse().read())["data"][1]
        conn.request(
            "POST", f"{prefix}/queue/join", json.dumps(proto.join_body(h, chatbot)), headers
        )
        conn.getresponse().read()
        conn.request(
            "GET", f"{prefix}/queue/data?session_hash={h}", headers={"Accept": "text/event-stream"}
        )
        response = conn.getresponse()
        first = None
        while line := response.readline():
            if line.startswith(b"data:"):
                kind = json.loads(line[5:])["msg"]
                if kind == "process_generating" and first is None:
                    first = time.perf_counter() - start
                elif kind == "process_completed":
                    break
        response.read()  # to the end of the body: the connection is reused
        assert first is not None, "no process_generating"
        samples.append(first)
    conn.close()
    return samples


def floor_requests(url: str, layout: str, runs: int) -> list[float]:
    """requests alone: (predict,) join, stream; the first process_generating's arrival."""
    import requests

    proto = _known_ids(url, layout)
    samples = []
    with requests.Session() as session:
        for r in range(runs + 1):  # the first opens the connection (as a warm client's)
            h = os.urandom(6).hex()
            start = time.perf_counter()
            chatbot = None
            if proto.predict is not None:
                answer = session.post(
                    proto.predict_url(url), json=proto.predict_body(h), timeout=60
                )
                chatbot = answer.json()["data"][1]
            session.post(proto.join_url(url), json=proto.join_body(h, chatbot), timeout=60)
            first = None
            with session.get(
                proto.data_url(url),
                params={"session_hash": h},
                stream=True,
                headers={"Accept": "text/event-stream"},
                timeout=60,
            ) as response:
                for line in response.iter_lines():
                    if line.startswith(b"data:"):
                        kind = json.loads(line[5:])["msg"]
                        if kind == "process_generating" and first is None:
                            first = time.perf_counter() - start
                        elif kind == "process_completed":
                            break
                for _ in response.iter_content(65536):  # to the end: the connection is reused
                    pass
            assert first is not None, "no process_generating"
            if r:
                samples.append(first)
    return samples


def qs_sync(url: str, layout: str, runs: int) -> list[float]:
    import qwen_spaces as qs

    samples = []
    with qs.Client(model=MODEL[layout], base_url=url, timeout=60) as client:
        for _ in range(runs + 1):  # the first warms the client (/config, connection)
            start, first = time.perf_counter(), None
            with client.stream(PROMPT) as stream:
                for event in stream:
                    if first is None and type(event) is qs.TextDelta:
                        first = time.perf_counter() - start
            assert first is not None, "no text"
            samples.append(first)
    return samples[1:]


def qs_async(url: str, layout: str, runs: int) -> list[float]:
    import qwen_spaces as qs

    async def main() -> list[float]:
        samples = []
        async with qs.AsyncClient(model=MODEL[layout], base_url=url, timeout=60) as client:
            for _ in range(runs + 1):
                start, first = time.perf_counter(), None
                async with client.stream(PROMPT) as stream:
                    async for event in stream:
                        if first is None and type(event) is qs.TextDelta:
                            first = time.perf_counter() - start
                assert first is not None, "no text"
                samples.append(first)
        return samples[1:]

    return asyncio.run(main())


def gradio_client(url: str, layout: str, runs: int) -> list[float]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    samples = []
    for _ in range(runs + 1):
        start, first = time.perf_counter(), None
        if layout == "max":
            job = client.submit(PROMPT, [], SYSTEM, fn_index=0)
        else:
            raise RuntimeError("no 1M layout: its add_text/agent_run chain is not one function")
        for _output in job:
            if first is None:
                first = time.perf_counter() - start
        if first is None:
            raise RuntimeError("no output")
        samples.append(first)
    return samples[1:]


def g4f(url: str, layout: str, runs: int) -> list[float]:
    import importlib

    module, name, model = G4F_PROVIDER[layout]
    provider = getattr(importlib.import_module(module), name)
    # Pointed at the proxy: its URLs are class attributes (the 1M one built from url).
    provider.url = url
    if layout == "max":
        provider.api_endpoint = f"{url}/gradio_api/queue/join?"
    else:
        provider.api_endpoint = f"{url}/run/predict?__theme=light"

    async def main() -> list[float]:
        samples = []
        for _ in range(runs + 1):
            start, first = time.perf_counter(), None
            async for chunk in provider.create_async_generator(
                model, [{"role": "user", "content": PROMPT}]
            ):
                if first is None and isinstance(chunk, str) and chunk:
                    first = time.perf_counter() - start
            if first is None:
                raise RuntimeError("no text")
            samples.append(first)
        return samples[1:]

    return asyncio.run(main())


CONTENDERS: dict[str, Callable[[str, str, int], list[float]]] = {
    "floor": floor,
    "floor_requests": floor_requests,
    "qs_sync": qs_sync,
    "qs_async": qs_async,
    "gradio_client": gradio_client,
    "g4f": g4f,
}


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        if spec["layout"] == "qwen3":
            from benchmarks.qwen3_latency import run_contender

            samples = run_contender(spec)
        else:
            samples = CONTENDERS[spec["contender"]](spec["url"], spec["layout"], spec["runs"])
        return {"ok": True, "samples": samples}
    except Exception as exc:  # reported as n/a with the reason
        if os.environ.get("QS_BENCH_DEBUG"):
            traceback.print_exc()
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


# --- the harness ------------------------------------------------------------------------------


def _g4f_python() -> Optional[str]:
    python = os.environ.get("QWEN_SPACES_G4F_PYTHON") or str(
        ROOT / ".venvs" / "g4f" / "bin" / "python"
    )
    return python if Path(python).exists() else None


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "qwen-spaces"
    return [str(script)] if script.exists() else [sys.executable, "-m", "qwen_spaces"]


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
        from benchmarks.run import stop_process  # benchmarks.run imports this module

        stop_process(self.proc)


def _run_worker(python: str, spec: dict[str, Any], preexec: Any, timeout: float) -> dict[str, Any]:
    env = dict(
        os.environ,
        PYTHONDONTWRITEBYTECODE="1",
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        QWEN_SPACES_CACHE="off",
        PYTHONPATH=str(ROOT),
    )
    from benchmarks.run import run_json_worker  # benchmarks.run imports this module

    cmd = [python, "-m", "benchmarks.latency", "worker", json.dumps(spec)]
    return run_json_worker(cmd, timeout, env, preexec)


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


def _median(values: list[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def _fmt_ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"{statistics.median(values) * 1e3:,.1f} "
        f"[{min(values) * 1e3:,.1f}-{max(values) * 1e3:,.1f}]"
    )


def _rt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value / RTT:.2f}"


def measure_layout(
    layout: str,
    runs: int,
    log: Callable[[str], None],
    server_cls: Any,
    pin: Callable[[Optional[int]], Any],
    server_cpu: Optional[int],
    client_cpu: Optional[int],
    quick: bool = False,
    cold_only: bool = False,
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
    from benchmarks.cold import Bytecode, cold_floor, cold_spec

    client_pin = pin(client_cpu)
    with (
        server_cls("max" if layout == "max" else "1m", TOKENS) as server,
        Proxy(server.url, pin(server_cpu)) as proxy,
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
                            answer = _run_worker(
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


def report(
    layout: str, results: dict[str, Any], runs: int, table: Callable[..., list[str]]
) -> tuple[list[str], list[list[Any]]]:
    """The section's Markdown lines, and its target rows [name, measured, limit, ok]."""
    med = {name: _median(r["samples"]) for name, r in results.items()}
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
                _fmt_ms(result["samples"]),
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


def section(
    quick: bool, log: Callable[[str], None], cold_only: bool = False
) -> tuple[list[str], list[list[Any]]]:
    """The whole latency section (both layouts) and its target rows, for benchmarks.run;
    ``cold_only``: the cold CLI rows alone (``--cold-only``)."""
    from benchmarks.run import CLIENT_CPU, SERVER_CPU, Server, _pin, table

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
        results = measure_layout(
            layout, runs, log, Server, _pin, SERVER_CPU, CLIENT_CPU, quick, cold_only
        )
        lines, rows = report(layout, results, runs, table)
        body += lines
        targets += rows
    if cold_only:
        return body, targets
    from benchmarks import qwen3_latency  # issue 18: thinking on and off

    log(f"latency, qwen3 layout, {runs} runs")
    lines, rows = qwen3_latency.section(runs, log)
    return [*body, *lines], [*targets, *rows]


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:
        print(json.dumps(worker(json.loads(argv[1]))))
        return 0
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
    from benchmarks.run import log, table, verdict

    body, targets = section(args.quick, log, args.cold_only)
    text = "\n".join(
        [
            *body,
            *table(
                ["target", "measured", "limit", "result"],
                [[n, m, lim, verdict(ok)] for n, m, lim, ok in targets],
            ),
        ]
    )
    if args.out:
        args.out.write_text(text)
        print(args.out)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
