"""FakeSpace: a small aiohttp server that speaks Gradio's queue protocol like the two Qwen Spaces.

It runs on 127.0.0.1 in a thread of its own with its own event loop, so sync
tests, asyncio tests and other processes can all talk to it over real sockets.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import os
import shutil
import socket
import struct
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple, Optional, Union, overload

from aiohttp import BodyPartReader, web
from aiohttp.web_protocol import RequestHandler

from ._faults import JOIN_FAULTS, STREAM_FAULTS, Fault
from ._layouts import (
    PLACEHOLDER,
    AnswerFn,
    Chat,
    FooterFn,
    History,
    InputError,
    Layout,
    Script,
    default_answer,
    diff,
    encode,
    footer,
    make_layout,
)

__all__ = ["FakeSpace", "RecordedRequest"]

log = logging.getLogger("qwen_spaces.testing")

_JSON = "application/json"
_DURATION = 0.05  # reported run times: constant, so equal runs give equal bytes
_HUGE_PIECE = 1 << 20
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


class _Server(web.Server):
    """aiohttp's low-level server, telling the Space when a connection closes."""

    def __init__(self, space: FakeSpace, handler: Any) -> None:
        super().__init__(handler, handler_cancellation=True)
        self._space = space

    def connection_lost(self, handler: RequestHandler, exc: Optional[BaseException] = None) -> None:
        super().connection_lost(handler, exc)
        self._space._live.discard(handler)


