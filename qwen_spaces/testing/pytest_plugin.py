"""A pytest fixture for testing code that talks to the Qwen Spaces, offline.

pytest loads this plugin by itself once qwen_spaces is installed (its
``pytest11`` entry point). Older setups can enable it in a ``conftest.py``::

    pytest_plugins = ["qwen_spaces.testing.pytest_plugin"]

No test reads or writes the user's discovery cache (unless
``$QWEN_SPACES_CACHE_DIR`` was set before pytest started): the session points
it at one temporary directory, removed when pytest ends, and a test starts with
that directory empty only if an earlier test wrote to it. A suite that never
touches qwen_spaces pays one empty-directory check per test and imports
nothing of the SDK (``pytest -p no:qwen_spaces.testing.pytest_plugin`` turns
the plugin off).

Ask for ``fake_space``: a factory taking FakeSpace's arguments that
returns a started Space, stopped when the test ends::

    def test_my_bot_answers(fake_space):
        space = fake_space(answer="Paris.")
        assert my_bot(base_url=space.url).ask("Capital of France?") == "Paris."
        assert space.requests[-1].path.startswith("/gradio_api/queue/data")
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._server import FakeSpace

__all__ = ["FakeSpaceFactory", "fake_space"]

FakeSpaceFactory = Callable[..., "FakeSpace"]
_VAR = "QWEN_SPACES_CACHE_DIR"
# Names the directory this plugin chose, so that a pytest started by a test (or an
# xdist worker), which inherits the variable, takes a directory of its own.
_OURS = "QWEN_SPACES_PYTEST_CACHE_DIR"
_session_dir: list[str] = []


def pytest_configure(config: object) -> None:  # pytest's Config: not read here
    chosen = os.environ.get(_VAR, "").strip()
    if _session_dir or (chosen and chosen != os.environ.get(_OURS)):
        return  # configured already, or the user's own directory
    # Set when pytest starts, so session fixtures and the processes tests start inherit it.
    path = tempfile.mkdtemp(prefix="qwen_spaces_cache-")
    _session_dir.append(path)
    os.environ[_VAR] = os.environ[_OURS] = path


def pytest_unconfigure(config: object) -> None:
    while _session_dir:
        shutil.rmtree(_session_dir.pop(), ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: object) -> None:  # pytest's Item: not read here
    """Empty the session's cache directory if an earlier test wrote to it."""
    if not _session_dir:
        return
    path = _session_dir[0]
    try:
        with os.scandir(path) as entries:
            if next(entries, None) is None:
                return
    except OSError:
        pass  # removed by a test: made anew below
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, mode=0o700, exist_ok=True)


@pytest.fixture
def fake_space(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSpaceFactory]:
    """Start FakeSpaces on demand: ``fake_space(layout="1m", answer=...)``.

    The discovery cache is off while it runs: a fake Space on a random port
    would leave an entry per test in the cache directory.
    """
    from ._server import FakeSpace  # here, so a session that never asks imports no aiohttp

    monkeypatch.setenv("QWEN_SPACES_CACHE", "off")
    started: list[FakeSpace] = []

    def start(*args: Any, **kwargs: Any) -> FakeSpace:
        space = FakeSpace(*args, **kwargs).start()
        started.append(space)
        return space

    yield start
    for space in started:
        space.stop()
