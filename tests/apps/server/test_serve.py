"""``qwen-spaces serve`` as a subprocess in front of FakeSpaces, with faults.

Real HTTP clients only: openai-python in its venv (tests/support/openai_clients), curl,
and http.client from the standard library for the raw cases. Every server
binds 127.0.0.1; every load is bounded in count and time.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, Optional
from urllib.parse import urlsplit

import pytest

from qwen_spaces._client.messages import normalize_messages
from qwen_spaces._gradio.payloads import flatten
from qwen_spaces.testing import FakeSpace, Fault
from tests.support.server_harness import KEY, ROOT, Serve, run_client, space_args
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(180)

MAX = "qwen-2.5-max"
ONEM = "qwen-2.5-1m"
LONG = " ".join(f"word{i}" for i in range(200))


def echo(query: str, turns: int = 0) -> str:
    """FakeSpace's default answer."""
    return f"You said: {query} (turn {turns + 1})"


def long_for_hi(query: str, turns: int, system: str) -> str:
    """A long answer to "hi" (to be interrupted), the echo to anything else."""
    return LONG if query == "hi" else echo(query, turns)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


@pytest.fixture
def space() -> Iterator[FakeSpace]:
    with FakeSpace() as fake:
        yield fake


@pytest.fixture
def served(space: FakeSpace) -> Iterator[Serve]:
    with Serve("--api-key", KEY, "--max-body", "100000", *space_args([(MAX, space.url)])) as serve:
        yield serve


class Raw:
    """One raw HTTP exchange with the server (http.client, nobody's wrapper)."""

    def __init__(self, serve: Serve, key: Optional[str] = KEY) -> None:
        parts = urlsplit(serve.url)
        self.conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        self.key = key

    def send(
        self, method: str, path: str, body: Any = None, *, raw: Optional[bytes] = None
    ) -> http.client.HTTPResponse:
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        self.conn.request(method, path, body=data, headers=headers)
        return self.conn.getresponse()

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        response = self.send(method, path, body, **kw)
        payload = response.read()
        return response.status, json.loads(payload)

    def close(self) -> None:
        self.conn.close()


def request_json(
    serve: Serve, method: str, path: str, body: Any = None, key: Optional[str] = KEY
) -> tuple[int, Any]:
    """One request on its own connection, closed after: (status, JSON body)."""
    raw = Raw(serve, key)
    try:
        return raw.json(method, path, body)
    finally:
        raw.close()


def read_until_content(response: http.client.HTTPResponse) -> str:
    """Read SSE lines until a chunk with answer text; that text."""
    while True:
        line = response.readline()
        assert line, "the stream ended before any text"
        if line.startswith(b"data: {"):
            chunk = json.loads(line[6:])
            content = chunk["choices"][0]["delta"].get("content") if chunk["choices"] else None
            if content:
                return str(content)


# --- the happy path, and the shapes around it -----------------------------------------------


def test_models_health_and_a_chat_through_openai_python(served: Serve) -> None:
    models, chat = run_client(
        "openai_calls",
        base_url=served.base_url,
        api_key=KEY,
        model=MAX,
        calls=[
            {"kind": "models"},
            {
                "kind": "sync_create",
                "messages": [user("hi")],
                "extra": {"temperature": 0.3, "max_tokens": 9, "extra_body": {"frobnicate": True}},
            },
        ],
    )
    (model,) = models["models"]
    assert model["id"] == MAX and model["object"] == "model"
    assert {"temperature", "max_tokens"} <= set(model["ignored_parameters"])
    assert chat["text"] == echo("hi")
    assert request_json(served, "GET", "/health", key=None) == (
        200,
        {"status": "ok", "models": [MAX]},
    )
    assert served.stop() == 0
    # Shut down cleanly: every client session closed, nothing left behind.
    assert "Traceback" not in served.stderr and "Unclosed" not in served.stderr
    # One log line per request, and never the key.
    assert "POST /v1/chat/completions 200" in served.stderr
    assert KEY not in served.stderr


