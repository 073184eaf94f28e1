"""The fake Space's aiohttp app: Gradio's queue routes, the session streams and the faults.

``SpaceApp`` handles requests and keeps the per-session state and the
counters; ``MessageScript`` (``_script``) builds what it sends; FakeSpace
(``_server``) runs it in a thread of its own.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import os
import shutil
import socket
import struct
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional, Union

from aiohttp import BodyPartReader, web
from aiohttp.web_protocol import RequestHandler

from ._faults import JOIN_FAULTS, STREAM_FAULTS, Fault
from ._layouts import Chat, History, InputError, Layout, diff, encode, file_fact
from ._script import DURATION, MessageScript

__all__ = ["RecordedRequest", "SpaceApp"]

log = logging.getLogger("qwen_spaces.testing")

_JSON = "application/json"
_STATS_PATH = "/_fake/stats"


class RecordedRequest(NamedTuple):
    """A request the fake received. ``path`` is the target as sent, query string
    included; header names are in Title-Case; ``json`` is None unless the body was JSON."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


# --- what a session stream writes --------------------------------------------------


@dataclass
class _Send:
    """Bytes to write: one SSE message, or many (one HTTP chunk each)."""

    data: Union[bytes, Iterable[bytes]]
    dribble: Optional[float] = None  # seconds between single bytes
    done: Optional[str] = None  # this event is over once written


@dataclass
class _Stall:
    seconds: float


class _Abort:
    pass


class _Eof:
    pass


_Item = Union[_Send, _Stall, _Abort, _Eof]


