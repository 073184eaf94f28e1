"""The fake Space's aiohttp app: Gradio's routes, the same for every layout.

``SpaceApp`` routes the requests and keeps the counters; the session streams
are ``_stream``'s, the events ``_events``', the uploads ``_uploads``'; the
layout (``_layouts``) says what the Space looks like and what its functions
do. FakeSpace (``_server``) runs it in a thread of its own.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Optional

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from ._call import NamedCalls
from ._events import EventRunner
from ._faults import Fault, FaultBook
from ._gradio import InputError, diff, encode
from ._http import json_response, reset, title_case
from ._layout import Layout, RecordedChat
from ._script import DURATION, MessageScript
from ._stream import Send, Session, Streams
from ._uploads import Uploads

__all__ = ["RecordedRequest", "SpaceApp"]

log = logging.getLogger("qwen_spaces.testing")

_STATS_PATH = "/_fake/stats"


class RecordedRequest(NamedTuple):
    """A request the fake received: its ``method`` (GET, POST) and ``path``, the
    target as sent, query string included; ``headers`` with names in Title-Case;
    ``json`` is None unless the body was JSON."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


class _Server(web.Server):
    """aiohttp's low-level server, telling the app when a connection closes."""

    def __init__(self, app: SpaceApp, handler: Any) -> None:
        super().__init__(handler, handler_cancellation=True)
        self._app = app

    def connection_lost(self, handler: RequestHandler, exc: Optional[BaseException] = None) -> None:
        super().connection_lost(handler, exc)
        self._app.live.discard(handler)


