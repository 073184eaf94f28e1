"""A stream's server-sent events: the chunks' bytes (a template for content chunks) and the
writer that batches them onto the connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from json.encoder import encode_basestring as _quote  # json's own escape, no ASCII escapes
from typing import Any, Optional

from aiohttp import web

__all__ = ["DONE", "ChunkEncoder", "SSEWriter", "dumps", "event"]

DONE = b"data: [DONE]\n\n"

#: The JSON of a body or an event: UTF-8 text as it is, no spaces.
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def event(value: Mapping[str, Any]) -> bytes:
    """One SSE event holding ``value`` as JSON."""
    return b"data: " + dumps(value).encode("utf-8") + b"\n\n"


class ChunkEncoder:
    """SSE bytes of a stream's chunks, the same bytes as :func:`event` gives.

    Content chunks, all but a few of a stream, differ only in their text
    (``OpenAIChunks`` gives every chunk of a stream the same id, created and
    model): the first one's JSON, cut around its text, is the template of the
    rest, so each costs one string escape instead of a whole ``json.dumps``.
    Reasoning chunks (``reasoning_content`` alone) get a template of their own.
    The template serves only chunks whose other fields are the ones it was cut
    from, and is checked against ``json.dumps`` of the chunk it was made for.
    """

    _MARK = "qwen-spaces-content-mark"
    _KEYS = ("content", "reasoning_content")

    def __init__(self) -> None:
        # Per delta key: the template and what it was made for.
        self._around: dict[str, Optional[tuple[bytes, bytes]]] = {}
        self._made_for: dict[str, tuple[Any, ...]] = {}

    def encode(self, chunk: Mapping[str, Any]) -> bytes:
        choices = chunk["choices"]
        if len(choices) == 1:
            choice = choices[0]
            delta = choice["delta"]
            key = next(iter(delta), None) if len(delta) == 1 else None
            if (
                key in self._KEYS
                and choice.get("finish_reason", "") is None
                and isinstance(delta[key], str)
            ):
                assert key is not None
                made_for = (
                    chunk.get("id"),
                    chunk.get("created"),
                    chunk.get("model"),
                    chunk.get("object"),
                    tuple(chunk),
                    tuple(choice),
                )
                if made_for != self._made_for.get(key):
                    self._around[key] = self._template(chunk, choice, key)
                    self._made_for[key] = made_for
                around = self._around[key]
                if around is not None:
                    head, tail = around
                    return head + _quote(delta[key]).encode("utf-8") + tail
        return event(chunk)

    def _template(
        self, chunk: Mapping[str, Any], choice: Mapping[str, Any], key: str
    ) -> Optional[tuple[bytes, bytes]]:
        """(head, tail) around the text's JSON string; None when the chunk cannot be cut
        there (the mark shows up elsewhere) or the cut does not give json.dumps's bytes."""
        marked = {**chunk, "choices": [{**choice, "delta": {key: self._MARK}}]}
        parts = event(marked).split(b'"' + self._MARK.encode() + b'"')
        if len(parts) != 2:
            return None
        head, tail = parts
        text = choice["delta"][key]
        if head + _quote(text).encode("utf-8") + tail != event(chunk):
            return None
        return head, tail


class SSEWriter:
    """Writes a stream's events, those produced together in one write.

    A batch of events decoded from one read of the Space's stream arrives
    without the handler yielding to the event loop; this writer's task runs
    when it does, and sends them all at once: one syscall, not one an event.
    The first event still goes out as soon as it is made. ``send`` waits
    when more than HIGH_WATER bytes are pending (a slow client).
    """

    HIGH_WATER = 256 * 1024

    def __init__(self, response: web.StreamResponse) -> None:
        self._response = response
        self._pending: list[bytes] = []
        self._size = 0
        self._closed = False
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._error: Optional[BaseException] = None
        self._task = asyncio.ensure_future(self._run())

    async def send(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._pending.append(data)
        self._size += len(data)
        self._wake.set()
        if self._size > self.HIGH_WATER:
            self._room.clear()
            await self._room.wait()
            if self._error is not None:
                raise self._error

    async def _run(self) -> None:
        try:
            while True:
                if not self._pending:
                    if self._closed:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                data = b"".join(self._pending)
                self._pending.clear()
                self._size = 0
                self._room.set()
                await self._response.write(data)
        except Exception as exc:  # a write failed: the client went away
            self._error = exc
            self._room.set()

    async def close(self) -> None:
        """Send what is pending and stop; raises the error a write met."""
        self._closed = True
        self._wake.set()
        await asyncio.shield(self._task)
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        self._task.cancel()
