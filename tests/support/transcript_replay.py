"""Recorded exchanges with real Gradio servers, replayed without a network.

A transcript (tests/support/transcripts/*.json, made by tests/support/replicas/record.py from
real replicas) lists the HTTP exchanges of one call in order. One set drives
the pure layer (ChatCall fed directly), the sync client against a local
:class:`ReplayServer` and the async client under `aioresponses`.
"""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from qwen_spaces._core.call import ChatCall
from qwen_spaces._core.wire import Request
from qwen_spaces._events import Event, TextDelta
from qwen_spaces._spaces.spaces import resolve_model

DIR = Path(__file__).parent / "transcripts"
BASE = "http://space.test"
NOT_FOUND = b'{"detail":"Not Found"}'


def names() -> list[str]:
    """The queue calls recorded (the named-API transcript documents another route)."""
    return sorted(p.stem for p in DIR.glob("*.json") if not p.stem.endswith("named-api"))


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data


def turns(transcript: dict[str, Any]) -> list[dict[str, Any]]:
    """A transcript is one call, or several calls of one session under "turns".

    Where the client asks ``GET /app_id`` (a follow-up on a layout whose
    outputs do not show the session), the turn answers it as its Gradio did:
    the app_id of the /config recorded with it (the same process). The
    transcripts were recorded before the clients asked.
    """
    recorded = transcript.get("turns") or [transcript]
    adapter = resolve_model(model_of(transcript)).adapter
    if not adapter.keeps_history or adapter.shows_session:
        return recorded
    return [recorded[0], *(_with_app_id(turn) for turn in recorded[1:])]


def _with_app_id(turn: dict[str, Any]) -> dict[str, Any]:
    config = next((e for e in turn["exchanges"] if e["path"] == "/config"), None)
    if config is None or any(e["path"].endswith("/app_id") for e in turn["exchanges"]):
        return turn
    data = json.loads(config["body"])
    if not isinstance(data.get("app_id"), int):
        return turn
    answer = {
        "method": "GET",
        "path": f"{data.get('api_prefix') or ''}/app_id",
        "status": 200,
        "body": json.dumps({"app_id": data["app_id"]}),
        "content_type": "application/json",
    }
    return {**turn, "exchanges": [*turn["exchanges"], answer]}


def model_of(transcript: dict[str, Any]) -> str:
    scenario = transcript["scenario"]
    if scenario.startswith("qwen3"):  # the Space's own id of the model is an alias
        first = (transcript.get("turns") or [transcript])[0]
        return str(first["request"].get("model") or "qwen-3-235b")
    for prefix, model in (("onem", "qwen-2.5-1m"), ("qwen25", "qwen-2.5"), ("qwen2", "qwen-2-72b")):
        if scenario.startswith(prefix):
            return model
    return "qwen-2.5-max"


def options_of(turn: dict[str, Any]) -> dict[str, Any]:
    """The call's thinking options, as the recorded turn asked the Space."""
    request = turn["request"]
    options: dict[str, Any] = {}
    if request.get("thinking") is not None:
        options["thinking"] = request["thinking"]
    if request.get("thinking_budget") is not None:
        options["thinking_budget"] = request["thinking_budget"] * 1024
    return options


def messages_of(turn: dict[str, Any]) -> list[dict[str, str]]:
    request = turn["request"]
    messages: list[dict[str, str]] = []
    if request.get("system"):
        messages.append({"role": "system", "content": request["system"]})
    for user, assistant in request.get("history") or []:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    messages.append({"role": "user", "content": request["query"]})
    return messages


def exchange_for(
    turn: dict[str, Any], method: str, url: str, taken: set[int] | None = None
) -> dict[str, Any]:
    """The first recorded exchange for ``method url`` not in ``taken`` (then taken)."""
    path = urlsplit(url).path
    for i, exchange in enumerate(turn["exchanges"]):
        if exchange["method"] == method and exchange["path"] == path:
            if taken is not None:
                if i in taken:
                    continue
                taken.add(i)
            return exchange
    raise AssertionError(f"the transcript has no {method} {path}")


def chunks(data: bytes, size: int | None) -> list[bytes]:
    if not size:
        return [data]
    return [data[i : i + size] for i in range(0, len(data), size)]


def replay_call(
    call: ChatCall,
    turn: dict[str, Any],
    chunk_size: int | None = None,
    sent: list[Request] | None = None,
) -> list[Event]:
    """Drive a ChatCall through a recorded turn, as a driver would, with no I/O.

    The requests the call made are appended to ``sent`` if given.
    """
    events: list[Event] = []
    taken: set[int] = set()
    while (request := call.next_request()) is not None:
        if sent is not None:
            sent.append(request)
        exchange = exchange_for(turn, request.method, request.url, taken)
        body = exchange["body"].encode("utf-8")
        headers = {"Content-Type": exchange.get("content_type") or "application/json"}
        if call.on_headers(request, exchange["status"]):
            for chunk in chunks(body, chunk_size):
                events += call.feed(chunk)
                if call.finished:
                    break
            call.end_of_stream()
        else:
            call.on_response(request, exchange["status"], headers, body)
    return events


def joined(events: list[Event]) -> str:
    text = ""
    for event in events:
        if isinstance(event, TextDelta):
            text = text[: len(text) - event.backtrack] + event.text
    return text


class ReplayServer:
    """Recorded exchanges served over real HTTP on 127.0.0.1, in the order registered.

    What ``responses`` did for the sync client when it ran on requests: each
    ``add(method, path, ...)`` answers one request to that path (query
    ignored); ``requests`` lists the (method, path) sent; ``unanswered`` the
    answers no request took. A request nothing was registered for gets 404.
    """

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str], list[tuple[int, str, bytes, dict[str, str]]]] = {}
        self.requests: list[tuple[str, str]] = []
        #: Each request's target as sent (absolute through a proxy) and its headers
        #: (names in lower case).
        self.seen: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = urlsplit(self.path).path
                with server._lock:
                    server.requests.append((self.command, path))
                    server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                    queue = server._answers.get((self.command, path))
                    status, content_type, body, headers = (
                        queue.pop(0) if queue else (404, "application/json", NOT_FOUND, {})
                    )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # serve_forever polls for shutdown every 0.5 s by default: each test's exit waited that long.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def add(
        self,
        method: str,
        path: str,
        body: bytes,
        status: int = 200,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            answer = (status, content_type, body, headers or {})
            self._answers.setdefault((method, path), []).append(answer)

    def add_turn(
        self, turn: dict[str, Any], with_config: bool, config_headers: dict[str, str] | None = None
    ) -> None:
        """Every exchange of a recorded turn (its /config only if ``with_config``)."""
        for ex in turn["exchanges"]:
            if ex["path"] == "/config" and not with_config:
                continue
            self.add(
                ex["method"],
                ex["path"],
                ex["body"].encode("utf-8"),
                ex["status"],
                ex.get("content_type") or "application/json",
                config_headers if ex["path"] == "/config" else None,
            )

    @property
    def unanswered(self) -> list[tuple[str, str]]:
        with self._lock:
            return [key for key, queue in self._answers.items() for _ in queue]

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)