class SpaceApp:
    """The request handlers of a fake Space and everything they remember.

    ``handle`` serves the Space's own host, ``handle_other`` the other host of
    ``Fault.redirect_join``; ``url`` and ``other_url`` are set by whoever
    serves them.
    """

    def __init__(
        self,
        layout: Layout,
        script: MessageScript,
        *,
        delay: float,
        heartbeat_interval: float,
        max_stream_seconds: float,
        faults: Sequence[Fault],
    ) -> None:
        self.layout = layout
        self.script = script
        self.delay = delay
        self.faults: tuple[Fault, ...] = tuple(faults)
        self._book = FaultBook(self.faults)
        self.url = ""
        self.other_url = ""
        self.app_id = _new_app_id()  # Gradio draws one at each start of the app

        self.requests: list[RecordedRequest] = []
        self.redirected: list[RecordedRequest] = []
        self.cancels: list[str] = []
        self.chats: list[RecordedChat] = []
        self.live: set[RequestHandler] = set()  # open connections that carried a Space request
        self.connections_opened = 0
        self._counts = {
            "joins": 0,
            "predicts": 0,
            "uploads": 0,
            "streams_opened": 0,
            "streams_open": 0,
        }
        self.streams = Streams(
            layout.new_state,
            self._book,
            self._counts,
            heartbeat_interval=heartbeat_interval,
            max_stream_seconds=max_stream_seconds,
        )
        self.events = EventRunner(layout, script, self._book, delay=delay, record=self.chats.append)
        self.uploads = Uploads(layout, self._book)
        self.calls = NamedCalls(layout, self.streams, self._start)

    @property
    def heartbeat_interval(self) -> float:
        return self.streams.heartbeat_interval

    @property
    def max_stream_seconds(self) -> float:
        return self.streams.max_stream_seconds

    def describe(self) -> str:
        """How FakeSpace shows itself (its repr, and the home page)."""
        where = self.url or "not started"
        return f"<FakeSpace {self.layout.name} gradio={self.layout.version} {where}>"

    def stats(self) -> dict[str, Any]:
        """The counters, as ``GET /_fake/stats`` returns them."""
        return {
            "connections_opened": self.connections_opened,
            "open_connections": len(self.live),
            "requests": len(self.requests),
            **self._counts,
            "cancels": list(self.cancels),
            "redirected_requests": len(self.redirected),
            "redirected_authorization": any("Authorization" in r.headers for r in self.redirected),
        }

    def server(self) -> web.Server:
        """A low-level server for the Space's own host."""
        return _Server(self, self.handle)

    def restart(self) -> None:
        """Forget every session and draw a new app_id, as a Space that restarted."""
        self.app_id = _new_app_id()
        self.streams.sessions.clear()

    def stop_streams(self) -> None:
        """Cancel every event and every open stream (the loop is shutting down)."""
        self.streams.stop()

    def remove_uploads(self) -> None:
        """Delete the uploaded files."""
        self.uploads.remove()

    # --- HTTP ------------------------------------------------------------------

    async def handle_other(self, request: web.BaseRequest) -> web.StreamResponse:
        """Serve a request to the other host of ``Fault.redirect_join``."""
        record = await self._record(request)
        self.redirected.append(record)
        return await self._route(request, record, other_host=True)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Serve a request to the Space."""
        if request.path == _STATS_PATH:
            return json_response(self.stats())
        # A handler leaves live when its connection closes and never serves
        # again, so "not in live" means a connection not counted yet.
        handler = request.protocol
        if handler not in self.live:
            self.live.add(handler)
            self.connections_opened += 1
        record = await self._record(request)
        self.requests.append(record)
        return await self._route(request, record, other_host=False)

    async def _record(self, request: web.BaseRequest) -> RecordedRequest:
        headers = {title_case(k): v for k, v in request.headers.items()}
        if request.content_type.startswith("multipart/"):
            # An upload streams to disk in Uploads; it is not held here.
            return RecordedRequest(request.method, request.path_qs, headers, None)
        # Read past aiohttp's 1 MiB default, as Gradio (Starlette) reads any body: a
        # long-context prompt (megabytes) must reach the fake Space.
        body = bytearray()
        while chunk := await request.content.readany():
            body += chunk
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        return RecordedRequest(request.method, request.path_qs, headers, parsed)

    async def _route(
        self, request: web.BaseRequest, record: RecordedRequest, *, other_host: bool
    ) -> web.StreamResponse:
        path, method, prefix = request.path, request.method, self.layout.prefix
        if path == "/config" and method == "GET":
            answers = self._book.take(frozenset({"config_answer"}))
            if answers:
                fault = answers[0]
                return web.Response(
                    status=fault.status, body=fault.body.encode(), content_type=fault.content_type
                )
            return json_response({**self.layout.config(self.url), "app_id": self.app_id})
        if path in ("", "/") and method == "GET":
            return web.Response(
                text=f"<html><body>{self.describe()}</body></html>", content_type="text/html"
            )
        if path.startswith(prefix):
            route = path[len(prefix) :]
            if route == "/queue/join" and method == "POST":
                return await self._join(request, record.json, other_host=other_host)
            if route == "/queue/data" and method == "GET":
                return await self.streams.serve(request)
            if route in ("/run/predict", "/api/predict") and method == "POST":
                return self._predict(record.json)
            if route in ("/info", "/info/") and method == "GET":
                # The replicas answer 500 here on 4.44 and 5.12 (their schema reader
                # trips on pydantic 2.14's "additionalProperties": true), 200 on 6.31;
                # the fake answers 200 on all, so gradio_client can connect.
                return json_response(self.layout.api_info())
            if route == "/app_id" and method == "GET":
                return json_response({"app_id": self.app_id})
            if route == "/cancel" and method == "POST":
                return self._cancel(record.json)
            if route.startswith("/call/"):
                return await self._call(request, route[len("/call/") :], record.json)
            if route == "/upload" and method == "POST":
                self._counts["uploads"] += 1
                return await self.uploads.handle(request)
        return json_response({"detail": "Not Found"}, status=404)

    async def _join(
        self, request: web.BaseRequest, body: Any, *, other_host: bool
    ) -> web.StreamResponse:
        self._counts["joins"] += 1
        fault = self._book.take_join(other_host=other_host)
        if fault is not None:
            log.info("fault on join: %s", fault.kind)
            match fault.kind:
                case "reset_before_join":
                    return await reset(request)
                case "redirect_join":
                    location = self.other_url + request.path_qs
                    return web.Response(status=fault.status, headers={"Location": location})
                case _:
                    return web.Response(
                        status=fault.status,
                        body=fault.body.encode(),
                        content_type=fault.content_type,
                        headers=dict(fault.headers),
                    )
        if not isinstance(body, Mapping):
            detail = [{"type": "json_invalid", "msg": "JSON decode error"}]
            return json_response({"detail": detail}, 422)
        session_hash, fn = body.get("session_hash"), body.get("fn_index")
        if not isinstance(session_hash, str) or not isinstance(fn, int):
            return json_response(
                {"detail": [{"type": "missing", "loc": ["body", "fn_index"]}]}, 422
            )
        fn = self.layout.from_wire(fn)
        if self.layout.is_queued(fn) is None:
            return web.Response(status=500, text="Internal Server Error")
        event_id = self._start(
            session_hash, self.streams.session(session_hash), fn, body.get("data")
        )
        return json_response({"event_id": event_id})

    def _start(self, session_hash: str, session: Session, fn: int, data: Any) -> str:
        """Run function ``fn`` as an event of this session; its event id."""
        event_id = uuid.uuid4().hex
        coro = self.events.run(session_hash, session, event_id, fn, data)
        task = asyncio.get_running_loop().create_task(coro)
        session.pending[event_id] = task
        task.add_done_callback(lambda t: _log_crash(t, event_id))
        return event_id

    async def _call(self, request: web.BaseRequest, rest: str, body: Any) -> web.StreamResponse:
        """The named API: ``POST call/{api_name}``, ``GET call/{api_name}/{event_id}``."""
        api_name, _, event_id = rest.partition("/")
        if request.method == "POST" and not event_id:
            self._counts["joins"] += 1
            return self.calls.join(api_name, body)
        if request.method == "GET" and event_id:
            return await self.calls.stream(request, api_name, event_id)
        return json_response({"detail": "Not Found"}, status=404)

    def _predict(self, body: Any) -> web.StreamResponse:
        self._counts["predicts"] += 1
        if not isinstance(body, Mapping) or not isinstance(body.get("fn_index"), int):
            return json_response(
                {"detail": [{"type": "missing", "loc": ["body", "fn_index"]}]}, 422
            )
        fn = self.layout.from_wire(int(body["fn_index"]))
        if self.layout.is_queued(fn) is not False:
            detail = (
                "This API endpoint does not accept direct HTTP POST requests. "
                "Please join the queue to use this API."
            )
            return json_response({"detail": detail}, 404)
        session = self.streams.session(str(body.get("session_hash")))
        data = body.get("data")
        try:
            out = self.layout.predict(fn, data if isinstance(data, list) else [], session.state)
        except InputError as exc:
            return json_response({"error": str(exc)}, 500)
        earlier, session.last_predict = session.last_predict, copy.deepcopy(out)
        if earlier is not None and self.layout.is_generator(fn):
            if self._book.take(frozenset({"predict_diff"})):
                out = [diff(old, new) for old, new in zip(earlier, out, strict=False)]
        return json_response(
            {
                "data": out,
                # A generator answers its first yield (the 1M add_text is one).
                "is_generating": self.layout.is_generator(fn),
                "duration": DURATION,
                "average_duration": DURATION,
                "render_config": None,
                "changed_state_ids": [],
            }
        )

    def _cancel(self, body: Any) -> web.StreamResponse:
        if not isinstance(body, Mapping):
            return json_response({"detail": [{"type": "json_invalid"}]}, 422)
        event_id, session_hash = str(body.get("event_id")), str(body.get("session_hash"))
        self.cancels.append(event_id)
        log.debug("cancel %s", event_id)
        session = self.streams.sessions.get(session_hash)
        if session is not None and event_id in session.pending:
            task = session.pending[event_id]
            if task is not None:
                task.cancel()
            session.pending[event_id] = None
            # As Gradio: an empty completion, so the client's stream ends.
            msg = self.script.completed(event_id, {}, success=True)
            session.outbox.put_nowait(Send(encode(msg), done=event_id))
        return json_response({"success": True})


def _log_crash(task: asyncio.Task[None], event_id: str) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("event %s crashed", event_id, exc_info=task.exception())


def _new_app_id() -> int:
    return random.getrandbits(63)
