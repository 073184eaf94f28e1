"""aioresponses 0.7.9 predates aiohttp 3.14's required ``stream_writer`` argument
(pnuckowski/aioresponses#289, open). Until a release fixes it, mocked responses
are built with this class, which supplies a stand-in writer that has sent nothing.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import aiohttp

_NEEDS_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters


class CompatResponse(aiohttp.ClientResponse):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _NEEDS_WRITER:
            kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(*args, **kwargs)
