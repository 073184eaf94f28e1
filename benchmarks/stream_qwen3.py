"""Streaming on the Qwen3 layout (issue 18): reasoning and answer as nested diffs, the floors
applying them as Gradio's client does; the CPU targets over ``plan.cpu_runs`` runs. The
contenders' code is ``benchmarks/qwen3.py`` (run by ``benchmarks.worker``).

    python -m benchmarks.stream_qwen3 [--quick]    # this section alone
"""

from __future__ import annotations

import sys

from benchmarks.harness import Plan, Server, cpu_runs, fmt_ratio, log, measure, run_ratios
from benchmarks.report import run_alone, spread_target, stream_table, verdict

LABELS = {
    "floor_sync": "floor sync (requests `iter_lines` + `json.loads` + the nested diffs applied)",
    "floor_async": "floor async (aiohttp line iteration + `json.loads` + the nested diffs applied)",
    "qs_sync": "qwen_spaces `Client` (`Reasoning` + `TextDelta`)",
    "qs_async": "qwen_spaces `AsyncClient` (`Reasoning` + `TextDelta`)",
}
LIMIT = 1.1  # issue 18: both clients within 1.1x their floors


def section(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The Qwen3 streaming section and its target rows, for benchmarks.run."""
    n = 200 if plan.quick else 5000
    log(f"streaming, Qwen3 layout, N={n} (reasoning and answer)")
    contenders = ["floor_sync", "floor_async", "qs_sync", "qs_async"]
    pairs = (("qs_sync", "floor_sync"), ("qs_async", "floor_async"))
    with Server("qwen3", n) as server:
        results = measure(plan, server, contenders, plan.runs, plan.mem_runs)
        runs = cpu_runs(plan, server, results, pairs)
    lines, ref = stream_table(results, n, LABELS)
    per_run = "; ".join(
        f"{c.replace('qs_', '')} " + " / ".join(fmt_ratio(x) for x in run_ratios(runs, c, f))
        for c, f in pairs
    )
    body = [
        f"## Streaming, Qwen3 layout: {n:,} nested `append` diffs ({n // 2:,} of reasoning, "
        f"{n - n // 2:,} of answer)",
        "",
        "The fake Qwen3 Space's chatbot (output 5) is an update dict; the reasoning streams "
        'as `["append", ["value", 1, "content", 0, "content"], piece]` into a `tool` '
        'part, the answer as `[..., 1, "content"]` into a `text` part, amid the turn\'s '
        "`add`/`replace`/`delete` ops. Served on the fake's general path (its `--tokens` mode "
        "streams no reasoning): the server diffs every frame, so messages arrive one by one, "
        "as from a real Space. The floors apply every op of output 5 into its value as "
        "Gradio's client does and take each piece added to a part's content as reasoning "
        "(`tool`) or answer (`text`); they check what they streamed against "
        '`process_completed`. "deltas" counts reasoning and answer pieces; the text '
        "compared is the reasoning and the answer together. Same runs as the Max layout.",
        "",
        *lines,
        f"CPU per message to the floor in {len(runs)} independent runs (as on the Max layout): "
        f"{per_run}. The targets take the median of the runs.",
        "",
    ]
    targets: list[list[str]] = []
    for contender, floor in pairs:
        measured, ok = spread_target(runs, contender, floor, n, ref, LIMIT)
        side = contender.replace("qs_", "")
        targets.append(
            [
                f"Qwen3 layout, {side} CPU/msg vs {side} floor applying the nested "
                f"diffs, exact reasoning and text (N={n:,})",
                measured,
                f"≤ {LIMIT}x",
                verdict(ok),
            ]
        )
    return body, targets


if __name__ == "__main__":
    sys.exit(run_alone(section, __doc__.splitlines()[0]))
