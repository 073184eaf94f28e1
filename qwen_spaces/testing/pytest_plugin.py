"""A pytest fixture for testing code that talks to the Qwen Spaces, offline.

pytest loads this plugin by itself once qwen_spaces is installed (its
``pytest11`` entry point): every test then keeps the discovery cache in a
temporary directory of its own, so no test reads or writes the user's cache
(unless ``$QWEN_SPACES_CACHE_DIR`` was set before pytest started). Older
setups can enable it in a ``conftest.py``::

    pytest_plugins = ["qwen_spaces.testing.pytest_plugin"]

Ask for ``fake_space``: a factory taking FakeSpace's arguments that
returns a started Space, stopped when the test ends::

    def test_my_bot_answers(fake_space):
        space = fake_space(answer="Paris.")
        assert my_bot(base_url=space.url).ask("Capital of France?") == "Paris."
        assert space.requests[-1].path.startswith("/gradio_api/queue/data")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._server import FakeSpace

__all__ = ["FakeSpaceFactory", "fake_space"]

FakeSpaceFactory = Callable[..., FakeSpace]
_USER_CACHE_DIR = os.environ.get("QWEN_SPACES_CACHE_DIR", "").strip()


@pytest.fixture(autouse=True)
def _qwen_spaces_cache_in_tmp(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The discovery cache of each test in the session's temporary directory."""
    if not _USER_CACHE_DIR:
        where = tmp_path_factory.mktemp("qwen_spaces_cache", numbered=True)
        monkeypatch.setenv("QWEN_SPACES_CACHE_DIR", str(where))


@pytest.fixture
def fake_space(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSpaceFactory]:
    """Start FakeSpaces on demand: ``fake_space(layout="1m", answer=...)``.

    The discovery cache is off while it runs: a fake Space on a random port
    would leave an entry per test in the user's cache directory.
    """
    monkeypatch.setenv("QWEN_SPACES_CACHE", "off")
    started: list[FakeSpace] = []

    def start(*args: Any, **kwargs: Any) -> FakeSpace:
        space = FakeSpace(*args, **kwargs).start()
        started.append(space)
        return space

    yield start
    for space in started:
        space.stop()
