"""Waiting in a test for something another thread or process does: bounded, polled every 20 ms."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """The first true value ``condition()`` gives; AssertionError once ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def holds_within(condition: Callable[[], Any], seconds: float = 5.0) -> bool:
    """Whether ``condition()`` becomes true within ``seconds`` (for a test that records the answer)."""
    try:
        wait_until(condition, seconds)
    except AssertionError:
        return False
    return True
