"""The benchmark suite runs end to end at tiny sizes, so it cannot rot.

Not a performance test: a quick run is far too noisy to judge the targets. It
checks that ``python -m benchmarks.run --quick`` writes the report with every
section and row, and that the floors and both qwen_spaces clients produced
figures (a harness that silently records "n/a" for them would be broken).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.request import urlopen

import pytest

ROOT = Path(__file__).resolve().parents[2]

SECTIONS = [
    "## Targets (issues 4, 11, 12, 13, 18, 19 and 23)",
    "## Streaming, Max layout",
    "## Streaming, 1M layout",
    "## Streaming, Qwen3 layout",
    "## Scaling",
    "## Concurrency",
    "## Connection reuse",
    "## Import",
    "## Latency to the first token",
    "### Max layout (floor: 2 round trips)",
    "### 1M layout (floor: 3 round trips)",
    "### Qwen3 layout (floor: 2 round trips thinking on, 4 thinking off)",
    "## SSE decoders",
    "## OpenAI-compatible server",
    "## Uploading a",
]

TARGETS = [
    "sync CPU/msg vs sync floor",
    "async CPU/msg vs async floor",
    "1M layout, sync",
    "1M layout, async",
    "Qwen3 layout, sync CPU/msg vs sync floor",
    "Qwen3 layout, async CPU/msg vs async floor",
    "sync CPU/msg at N=",
    "async CPU/msg at N=",
    "concurrent async streams",
    "16 threads sharing one Client",
    "connection reuse, sync",
    "connection reuse, async",
    "`import qwen_spaces` vs `import requests`",
    "aiohttp not imported",
    "requests not imported",
    "latency, max: Client warm vs requests floor",
    "latency, max: AsyncClient warm vs requests floor",
    "latency, max: cold CLI, cache filled",
    "latency, max: cold CLI, cache empty",
    "latency, 1m: Client warm vs requests floor",
    "latency, 1m: cold CLI, cache filled",
    "latency, 1m: cold CLI, cache empty",
    "latency, qwen3, thinking on: Client warm",
    "latency, qwen3, thinking off: Client warm",
    "latency, qwen3, thinking on: AsyncClient warm",
    "latency, qwen3, thinking off: AsyncClient warm",
    "`qwen-spaces serve`: added latency to the first token",
    "`qwen-spaces serve`: CPU per streamed chunk",
    "MB upload, sync: throughput",
    "MB upload, sync: peak RSS growth",
    "MB upload, async: throughput",
    "MB upload, async: peak RSS growth",
    "1m follow-up, sync: the lost-session check adds",
    "1m follow-up, async: the lost-session check adds",
    "qwen3 follow-up, sync: the lost-session check adds",
    "qwen3 follow-up, async: the lost-session check adds",
]

# Rows of the latency section that must hold a figure (not "n/a: why"), and
# rows that must be there, with a figure or the reason they could not run.
LATENCY_MEASURED = [
    "floor:",
    "floor, requests:",
    "qwen_spaces `Client`",
    "qwen_spaces `AsyncClient`",
    "`qwen-spaces ask`, cold process, cache empty",
    "`qwen-spaces ask`, cold process, cache filled",
    "`qwen-spaces --version`",
    "cold floor:",
]
LATENCY_PRESENT = ["gradio_client", "gpt4free"]

MEASURED = ["floor sync", "floor async", "qwen_spaces `Client`", "qwen_spaces `AsyncClient`"]


def section(report: str, title: str) -> str:
    start = report.index(title)
    end = report.find("\n## ", start + 1)
    return report[start : end if end != -1 else len(report)]


def rows(text: str, label: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"| {label}")]


@pytest.mark.timeout(360)
def test_quick_run_writes_every_row(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=350,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = out.read_text()

    for title in SECTIONS:
        assert title in report, title
    assert "| CPU |" in report and "| Python |" in report and "| aiohttp |" in report

    targets = section(report, "## Targets")
    for name in TARGETS:
        found = [r for r in targets.splitlines() if name in r]
        assert found, f"no target row for {name!r}"
        assert re.search(r"\*\*(PASS|FAIL)\*\*|\| n/a \|$", found[0]), found[0]

    for title in (
        "## Streaming, Max layout",
        "## Streaming, 1M layout",
        "## Streaming, Qwen3 layout",
        "## Scaling",
    ):
        part = section(report, title)
        for label in MEASURED:
            found = rows(part, label)
            assert found, f"{title}: no row for {label}"
            # The second cell holds a figure, not "n/a: <why it failed>".
            cell = found[0].split("|")[2].strip()
            assert re.match(r"[\d,]+\.\d+", cell), f"{title}, {label}: {cell}"
    assert rows(section(report, "## Streaming, Max layout"), "gradio_client")
    qwen3 = section(report, "## Streaming, Qwen3 layout")
    for label in ("qwen_spaces `Client`", "qwen_spaces `AsyncClient`"):
        cells = [c.strip() for c in rows(qwen3, label)[0].split("|")]
        assert cells[-3] == "200" and cells[-2] == "yes", cells  # every piece, exact

    concurrency = section(report, "## Concurrency")
    assert rows(concurrency, "qwen_spaces `AsyncClient`")
    assert rows(concurrency, "qwen_spaces `Client`")
    reuse = section(report, "## Connection reuse")
    for label in ("qwen_spaces `Client`", "qwen_spaces `AsyncClient`"):
        found = rows(reuse, label)
        assert found and re.search(r"\| \d+(, \d+){4} \|", found[0]), found
    imports = section(report, "## Import")
    assert rows(imports, "`import requests`") and rows(imports, "`import qwen_spaces`")
    latency = section(report, "## Latency to the first token")
    for layout in ("### Max layout", "### 1M layout"):
        start = latency.index(layout)
        part = latency[start : latency.find("\n### ", start + 1)]
        for label in LATENCY_MEASURED:
            found = rows(part, label)
            assert found, f"latency {layout}: no row for {label}"
            cell = found[0].split("|")[2].strip()
            assert re.match(r"[\d,]+\.\d+ \[", cell), f"latency {layout}, {label}: {cell}"
        for label in LATENCY_PRESENT:
            assert rows(part, label), f"latency {layout}: no row for {label}"
    qwen3_latency = latency[latency.index("### Qwen3 layout") :]
    for label in LATENCY_MEASURED[:4]:  # thinking on, then off: each with a figure
        found = rows(qwen3_latency, label)
        assert len(found) == 2, f"latency qwen3: {label}: {found}"
        for row in found:
            assert re.match(r"[\d,]+\.\d+ \[", row.split("|")[3].strip()), row
    sse = section(report, "## SSE decoders")
    assert len([r for r in sse.splitlines() if r.startswith("| ") and "MiB event" in r]) == 2
    assert len([r for r in sse.splitlines() if "Gradio messages" in r]) == 3
    uploads = section(report, "## Uploading a")
    for label in (
        "bare requests",
        "bare aiohttp",
        "qwen_spaces `Client.chat",
        "qwen_spaces `AsyncClient.chat",
    ):
        found = rows(uploads, label)
        assert found and re.match(r"\d+ \[", found[0].split("|")[2].strip()), found
    followups = section(report, "## What noticing a lost session costs")
    for layout in ("1m", "qwen3"):
        found = rows(followups, layout)
        assert len(found) == 4, found
        for row in found:
            assert re.match(r"[\d,]+\.\d+ \[", row.split("|")[3].strip()), row
    served = section(report, "## OpenAI-compatible server")
    for label in ("`AsyncClient` direct", "through `qwen-spaces serve`"):
        found = rows(served, label)
        assert found and re.match(r"[\d,]+\.\d+", found[0].split("|")[2].strip()), found


@pytest.mark.timeout(120)
@pytest.mark.timeout(180)
def test_the_cold_cli_alone_against_its_floor(tmp_path: Path) -> None:
    # `python -m benchmarks.latency --cold-only`: the cold floor (a process importing
    # requests, the same requests as `ask`) and the cold CLI, with their targets.
    out = tmp_path / "cold.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.latency", "--cold-only", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = out.read_text()
    for layout in ("### Max layout", "### 1M layout"):
        start = report.index(layout)
        part = report[start : report.find("\n### ", start + 1)]
        for label in LATENCY_MEASURED[4:]:
            cell = rows(part, label)[0].split("|")[2].strip()
            assert re.match(r"[\d,]+\.\d+ \[", cell), f"{layout}, {label}: {cell}"
        filled = rows(part, "`qwen-spaces ask`, cold process, cache filled")[0]
        assert "over the cold floor: " in filled
    for layout in ("max", "1m"):
        for cache in ("filled", "empty"):
            name = f"latency, {layout}: cold CLI, cache {cache}: over the cold floor"
            found = [r for r in report.splitlines() if name in r]
            assert found and re.search(r"\*\*(PASS|FAIL)\*\*", found[0]), name
    assert "Client warm" not in report  # the warm contenders are not run


def test_qwen3_floors_and_clients_read_the_same_reasoning_and_answer() -> None:
    """The Qwen3 contenders, each in its worker: every piece, the exact reasoning and answer."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.harness import Server, worker
    from benchmarks.qwen3 import ANSWER_PIECE, REASONING_PIECE, SEP
    from benchmarks.worker import digest

    expected = digest(REASONING_PIECE * 30 + SEP + ANSWER_PIECE * 30)
    with Server("qwen3", 60) as server:
        for contender in ("floor_sync", "floor_async", "qs_sync", "qs_async"):
            spec = {
                "url": server.url,
                "layout": "qwen3",
                "contender": contender,
                "mode": "stream",
                "warmup": 1,
                "repeat": 1,
            }
            answer = worker(spec, 60)
            assert answer.get("ok"), (contender, answer)
            sample = answer["samples"][0]
            assert (sample["deltas"], sample["text_sha"]) == (60, expected), contender
            assert sample["ttfd_s"] is not None and sample["ttfd_s"] > 0, contender


@pytest.mark.timeout(120)
def test_qwen3_latency_contenders_see_a_first_token_with_thinking_on_and_off() -> None:
    """Each latency contender, straight to the server (no proxy): thinking off costs a toggle."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.harness import Server
    from benchmarks.qwen3_latency import CONTENDERS, TOKENS

    def joins(url: str) -> int:
        return int(json.loads(urlopen(f"{url}/_fake/stats", timeout=10).read())["joins"])

    with Server("qwen3", TOKENS) as server:
        for name, contender in CONTENDERS.items():
            made = {}
            for thinking in (True, False):
                before = joins(server.url)
                samples = contender(server.url, 1, thinking)
                assert len(samples) == 1 and 0 < samples[0] < 10, (name, thinking, samples)
                made[thinking] = joins(server.url) - before
            # Thinking off: the toggle's join before every chat's (one or two calls a run).
            assert made[True] >= 1 and made[False] == 2 * made[True], (name, made)