class FakeSpace:
    """A fake Qwen Space on 127.0.0.1 that plays scripted answers over Gradio's queue protocol.

    No Gradio needed: ``/config``, ``queue/join``, ``queue/data`` (SSE, with
    heartbeats), ``run/predict`` and ``cancel`` behave as on the real Spaces,
    and ``faults`` make it misbehave on purpose. ``layout`` is ``"max"`` (the
    Qwen2.5-Max demo) or ``"1m"`` (the Qwen2.5-1M demo); ``gradio`` picks the
    generation (4: no ``/gradio_api`` prefix; 5; 6: messages chatbot), by default
    the one the real Space runs (5 for Max, 4 for 1M).

    ``answer`` is a str or ``answer(query, turns, system) -> str`` where turns
    counts the earlier exchanges the Space was given (system is "" on 1M); it
    streams ``chunk_size`` characters per update, ``delay`` seconds apart. An
    answer given as a list of str streams exactly those chunks. ``footer``
    (1M) adds a ``"\n<summary>chunk i/n</summary>"`` block that changes at every
    update, so Gradio sends ``replace`` ops; a callable ``footer(i, n)`` makes
    your own. ``tokens=N`` is the benchmark mode: exactly N diffs of
    ``token_text`` as fast as possible (no delay, every message encoded once,
    one HTTP chunk each); on Max the first full value has an empty answer and
    all N are appends, on 1M the first replaces the placeholder. Streams end
    by ``max_stream_seconds`` whatever happens.

    Example::

        from qwen_spaces.testing import FakeSpace, Fault

        with FakeSpace(answer="Hello there", faults=[Fault.queue_full(times=1)]) as space:
            client = Client(base_url=space.url)        # your code under test
            ...
            assert space.connections_opened == 1
    """

    def __init__(
        self,
        layout: str = "max",
        gradio: Optional[int] = None,
        answer: Union[Script, AnswerFn] = default_answer,
        chunk_size: int = 3,
        delay: float = 0.0,
        footer: Union[bool, FooterFn] = False,
        tokens: Optional[int] = None,
        token_text: str = "ha ",
        heartbeat_interval: float = 15.0,
        faults: Sequence[Fault] = (),
        max_stream_seconds: float = 30.0,
        port: int = 0,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if tokens is not None and tokens < 0:
            raise ValueError("tokens must not be negative")
        if delay < 0 or heartbeat_interval <= 0 or max_stream_seconds <= 0:
            raise ValueError("delay must be >= 0; heartbeat_interval and max_stream_seconds > 0")
        self.layout: Layout = make_layout(layout, gradio)
        self._answer = answer
        self.chunk_size = chunk_size
        self.delay = delay
        self._footer: Optional[FooterFn] = (
            (footer if callable(footer) else _footer_text) if footer else None
        )
        self.tokens = tokens
        self.token_text = token_text
        self.heartbeat_interval = heartbeat_interval
        self.max_stream_seconds = max_stream_seconds
        self.faults: tuple[Fault, ...] = tuple(faults)
        self._left: list[Optional[int]] = [f.times for f in self.faults]
        self._port = port

        self._requests: list[RecordedRequest] = []
        self._redirected: list[RecordedRequest] = []
        self._cancels: list[str] = []
        self._live: set[RequestHandler] = set()  # open connections that carried a Space request
        self._connections_opened = 0
        self._counts = {
            "joins": 0, "predicts": 0, "uploads": 0, "streams_opened": 0, "streams_open": 0
        }
        self._files_dir: Optional[str] = None  # where uploads go, made on the first
        self._uploaded: list[str] = []
        self._sessions: dict[str, _Session] = {}
        self._stream_tasks: set[asyncio.Task[Any]] = set()

        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runners: list[web.BaseRunner] = []
        self.url = ""
        self.other_url = ""  # where redirect_join sends the join: another host name

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeSpace:
        """Start serving in a background thread; returns once ``url`` accepts connections."""
        if self._thread is not None:
            raise RuntimeError("this FakeSpace is already started")
        self._loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._serve, args=(self._loop, ready), name="FakeSpace", daemon=True
        )
        self._thread.start()
        try:
            ready.result(timeout=30)
        except BaseException:
            self._thread.join(timeout=5)
            self._thread = None
            raise
        log.debug(
            "fake %s Space (Gradio %s) at %s", self.layout.name, self.layout.version, self.url
        )
        return self

    def stop(self) -> None:
        """Close every connection and stop the thread. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=15)
            except (concurrent.futures.TimeoutError, RuntimeError):  # pragma: no cover
                log.warning("the fake Space did not shut down cleanly")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=15)
        self._thread = None
        self._loop = None
        if self._files_dir is not None:
            shutil.rmtree(self._files_dir, ignore_errors=True)
            self._files_dir = None

    def __enter__(self) -> FakeSpace:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeSpace:
        # The server keeps its own thread and loop even here, so a test that
        # blocks its own loop cannot starve the Space.
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        where = self.url or "not started"
        return f"<FakeSpace {self.layout.name} gradio={self.layout.version} {where}>"

    def _serve(
        self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[None]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup())
        except BaseException as exc:
            loop.run_until_complete(self._cleanup_runners())
            loop.close()
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _setup(self) -> None:
        main = web.ServerRunner(_Server(self, self._handle), shutdown_timeout=1.0)
        await main.setup()
        self._runners.append(main)
        site = web.TCPSite(main, "127.0.0.1", self._port)
        await site.start()
        self.url = f"http://127.0.0.1:{main.addresses[0][1]}"
        if any(f.kind == "redirect_join" for f in self.faults):
            other_server = web.Server(self._handle_other, handler_cancellation=True)
            other = web.ServerRunner(other_server, shutdown_timeout=1.0)
            await other.setup()
            self._runners.append(other)
            await web.TCPSite(other, "127.0.0.1", 0).start()
            # Same machine, another host name: a client must treat it as a different host.
            self.other_url = f"http://localhost:{other.addresses[0][1]}"

    async def _shutdown(self) -> None:
        for session in self._sessions.values():
            self._cancel_events(session)
        for task in list(self._stream_tasks):
            task.cancel()
        await self._cleanup_runners()

    async def _cleanup_runners(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    # --- observability ---------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received (but ``/_fake/*``), oldest first."""
        return list(self._requests)

    @property
    def redirected_requests(self) -> list[RecordedRequest]:
        """Requests that reached the other host of ``Fault.redirect_join``."""
        return list(self._redirected)

    @property
    def cancels(self) -> list[str]:
        """Event ids POSTed to ``cancel``."""
        return list(self._cancels)

    @property
    def connections_opened(self) -> int:
        """TCP connections that carried at least one Space request (``/_fake/*`` ones
        don't count, so polling the stats does not disturb a keep-alive check)."""
        return self._connections_opened

    @property
    def open_connections(self) -> int:
        """Of those, how many are open now."""
        return len(self._live)

    def stats(self) -> dict[str, Any]:
        """The counters, as ``GET /_fake/stats`` returns them."""
        return {
            "connections_opened": self._connections_opened,
            "open_connections": len(self._live),
            "requests": len(self._requests),
            **self._counts,
            "cancels": list(self._cancels),
            "redirected_requests": len(self._redirected),
            "redirected_authorization": any("Authorization" in r.headers for r in self._redirected),
        }

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

    async def _handle_other(self, request: web.BaseRequest) -> web.StreamResponse:
        record = await self._record(request)
        self._redirected.append(record)
        return await self._route(request, record, other_host=True)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path == _STATS_PATH:
            return _json(self.stats())
        # A handler leaves _live when its connection closes and never serves
        # again, so "not in _live" means a connection not counted yet.
        handler = request.protocol
        if handler not in self._live:
            self._live.add(handler)
            self._connections_opened += 1
        record = await self._record(request)
        self._requests.append(record)
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
                text=f"<html><body>{self!r}</body></html>", content_type="text/html"
            )
        if path.startswith(prefix):
            route = path[len(prefix) :]
            if route == "/queue/join" and method == "POST":
                return await self._join(request, record.json, other_host=other_host)
            if route == "/queue/data" and method == "GET":
                return await self._data(request)
            if route in ("/run/predict", "/api/predict") and method == "POST":
                return self._predict(record.json)
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
            if fault.kind == "reset_before_join":
                return await _reset(request)
            if fault.kind == "redirect_join":
                location = self.other_url + request.path_qs
                return web.Response(status=fault.status, headers={"Location": location})
            headers = dict(fault.headers)
            return web.Response(
                status=fault.status,
                body=fault.body.encode(),
                content_type=fault.content_type,
                headers=headers,
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
        fault = faults[0] if faults else None
        if fault is not None and fault.kind == "upload_error":
            await request.release()  # read and drop the body, as a proxy's limit does
            return web.Response(status=fault.status, body=fault.body.encode(),
                                content_type="application/json")
        drop_at = fault.size if fault is not None else None
        reader = await request.multipart()
        paths: list[str] = []
        received = 0
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != "files":
                continue
            directory = tempfile.mkdtemp(dir=self._upload_dir())
            path = os.path.join(directory, os.path.basename(part.filename or "file"))
            with open(path, "wb") as out:
                while chunk := await part.read_chunk(1 << 16):
                    received += len(chunk)
                    if drop_at is not None and received >= drop_at:
                        _abort(request)
                        return web.Response(status=500)
                    out.write(chunk)
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
        return _json(
            {
                "data": out,
                # A generator answers its first yield (the 1M add_text is one).
                "is_generating": self.layout.is_generator(fn),
                "duration": _DURATION,
                "average_duration": _DURATION,
                "render_config": None,
                "changed_state_ids": [],
            }
        )

    def _cancel(self, body: Any) -> web.StreamResponse:
        if not isinstance(body, Mapping):
            return _json({"detail": [{"type": "json_invalid"}]}, 422)
        event_id, session_hash = str(body.get("event_id")), str(body.get("session_hash"))
        self._cancels.append(event_id)
        log.debug("cancel %s", event_id)
        session = self._sessions.get(session_hash)
        if session is not None and event_id in session.pending:
            task = session.pending[event_id]
            if task is not None:
                task.cancel()
            session.pending[event_id] = None
            # As Gradio: an empty completion, so the client's stream ends.
            msg = self._completed(event_id, {}, success=True)
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
        faults = self._take(STREAM_FAULTS)
        dribble = next((f.seconds for f in faults if f.kind == "dribble"), None)

        def send(message: Mapping[str, Any], done: bool = False) -> None:
            item = _Send(encode(message), dribble, event_id if done else None)
            session.outbox.put_nowait(item)

        for fault in faults:
            if fault.kind == "queue_wait":
                for rank in range(fault.size, 0, -1):
                    send(self._estimation(event_id, rank, rank * fault.seconds))
                    await asyncio.sleep(fault.seconds)
        send(self._estimation(event_id, 0, None))
        if any(f.kind == "heartbeats_only" for f in faults):
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
            send(self._completed(event_id, {"error": str(exc)}, False, sent=0), done=True)
            return
        if chat is None:  # clear history and the like: one unremarkable answer
            output = self._output([None] * n_outputs, generating=False)
            send(self._completed(event_id, output, success=True), done=True)
            return

        try:
            chunks = self._chunks(chat)
        except Exception:
            # A broken scripted answer fails like a Space's hidden exception.
            log.exception("the answer function raised")
            send(self._completed(event_id, self._error_output(None), False), done=True)
            return
        answer = "".join(chunks)
        if self.tokens is not None and not faults:
            self._fast_tokens(chat, event_id, session, answer)
            return
        sent = 0
        previous: Optional[list[Any]] = None
        for text in self._texts(chunks):
            if self._fire(faults, sent, event_id, chat, session, dribble):
                return
            values = chat.render(text)
            if previous is None:  # the first message of a run carries full values
                out = values
            else:
                out = [diff(p, v) for p, v in zip(previous, values, strict=True)]
            send(self._generating(event_id, out))
            previous = values
            sent += 1
            if self.delay:
                await asyncio.sleep(self.delay)
        # A fault placed past the end still fires, before the completion.
        if self._fire(faults, sent, event_id, chat, session, dribble, at_end=True):
            return
        assert previous is not None  # _texts yields at least one text
        if chat.trailer:
            send(self._generating(event_id, [[] for _ in previous]))
        send(self._completed(event_id, self._output(previous, generating=False), True), done=True)
        chat.on_complete(answer)

    def _chunks(self, chat: Chat) -> Sequence[str]:
        """What the answer streams in: scripted chunks, or chunk_size pieces."""
        if self.tokens is not None:
            return _Repeated(self.token_text, self.tokens)
        script = self._answer
        if callable(script):
            script = script(chat.query, chat.turns, chat.system)
        if isinstance(script, str):
            size = self.chunk_size
            return [script[i : i + size] for i in range(0, len(script), size)] or [""]
        return list(script) or [""]

    def _texts(self, chunks: Sequence[str]) -> Iterator[str]:
        """The successive texts the chatbot shows, lazily (a benchmark's can be long)."""
        if self.layout.name == "1m":
            yield PLACEHOLDER
        elif self.tokens is not None:
            yield ""  # benchmark mode: the first full value carries no words yet
        text, total = "", len(chunks)
        for step, chunk in enumerate(chunks, 1):
            text += chunk
            yield text + self._footer(step, total) if self._footer else text

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
            if fault.kind == "drop_after":
                put(_Abort())
                return True
            if fault.kind == "eof_after":
                put(_Eof())
                return True
            if fault.kind == "stall_after":
                put(_Stall(fault.seconds))
            elif fault.kind == "malformed_json":
                put(_Send(b'data: {"msg":"process_generating","output":{"data":[[],[["app\n\n'))
            elif fault.kind == "unknown_message":
                message = {"msg": "process_paused", "event_id": event_id, "reason": "unknown kind"}
                put(_Send(encode(message), dribble))
            elif fault.kind == "huge_event":
                put(_Send(self._huge(event_id, chat, fault.size)))
            elif fault.kind == "space_error":
                output = self._error_output(fault.message)
                message = self._completed(event_id, output, False, sent=sent)
                put(_Send(encode(message), dribble, event_id))
                return True
        return False

    def _huge(self, event_id: str, chat: Chat, size: int) -> Iterator[bytes]:
        """One append of ``size`` bytes, written in 1 MiB chunks."""
        data: list[Any] = [[] for _ in range(chat.n_outputs)]
        data[chat.chatbot_output] = [["append", chat.answer_path, "\x00"]]
        head, tail = encode(self._generating(event_id, data)).split(b"\\u0000")
        yield head
        full, rest = divmod(size, _HUGE_PIECE)
        piece = b"x" * _HUGE_PIECE
        for _ in range(full):
            yield piece
        yield b"x" * rest + tail

    def _fast_tokens(self, chat: Chat, event_id: str, session: _Session, answer: str) -> None:
        """Benchmark mode: the same bytes as the general path, but every append
        encoded once up front and handed to the stream in one go."""
        n, token = self.tokens or 0, self.token_text
        texts = self._texts(_Repeated(token, n))
        first_text = next(texts)

        def message(op: str, value: str) -> bytes:
            data: list[Any] = [[] for _ in range(chat.n_outputs)]
            data[chat.chatbot_output] = [[op, chat.answer_path, value]]
            return encode(self._generating(event_id, data))

        def replayed() -> Iterator[bytes]:
            # A changing footer: each text diffed against the last (O(n) each, as Gradio).
            previous = first_text
            for text in texts:
                if text.startswith(previous):
                    yield message("append", text[len(previous) :])
                else:
                    yield message("replace", text)
                previous = text

        chunks: Iterable[bytes]
        if self._footer:
            chunks = replayed()
        elif first_text == "":
            chunks = itertools.repeat(message("append", token), n)
        else:  # the first words replace the 1M placeholder
            head = [message("replace", token)] if n else []
            chunks = itertools.chain(head, itertools.repeat(message("append", token), n - 1))
        if n == 0:
            last = first_text
        else:
            last = answer + self._footer(n, n) if self._footer else answer
        put = session.outbox.put_nowait
        put(_Send(encode(self._generating(event_id, chat.render(first_text)))))
        put(_Send(chunks))
        if chat.trailer:
            put(_Send(encode(self._generating(event_id, [[] for _ in range(chat.n_outputs)]))))
        final = self._output(chat.render(last), generating=False)
        put(_Send(encode(self._completed(event_id, final, True)), done=event_id))
        chat.on_complete(answer)

    # --- messages, per Gradio generation -------------------------------------------

    def _estimation(self, event_id: str, rank: int, eta: Optional[float]) -> dict[str, Any]:
        return {
            "msg": "estimation",
            "event_id": event_id,
            "rank": rank,
            "queue_size": rank + 1,
            "rank_eta": eta,
        }

    def _output(self, data: list[Any], *, generating: bool = True) -> dict[str, Any]:
        output: dict[str, Any] = {
            "data": data,
            "is_generating": generating,
            "duration": _DURATION,
            "average_duration": _DURATION,
            "render_config": None,
            "changed_state_ids": [],
        }
        if self.layout.gradio >= 6:
            output["used_cache"] = None
        return output

    def _generating(self, event_id: str, data: list[Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "msg": "process_generating",
            "event_id": event_id,
            "output": self._output(data),
            "success": True,
        }
        if self.layout.gradio >= 5:
            message["time_limit"] = None
        return message

    def _error_output(self, text: Optional[str]) -> dict[str, Any]:
        """What a failed run carries: ``{"error": null}`` for a hidden exception,
        else gr.Error's payload (Gradio 4 sends the message's repr)."""
        if text is None:
            return {"error": None}
        if self.layout.gradio == 4:
            return {"error": repr(text), "duration": 10, "visible": True}
        return {"error": text, "duration": 10, "visible": True, "title": "Error"}

    def _completed(
        self, event_id: str, output: dict[str, Any], success: bool, *, sent: int = 0
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "msg": "process_completed",
            "event_id": event_id,
            "output": output,
            "success": success,
        }
        if self.layout.gradio >= 5:
            # Gradio titles a failure of the first call, not of a later generator step.
            message["title"] = "Error" if not success and sent == 0 else None
        if self.layout.gradio >= 6:
            timing = _DURATION if success else None
            message.update({"used_cache": None, "cache_duration": timing, "avg_time": timing})
        return message


# --- helpers ---------------------------------------------------------------------------


class _Repeated(Sequence[str]):
    """``[text] * n`` without the list: a benchmark's 100,000 chunks cost nothing."""

    def __init__(self, text: str, n: int) -> None:
        self._text, self._n = text, n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: Union[int, slice]) -> Union[str, Sequence[str]]:
        if isinstance(index, slice):
            return [self._text] * len(range(*index.indices(self._n)))
        if not -self._n <= index < self._n:
            raise IndexError(index)
        return self._text

    def __iter__(self) -> Iterator[str]:
        return itertools.repeat(self._text, self._n)


def _footer_text(step: int, total: int) -> str:
    return footer(step, total)


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
