"""Running the CLI in a test: in this process (the ``cli`` fixture) or as a child.

``ROOT`` is the checkout; ``child_env`` the environment a child runs in (the
test's discovery cache kept, the user's settings not); ``run_child`` runs
``python -m qwen_spaces ARGS`` and waits for it.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from qwen_spaces._cli import main

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str


class FakeStdin(io.TextIOWrapper):
    """stdin holding ``text``, with its bytes under ``.buffer`` as a real one has."""

    def __init__(self, text: str, tty: bool = False) -> None:
        super().__init__(io.BytesIO(text.encode()), encoding="utf-8")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """Run ``qwen-spaces ARGS`` in this process: (exit code, stdout, stderr)."""

    def run(*args: str, stdin: str = "", tty: bool = False) -> Result:
        monkeypatch.setattr(sys, "stdin", FakeStdin(stdin, tty))
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse's usage errors and --help
            code = int(exit.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def child_env(home: Optional[Path] = None) -> dict[str, str]:
    # The test's own discovery cache stays (tests/conftest.py): never the user's.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QWEN_SPACES", "XDG_")) or k == "QWEN_SPACES_CACHE_DIR"
    }
    env["PYTHONPATH"] = str(ROOT)
    if home is not None:
        env["HOME"] = str(home)
    return env


def default_sigint() -> None:
    """A child's ``preexec_fn``: Ctrl-C (SIGINT) back at its default.

    A test runner started with SIGINT ignored (``cmd &`` in a shell without job
    control, some CI runners) passes that on to every child it starts, and a
    Python started that way installs no KeyboardInterrupt handler: the tests'
    Ctrl-C would then do nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "qwen_spaces", *args]


def run_child(*args: str, input: str = "", timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(*args),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
        cwd=ROOT,
        preexec_fn=default_sigint,
    )
