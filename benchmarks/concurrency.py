"""Concurrency (many streams on one client) and connection reuse (5 calls on one client).

python -m benchmarks.concurrency [--quick]    # these two sections alone
"""

from __future__ import annotations

import sys

from benchmarks.harness import Plan, Server, log, measure, worker
from benchmarks.report import LABEL, Targets, run_alone, table, verdict


def section(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The concurrency and connection-reuse sections (one small-N server) and their targets."""
    body: list[str] = []
    targets = Targets()
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
            targets.add(
                f"{plan.async_streams} concurrent async streams: zero errors, exact text",
                "see Concurrency",
                "0 errors",
                ok,
            )
        else:
            targets.add(
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
            targets.add(f"connection reuse, {contender.replace('qs_', '')}", "n/a", "", False)
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
        targets.add(
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
    return body, targets


if __name__ == "__main__":
    sys.exit(run_alone(section, __doc__.splitlines()[0]))
