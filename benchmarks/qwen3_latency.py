"""Latency to the first token on the Qwen3 layout (issue 18), thinking on and off.

Part of ``python -m benchmarks.latency`` (and so of ``benchmarks.run``): the
fake Qwen3 Space behind the same delay proxy (25 ms each way). The first token
is the first piece of the model's output, reasoning or answer (thinking on: a
``Reasoning`` event; off: a ``TextDelta``; floors: the first piece added to a
part's content). The floors know the ids and reuse one connection:

- thinking on (the Space's default): join, stream: 2 round trips, as Max;
- thinking off: the Space's queued toggle first, in the same session: its
  join and its event stream (to its completion), then the chat's join and
  stream: 4 round trips, 2 more than thinking on.

The warm clients make a later call on the same client, each call a new
session (so thinking off flips the switch every call). Each contender runs in a fresh
interpreter: ``python -m benchmarks.qwen3_latency worker SPEC`` prints its samples.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, Optional

from benchmarks.harness import (
    CLIENT_CPU,
    RTT,
    SERVER_CPU,
    Proxy,
    Server,
    fmt_ms,
    log,
    pin,
    run_module_worker,
)
from benchmarks.qwen3 import MODEL, PROMPT, Proto, Reader
from benchmarks.report import table

TOKENS = 20  # pieces per answer (half reasoning): the first is what counts
FLOOR_RT = {True: 2, False: 4}
MODES = (True, False)
LABEL = {
    "floor": "floor: hand-written, ids known, one keep-alive connection",
    "floor_requests": "floor, requests: a Session, ids known, as a user would write it",
    "qs_sync": "qwen_spaces `Client`, warm (a later call)",
    "qs_async": "qwen_spaces `AsyncClient`, warm (a later call)",
}
WARM_LIMIT_MS = 1.0


def floor(url: str, runs: int, thinking: bool) -> list[float]:
    """http.client: (toggle join, its stream,) join, stream; the first piece's arrival."""
    import http.client
    from urllib.parse import urlsplit

    proto = Proto(url)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)
    headers = {"Content-Type": "application/json"}
    path = urlsplit(proto.join_url(url)).path.rsplit("/queue/join", 1)[0]

    def stream(h: str, reader: Optional[Reader]) -> None:
        conn.request(
            "GET", f"{path}/queue/data?session_hash={h}", headers={"Accept": "text/event-stream"}
        )
        response = conn.getresponse()
        while line := response.readline():
            if reader is not None:
                if reader.line(line):
                    break
            elif line.startswith(b"data:") and b'"process_completed"' in line:
                break
        response.read()  # to the end of the body: the connection is reused

    samples = []
    for _ in range(runs):
        h = os.urandom(6).hex()
        start = time.perf_counter()
        if not thinking:
            conn.request("POST", f"{path}/queue/join", json.dumps(proto.toggle_body(h)), headers)
            conn.getresponse().read()
            stream(h, None)
        conn.request("POST", f"{path}/queue/join", json.dumps(proto.join_body(h)), headers)
        conn.getresponse().read()
        reader = Reader(proto.chatbot)
        stream(h, reader)
        assert reader.first is not None, "no reasoning or answer"
        samples.append(reader.first - start)
    conn.close()
    return samples


def floor_requests(url: str, runs: int, thinking: bool) -> list[float]:
    """requests alone: (toggle join, its stream,) join, stream."""
    import requests

    proto = Proto(url)
    samples = []
    with requests.Session() as session:

        def stream(h: str, reader: Optional[Reader]) -> None:
            with session.get(
                proto.data_url(url),
                params={"session_hash": h},
                stream=True,
                headers={"Accept": "text/event-stream"},
                timeout=60,
            ) as response:
                for line in response.iter_lines():
                    if reader is not None:
                        if reader.line(line):
                            break
                    elif line.startswith(b"data:") and b'"process_completed"' in line:
                        break
                for _ in response.iter_content(65536):  # to the end: the connection is reused
                    pass

        for r in range(runs + 1):  # the first opens the connection (as a warm client's)
            h = os.urandom(6).hex()
            start = time.perf_counter()
            if not thinking:
                session.post(proto.join_url(url), json=proto.toggle_body(h), timeout=60)
                stream(h, None)
            session.post(proto.join_url(url), json=proto.join_body(h), timeout=60)
            reader = Reader(proto.chatbot)
            stream(h, reader)
            assert reader.first is not None, "no reasoning or answer"
            if r:
                samples.append(reader.first - start)
    return samples


def qs_sync(url: str, runs: int, thinking: bool) -> list[float]:
    import qwen_spaces as qs

    kinds = (qs.Reasoning, qs.TextDelta)
    samples = []
    with qs.Client(model=MODEL, base_url=url, timeout=60) as client:
        for _ in range(runs + 1):  # the first warms the client (/config, connection)
            start, first = time.perf_counter(), None
            with client.stream(PROMPT, thinking=thinking) as stream:
                for event in stream:
                    if first is None and type(event) in kinds:
                        first = time.perf_counter() - start
            assert first is not None, "no reasoning or answer"
            samples.append(first)
    return samples[1:]


