"""No test reads or writes the user's discovery cache, nor reads a stored Hugging Face token.

The cache lives under ``$QWEN_SPACES_CACHE_DIR``. For the whole session it
points at a temporary directory (set when pytest starts, so that session-wide
fixtures and the processes they start inherit it too), and every test gets a
fresh empty one of its own: a client built by one test never starts from ids
another test left behind. Children started by the tests keep the variable
(see ``tests/support/cli_runs.py``'s ``child_env``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from tests.support.tls import certificate, https_space  # noqa: F401 (fixtures for every test)

_SESSION_DIR: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if not _SESSION_DIR:
        _SESSION_DIR.append(tempfile.mkdtemp(prefix="qs-cache-session-"))
        os.environ["QWEN_SPACES_CACHE_DIR"] = _SESSION_DIR[0]
        os.environ.pop("QWEN_SPACES_CACHE", None)
        # Nor the token `hf auth login` stored: a client would send it (qwen_spaces/_client/hf_token.py).
        os.environ["HF_TOKEN_PATH"] = os.path.join(_SESSION_DIR[0], "no-stored-hf-token")
        os.environ.pop("HUGGING_FACE_HUB_TOKEN", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    for path in _SESSION_DIR:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated_discovery_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.delenv("QWEN_SPACES_CACHE", raising=False)
    monkeypatch.setenv("QWEN_SPACES_CACHE_DIR", str(tmp_path_factory.mktemp("qs-cache")))
    yield
