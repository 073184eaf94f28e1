"""The benchmarks' report: tables, the streaming table, targets and verdicts, the machine and
versions, writing RESULTS.md, and the way a section runs alone. Imports no section.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Optional

from benchmarks.harness import (
    CLIENT_CPU,
    ROOT,
    SERVER_CPU,
    Plan,
    Result,
    fmt_ratio,
    fmt_spread,
    log,
    ratio,
    run_ratios,
)

TARGETS_HEADER = ["target", "measured", "limit", "result"]

FLOORS = ("floor_sync", "floor_async")
LABEL = {
    "floor_sync": "floor sync (requests `iter_lines` + `json.loads`)",
    "floor_async": "floor async (aiohttp line iteration + `json.loads`)",
    "qs_sync": "qwen_spaces `Client`",
    "qs_async": "qwen_spaces `AsyncClient`",
    "gradio_client": "gradio_client `Client.submit`",
}
# Which floor each contender is a ratio to.
FLOOR_OF = {
    "floor_sync": "floor_sync",
    "floor_async": "floor_async",
    "qs_sync": "floor_sync",
    "qs_async": "floor_async",
    "gradio_client": "floor_sync",
}


def verdict(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("**PASS**" if ok else "**FAIL**")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return [*out, ""]


def reference(results: dict[str, Result]) -> Optional[str]:
    """The answer's hash as the floor read it from process_completed."""
    for floor in FLOORS:
        if floor in results and len(results[floor].shas) == 1:
            sha = next(iter(results[floor].shas))
            return None if sha == "none" else sha
    return None


def exact(result: Result, ref: Optional[str]) -> Optional[bool]:
    if not result.ok or ref is None:
        return None
    return result.shas == {ref}


def stream_table(
    results: dict[str, Result], n: int, labels: Optional[dict[str, str]] = None
) -> tuple[list[str], Optional[str]]:
    labels = {**LABEL, **(labels or {})}
    ref = reference(results)
    rows = []
    for contender, result in results.items():
        floor = results.get(FLOOR_OF[contender])
        if not result.ok:
            reason = (result.error or "no result").replace("\n", " ")[:300]
            rows.append([labels[contender], f"n/a: {reason}", "", "", "", "", "", "", ""])
            continue
        x = ratio(
            result.cpu_per_msg.median, floor.cpu_per_msg.median if floor and floor.ok else None
        )
        is_floor = contender in FLOORS
        rows.append(
            [
                labels[contender],
                result.cpu_per_msg.fmt(1e6, 2),
                "1 (floor)"
                if is_floor
                else f"{fmt_ratio(x)} {FLOOR_OF[contender].replace('_', ' ')}",
                result.wall.fmt(1e3, 1),
                result.ttfd.fmt(1e3, 2),
                result.rss_delta.fmt(1 / 2**20, 2),
                result.traced_peak.fmt(1 / 2**20, 2),
                "/".join(str(d) for d in sorted(set(result.deltas))),
                {True: "yes", False: "**no**", None: "n/a"}[exact(result, ref)],
            ]
        )
    header = [
        "contender",
        "CPU µs/msg",
        "x floor",
        "wall ms/stream",
        "first delta ms",
        "peak RSS Δ MiB",
        "traced peak MiB",
        "deltas",
        "exact text",
    ]
    return table(header, rows), ref


def spread_target(
    runs: Sequence[dict[str, Result]],
    contender: str,
    floor: str,
    n: int,
    ref: Optional[str],
    limit: float,
) -> tuple[str, Optional[bool]]:
    """(measured, ok) of a CPU ratio target over runs: every delta and the exact text in
    every run, and the median of the runs' ratios within ``limit``."""
    if not all(r[contender].ok for r in runs):
        return "did not run", False  # it did not run: that fails the target
    ratios = run_ratios(runs, contender, floor)
    complete = all(
        bool(r[contender].deltas)
        and min(r[contender].deltas) >= n
        and exact(r[contender], ref) is True
        for r in runs
    )
    measured = fmt_spread(ratios) + ("" if complete else " (deltas or text wrong)")
    if any(x is None for x in ratios):
        return measured, None
    known = [x for x in ratios if x is not None]
    return measured, statistics.median(known) <= limit and complete


def versions() -> list[tuple[str, str]]:
    out = []
    for name in (
        "qwen_spaces",
        "requests",
        "urllib3",
        "aiohttp",
        "gradio_client",
        "orjson",
        "sseclient-py",
    ):
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return out


def machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pin = (
        f"server on CPU {SERVER_CPU}, clients on CPU {CLIENT_CPU}"
        if SERVER_CPU is not None
        else "none (one CPU)"
    )
    return [
        ("CPU", cpu),
        ("cores", str(os.cpu_count())),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("OS", platform.platform()),
        ("pinning", pin),
    ]


def write(
    plan: Plan, out: Path, started: float, targets: list[list[str]], body: list[str], only: str = ""
) -> int:
    """Write the report (head, targets, then the sections' body) to ``out``."""
    elapsed = time.monotonic() - started
    flags = (" --quick" if plan.quick else "") + (f" --only {only}" if only else "")
    head = [
        "# qwen_spaces benchmarks",
        "",
        f"`python -m benchmarks.run{flags}`, "
        f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, {elapsed:.0f} s"
        + (" — **quick mode: tiny sizes, too noisy to judge the targets**" if plan.quick else ""),
        "",
        *table(["machine", ""], machine()),
        *table(["package", "version"], versions()),
        "## Targets (issues 4, 11, 12, 13, 18, 19 and 23)",
        "",
        *table(TARGETS_HEADER, targets),
    ]
    out.write_text("\n".join(head + body))
    log(f"wrote {out} in {elapsed:.0f} s")
    print(out)
    return 0


Section = Callable[[Plan], tuple[list[str], list[list[str]]]]


def run_alone(section: Section, description: str, argv: Optional[list[str]] = None) -> int:
    """``python -m benchmarks.<section> [--quick] [--out FILE]``: one section's Markdown and its
    targets, printed (or written to FILE), with the plan ``benchmarks.run`` would give it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a check that it works")
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown there")
    args = parser.parse_args(argv)
    os.environ["QWEN_SPACES_CACHE"] = "off"  # as benchmarks.run: every contender reads /config
    body, targets = section(Plan.of(args.quick))
    text = "\n".join([*body, *table(TARGETS_HEADER, targets)])
    if args.out:
        args.out.write_text(text)
        print(args.out)
    else:
        print(text)
    return 0


def report_path(out: Optional[Path], temporary: bool) -> Path:
    """Where the report goes: ``out``, else a temporary file, else benchmarks/RESULTS.md."""
    if out is not None:
        return out
    if temporary:
        return Path(tempfile.mkstemp(prefix="qs-bench-", suffix=".md")[1])
    return ROOT / "benchmarks" / "RESULTS.md"


class Targets(list[list[str]]):
    """A section's rows of the targets table: [name, measured, limit, PASS/FAIL/n/a]."""

    def add(self, name: str, measured: str, limit: str, ok: Optional[bool]) -> None:
        self.append([name, measured, limit, verdict(ok)])
