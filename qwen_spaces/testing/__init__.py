"""A testing kit: a fake Qwen Space on 127.0.0.1, no Gradio needed.

``FakeSpace`` speaks Gradio's queue protocol the way the Qwen Spaces do
and plays scripted answers; ``Fault`` makes it misbehave on purpose. Test your
own code offline::

    from qwen_spaces.testing import FakeSpace, Fault

    with FakeSpace(answer="Hi!", faults=[Fault.queue_full(times=1)]) as space:
        ...  # point your client at space.url

With pytest, enable the fixture with
``pytest_plugins = ["qwen_spaces.testing.pytest_plugin"]`` and ask for ``fake_space``.
Importing this package imports aiohttp; ``import qwen_spaces`` never imports it.
"""

from ._faults import Fault
from ._layout import RecordedChat
from ._mocks import MockSpace
from ._server import FakeSpace, RecordedRequest

__all__ = ["FakeSpace", "Fault", "MockSpace", "RecordedChat", "RecordedRequest"]
