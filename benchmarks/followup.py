"""What noticing a lost session costs a follow-up (issue 23).

    python -m benchmarks.followup [--quick]     # this section alone (prints it)
    python -m benchmarks.run                    # the whole suite, this included

A follow-up on a Space that keeps the conversation in its session must find out
whether the Space still holds it. On the Qwen3 layout the chatbot's first value
shows the session's turns: nothing is added. On the 1M layout nothing shows it,
so the clients ask ``GET /app_id`` before the follow-up (a restart changes it).
Here a warm client (one conversation's first turn done) times its follow-up, to
the first text delta and to the end, behind the 50 ms round trip of the latency
section, with the check as shipped and with it switched off (the cost's
baseline); the fake server counts the requests each follow-up made. Fresh
interpreters, contenders alternating run by run.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import urllib.request
from typing import Any, Optional

from benchmarks.harness import (
    CLIENT_CPU,
    RTT,
    SERVER_CPU,
    Plan,
    Proxy,
    Server,
    log,
    pin,
    run_json_worker,
)
from benchmarks.report import run_alone, table, verdict

LAYOUTS = {"1m": "qwen-2.5-1m", "qwen3": "qwen-3-8b"}
TOKENS = 20
CONTENDERS = ("sync", "sync_unchecked", "async", "async_unchecked")
LABEL = {
    "sync": "`Client`, as shipped",
    "sync_unchecked": "`Client`, check switched off",
    "async": "`AsyncClient`, as shipped",
    "async_unchecked": "`AsyncClient`, check switched off",
}


def _requests(url: str) -> int:
    with urllib.request.urlopen(f"{url}/_fake/stats", timeout=10) as answer:
        return int(json.load(answer)["requests"])


def _switch_off() -> None:
    # The baseline: the call never asks /app_id (what the follow-up cost before).
    from qwen_spaces._core.session import CallSession

    CallSession.asks_app_id = lambda self: False  # type: ignore[method-assign]


def measure(spec: dict[str, Any]) -> dict[str, list[float]]:
    """One worker: ``runs`` conversations, each a first turn then the timed follow-up."""
    import qwen_spaces as qs

    url, stats, layout, runs = spec["url"], spec["stats"], spec["layout"], spec["runs"]
    contender = spec["contender"]
    if contender.endswith("unchecked"):
        _switch_off()
    out: dict[str, list[float]] = {"first": [], "total": [], "requests": []}

    def timed(events: Any, start: float, first: list[float]) -> None:
        if not first and type(events) is qs.TextDelta:
            first.append(time.perf_counter() - start)

    if contender.startswith("sync"):
        with qs.Client(model=LAYOUTS[layout], base_url=url, timeout=60) as client:
            client.chat("warm-up")  # /config, the connection
            for _ in range(runs):
                conversation = client.conversation()
                conversation.send("one")
                before, first = _requests(stats), []
                start = time.perf_counter()
                with conversation.stream("two") as stream:
                    for event in stream:
                        timed(event, start, first)
                out["total"].append(time.perf_counter() - start)
                out["first"] += first
                out["requests"].append(float(_requests(stats) - before))
        return out

    async def main() -> None:
        async with qs.AsyncClient(model=LAYOUTS[layout], base_url=url, timeout=60) as client:
            await client.chat("warm-up")
            for _ in range(runs):
                conversation = client.conversation()
                await conversation.send("one")
                before, first = _requests(stats), []
                start = time.perf_counter()
                async with conversation.stream("two") as stream:
                    async for event in stream:
                        timed(event, start, first)
                out["total"].append(time.perf_counter() - start)
                out["first"] += first
                out["requests"].append(float(_requests(stats) - before))

    asyncio.run(main())
    return out


def _fmt(values: list[float]) -> str:
    if not values:
        return "n/a"
    low, high = min(values) * 1e3, max(values) * 1e3
    return f"{statistics.median(values) * 1e3:,.1f} [{low:,.1f}-{high:,.1f}]"


def section(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The follow-up table and its target rows, for benchmarks.run."""
    log("follow-ups")
    quick = plan.quick
    runs, per_worker = (2, 1) if quick else (8, 3)
    env = dict(os.environ, QWEN_SPACES_CACHE="off", PYTHONDONTWRITEBYTECODE="1")
    rows: list[list[Any]] = []
    targets: list[list[str]] = []
    for layout in LAYOUTS:
        results: dict[str, dict[str, list[float]]] = {
            c: {"first": [], "total": [], "requests": []} for c in CONTENDERS
        }
        errors: dict[str, str] = {}
        with Server(layout, TOKENS) as server, Proxy(server.url, pin(SERVER_CPU)) as proxy:
            for r in range(runs):
                order = CONTENDERS[r % len(CONTENDERS) :] + CONTENDERS[: r % len(CONTENDERS)]
                for contender in order:
                    if contender in errors:
                        continue
                    spec = {
                        "url": proxy.url,
                        "stats": server.url,
                        "layout": layout,
                        "runs": per_worker,
                        "contender": contender,
                    }
                    cmd = [sys.executable, "-m", "benchmarks.followup", "worker", json.dumps(spec)]
                    answer = run_json_worker(cmd, 300, env, pin(CLIENT_CPU))
                    if not answer.get("ok"):
                        errors[contender] = str(answer.get("error", "failed"))
                        continue
                    for key, values in answer["samples"].items():
                        results[contender][key] += values
                log(f"  follow-up {layout} run {r + 1}/{runs}")
        for contender in CONTENDERS:
            got = results[contender]
            if contender in errors and not got["total"]:
                rows.append([layout, LABEL[contender], f"n/a: {errors[contender]}", "", "", ""])
                continue
            counts = sorted(set(int(n) for n in got["requests"]))
            rows.append(
                [
                    layout,
                    LABEL[contender],
                    _fmt(got["first"]),
                    _fmt(got["total"]),
                    "/".join(map(str, counts)),
                    str(len(got["total"])),
                ]
            )
        for kind in ("sync", "async"):
            shipped, off = results[kind], results[f"{kind}_unchecked"]
            if not shipped["first"] or not off["first"]:
                continue
            added = statistics.median(shipped["first"]) - statistics.median(off["first"])
            extra = statistics.median(shipped["requests"]) - statistics.median(off["requests"])
            limit = "≤ 1 request" if layout == "1m" else "0 requests"
            ok = extra <= (1 if layout == "1m" else 0)
            targets.append(
                [
                    f"{layout} follow-up, {kind}: the lost-session check adds",
                    f"{extra:+.0f} request, {added * 1e3:+,.1f} ms ({added / RTT:+.2f} RT)",
                    limit,
                    verdict(ok),
                ]
            )
    body = [
        "## What noticing a lost session costs a follow-up (issue 23)",
        "",
        f"`python -m benchmarks.followup{' --quick' if quick else ''}`: a warm client's "
        "follow-up (the conversation's first turn done), behind the latency section's "
        f"{RTT * 1e3:.0f} ms round trip, with the check as shipped and switched off; time to "
        f"the first text delta and to the end, ms, median [min-max] of {runs * per_worker} "
        "follow-ups; requests each follow-up made, as the fake server counted them. On the "
        "1M layout the check is `GET /app_id` before the follow-up (a restart changes it), "
        "asked before `add_text` rather than beside it: one round trip on the follow-up's "
        "first token. On Qwen3 the chatbot's first value shows the session's turns: nothing "
        "is asked.",
        "",
        *table(
            ["layout", "client", "first token", "whole follow-up", "requests", "n"],
            rows,
        ),
    ]
    return body, targets


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:
        try:
            print(json.dumps({"ok": True, "samples": measure(json.loads(argv[1]))}))
        except Exception as exc:  # reported as n/a with the reason
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}))
        return 0
    return run_alone(section, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
