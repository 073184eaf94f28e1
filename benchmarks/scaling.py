"""Scaling: CPU per message as the answer grows (Max layout), against issue 4's 1.2x.

python -m benchmarks.scaling [--quick]    # this section alone
"""

from __future__ import annotations

import sys

from benchmarks.harness import Plan, Result, Server, fmt_ratio, log, measure, ratio
from benchmarks.report import LABEL, Targets, run_alone, table, verdict

SCALING_LIMIT = 1.2  # issue 4


def section(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """CPU per message at three answer sizes, and each client's large/small ratio target."""
    body: list[str] = []
    targets = Targets()
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
            targets.add(
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
    return body, targets


if __name__ == "__main__":
    sys.exit(run_alone(section, __doc__.splitlines()[0]))
