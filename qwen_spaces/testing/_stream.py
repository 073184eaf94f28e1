"""The session streams of a fake Space: ``GET {P}/queue/data``, one per session hash.

Events (``_events``) put what they send in their session's outbox; the stream
writes it, with heartbeats while idle, until every event of the session is
over (then ``close_stream``) or ``max_stream_seconds`` have passed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from aiohttp import web

from ._faults import FaultBook
from ._gradio import encode
from ._http import abort
from ._layout import SessionState

__all__ = ["Abort", "Eof", "Item", "Send", "Session", "Stall", "Streams"]

log = logging.getLogger("qwen_spaces.testing")


@dataclass
class Send:
    """Bytes to write: one SSE message, or many (one HTTP chunk each)."""

    data: Union[bytes, Iterable[bytes]]
    dribble: Optional[float] = None  # seconds between single bytes
    done: Optional[str] = None  # this event is over once written


@dataclass
class Stall:
    """Write nothing (not even a heartbeat) for this long."""

    seconds: float


class Abort:
    """Break the stream's connection."""


class Eof:
    """End the stream cleanly, with no completion."""


Item = Union[Send, Stall, Abort, Eof]


@dataclass
class Session:
    """One session hash: its stream's outbox, its running events, the Space's state."""

    state: SessionState
    outbox: asyncio.Queue[Item] = field(default_factory=asyncio.Queue)
    pending: dict[str, Optional[asyncio.Task[None]]] = field(default_factory=dict)
    last_predict: Optional[list[Any]] = None  # for Fault.predict_diff

    def cancel_events(self) -> None:
        """Stop every event and drop what they had not sent yet."""
        for task in self.pending.values():
            if task is not None:
                task.cancel()
        self.pending.clear()
        while not self.outbox.empty():
            self.outbox.get_nowait()


class Streams:
    """The sessions of a Space and the streams that serve them."""

    def __init__(
        self,
        new_state: Callable[[], SessionState],
        faults: FaultBook,
        counts: dict[str, int],
        *,
        heartbeat_interval: float,
        max_stream_seconds: float,
    ) -> None:
        self._new_state = new_state
        self._faults = faults
        self._counts = counts
        self.heartbeat_interval = heartbeat_interval
        self.max_stream_seconds = max_stream_seconds
        self.sessions: dict[str, Session] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def session(self, session_hash: str) -> Session:
        """The session of this hash, made on first use (as Gradio does on a join)."""
        session = self.sessions.get(session_hash)
        if session is None:
            session = self.sessions[session_hash] = Session(self._new_state())
        return session

    def stop(self) -> None:
        """Cancel every event and every open stream (the loop is shutting down)."""
        for session in self.sessions.values():
            session.cancel_events()
        for task in list(self._tasks):
            task.cancel()

    async def serve(self, request: web.BaseRequest) -> web.StreamResponse:
        """``GET {P}/queue/data?session_hash=H``."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        prefixes = self._faults.take(frozenset({"stream_prefix"}))
        if prefixes:
            head = prefixes[0].body.encode()
            if prefixes[0].seconds:  # in two chunks, a pause apart
                await response.write(head[:1])
                await asyncio.sleep(prefixes[0].seconds)
                head = head[1:]
            await response.write(head)
        session = self.sessions.get(request.query.get("session_hash", ""))
        if session is None or self._faults.take(frozenset({"session_not_found"})):
            # Gradio raises inside its stream: the message, then a broken connection.
            msg = {
                "msg": "unexpected_error",
                "event_id": None,
                "message": "404: Session not found.",
                "success": False,
            }
            await response.write(encode(msg))
            abort(request)
            return response
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._counts["streams_opened"] += 1
        self._counts["streams_open"] += 1
        clean = False
        try:
            clean = await self._pump(request, response, session)
        except ConnectionError:
            log.debug("the client left the stream")
        finally:
            self._tasks.discard(task)
            self._counts["streams_open"] -= 1
            if not clean:
                # As Gradio does when a client goes away: its events stop.
                session.cancel_events()
        return response

    async def _pump(
        self, request: web.BaseRequest, response: web.StreamResponse, session: Session
    ) -> bool:
        """Write the session's messages until its events are over; True if it ended cleanly."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_stream_seconds
        heartbeat = encode({"msg": "heartbeat", "event_id": None})
        while True:
            left = deadline - loop.time()
            if left <= 0:
                log.warning("stream bounded at max_stream_seconds=%s", self.max_stream_seconds)
                await response.write_eof()
                return False
            try:
                item = await asyncio.wait_for(
                    session.outbox.get(), timeout=min(self.heartbeat_interval, left)
                )
            except asyncio.TimeoutError:
                if loop.time() < deadline:
                    await response.write(heartbeat)
                continue
            if isinstance(item, Abort):
                abort(request)
                return False
            if isinstance(item, Eof):
                await response.write_eof()
                return False
            if isinstance(item, Stall):
                await asyncio.sleep(min(item.seconds, max(0.0, deadline - loop.time())))
                continue
            await _write(response, item, deadline)
            if item.done is not None:
                session.pending.pop(item.done, None)
                if not session.pending:
                    await response.write(encode({"msg": "close_stream", "event_id": None}))
                    await response.write_eof()
                    return True


async def _write(response: web.StreamResponse, item: Send, deadline: float) -> None:
    chunks: Iterable[bytes] = (item.data,) if isinstance(item.data, bytes) else item.data
    if item.dribble is None:
        for chunk in chunks:
            await response.write(chunk)
        return
    loop = asyncio.get_running_loop()
    for chunk in chunks:
        for i in range(len(chunk)):
            await response.write(chunk[i : i + 1])
            if item.dribble:
                await asyncio.sleep(item.dribble)
            if loop.time() > deadline:
                return
