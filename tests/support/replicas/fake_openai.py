"""A fake OpenAI-compatible model server that answers with what reached it (stdlib only).

Qwen-Agent's WebUI (the 1M demo's page) talks to its model through the
OpenAI chat-completions API; pointed at this server, every answer is an echo
of the messages the model was given: the system prompt, every history turn,
and any document text the RAG put in. A test reads the echo in the SDK's
answer, or the server's own record of each request (``FakeOpenAI.chats``).

>>> with FakeOpenAI() as model:                 # doctest: +SKIP
...     model.url                               # http://127.0.0.1:PORT/v1

Serves ``POST /v1/chat/completions`` (``stream`` true: SSE chunks then
``data: [DONE]``; false: one JSON completion) and ``GET /v1/models``. Also
runs as a script: ``python fake_openai.py --port N``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

__all__ = ["ECHO_HEAD", "Chat", "FakeOpenAI", "echo_text", "message_text"]

#: Every echo starts with this (non-ASCII on purpose: the answer must arrive as UTF-8).
ECHO_HEAD = "ECHO «"
CHUNK = 7  # characters per streamed delta: words get split, as a real model's tokens do
MODEL_ID = "fake-qwen"


def message_text(content: Any) -> str:
    """The text of a message's content: a str, or OpenAI content parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return "" if content is None else str(content)


def echo_text(messages: list[dict[str, Any]]) -> str:
    """The answer to ``messages``: each message as ``role: text``, in order, on its own line."""
    lines = [f"{m.get('role')}: {message_text(m.get('content'))}" for m in messages]
    return f"{ECHO_HEAD}{len(messages)} messages»\n" + "\n".join(lines)


@dataclass
class Chat:
    """One chat-completions request as it arrived, and the answer given."""

    body: dict[str, Any]
    answer: str

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    def texts(self, role: str) -> list[str]:
        """The texts of the messages of ``role``, in order."""
        return [message_text(m.get("content")) for m in self.messages if m.get("role") == role]

    @property
    def system(self) -> str:
        """Every system message's text, joined (Qwen-Agent puts RAG knowledge there)."""
        return "\n".join(self.texts("system"))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._json(200, {"object": "list", "data": [{"id": MODEL_ID, "object": "model"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(raw.decode("utf-8"))
            messages = body["messages"]
            if not isinstance(messages, list):
                raise TypeError("messages")
        except (ValueError, KeyError, TypeError) as exc:
            self._json(400, {"error": {"message": f"bad request: {exc}"}})
            return
        answer = echo_text(messages)
        self.server.record(Chat(body, answer))
        model = str(body.get("model") or MODEL_ID)
        if body.get("stream"):
            self._stream(model, answer)
        else:
            self._json(
                200,
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                },
            )

    def _stream(self, model: str, answer: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def chunk(delta: dict[str, Any], finish: Optional[str] = None) -> None:
            payload = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            data = json.dumps(payload, ensure_ascii=False)
            self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()

        chunk({"role": "assistant", "content": ""})
        for i in range(0, len(answer), CHUNK):
            time.sleep(self.server.delay)
            chunk({"content": answer[i : i + CHUNK]})
        chunk({}, "stop")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, delay: float) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.delay = delay
        self.lock = threading.Lock()
        self.chats: list[Chat] = []

    def record(self, chat: Chat) -> None:
        with self.lock:
            self.chats.append(chat)


class FakeOpenAI:
    """The fake model server on a loopback port, in a thread; a context manager."""

    def __init__(self, port: int = 0, delay: float = 0.002) -> None:
        self._server = _Server(port, delay)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-openai", daemon=True
        )
        self._thread.start()

    @property
    def chats(self) -> list[Chat]:
        """Every request so far, oldest first."""
        with self._server.lock:
            return list(self._server.chats)

    def chats_since(self, mark: int) -> list[Chat]:
        """The requests after the first ``mark`` (take ``len(model.chats)`` as a mark)."""
        return self.chats[mark:]

    def answering(self, answer: str) -> Chat:
        """The request whose answer was ``answer`` (the last one, if several were alike)."""
        for chat in reversed(self.chats):
            if chat.answer == answer:
                return chat
        raise LookupError(f"no request was answered with {answer[:80]!r}...")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


if __name__ == "__main__":  # pragma: no cover - a tool for trying the WebUI by hand
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with FakeOpenAI(args.port) as fake:
        print(fake.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