def test_a_request_without_the_key_gets_401_from_curl(served: Serve) -> None:
    curl = shutil.which("curl")
    url = served.base_url + "/chat/completions"
    body = json.dumps({"model": MAX, "messages": [user("hi")]})
    if curl is not None:
        done = subprocess.run(
            [
                curl,
                "-s",
                "-w",
                "\n%{http_code}",
                "-H",
                "Content-Type: application/json",
                "-d",
                body,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        text, status = done.stdout.rsplit("\n", 1)
        payload = json.loads(text)
    else:  # no curl here: the same request by hand
        status_code, payload = request_json(
            served, "POST", "/v1/chat/completions", json.loads(body), key=None
        )
        status = str(status_code)
    assert status == "401"
    assert payload["error"]["code"] == "invalid_api_key"
    assert set(payload["error"]) == {"message", "type", "param", "code"}
    # A wrong key too; the right one passes, whatever the case of "Bearer".
    assert request_json(served, "GET", "/v1/models", key="wrong-key")[0] == 401
    raw = Raw(served, key=None)
    raw.conn.request("GET", "/v1/models", headers={"Authorization": f"bearer {KEY}"})
    assert raw.conn.getresponse().status == 200
    raw.close()
    served.stop()
    assert "wrong-key" not in served.stderr and KEY not in served.stderr


def test_without_a_key_the_server_refuses_a_non_loopback_address() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qwen_spaces",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--space",
            f"{MAX}=http://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2
    assert "without an API key" in done.stderr and "--insecure-no-auth" in done.stderr
    assert "http://" not in done.stdout  # it never said it serves


BAD_REQUESTS: list[tuple[str, Any, int, Optional[str], str]] = [
    # (name, body, status, param, words in the message)
    ("not json", b"{not json", 400, None, "not valid JSON"),
    ("not an object", [1, 2], 400, None, "JSON object"),
    ("no model", {"messages": [user("hi")]}, 400, "model", "'model'"),
    ("no messages", {"model": MAX}, 400, "messages", "'messages'"),
    ("messages not a list", {"model": MAX, "messages": "hi"}, 400, "messages", "array"),
    ("unknown model", {"model": "gpt-4o", "messages": [user("hi")]}, 404, "model", "gpt-4o"),
    (
        "tools",
        {
            "model": MAX,
            "messages": [user("hi")],
            "tools": [{"type": "function", "function": {"name": "f"}}],
        },
        400,
        "tools",
        "not supported",
    ),
    (
        "tool_choice",
        {"model": MAX, "messages": [user("hi")], "tool_choice": "auto"},
        400,
        "tool_choice",
        "not supported",
    ),
    ("n > 1", {"model": MAX, "messages": [user("hi")], "n": 2}, 400, "n", "not supported"),
    (
        "image part",
        {
            "model": MAX,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                }
            ],
        },
        400,
        "messages",
        "text",
    ),
    (
        "tool message",
        {
            "model": MAX,
            "messages": [
                user("hi"),
                {"role": "tool", "tool_call_id": "1", "content": "42"},
                user("and?"),
            ],
        },
        400,
        "messages",
        "tool",
    ),
    (
        "assistant tool calls",
        {
            "model": MAX,
            "messages": [
                user("hi"),
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                user("and?"),
            ],
        },
        400,
        "messages[1]",
        "tool calls",
    ),
    (
        "ends with the assistant",
        {"model": MAX, "messages": [user("hi"), {"role": "assistant", "content": "yes"}]},
        400,
        "messages",
        "last message",
    ),
    (
        "stream not a bool",
        {"model": MAX, "messages": [user("hi")], "stream": "yes"},
        400,
        "stream",
        "'stream'",
    ),
]


def test_bad_requests_get_openai_errors_that_say_what_is_wrong(served: Serve) -> None:
    raw = Raw(served)
    for name, body, status, param, words in BAD_REQUESTS:
        kwargs = {"raw": body} if isinstance(body, bytes) else {}
        got, payload = raw.json(
            "POST", "/v1/chat/completions", None if isinstance(body, bytes) else body, **kwargs
        )
        error = payload["error"]
        assert (got, error["param"]) == (status, param), (name, payload)
        assert words in error["message"], (name, error["message"])
        assert set(error) == {"message", "type", "param", "code"}
    # Too large a body: 413 in the same shape, before it is read whole.
    big = {"model": MAX, "messages": [user("x" * 200_000)]}
    got, payload = raw.json("POST", "/v1/chat/completions", big)
    assert got == 413 and "100000 bytes" in payload["error"]["message"]
    raw.close()
    raw = Raw(served)
    assert raw.json("GET", "/v1/nowhere")[0] == 404
    assert raw.json("DELETE", "/v1/models")[0] == 405
    # Still up, still answering.
    assert raw.json("GET", "/health")[0] == 200
    got, payload = raw.json(
        "POST", "/v1/chat/completions", {"model": MAX, "messages": [user("ok")]}
    )
    assert got == 200 and payload["choices"][0]["message"]["content"] == echo("ok")
    raw.close()
    # openai-python raises its own class for a 400.
    (result,) = run_client(
        "openai_calls",
        base_url=served.base_url,
        api_key=KEY,
        model=MAX,
        calls=[{"kind": "sync_create", "messages": [user("hi")], "extra": {"n": 3}}],
    )
    assert result["error"]["class"] == "BadRequestError" and result["error"]["status"] == 400


