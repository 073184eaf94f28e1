"""Gradio's named-function API: ``POST {P}/call/{api_name}`` then ``GET {P}/call/{api_name}/{id}``.

The call runs as a queued event in a session of its own; its stream says
``event: generating|complete|error|heartbeat`` with full values (never diffs),
as Gradio's ``/call`` route does for ``gradio_client`` and ``curl`` users.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional

from aiohttp import web

from ._gradio import apply
from ._http import abort, json_response
from ._layout import Layout
from ._stream import Abort, Eof, Send, Session, Stall, Streams

__all__ = ["NamedCalls"]

log = logging.getLogger("qwen_spaces.testing")

Start = Callable[[str, Session, int, Any], str]


def _event(name: str, data: Any) -> bytes:
    # Unlike the queue's, this JSON is ASCII-escaped (as Gradio 5.27 writes it).
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


class NamedCalls:
    """The ``/call`` routes of a Space; ``start`` runs an event and returns its id."""

    def __init__(self, layout: Layout, streams: Streams, start: Start) -> None:
        self._layout = layout
        self._streams = streams
        self._start = start
        self._calls: dict[str, tuple[str, Session]] = {}  # event id -> (api_name, session)

    def _fn(self, api_name: str) -> Optional[int]:
        for dep in self._layout.dependencies():
            if dep["api_name"] == api_name and dep["queue"]:
                return int(dep["id"])
        return None

    def join(self, api_name: str, body: Any) -> web.StreamResponse:
        """``POST {P}/call/{api_name}`` ``{"data": [...]}`` -> ``{"event_id"}``."""
        fn = self._fn(api_name)
        if fn is None:
            return json_response({"detail": "Not Found"}, 404)
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            detail = [{"type": "missing", "loc": ["body", "data"], "msg": "Field required"}]
            return json_response({"detail": detail}, 422)
        session_hash = uuid.uuid4().hex
        session = self._streams.session(session_hash)
        event_id = self._start(session_hash, session, fn, body["data"])
        self._calls[event_id] = (api_name, session)
        return json_response({"event_id": event_id})

    async def stream(
        self, request: web.BaseRequest, api_name: str, event_id: str
    ) -> web.StreamResponse:
        """``GET {P}/call/{api_name}/{event_id}``: the event's results as named SSE events."""
        call = self._calls.pop(event_id, None)
        if call is None or call[0] != api_name:
            return json_response({"detail": "Event not found"}, 404)
        session = call[1]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._streams.max_stream_seconds
        values: Optional[list[Any]] = None
        try:
            while (left := deadline - loop.time()) > 0:
                try:
                    item = await asyncio.wait_for(
                        session.outbox.get(), min(self._streams.heartbeat_interval, left)
                    )
                except asyncio.TimeoutError:
                    await response.write(_event("heartbeat", None))
                    continue
                if isinstance(item, Abort):
                    abort(request)
                    return response
                if isinstance(item, Eof):
                    break
                if isinstance(item, Stall):
                    await asyncio.sleep(min(item.seconds, left))
                    continue
                for message in _messages(item):
                    out, values, over = _translate(message, values)
                    if out:
                        await response.write(out)
                    if over:
                        await response.write_eof()
                        return response
            await response.write_eof()
        except ConnectionError:
            log.debug("the client left the call's stream")
        finally:
            session.cancel_events()
        return response


def _messages(item: Send) -> Iterable[dict[str, Any]]:
    data = item.data if isinstance(item.data, bytes) else b"".join(item.data)
    for block in data.split(b"\n\n"):
        if block.startswith(b"data: "):
            try:
                yield json.loads(block[6:])
            except ValueError:  # a malformed_json fault: /call has no such bytes to show
                continue


def _translate(
    message: dict[str, Any], values: Optional[list[Any]]
) -> tuple[bytes, Optional[list[Any]], bool]:
    """One queue message as the /call stream shows it: (bytes, values now, call over)."""
    msg = message.get("msg")
    output = message.get("output") or {}
    if msg == "process_generating":
        data = output.get("data", [])
        if values is None:
            values = copy.deepcopy(data)
        else:
            values = [apply(v, ops) for v, ops in zip(values, data, strict=True)]
        return _event("generating", values), values, False
    if msg == "process_completed":
        if message.get("success"):
            return _event("complete", output.get("data", [])), values, True
        return _event("error", output.get("error")), values, True
    return b"", values, False