def qs_async(url: str, runs: int, thinking: bool) -> list[float]:
    import qwen_spaces as qs

    kinds = (qs.Reasoning, qs.TextDelta)

    async def main() -> list[float]:
        samples = []
        async with qs.AsyncClient(model=MODEL, base_url=url, timeout=60) as client:
            for _ in range(runs + 1):
                start, first = time.perf_counter(), None
                async with client.stream(PROMPT, thinking=thinking) as stream:
                    async for event in stream:
                        if first is None and type(event) in kinds:
                            first = time.perf_counter() - start
                assert first is not None, "no reasoning or answer"
                samples.append(first)
        return samples[1:]

    return asyncio.run(main())


CONTENDERS: dict[str, Callable[[str, int, bool], list[float]]] = {
    "floor": floor,
    "floor_requests": floor_requests,
    "qs_sync": qs_sync,
    "qs_async": qs_async,
}


def run_contender(spec: dict[str, Any]) -> list[float]:
    """One worker's samples (``python -m benchmarks.qwen3_latency worker SPEC``)."""
    return CONTENDERS[spec["contender"]](spec["url"], spec["runs"], spec["thinking"])


def section(runs: int) -> tuple[list[str], list[list[Any]]]:
    """The Qwen3 latency table and its target rows [name, measured, limit, ok], for
    benchmarks.latency.section."""
    names = [(c, t) for t in MODES for c in CONTENDERS]
    results: dict[tuple[str, bool], dict[str, Any]] = {k: {"samples": []} for k in names}
    client_pin = pin(CLIENT_CPU)
    with Server("qwen3", TOKENS) as server, Proxy(server.url, pin(SERVER_CPU)) as proxy:
        for r in range(runs):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name, thinking in order:
                result = results[(name, thinking)]
                if result.get("error"):
                    continue
                answer = run_module_worker(
                    "benchmarks.qwen3_latency",
                    sys.executable,
                    {
                        "contender": name,
                        "url": proxy.url,
                        "layout": "qwen3",
                        "runs": 1,
                        "thinking": thinking,
                    },
                    client_pin,
                    300,
                )
                if answer.get("ok"):
                    result["samples"].extend(answer["samples"])
                else:
                    result["error"] = answer.get("error", "failed")
            log(f"  latency qwen3 run {r + 1}/{runs}")

    def med(key: tuple[str, bool]) -> Optional[float]:
        samples = results[key]["samples"]
        return statistics.median(samples) if samples else None

    rows = []
    targets: list[list[Any]] = []
    for key in names:
        name, thinking = key
        result, base = results[key], med(("floor", thinking))
        mode = (
            "on: join, stream (2 RT)"
            if thinking
            else "off: toggle join + its stream, then join, stream (4 RT: +2)"
        )
        if result.get("error") and not result["samples"]:
            rows.append([LABEL[name], mode, f"n/a: {result['error']}", "", "", ""])
            continue
        value = med(key)
        over = (
            ""
            if name == "floor" or value is None or base is None
            else f"{(value - base) * 1e3:+,.1f} ms ({(value - base) / RTT:+.2f} RT)"
        )
        rows.append(
            [
                LABEL[name],
                mode,
                fmt_ms(result["samples"]),
                "n/a" if value is None else f"{value / RTT:.2f}",
                over,
                str(len(result["samples"])),
            ]
        )
    for name in ("qs_sync", "qs_async"):
        for thinking in MODES:
            value, user = med((name, thinking)), med(("floor_requests", thinking))
            delta = None if value is None or user is None else value - user
            who = "Client" if name == "qs_sync" else "AsyncClient"
            targets.append(
                [
                    f"latency, qwen3, thinking {'on' if thinking else 'off'}: {who} warm vs "
                    f"requests floor ({FLOOR_RT[thinking]} RT)",
                    "n/a" if delta is None else f"{delta * 1e3:+.2f} ms ({delta / RTT:+.2f} RT)",
                    f"≤ +{WARM_LIMIT_MS:.0f} ms",
                    None if delta is None else delta * 1e3 <= WARM_LIMIT_MS,
                ]
            )
    lines = [
        "### Qwen3 layout (floor: 2 round trips thinking on, 4 thinking off)",
        "",
        "First token: the first piece of reasoning or answer (thinking on: a `Reasoning` "
        "event; off: a `TextDelta`). Thinking off runs the Space's queued toggle in the "
        "session first, its join and its event stream to the completion, then the chat's "
        "join and stream: 2 round trips more than thinking on, for the floors as for the "
        'clients (every call is a new session). "over the floor": against the http.client '
        "floor of the same mode.",
        "",
        *table(
            [
                "contender",
                "thinking (floor round trips)",
                "first token ms, median [min-max]",
                "round trips",
                "over the floor",
                "runs",
            ],
            rows,
        ),
    ]
    return lines, targets


def main(argv: list[str]) -> int:
    """``worker SPEC_JSON``: one contender's samples as a JSON line."""
    if argv[:1] != ["worker"] or len(argv) != 2:
        sys.exit("usage: python -m benchmarks.qwen3_latency worker SPEC_JSON")
    try:
        print(json.dumps({"ok": True, "samples": run_contender(json.loads(argv[1]))}))
    except Exception as exc:  # reported as n/a with the reason
        if os.environ.get("QS_BENCH_DEBUG"):
            traceback.print_exc()
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
