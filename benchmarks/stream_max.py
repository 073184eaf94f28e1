"""Streaming on the Max layout: the floors, both clients and gradio_client side by side, and the
CPU-per-message targets over ``plan.cpu_runs`` independent runs.

    python -m benchmarks.stream_max [--quick]    # this section alone
    python -m benchmarks.run --only cpu           # the same, as a report with its head
"""

from __future__ import annotations

import sys

from benchmarks.harness import Plan, Server, cpu_runs, fmt_ratio, log, measure, run_ratios
from benchmarks.report import run_alone, spread_target, stream_table, verdict

# Targets of issue 4, tightened by issue 19 (Client back on requests: within
# 1.1x the requests floor a user would write).
SYNC_LIMIT = 1.1
ASYNC_LIMIT = 1.5


def section(plan: Plan) -> tuple[list[str], list[list[str]]]:
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


if __name__ == "__main__":
    sys.exit(run_alone(section, __doc__.splitlines()[0]))
