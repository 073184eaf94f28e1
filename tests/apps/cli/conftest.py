"""The command line tests' fixtures: ``cli`` runs the CLI in this process; ``home`` is its home.

How a test runs the CLI, here or as a child: ``tests/support/cli_runs.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli_runs import cli  # noqa: F401 (the fixture, for every CLI test)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "home"
    path.mkdir()
    yield path
