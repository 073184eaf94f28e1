"""The cold CLI's floor in the latency section (issue 26): its requests, and timing it.

The floor itself is ``benchmarks/cold_floor.py``, a script that imports requests
and nothing of this package; this module prepares what it sends and times it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def cold_spec(url: str, layout: str) -> str:
    """The cold floor's requests, with the ids the filled cache holds (read before timing)."""
    from benchmarks.worker import Layout

    proto = Layout(url, layout)
    predict = None
    if proto.predict is not None:
        predict = [proto.predict_url(url), proto.predict_body("")]
    join = [proto.join_url(url), proto.join_body("")]
    return json.dumps({"predict": predict, "join": join, "data": proto.data_url(url)})


def cold_floor(spec: str, preexec: Any) -> float:
    """A fresh ``python benchmarks/cold_floor.py``: from spawning it to its first byte."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    args = [sys.executable, str(ROOT / "benchmarks" / "cold_floor.py"), spec]
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=preexec
    )
    assert proc.stdout is not None
    first = os.read(proc.stdout.fileno(), 1)
    elapsed = time.perf_counter() - start
    _, err = proc.communicate(timeout=60)
    if not first or proc.returncode != 0:
        raise RuntimeError(f"the cold floor failed ({proc.returncode}): {err.decode()[-300:]}")
    return elapsed