def _supports_openai_variants() -> bool:
    try:
        normalize_messages(
            [
                {"role": "developer", "content": "d"},
                user("u"),
                {"role": "assistant", "content": None},
                user("v"),
            ]
        )
    except (ValueError, TypeError):
        return False
    return True


@pytest.mark.skipif(
    not _supports_openai_variants(),
    reason="normalize_messages does not take `developer` / null content yet "
    "(another branch adds it)",
)
def test_developer_role_becomes_system_and_null_assistant_content_is_skipped() -> None:
    seen: list[tuple[str, int, str]] = []

    def answer(query: str, turns: int, system: str) -> str:
        seen.append((query, turns, system))
        return "ok"

    with (
        FakeSpace(answer=answer) as fake,
        Serve("--api-key", KEY, *space_args([(MAX, fake.url)])) as serve,
    ):
        (result,) = run_client(
            "openai_calls",
            base_url=serve.base_url,
            api_key=KEY,
            model=MAX,
            calls=[
                {
                    "kind": "sync_create",
                    "messages": [
                        {"role": "developer", "content": "Be terse."},
                        user("one"),
                        {"role": "assistant", "content": None},
                        {"role": "assistant", "content": "1"},
                        user("two"),
                    ],
                },
            ],
        )
    assert result["text"] == "ok"
    assert seen == [("two", 1, "Be terse.")]


# --- errors from the Space ---------------------------------------------------------------------

