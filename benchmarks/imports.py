"""Import: ``import qwen_spaces`` against ``import requests`` (-X importtime), and which HTTP
library ``import qwen_spaces; qwen_spaces.Client()`` loads.

    python -m benchmarks.imports [--quick]    # this section alone
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any, Optional

from benchmarks.harness import CLIENT_CPU, ROOT, Figure, Plan, fmt_ratio, log, pin, ratio
from benchmarks.report import Targets, run_alone, table

IMPORT_LIMIT = 1.1  # issue 19: within 1.1x requests'


def run_import(plan: Plan) -> dict[str, Any]:
    """-X importtime cumulative µs of the top-level import, fresh interpreters, alternating."""

    def once(module: str) -> Optional[float]:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=pin(CLIENT_CPU),
        )
        for line in done.stderr.splitlines():
            m = re.match(r"import time:\s*(\d+)\s*\|\s*(\d+)\s*\|(\s*)(\S+)\s*$", line)
            if m and m.group(4) == module and len(m.group(3)) == 1:
                return float(m.group(2))
        return None

    modules = ("requests", "qwen_spaces")
    for module in modules:
        once(module)  # warm the file cache and the bytecode cache
    times: dict[str, list[float]] = {m: [] for m in modules}
    for r in range(plan.import_runs):
        for module in modules if r % 2 == 0 else modules[::-1]:
            value = once(module)
            if value is not None:
                times[module].append(value)
    probe = (
        "import sys, qwen_spaces; qwen_spaces.Client(); sync = 'aiohttp' in sys.modules; "
        "req = 'requests' in sys.modules; "
        "qwen_spaces.AsyncClient; print(sync, 'aiohttp' in sys.modules, req)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    words = done.stdout.split()
    return {
        "times": {m: Figure(v) for m, v in times.items()},
        "aiohttp_sync": words[0] == "True" if len(words) == 3 else None,
        "aiohttp_async": words[1] == "True" if len(words) == 3 else None,
        "requests_at_import": words[2] == "True" if len(words) == 3 else None,
        "probe_error": None if len(words) == 3 else (done.stderr.strip()[-300:] or "no output"),
    }


def section(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The import section and its three targets."""
    body: list[str] = []
    targets = Targets()
    log("import time")
    imports = run_import(plan)
    req, qs_ = imports["times"]["requests"], imports["times"]["qwen_spaces"]
    x = ratio(qs_.median if qs_.values else None, req.median if req.values else None)
    targets.add(
        "`import qwen_spaces` vs `import requests` (cumulative, -X importtime, paired runs)",
        fmt_ratio(x),
        f"≤ {IMPORT_LIMIT}x",
        None if x is None else x <= IMPORT_LIMIT,
    )
    sync_aio = imports["aiohttp_sync"]
    targets.add(
        "aiohttp not imported by `import qwen_spaces; qwen_spaces.Client()`",
        {True: "imported", False: "not imported", None: "n/a"}[sync_aio],
        "not imported",
        None if sync_aio is None else not sync_aio,
    )
    sync_req = imports["requests_at_import"]
    targets.add(
        "requests not imported by `import qwen_spaces; qwen_spaces.Client()`",
        {True: "imported", False: "not imported", None: "n/a"}[sync_req],
        "not imported",
        None if sync_req is None else not sync_req,
    )
    rows = [
        ["`import requests`", req.fmt(1e-3, 1), "1 (baseline)"],
        ["`import qwen_spaces`", qs_.fmt(1e-3, 1), fmt_ratio(x)],
    ]
    body += [
        "## Import",
        "",
        f"`python -X importtime -c 'import X'`, cumulative time of the top-level import, "
        f"fresh interpreters, {plan.import_runs} runs alternating after one warm-up each.",
        "",
        *table(["import", "ms", "x requests"], rows),
        f"aiohttp in `sys.modules` after `import qwen_spaces; qwen_spaces.Client`: "
        f"**{sync_aio}**; after `qwen_spaces.AsyncClient`: {imports['aiohttp_async']}."
        + (f" (probe failed: {imports['probe_error']})" if imports["probe_error"] else ""),
        "",
    ]
    return body, targets


if __name__ == "__main__":
    sys.exit(run_alone(section, __doc__.splitlines()[0]))
