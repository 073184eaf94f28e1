"""A scripted Space for ``responses`` (Client), ``aioresponses`` (AsyncClient) or ``MockTransport``.

``MockSpace`` answers the requests a call makes (``/config``, the 1M layout's
``/run/predict``, ``/queue/join``, the ``/queue/data`` event stream, a cancel)
with the same bytes a FakeSpace sends, without a server: register it on the
mock your tests already use::

    import responses, qwen_spaces as qs
    from qwen_spaces.testing import MockSpace

    @responses.activate
    def test_my_bot():
        MockSpace(answer="Paris.").register(responses.mock)
        assert qs.Client().chat("Capital of France?").text == "Paris."

    from aioresponses import aioresponses

    async def test_my_async_bot():
        with aioresponses() as mocked:
            MockSpace(layout="1m", answer="Read it.").register(mocked)
            async with qs.AsyncClient(model="qwen-2.5-1m") as client:
                assert (await client.chat("Summarize")).text == "Read it."

With no HTTP mock at all, ``MockSpace.handle`` answers an in-memory transport::

    client = qs.Client(transport=MockTransport(MockSpace(answer="Paris.").handle))

The mock answers at the model's own Space URL (or ``base_url=``). Neither
responses nor aioresponses is imported here: each comes with the mock handed in.
aioresponses 0.7.9 cannot build responses on aiohttp 3.14 (its issue #289);
the README names the versions that work together.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Mapping
from typing import Any, Optional, Union
from urllib.parse import parse_qs, urlsplit

from .._spaces.spaces import resolve_model
from ._gradio import diff, encode
from ._layout import AnswerFn, Layout, Script, SessionState
from ._layouts import make_layout
from ._script import MessageScript
from ._transport import MockRequest, MockResponse

__all__ = ["MockSpace"]

_JSON = "application/json"
_MODELS = {"max": "qwen-2.5-max", "1m": "qwen-2.5-1m"}


class MockSpace:
    """A Qwen Space played by an HTTP mock: ``layout`` "max" (qwen-2.5-max) or "1m".

    ``answer``: the text (or chunks, or a function of (query, turns, system)),
    streamed ``chunk_size`` characters a message. ``base_url`` is the URL
    mocked (by default the model's own Space, where ``Client(model=...)``
    goes); ``gradio`` the Gradio generation (by default the real Space's).
    ``requests`` lists the (method, path) of every request the mock answered.
    """

    def __init__(
        self,
        layout: str = "max",
        answer: Union[Script, AnswerFn] = "Hello from the mock Space.",
        *,
        base_url: Optional[str] = None,
        gradio: Optional[int] = None,
        chunk_size: int = 8,
    ) -> None:
        if layout not in _MODELS:
            raise ValueError(
                f"MockSpace plays the 'max' and '1m' layouts, got {layout!r}: "
                "FakeSpace plays every layout (a real server on 127.0.0.1)"
            )
        self.layout: Layout = make_layout(layout, gradio)
        if base_url is None:
            base_url = resolve_model(_MODELS[layout]).url
        self.base_url: str = base_url.rstrip("/")
        self.script: MessageScript = MessageScript(
            self.layout, answer, chunk_size=chunk_size, footer=False, tokens=None, token_text=""
        )
        self.requests: list[tuple[str, str]] = []
        self._histories: dict[str, SessionState] = {}
        self._events: dict[str, list[tuple[str, int, list[Any]]]] = {}
        self._lock = threading.Lock()  # a mock may answer several threads

    # --- registering --------------------------------------------------------------------

    def register(self, mock: Any) -> MockSpace:
        """Answer this Space's requests on ``mock``: a ``responses.RequestsMock``
        (or the ``responses`` module) or an ``aioresponses`` instance."""
        pattern = re.compile("^" + re.escape(self.base_url) + r"(/[^?]*)?(\?.*)?$")
        if hasattr(mock, "add_callback"):  # responses
            for method in ("GET", "POST"):
                mock.add_callback(method, pattern, callback=self._requests_answer)
        elif type(mock).__name__ == "aioresponses":
            from aioresponses import CallbackResult

            def answer(url: Any, **kwargs: Any) -> Any:
                data = kwargs.get("data")
                status, headers, body = self.answer(
                    kwargs.get("method", "GET"), str(url), data if isinstance(data, bytes) else b""
                )
                return CallbackResult(
                    status=status, body=body, content_type=headers["Content-Type"]
                )

            for method in ("GET", "POST"):
                mock.add(pattern, method=method, callback=_with_method(answer, method), repeat=True)
        else:
            kind = type(mock).__name__
            raise TypeError(f"mock must be a responses.RequestsMock or an aioresponses, got {kind}")
        return self

    def handle(self, request: MockRequest) -> MockResponse:
        """Answer one request of a ``MockTransport``: ``MockTransport(space.handle)``."""
        status, headers, body = self.answer(request.method, request.url, request.body or b"")
        return MockResponse(status, headers, body)

    def _requests_answer(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):  # a streamed multipart upload: not played here
            body = b""
        return self.answer(request.method, request.url, body)

    # --- the Space ----------------------------------------------------------------------

    def answer(self, method: str, url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for one request, as the Space would answer it."""
        parts = urlsplit(url)
        path = parts.path[len(urlsplit(self.base_url).path) :] or "/"
        with self._lock:
            self.requests.append((method, path))
        prefix = self.layout.prefix
        if method == "GET" and path == "/config":
            return _json(self.layout.config(self.base_url))
        route = path[len(prefix) :] if path.startswith(prefix) else None
        try:
            sent = json.loads(body) if body else None
        except ValueError:
            sent = None
        if route == "/queue/join" and method == "POST" and isinstance(sent, Mapping):
            return self._join(sent)
        if route == "/queue/data" and method == "GET":
            session = parse_qs(parts.query).get("session_hash", [""])[0]
            return 200, {"Content-Type": "text/event-stream"}, self._stream(session)
        if route == "/run/predict" and method == "POST" and isinstance(sent, Mapping):
            return self._predict(sent)
        if route == "/cancel" and method == "POST":
            return _json({"success": True})
        return _json({"detail": "Not Found"}, 404)

    def _history(self, session: Any) -> SessionState:
        key = str(session)
        if key not in self._histories:
            self._histories[key] = self.layout.new_state()
        return self._histories[key]

    def _join(self, sent: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
        event_id = uuid.uuid4().hex
        data = sent.get("data")
        with self._lock:
            queue = self._events.setdefault(str(sent.get("session_hash")), [])
            queue.append((event_id, int(sent.get("fn_index") or 0), list(data or [])))
        return _json({"event_id": event_id})

    def _predict(self, sent: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
        fn, data = int(sent.get("fn_index") or 0), sent.get("data")
        history = self._history(sent.get("session_hash"))
        out = self.layout.predict(fn, data if isinstance(data, list) else [], history)
        generator = self.layout.is_generator(fn)
        return _json({"data": out, "is_generating": generator, "duration": 0.05})

    def _stream(self, session: str) -> bytes:
        """The whole event stream of the session's events, as Gradio writes it."""
        with self._lock:
            events = self._events.pop(session, [])
        script, parts = self.script, []
        for event_id, fn, data in events:
            parts.append(script.estimation(event_id, 0, None))
            parts.append({"msg": "process_starts", "event_id": event_id, "eta": None})
            if fn not in self.layout.chat_fns:
                output = script.output([None] * self.layout.n_outputs(fn), generating=False)
                parts.append(script.completed(event_id, output, True))
                continue
            chat = self.layout.chat(data, self._history(session))
            chunks = script.chunks(chat)
            previous: Optional[list[Any]] = None
            for text in script.texts(chunks):
                values = chat.render(text)
                if previous is None:  # the first message of a run carries full values
                    out = values
                else:
                    out = [diff(p, v) for p, v in zip(previous, values, strict=True)]
                parts.append(script.generating(event_id, out))
                previous = values
            assert previous is not None
            if chat.trailer:
                parts.append(script.generating(event_id, [[] for _ in previous]))
            final = script.output(previous, generating=False)
            parts.append(script.completed(event_id, final, True))
            chat.on_complete("".join(chunks))
        parts.append({"msg": "close_stream", "event_id": None})
        return b"".join(encode(part) for part in parts)


def _json(value: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": _JSON}, json.dumps(value).encode()


def _with_method(answer: Any, method: str) -> Any:
    def callback(url: Any, **kwargs: Any) -> Any:
        return answer(url, method=method, **kwargs)

    return callback
