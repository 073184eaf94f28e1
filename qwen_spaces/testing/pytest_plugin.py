"""A pytest fixture for testing code that talks to the Qwen Spaces, offline.

Enable it in a ``conftest.py``::

    pytest_plugins = ["qwen_spaces.testing.pytest_plugin"]

then ask for ``fake_space``: a factory taking FakeSpace's arguments that
returns a started Space, stopped when the test ends::

    def test_my_bot_answers(fake_space):
        space = fake_space(answer="Paris.")
        assert my_bot(base_url=space.url).ask("Capital of France?") == "Paris."
        assert space.requests[-1].path.startswith("/gradio_api/queue/data")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._server import FakeSpace

__all__ = ["FakeSpaceFactory", "fake_space"]

FakeSpaceFactory = Callable[..., FakeSpace]


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