FAULTS: dict[str, tuple[list[Fault], list[str]]] = {
    "queue full": ([Fault.queue_full(times=None)], []),
    "timeout": ([Fault.stall_after(updates=0, seconds=5, times=None)], ["--timeout", "1"]),
    "space error": ([Fault.space_error("the model is overloaded", times=None)], []),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_failure_before_the_answer_is_an_http_status_openai_python_raises(fault: str) -> None:
    faults, args = FAULTS[fault]
    with (
        FakeSpace(faults=faults) as fake,
        Serve(
            "--api-key", KEY, "--max-retries", "0", *args, *space_args([(MAX, fake.url)])
        ) as serve,
    ):
        results = run_client(
            "openai_calls",
            base_url=serve.base_url,
            api_key=KEY,
            model=MAX,
            calls=[
                {"kind": "sync_create", "messages": [user("hi")]},
                {"kind": "async_stream", "messages": [user("hi")]},
            ],
        )
    for result in results:
        error = result["error"]
        assert "APIStatusError" in error["bases"]
        assert set(error["body"]) == {"message", "type", "param", "code"}
        if fault == "queue full":
            assert (error["class"], error["status"]) == ("RateLimitError", 429)
            assert error["retry_after"] == "1"
        elif fault == "timeout":
            assert (error["class"], error["status"]) == ("InternalServerError", 504)
            assert "timed out" in error["message"]
        else:
            assert (error["class"], error["status"]) == ("InternalServerError", 502)
            assert "the model is overloaded" in error["message"]
        assert KEY not in json.dumps(error)


@pytest.mark.parametrize(
    "fault",
    [
        Fault.space_error("broke midway", updates=3, times=None),
        Fault.drop_after(updates=3, times=None),
    ],
    ids=["space error", "dropped"],
)
def test_a_failure_mid_stream_ends_it_with_an_error_openai_python_raises(fault: Fault) -> None:
    # Paced, so that the failure comes in a later read than the first text.
    with (
        FakeSpace(answer=LONG, delay=0.01, faults=[fault]) as fake,
        Serve("--api-key", KEY, *space_args([(MAX, fake.url)])) as serve,
    ):
        (sync,) = run_client(
            "openai_calls",
            base_url=serve.base_url,
            api_key=KEY,
            model=MAX,
            calls=[{"kind": "sync_stream", "messages": [user("hi")]}],
        )
        raw = Raw(serve)
        response = raw.send(
            "POST", "/v1/chat/completions", {"model": MAX, "messages": [user("hi")], "stream": True}
        )
        lines = [line for line in response.read().decode().split("\n\n") if line]
        raw.close()
    error = sync["error"]
    # Raised while iterating the stream: an APIError, not a status error.
    assert error["class"] == "APIError" and error["status"] is None
    expected = "broke midway" if fault.kind == "space_error" else "connection to the Space broke"
    assert expected in error["message"]
    assert response.status == 200
    last = json.loads(lines[-1].removeprefix("data: "))
    assert set(last["error"]) == {"message", "type", "param", "code"}
    assert not any(line == "data: [DONE]" for line in lines)


# --- cancellation, limits, sessions, load ---------------------------------------------------


@pytest.mark.parametrize("where", ["streaming", "queued"])
def test_a_client_that_disconnects_cancels_the_answer_on_the_space(where: str) -> None:
    faults = [Fault.queue_wait(ahead=50, seconds=0.2)] if where == "queued" else []
    with (
        FakeSpace(answer=long_for_hi, delay=0.05, faults=faults) as fake,
        Serve("--api-key", KEY, *space_args([(MAX, fake.url)])) as serve,
    ):
        raw = Raw(serve)
        raw.conn.request(
            "POST",
            "/v1/chat/completions",
            body=json.dumps({"model": MAX, "messages": [user("hi")], "stream": True}),
            headers={"Authorization": f"Bearer {KEY}"},
        )
        if where == "streaming":
            assert read_until_content(raw.conn.getresponse())
        else:
            wait_until(lambda: fake.stats()["streams_open"] == 1)  # waiting in the queue
        raw.close()
        assert wait_until(lambda: fake.cancels, timeout=10)
        # Nothing left open on the Space's side.
        wait_until(lambda: fake.stats()["streams_open"] == 0)
        assert len(fake.cancels) == 1
        # And the server is fine.
        assert (
            request_json(
                serve, "POST", "/v1/chat/completions", {"model": MAX, "messages": [user("next")]}
            )[0]
            == 200
        )
        status = serve.stop()
    assert status == 0
    assert "POST /v1/chat/completions 499" in serve.stderr


def test_beyond_the_concurrency_limit_a_request_gets_429() -> None:
    with (
        FakeSpace(answer=long_for_hi, delay=0.05) as fake,
        Serve(
            "--api-key",
            KEY,
            "--concurrency",
            "1",
            "--queue-wait",
            "0",
            *space_args([(MAX, fake.url)]),
        ) as serve,
    ):
        first = Raw(serve)
        response = first.send(
            "POST", "/v1/chat/completions", {"model": MAX, "messages": [user("hi")], "stream": True}
        )
        read_until_content(response)
        second = Raw(serve)
        busy = second.send("POST", "/v1/chat/completions", {"model": MAX, "messages": [user("x")]})
        payload = json.loads(busy.read())
        assert busy.status == 429 and busy.getheader("Retry-After") == "1"
        assert payload["error"]["code"] == "server_busy"
        first.close()
        second.close()


def test_beyond_the_concurrency_limit_a_request_waits_for_a_slot() -> None:
    with (
        FakeSpace(delay=0.05) as fake,
        Serve(
            "--api-key",
            KEY,
            "--concurrency",
            "1",
            "--queue-wait",
            "20",
            *space_args([(MAX, fake.url)]),
        ) as serve,
    ):

        def ask(text: str) -> tuple[int, Any]:
            return request_json(
                serve, "POST", "/v1/chat/completions", {"model": MAX, "messages": [user(text)]}
            )

        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            results = list(pool.map(ask, ["w1", "w2", "w3"]))
    assert [r[0] for r in results] == [200, 200, 200]
    assert [r[1]["choices"][0]["message"]["content"] for r in results] == [
        echo("w1"),
        echo("w2"),
        echo("w3"),
    ]


def test_two_requests_forking_one_1m_conversation_get_a_session_each() -> None:
    with (
        FakeSpace(layout="1m", delay=0.02) as fake,
        Serve("--api-key", KEY, *space_args([(ONEM, fake.url)])) as serve,
    ):
        status, first = request_json(
            serve, "POST", "/v1/chat/completions", {"model": ONEM, "messages": [user("a")]}
        )
        assert status == 200
        answer = first["choices"][0]["message"]["content"]
        assert answer == echo("a")
        history = [user("a"), {"role": "assistant", "content": answer}]

        def ask(text: str) -> str:
            got, body = request_json(
                serve,
                "POST",
                "/v1/chat/completions",
                {"model": ONEM, "messages": [*history, user(text)]},
            )
            assert got == 200, body
            return str(body["choices"][0]["message"]["content"])

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(ask, ["b1", "b2"]))
    predicts = [r.json for r in fake.requests if r.path.endswith("/run/predict")]
    sessions = [p["session_hash"] for p in predicts]
    texts = [p["data"][0]["text"] for p in predicts]
    assert len(predicts) == 3 and len(set(sessions)) == 2
    # One branch continued the session with its message alone; the other got a
    # fresh session and the history flattened into one prompt.
    continued = [i for i in (1, 2) if sessions[i] == sessions[0]]
    assert len(continued) == 1
    mine = texts[continued[0]]
    other = texts[3 - continued[0]]
    assert mine in ("b1", "b2")
    branch = "b2" if mine == "b1" else "b1"
    assert other == flatten([*history, user(branch)])
    assert answers[["b1", "b2"].index(mine)] == echo(mine, 1)
    assert answers[["b1", "b2"].index(branch)] == echo(other)


