"""Run ``qwen-spaces serve`` as a subprocess, and real OpenAI clients in their own venv.

The clients (openai-python, langchain-openai) live in the venv that ``make``
builds at ``.venvs/openai`` (its Python is ``$QWEN_SPACES_OPENAI_PYTHON`` when
set). Without it the tests that need it are skipped, or fail with ``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = Path(__file__).resolve().parent / "openai_clients"
KEY = "test-key-0123456789"


def unavailable(message: str) -> NoReturn:
    if os.environ.get("CI", "").strip().lower() in ("true", "1"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def openai_python() -> str:
    """The Python of the venv holding openai and langchain-openai."""
    python = os.environ.get("QWEN_SPACES_OPENAI_PYTHON") or str(
        ROOT / ".venvs" / "openai" / "bin" / "python"
    )
    if not Path(python).exists():
        unavailable(f"no OpenAI client venv at {python} (run `make venvs`)")
    return python


class Serve:
    """``qwen-spaces serve`` on 127.0.0.1, a free port; a context manager that stops it."""

    def __init__(self, *args: str, env: Optional[dict[str, str]] = None) -> None:
        self.args = [
            sys.executable,
            "-m",
            "qwen_spaces",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *args,
        ]
        child = {  # the test's own discovery cache stays (tests/conftest.py)
            k: v
            for k, v in os.environ.items()
            if not k.startswith("QWEN_SPACES_") or k == "QWEN_SPACES_CACHE_DIR"
        }
        child.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **(env or {}))
        # stderr (one log line a request) goes to a file: a pipe nobody reads could fill up.
        self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.process = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=child,
            cwd=ROOT,
            start_new_session=True,
        )
        self.url = ""
        self.stderr = ""
        self.returncode: Optional[int] = None

    def start(self, timeout: float = 30) -> Serve:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            found = re.search(r"(http://127\.0\.0\.1:\d+)/v1", line)
            if found:
                self.url = found.group(1)
                return self
            if not line and self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"serve did not start: {self.args}\n{self.stderr[-3000:]}")

    def log_so_far(self) -> str:
        """The server's stderr up to now, while it runs."""
        if self.returncode is not None:
            return self.stderr
        self._log.flush()
        self._log.seek(0)
        text = self._log.read()
        self._log.seek(0, 2)
        return text

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def stop(self) -> int:
        """SIGTERM, then wait; the exit code. Keeps its stderr in ``self.stderr``."""
        if self.returncode is not None:
            return self.returncode
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.communicate(timeout=5)
        self._log.seek(0)
        self.stderr = self._log.read()
        self._log.close()
        self.returncode = self.process.returncode
        return self.returncode

    def __enter__(self) -> Serve:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_client(script: str, *args: Any, timeout: float = 120, **spec: Any) -> Any:
    """Run ``openai_clients/<script>.py`` in the OpenAI venv with a JSON spec; its JSON answer."""
    done = subprocess.run(
        [openai_python(), str(CLIENTS / f"{script}.py"), json.dumps(spec), *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "QWEN_"))},
    )
    if done.returncode != 0:
        raise AssertionError(f"{script} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def space_args(pairs: Sequence[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    for model, url in pairs:
        out += ["--space", f"{model}={url}"]
    return out
