"""The benchmark suite: ``python -m benchmarks.run [--quick] [--out benchmarks/RESULTS.md]``.

Starts the fake Gradio server (``python -m qwen_spaces.testing serve``) in its
own process, so its CPU is never counted, and runs every contender in a fresh
interpreter (``benchmarks/worker.py``), alternating the contenders round by
round. Writes one Markdown report: the machine, the versions, every figure as
a median of several runs with its min and max and its ratio to the floor, and
each target of issues 4, 12 and 18 with PASS or FAIL. See ``benchmarks/README.md``.

Each section is a module with ``section(plan) -> (Markdown lines, target rows)``, runnable
alone as ``python -m benchmarks.<module>``; this runs them in the report's order. The
shared machinery is ``benchmarks/harness.py``, the report's ``benchmarks/report.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional

from benchmarks import (
    concurrency,
    followup,
    imports,
    latency,
    scaling,
    serve,
    sse_decoders,
    stream_1m,
    stream_max,
    stream_qwen3,
    uploads,
)
from benchmarks.harness import Plan
from benchmarks.report import Section, report_path, write

SECTIONS: list[Section] = [
    stream_max.section,  # 1. side by side, Max layout (CPU per message over plan.cpu_runs runs)
    stream_1m.section,  # 2. the 1M layout: replace ops with a growing footer
    stream_qwen3.section,  # 2b. the Qwen3 layout: reasoning and answer in nested diffs
    scaling.section,  # 3.
    concurrency.section,  # 4. concurrency and 5. connection reuse, on one small-N server
    imports.section,  # 6.
    latency.section,  # 7. latency to the first token behind a 50 ms round trip
    sse_decoders.section,  # 8.
    serve.section,  # 9. the OpenAI-compatible server
    uploads.section,  # 10. uploading a large file (issue 11)
    followup.section,  # 11. what noticing a lost session costs a follow-up (issue 23)
]
ONLY = {"cpu": [stream_max.section]}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, two runs: a check that the suite works (< 60 s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the Markdown report (default: benchmarks/RESULTS.md; "
        "a temporary file with --quick or --only)",
    )
    parser.add_argument(
        "--only",
        choices=tuple(ONLY),
        default=None,
        help="cpu: only the Max layout's streaming section (CPU per message, sync and async)",
    )
    parser.add_argument(
        "--cpu-runs",
        type=int,
        default=None,
        help="independent runs of the CPU-per-message measurements, given as median "
        "[min-max] (default: 3; 2 with --quick)",
    )
    args = parser.parse_args(argv)
    if args.cpu_runs is not None and args.cpu_runs < 1:
        parser.error("--cpu-runs must be at least 1")
    # Every contender starts from /config, as the figures say, and the user's
    # discovery cache is left alone (the latency section gives its cold
    # processes caches of their own).
    os.environ["QWEN_SPACES_CACHE"] = "off"
    plan = Plan.of(args.quick)
    if args.cpu_runs is not None:
        plan.cpu_runs = args.cpu_runs
    out = report_path(args.out, temporary=bool(args.quick or args.only))
    started = time.monotonic()
    body: list[str] = []
    targets: list[list[str]] = []
    for section in ONLY[args.only] if args.only else SECTIONS:
        lines, rows = section(plan)
        body += lines
        targets += rows
    return write(plan, out, started, targets, body, args.only or "")


if __name__ == "__main__":
    sys.exit(main())
