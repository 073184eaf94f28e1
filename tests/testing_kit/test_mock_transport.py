"""``MockTransport``: both clients answered in memory by a function, no server, no socket.

A handler plays Gradio's queue protocol (``MockSpace.handle``, its event
stream cut into one chunk per event so that the answer truly streams); the
tests check what the handler is sent (every header, the token included),
errors (a refused connection, an HTTP error, a stream cut mid-way, a stream
that just stops), a stream stopped by the user (the cancel reaches the
handler) and the checks of ``transport=`` itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import pytest

import qwen_spaces as qs
from qwen_spaces.testing import MockRequest, MockResponse, MockSpace, MockTransport

ANSWER = "Paris — naïve café ☕ 你好, the capital of France."
TOKEN = "hf_mocktransporttoken1234"


def events(body: bytes) -> list[bytes]:
    """An SSE body as its events, each with its blank line."""
    return [part + b"\n\n" for part in body.split(b"\n\n") if part]


class Played:
    """A Max Space in memory: MockSpace's answers, the event stream one event per chunk.

    ``cut_after`` events into the stream, it stops (``raises`` an error, or not).
    """

    def __init__(self, cut_after: int = 0, raises: bool = True) -> None:
        self.space = MockSpace("max", answer=ANSWER, chunk_size=4)
        self.requests: list[MockRequest] = []
        self.sent = 0  # event chunks handed out so far
        self.hung_up = False  # the client closed the stream early
        self.cut_after, self.raises = cut_after, raises

    def __call__(self, request: MockRequest) -> MockResponse:
        self.requests.append(request)
        response = self.space.handle(request)
        if request.path.endswith("/queue/data"):
            assert isinstance(response.body, bytes)
            return MockResponse(response.status, response.headers, self._chunks(response.body))
        return response

    def _chunks(self, body: bytes) -> Iterator[bytes]:
        try:
            for number, chunk in enumerate(events(body), 1):
                if self.cut_after and number > self.cut_after:
                    if self.raises:
                        raise ConnectionResetError("reset by peer")
                    return
                self.sent += 1
                yield chunk
        except GeneratorExit:
            self.hung_up = True
            raise

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path.rsplit('/gradio_api', 1)[-1]}" for r in self.requests]


def test_a_max_answer_streams_from_the_handler() -> None:
    played = Played()
    client = qs.Client(hf_token=TOKEN, headers={"X-Test": "1"}, transport=MockTransport(played))
    assert played.requests == []  # building a client sends nothing
    with client.stream("Capital of France?") as stream:
        first = next(iter(stream.text_stream))
        sent_by_then = played.sent
        rest = "".join(stream.text_stream)
    assert first + rest == ANSWER and stream.reply.text == ANSWER
    # The first text arrived while the handler's stream was still going.
    assert 0 < sent_by_then < played.sent and not played.hung_up
    assert played.paths() == ["GET /config", "POST /queue/join", "GET /queue/data"]
    for request in played.requests:  # the client's headers, the token's too, on every request
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["X-Test"] == "1" and "qwen_spaces" in request.headers["User-Agent"]
    join = played.requests[1]
    assert "Capital of France?" in json.dumps(join.json, ensure_ascii=False)
    assert join.headers["Content-Type"].startswith("application/json")


def test_a_conversation_goes_on_in_memory() -> None:
    played = Played()
    with qs.Client(transport=MockTransport(played)) as client:
        conversation = client.conversation(system="Be brief.")
        assert conversation.send("One?").text == ANSWER
        assert conversation.send("Two?").text == ANSWER
    assert [m["role"] for m in conversation.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert played.paths().count("GET /config") == 1  # the ids are kept between turns


async def test_async_client_with_an_async_handler_and_an_async_stream() -> None:
    space = MockSpace("max", answer=ANSWER)

    async def handler(request: MockRequest) -> MockResponse:
        response = space.handle(request)
        if not request.path.endswith("/queue/data"):
            return response
        assert isinstance(response.body, bytes)
        chunks = events(response.body)

        async def stream() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return MockResponse(response.status, response.headers, stream())

    async with qs.AsyncClient(transport=MockTransport(handler)) as client:
        texts = [text async for text in client.stream("Hi").text_stream]
        reply = await client.chat("Again")
    assert "".join(texts) == ANSWER and reply.text == ANSWER


async def test_async_client_with_a_plain_handler() -> None:
    played = Played()
    async with qs.AsyncClient(hf_token=TOKEN, transport=MockTransport(played)) as client:
        reply = await client.chat("Capital of France?")
    assert reply.text == ANSWER
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in played.requests)


def test_a_refused_connection_is_a_connection_error() -> None:
    calls: list[str] = []

    def refuse(request: MockRequest) -> MockResponse:
        calls.append(request.path)
        raise ConnectionRefusedError(111, "Connection refused")

    client = qs.Client(max_retries=0, transport=MockTransport(refuse))
    with pytest.raises(qs.SpaceConnectionError, match="Connection refused"):
        client.chat("Hi")
    assert calls == ["/config"]


def test_an_http_error_is_an_http_error() -> None:
    def broken(request: MockRequest) -> MockResponse:
        return MockResponse.of_json({"detail": "boom"}, status=500)

    client = qs.Client(max_retries=0, transport=MockTransport(broken))
    with pytest.raises(qs.SpaceHTTPError) as caught:
        client.chat("Hi")
    assert caught.value.status_code == 500


@pytest.mark.parametrize("raises", [True, False], ids=["reset", "ended"])
def test_a_stream_cut_mid_way_is_an_error_with_the_partial_text(raises: bool) -> None:
    played = Played(cut_after=5, raises=raises)
    client = qs.Client(max_retries=0, transport=MockTransport(played))
    stream = client.stream("Capital of France?")
    seen = ""
    with pytest.raises(qs.QwenSpacesError) as caught:
        for text in stream.text_stream:
            seen += text
    assert seen and ANSWER.startswith(seen) and seen != ANSWER  # never a silent partial answer
    assert caught.value.partial_text == seen
    if raises:
        assert isinstance(caught.value, qs.SpaceConnectionError)


async def test_an_async_stream_cut_mid_way_is_an_error() -> None:
    played = Played(cut_after=5)
    async with qs.AsyncClient(max_retries=0, transport=MockTransport(played)) as client:
        with pytest.raises(qs.SpaceConnectionError) as caught:
            await client.chat("Capital of France?")
    assert caught.value.partial_text and ANSWER.startswith(caught.value.partial_text)


def test_a_stream_stopped_by_the_user_cancels_on_the_space() -> None:
    played = Played()
    with qs.Client(transport=MockTransport(played)) as client:
        with client.stream("Capital of France?") as stream:
            next(iter(stream.text_stream))
    assert played.hung_up  # the handler's stream saw the client leave
    assert played.paths()[-1] == "POST /cancel"
    assert set(played.requests[-1].json) >= {"session_hash", "fn_index", "event_id"}


def test_the_transport_argument_is_checked_before_anything_is_sent() -> None:
    transport = MockTransport(Played())
    with pytest.raises(TypeError, match="session= or transport="):
        qs.Client(transport=transport, session=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="proxy= and verify="):
        qs.Client(transport=transport, proxy="http://127.0.0.1:9", verify=False)
    with pytest.raises(TypeError, match="lacks cancel, close"):
        qs.Client(transport=type("Half", (), {"open": lambda self, r: None})())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lacks aopen"):
        qs.AsyncClient(transport=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        MockTransport("not a function")  # type: ignore[arg-type]


def test_an_async_handler_needs_the_async_client() -> None:
    async def handler(request: MockRequest) -> MockResponse:
        return MockResponse()

    with pytest.raises(TypeError, match="AsyncClient only"):
        qs.Client(transport=MockTransport(handler)).chat("Hi")


def test_a_handler_must_return_a_mock_response() -> None:
    transport = MockTransport(lambda request: (200, {}, b""))  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="MockResponse"):
        qs.Client(transport=transport).chat("Hi")


def test_in_memory_calls_load_neither_requests_nor_aiohttp() -> None:
    code = (
        "import sys, asyncio, qwen_spaces as qs\n"
        "from qwen_spaces.testing import MockSpace, MockTransport\n"
        "transport = MockTransport(MockSpace(answer='ok').handle)\n"
        "assert qs.Client(transport=transport).chat('hi').text == 'ok'\n"
        "async def main():\n"
        "    async with qs.AsyncClient(transport=transport) as client:\n"
        "        return (await client.chat('hi')).text\n"
        "assert asyncio.run(main()) == 'ok'\n"
        "print(sorted(m for m in ('requests', 'aiohttp', 'urllib3') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