def test_fifty_concurrent_streams_all_exact() -> None:
    with (
        FakeSpace(delay=0.002) as fake,
        Serve("--api-key", KEY, *space_args([(MAX, fake.url)])) as serve,
    ):
        (load,) = run_client(
            "openai_calls",
            base_url=serve.base_url,
            api_key=KEY,
            model=MAX,
            calls=[{"kind": "load", "n": 50, "prompt": "load %d ☕", "timeout": 60}],
        )
    assert load["results"] == [echo(f"load {i} ☕") for i in range(50)]
    assert load["wall_s"] < 60
    assert fake.stats()["joins"] == 50


def test_base_url_and_model_from_the_environment_serve_one_model() -> None:
    with (
        FakeSpace(layout="1m") as fake,
        Serve(
            "--api-key",
            KEY,
            env={"QWEN_SPACES_BASE_URL": fake.url, "QWEN_SPACES_MODEL": "qwen-2.5-1m-demo"},
        ) as serve,
    ):
        assert request_json(serve, "GET", "/health") == (200, {"status": "ok", "models": [ONEM]})
        status, body = request_json(
            serve, "POST", "/v1/chat/completions", {"model": ONEM, "messages": [user("env")]}
        )
        assert status == 200 and body["choices"][0]["message"]["content"] == echo("env")
        assert (
            request_json(
                serve, "POST", "/v1/chat/completions", {"model": MAX, "messages": [user("env")]}
            )[0]
            == 404
        )


@pytest.mark.parametrize("layout, model", [("1m", ONEM), ("qwen3", "qwen-3-8b")])
def test_a_conversation_through_serve_survives_a_space_restart(layout: str, model: str) -> None:
    # The OpenAI client resends the whole history; serve continues the Space's
    # session with the new message alone. After a restart, the Space's session
    # is empty: the history must go again, in a new session.
    extra: dict[str, Any] = {"reasoning": "hm"} if layout == "qwen3" else {}
    with (
        FakeSpace(layout=layout, **extra) as fake,
        Serve("--api-key", KEY, *space_args([(model, fake.url)])) as serve,
    ):
        history: list[dict[str, Any]] = []
        answers = []
        for i, text in enumerate(("one", "two", "three")):
            if i == 2:
                fake.restart()
            history.append(user(text))
            status, body = request_json(
                serve,
                "POST",
                "/v1/chat/completions",
                {"model": model, "messages": history, "enable_thinking": False}
                if layout == "qwen3"
                else {"model": model, "messages": history},
            )
            assert status == 200, body
            answers.append(body["choices"][0]["message"]["content"])
            history.append({"role": "assistant", "content": answers[-1]})
        chats = list(fake.chats)
    assert answers[:2] == [echo("one"), echo("two", 1)]
    # The last run saw the whole conversation, flattened, in a new session.
    assert chats[-1].query == flatten([*history[:4], user("three")])
    assert chats[-1].session_hash != chats[0].session_hash
    assert answers[2] == echo(chats[-1].query)
    if layout == "qwen3":
        assert chats[-1].thinking is False
