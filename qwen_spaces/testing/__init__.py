"""A testing kit: a fake Qwen Space on 127.0.0.1, no Gradio needed.

``FakeSpace`` speaks Gradio's queue protocol the way the Qwen Spaces do
and plays scripted answers; ``Fault`` makes it misbehave on purpose. Test your
own code offline (or with no server at all: ``MockTransport``, an in-memory
transport for ``Client(transport=...)``, which ``MockSpace.handle`` can answer)::

    from qwen_spaces.testing import FakeSpace, Fault

    with FakeSpace(answer="Hi!", faults=[Fault.queue_full(times=1)]) as space:
        ...  # point your client at space.url

With pytest, ask for the ``fake_space`` fixture (the plugin is loaded by itself;
``pytest_plugins = ["qwen_spaces.testing.pytest_plugin"]`` where entry points
are not read). The names are imported on first use: the pytest plugin lives in
this package and must not make every test session import aiohttp.
``import qwen_spaces`` never imports it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._faults import Fault
    from ._layout import RecordedChat
    from ._mocks import MockSpace
    from ._server import FakeSpace, RecordedRequest
    from ._transport import MockRequest, MockResponse, MockTransport

__all__ = [
    "FakeSpace",
    "Fault",
    "MockRequest",
    "MockResponse",
    "MockSpace",
    "MockTransport",
    "RecordedChat",
    "RecordedRequest",
]

_WHERE = {
    "FakeSpace": "._server",
    "Fault": "._faults",
    "MockRequest": "._transport",
    "MockResponse": "._transport",
    "MockSpace": "._mocks",
    "MockTransport": "._transport",
    "RecordedChat": "._layout",
    "RecordedRequest": "._server",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
