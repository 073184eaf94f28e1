"""The cold CLI's floor in the latency section (issue 26): its requests, and timing it.

The floor itself is ``benchmarks/cold_floor.py``, a script that imports requests
and nothing of this package; this module prepares what it sends and times it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Optional

from benchmarks.contenders import Layout

ROOT = Path(__file__).resolve().parent.parent


class Bytecode:
    """Where the cold processes keep their compiled bytecode, apart from the tree.

    pip compiles a package's ``.pyc`` when it installs it; uv (``make``) does not,
    and with ``PYTHONDONTWRITEBYTECODE`` (set on these machines) a process would
    compile every module it imports from source, each run: about 60 ms for
    requests alone, and more for the CLI, whose modules are more. The first run of
    each contender writes its bytecode under ``PYTHONPYCACHEPREFIX`` (``writing``);
    the timed runs read it and write nothing.
    """

    def __init__(self) -> None:
        self.prefix = tempfile.mkdtemp(prefix="qs-lat-pyc-")
        self._write = False

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        self._write = True
        try:
            yield
        finally:
            self._write = False

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        env = dict(base, PYTHONPYCACHEPREFIX=self.prefix, PYTHONDONTWRITEBYTECODE="1")
        if self._write:
            del env["PYTHONDONTWRITEBYTECODE"]
        return env

    def remove(self) -> None:
        shutil.rmtree(self.prefix, ignore_errors=True)


def cold_spec(url: str, layout: str) -> str:
    """The cold floor's requests, with the ids the filled cache holds (read before timing)."""
    proto = Layout(url, layout)
    predict = None
    if proto.predict is not None:
        predict = [proto.predict_url(url), proto.predict_body("")]
    join = [proto.join_url(url), proto.join_body("")]
    return json.dumps({"predict": predict, "join": join, "data": proto.data_url(url)})


def cold_floor(spec: str, preexec: Any, bytecode: Optional[Bytecode] = None) -> float:
    """A fresh ``python benchmarks/cold_floor.py``: from spawning it to its first byte."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if bytecode is not None:
        env = bytecode.env(env)
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
