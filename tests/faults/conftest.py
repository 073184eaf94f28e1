"""Fault tests run twice, sync and async; their outcomes become one table.

The runner (``call``, ``Outcome``, ``record``) is ``tests/support/fault_runs.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.fault_runs import OUTCOMES


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session", autouse=True)
def fault_table() -> Iterator[None]:
    yield
    path = os.environ.get("QWEN_SPACES_FAULT_TABLE")
    if path and OUTCOMES:
        lines = ["| fault | sync | async |", "|---|---|---|"]
        for fault, by_mode in OUTCOMES.items():
            lines.append(f"| {fault} | {by_mode.get('sync', '')} | {by_mode.get('async', '')} |")
        with open(path, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
