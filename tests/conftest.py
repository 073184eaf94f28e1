"""Every test runs with its own empty discovery cache, never the user's.

The cache lives under ``$QWEN_SPACES_CACHE_DIR``: a fresh directory per test,
so no test writes to the real user cache, and a client built by one test never
starts from ids another test left behind. Children started by the tests keep
the variable (see ``tests/cli/conftest.py``'s ``child_env``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _isolated_discovery_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.delenv("QWEN_SPACES_CACHE", raising=False)
    monkeypatch.setenv("QWEN_SPACES_CACHE_DIR", str(tmp_path_factory.mktemp("qs-cache")))
    yield
