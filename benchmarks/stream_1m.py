"""Streaming on the 1M layout: `replace` diffs, a growing footer; text compared without it.

python -m benchmarks.stream_1m [--quick]    # this section alone
"""

from __future__ import annotations

import sys

from benchmarks.harness import Plan, Server, log, measure
from benchmarks.report import Targets, exact, run_alone, stream_table


def section(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The 1M layout's streaming table and its exact-text targets."""
    body: list[str] = []
    targets = Targets()
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
        targets.add(
            f"1M layout, {contender.replace('qs_', '')}: exact text, footer removed",
            "did not run"
            if not result.ok
            else {True: "exact", False: "differs", None: "n/a"}[same],
            "exact",
            same,
        )
    return body, targets


if __name__ == "__main__":
    sys.exit(run_alone(section, __doc__.splitlines()[0]))