@dataclass
class _Session:
    outbox: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    pending: dict[str, Optional[asyncio.Task[None]]] = field(default_factory=dict)
    history: History = field(default_factory=History)
    last_predict: Optional[list[Any]] = None  # for Fault.predict_diff


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
        self.heartbeat_interval = heartbeat_interval
        self.max_stream_seconds = max_stream_seconds
        self.faults: tuple[Fault, ...] = tuple(faults)
        self._left: list[Optional[int]] = [f.times for f in self.faults]
        self.url = ""
        self.other_url = ""

        self.requests: list[RecordedRequest] = []
        self.redirected: list[RecordedRequest] = []
        self.cancels: list[str] = []
        self.live: set[RequestHandler] = set()  # open connections that carried a Space request
        self.connections_opened = 0
        self._counts = {
            "joins": 0, "predicts": 0, "uploads": 0, "streams_opened": 0, "streams_open": 0
        }
        self._files_dir: Optional[str] = None  # where uploads go, made on the first
        self._uploaded: list[str] = []
        self._sessions: dict[str, _Session] = {}
        self._stream_tasks: set[asyncio.Task[Any]] = set()

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

    def stop_streams(self) -> None:
        """Cancel every event and every open stream (the loop is shutting down)."""
        for session in self._sessions.values():
            self._cancel_events(session)
        for task in list(self._stream_tasks):
            task.cancel()

    def remove_uploads(self) -> None:
        """Delete the uploaded files."""
        if self._files_dir is not None:
            shutil.rmtree(self._files_dir, ignore_errors=True)
            self._files_dir = None

    # --- faults ----------------------------------------------------------------

    def _take(self, kinds: frozenset[str]) -> list[Fault]:
        """Consume the faults of these kinds that have uses left."""
        taken: list[Fault] = []
        for i, fault in enumerate(self.faults):
            left = self._left[i]
            if fault.kind not in kinds or left == 0:
                continue
            if left is not None:
                self._left[i] = left - 1
            taken.append(fault)
        return taken

    def _take_join_fault(self, *, other_host: bool) -> Optional[Fault]:
        # Join faults play one per request, in list order.
        skip = frozenset({"redirect_join"}) if other_host else frozenset()
        for i, fault in enumerate(self.faults):
            left = self._left[i]
            if fault.kind in JOIN_FAULTS and fault.kind not in skip and left != 0:
                if left is not None:
                    self._left[i] = left - 1
                return fault
        return None

    # --- HTTP ------------------------------------------------------------------

    async def handle_other(self, request: web.BaseRequest) -> web.StreamResponse:
        """Serve a request to the other host of ``Fault.redirect_join``."""
        record = await self._record(request)
        self.redirected.append(record)
        return await self._route(request, record, other_host=True)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Serve a request to the Space."""
        if request.path == _STATS_PATH:
            return _json(self.stats())
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
        if request.content_type.startswith("multipart/"):
            # An upload streams to disk in _upload; it is not held here.
            headers = {_title(k): v for k, v in request.headers.items()}
            return RecordedRequest(request.method, request.path_qs, headers, None)
        body = await request.read()
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        headers = {_title(k): v for k, v in request.headers.items()}
        return RecordedRequest(request.method, request.path_qs, headers, parsed)

    async def _route(
        self, request: web.BaseRequest, record: RecordedRequest, *, other_host: bool
    ) -> web.StreamResponse:
        path, method, prefix = request.path, request.method, self.layout.prefix
        if path == "/config" and method == "GET":
            answers = self._take(frozenset({"config_answer"}))
            if answers:
                fault = answers[0]
                return web.Response(
                    status=fault.status, body=fault.body.encode(), content_type=fault.content_type
                )
            return _json(self.layout.config(self.url))
        if path in ("", "/") and method == "GET":
            return web.Response(
                text=f"<html><body>{self.describe()}</body></html>", content_type="text/html"
            )
        if path.startswith(prefix):
            route = path[len(prefix) :]
            if route == "/queue/join" and method == "POST":
                return await self._join(request, record.json, other_host=other_host)
            if route == "/queue/data" and method == "GET":
                return await self._data(request)
            if route in ("/run/predict", "/api/predict") and method == "POST":
                return self._predict(record.json)
            if route in ("/info", "/info/") and method == "GET":
                # The replicas answer 500 here on 4.44 and 5.12 (their schema reader
                # trips on pydantic 2.14's "additionalProperties": true), 200 on 6.31;
                # the fake answers 200 on all, so gradio_client can connect.
                return _json(self.layout.api_info())
            if route == "/cancel" and method == "POST":
                return self._cancel(record.json)
            if route == "/upload" and method == "POST":
                return await self._upload(request)
        return _json({"detail": "Not Found"}, status=404)

    async def _join(
        self, request: web.BaseRequest, body: Any, *, other_host: bool
    ) -> web.StreamResponse:
        self._counts["joins"] += 1
        fault = self._take_join_fault(other_host=other_host)
        if fault is not None:
            log.info("fault on join: %s", fault.kind)
            match fault.kind:
                case "reset_before_join":
                    return await _reset(request)
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
            return _json({"detail": [{"type": "json_invalid", "msg": "JSON decode error"}]}, 422)
        session_hash, fn = body.get("session_hash"), body.get("fn_index")
        if not isinstance(session_hash, str) or not isinstance(fn, int):
            return _json({"detail": [{"type": "missing", "loc": ["body", "fn_index"]}]}, 422)
        if self.layout.is_queued(fn) is None:
            return web.Response(status=500, text="Internal Server Error")
        session = self._sessions.setdefault(session_hash, _Session())
        event_id = uuid.uuid4().hex
        coro = self._run_event(session, event_id, fn, body.get("data"))
        task = asyncio.get_running_loop().create_task(coro)
        session.pending[event_id] = task
        task.add_done_callback(lambda t: _log_crash(t, event_id))
        return _json({"event_id": event_id})

    async def _upload(self, request: web.BaseRequest) -> web.StreamResponse:
        """Gradio's upload: each part of field ``files`` to a file of its own; their paths."""
        self._counts["uploads"] += 1
        faults = self._take(frozenset({"upload_error", "upload_drop"}))
        drop_at: Optional[int] = None
        if faults:
            fault = faults[0]
            match fault.kind:
                case "upload_error":
                    await request.release()  # read and drop the body, as a proxy's limit does
                    return web.Response(status=fault.status, body=fault.body.encode(),
                                        content_type="application/json")
                case _:  # upload_drop: cut the connection once this many bytes are in
                    drop_at = fault.size
        reader = await request.multipart()
        paths: list[str] = []
        received = 0
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != "files":
                continue
            directory = tempfile.mkdtemp(dir=self._upload_dir())
            path = os.path.join(directory, os.path.basename(part.filename or "file"))
            digest, size = hashlib.sha256(), 0
            with open(path, "wb") as out:
                while chunk := await part.read_chunk(1 << 16):
                    received += len(chunk)
                    if drop_at is not None and received >= drop_at:
                        _abort(request)
                        return web.Response(status=500)
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            # Hashed as it arrives, so the answer costs no second read of the file.
            self.layout.file_facts[path] = file_fact(path, size, digest.hexdigest())
            paths.append(path)
            self._uploaded.append(path)
        return _json(paths)

    def _upload_dir(self) -> str:
        if self._files_dir is None:
            self._files_dir = tempfile.mkdtemp(prefix="fake-space-files-")
        return self._files_dir

    def _predict(self, body: Any) -> web.StreamResponse:
        self._counts["predicts"] += 1
        if not isinstance(body, Mapping) or not isinstance(body.get("fn_index"), int):
            return _json({"detail": [{"type": "missing", "loc": ["body", "fn_index"]}]}, 422)
        fn = int(body["fn_index"])
        if self.layout.is_queued(fn) is not False:
            detail = (
                "This API endpoint does not accept direct HTTP POST requests. "
                "Please join the queue to use this API."
            )
            return _json({"detail": detail}, 404)
        session_hash = body.get("session_hash")
        session = self._sessions.setdefault(str(session_hash), _Session())
        data = body.get("data")
        try:
            out = self.layout.predict(fn, data if isinstance(data, list) else [], session.history)
        except InputError as exc:
            return _json({"error": str(exc)}, 500)
        earlier, session.last_predict = session.last_predict, copy.deepcopy(out)
        if earlier is not None and self.layout.is_generator(fn):
            if self._take(frozenset({"predict_diff"})):
                out = [diff(old, new) for old, new in zip(earlier, out, strict=False)]
        return _json(
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
            return _json({"detail": [{"type": "json_invalid"}]}, 422)
        event_id, session_hash = str(body.get("event_id")), str(body.get("session_hash"))
        self.cancels.append(event_id)
        log.debug("cancel %s", event_id)
        session = self._sessions.get(session_hash)
        if session is not None and event_id in session.pending:
            task = session.pending[event_id]
            if task is not None:
                task.cancel()
            session.pending[event_id] = None
            # As Gradio: an empty completion, so the client's stream ends.
            msg = self.script.completed(event_id, {}, success=True)
            session.outbox.put_nowait(_Send(encode(msg), done=event_id))
        return _json({"success": True})

    # --- the session stream ------------------------------------------------------

    async def _data(self, request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        prefixes = self._take(frozenset({"stream_prefix"}))
        if prefixes:
            head = prefixes[0].body.encode()
            if prefixes[0].seconds:  # in two chunks, a pause apart
                await response.write(head[:1])
                await asyncio.sleep(prefixes[0].seconds)
                head = head[1:]
            await response.write(head)
        session = self._sessions.get(request.query.get("session_hash", ""))
        if session is None or self._take(frozenset({"session_not_found"})):
            # Gradio raises inside its stream: the message, then a broken connection.
            msg = {
                "msg": "unexpected_error",
                "event_id": None,
                "message": "404: Session not found.",
                "success": False,
            }
            await response.write(encode(msg))
            _abort(request)
            return response
        task = asyncio.current_task()
        assert task is not None
        self._stream_tasks.add(task)
        self._counts["streams_opened"] += 1
        self._counts["streams_open"] += 1
        clean = False
        try:
            clean = await self._pump(request, response, session)
        except ConnectionError:
            log.debug("the client left the stream")
        finally:
            self._stream_tasks.discard(task)
            self._counts["streams_open"] -= 1
            if not clean:
                # As Gradio does when a client goes away: its events stop.
                self._cancel_events(session)
        return response

    async def _pump(
        self, request: web.BaseRequest, response: web.StreamResponse, session: _Session
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
            if isinstance(item, _Abort):
                _abort(request)
                return False
            if isinstance(item, _Eof):
                await response.write_eof()
                return False
            if isinstance(item, _Stall):
                await asyncio.sleep(min(item.seconds, max(0.0, deadline - loop.time())))
                continue
            await _write(response, item, deadline)
            if item.done is not None:
                session.pending.pop(item.done, None)
                if not session.pending:
                    await response.write(encode({"msg": "close_stream", "event_id": None}))
                    await response.write_eof()
                    return True

    def _cancel_events(self, session: _Session) -> None:
        for task in session.pending.values():
            if task is not None:
                task.cancel()
        session.pending.clear()
        while not session.outbox.empty():
            session.outbox.get_nowait()

    # --- one event ---------------------------------------------------------------

    async def _run_event(self, session: _Session, event_id: str, fn: int, data: Any) -> None:
        script = self.script
        faults = self._take(STREAM_FAULTS)
        by_kind = _by_kind(faults)
        dribble = by_kind["dribble"][0].seconds if "dribble" in by_kind else None

        def send(message: Mapping[str, Any], done: bool = False) -> None:
            item = _Send(encode(message), dribble, event_id if done else None)
            session.outbox.put_nowait(item)

        for fault in by_kind.get("queue_wait", []):
            for rank in range(fault.size, 0, -1):
                send(script.estimation(event_id, rank, rank * fault.seconds))
                await asyncio.sleep(fault.seconds)
        send(script.estimation(event_id, 0, None))
        if "heartbeats_only" in by_kind:
            return  # the event stays pending: the stream sends heartbeats until bounded
        send({"msg": "process_starts", "event_id": event_id, "eta": None})

        layout = self.layout
        n_outputs = layout.n_outputs(fn)
        chat: Optional[Chat] = None
        try:
            layout.check_inputs(fn, data)
            if fn in layout.chat_fns:
                chat = layout.chat(list(data), session.history)
        except InputError as exc:
            send(script.completed(event_id, {"error": str(exc)}, False, sent=0), done=True)
            return
        if chat is None:  # clear history and the like: one unremarkable answer
            output = script.output([None] * n_outputs, generating=False)
            send(script.completed(event_id, output, success=True), done=True)
            return

        try:
            chunks = script.chunks(chat)
        except Exception:
            # A broken scripted answer fails like a Space's hidden exception.
            log.exception("the answer function raised")
            send(script.completed(event_id, script.error_output(None), False), done=True)
            return
        answer = "".join(chunks)
        if script.tokens is not None and not faults:
            # Benchmark mode: every message encoded up front, one write each.
            *writes, completion = script.fast_tokens(chat, event_id, answer)
            for write in writes:
                session.outbox.put_nowait(_Send(write))
            session.outbox.put_nowait(_Send(completion, done=event_id))
            chat.on_complete(answer)
            return
        sent = 0
        previous: Optional[list[Any]] = None
        for text in script.texts(chunks):
            if self._fire(faults, sent, event_id, chat, session, dribble):
                return
            values = chat.render(text)
            if previous is None:  # the first message of a run carries full values
                out = values
            else:
                out = [diff(p, v) for p, v in zip(previous, values, strict=True)]
            send(script.generating(event_id, out))
            previous = values
            sent += 1
            if self.delay:
                await asyncio.sleep(self.delay)
        # A fault placed past the end still fires, before the completion.
        if self._fire(faults, sent, event_id, chat, session, dribble, at_end=True):
            return
        assert previous is not None  # texts yields at least one text
        if chat.trailer:
            send(script.generating(event_id, [[] for _ in previous]))
        final = script.output(previous, generating=False)
        send(script.completed(event_id, final, True), done=True)
        chat.on_complete(answer)

    def _fire(
        self,
        faults: list[Fault],
        sent: int,
        event_id: str,
        chat: Chat,
        session: _Session,
        dribble: Optional[float],
        *,
        at_end: bool = False,
    ) -> bool:
        """Play the faults due after ``sent`` updates (at the end: all still due).

        True when the event ends here.
        """
        put = session.outbox.put_nowait
        due = [
            f
            for f in faults
            if f.kind not in ("queue_wait", "heartbeats_only", "dribble")
            and (f.updates == sent or (at_end and f.updates > sent))
        ]
        for fault in due:
            log.info("fault after %s updates: %s", sent, fault.kind)
            match fault.kind:
                case "drop_after":
                    put(_Abort())
                    return True
                case "eof_after":
                    put(_Eof())
                    return True
                case "stall_after":
                    put(_Stall(fault.seconds))
                case "malformed_json":
                    put(_Send(b'data: {"msg":"process_generating","output":{"data":[[],[["app\n\n'))
                case "unknown_message":
                    message = {
                        "msg": "process_paused", "event_id": event_id, "reason": "unknown kind"
                    }
                    put(_Send(encode(message), dribble))
                case "huge_event":
                    put(_Send(self.script.huge(event_id, chat, fault.size)))
                case "space_error":
                    output = self.script.error_output(fault.message)
                    completed = self.script.completed(event_id, output, False, sent=sent)
                    put(_Send(encode(completed), dribble, event_id))
                    return True
        return False


# --- helpers ---------------------------------------------------------------------------


def _by_kind(faults: Iterable[Fault]) -> dict[str, list[Fault]]:
    """The faults grouped by kind, each group in list order."""
    grouped: dict[str, list[Fault]] = {}
    for fault in faults:
        grouped.setdefault(fault.kind, []).append(fault)
    return grouped


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _json(body: Any, status: int = 200) -> web.Response:
    # body=, not text=: Gradio's JSON answers carry no charset parameter.
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(status=status, body=data, content_type=_JSON)


def _abort(request: web.BaseRequest) -> None:
    if request.transport is not None:
        request.transport.abort()


async def _reset(request: web.BaseRequest) -> web.StreamResponse:
    """Reset the connection: SO_LINGER 0 makes the close an RST, not a FIN."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    # Wait to be cancelled by the closed connection; never answer.
    await asyncio.sleep(5)
    return web.Response(status=500)


async def _write(response: web.StreamResponse, item: _Send, deadline: float) -> None:
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


def _log_crash(task: asyncio.Task[None], event_id: str) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("event %s crashed", event_id, exc_info=task.exception())
