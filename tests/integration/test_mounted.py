"""A real Gradio app mounted under a path, through every interface.

The Max replica is mounted at ``/chat`` of a FastAPI app
(``gr.mount_gradio_app(app, demo, path="/chat")``) on Gradio 4.44 (no api
prefix) and 5.12 (``/gradio_api``), served by uvicorn on 127.0.0.1; nothing
answers at the host's root. Both clients, the CLI, ``serve --base-url`` and a
gpt4free provider stream the fake model's exact answer from it, given the
app's URL with or without a trailing slash; a URL into Gradio's own routes is
refused before anything is sent; the host's root is a SpaceNotFoundError. The
same app behind a reverse proxy's prefix answers too, whatever /config's
``root`` says.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import urllib.request
from urllib.parse import urlsplit

import pytest

import qwen_spaces as qs
from qwen_spaces._client import discovery_cache
from qwen_spaces.providers import Qwen_Qwen_2_5_Max
from tests.support.cli_runs import ROOT, child_env
from tests.support.prefix_proxy import PrefixProxy
from tests.support.replicas import fake_model
from tests.support.replicas.launcher import Replica
from tests.support.server_harness import KEY, Serve

pytestmark = pytest.mark.timeout(180)

MAX = "qwen-2.5-max"
QUERY = "Mounted — café ☕ ha ha?"
ANSWER = fake_model.expected_answer(QUERY, 0, fake_model.DEFAULT_SYSTEM)
SLASHES = ["", "/"]


def test_the_replica_is_mounted_at_chat_only(mounted_replica: Replica) -> None:
    assert urlsplit(mounted_replica.url).path == "/chat"
    assert mounted_replica.config["root"].endswith("/chat")  # Gradio sees its mount path
    prefix = mounted_replica.config.get("api_prefix", "")
    assert prefix == ("" if mounted_replica.gradio == 4 else "/gradio_api")


@pytest.mark.parametrize("slash", SLASHES)
def test_client_streams_the_exact_answer(mounted_replica: Replica, slash: str) -> None:
    with qs.Client(MAX, base_url=mounted_replica.url + slash, max_retries=0) as client:
        assert client.base_url == mounted_replica.url
        with client.stream(QUERY) as stream:
            texts = list(stream.text_stream)
        assert stream.reply.text == ANSWER and "".join(texts) == ANSWER and len(texts) > 3
        # A follow-up in the same conversation: the history went under the path too.
        conversation = client.conversation()
        conversation.send("one")
        assert conversation.send("two").text == fake_model.expected_answer(
            "two", 1, fake_model.DEFAULT_SYSTEM
        )


@pytest.mark.parametrize("slash", SLASHES)
def test_async_client_streams_the_exact_answer(mounted_replica: Replica, slash: str) -> None:
    async def run() -> tuple[str, str]:
        options = {"base_url": mounted_replica.url + slash, "max_retries": 0}
        async with qs.AsyncClient(MAX, **options) as client:
            stream = client.stream(QUERY)
            texts = [text async for text in stream.text_stream]
            return "".join(texts), stream.reply.text

    streamed, text = asyncio.run(run())
    assert streamed == text == ANSWER


def test_the_discovery_cache_keeps_the_path(mounted_replica: Replica) -> None:
    # Through a proxy that records each request: the second client (a new
    # process, as far as the cache knows) sends no /config.
    with PrefixProxy(mounted_replica.url, "/chat") as proxy:
        with qs.Client(MAX, base_url=proxy.url, max_retries=0) as client:
            assert client.chat(QUERY).text == ANSWER
        first = list(proxy.targets)
        assert discovery_cache.load(proxy.url, MAX) is not None
        assert discovery_cache.load(proxy.url.rsplit("/", 1)[0], MAX) is None
        with qs.Client(MAX, base_url=proxy.url + "/", max_retries=0) as client:
            assert client.chat(QUERY).text == ANSWER
        second = proxy.targets[len(first) :]
    assert first[0] == "GET /chat/config"
    assert second and not any(t.endswith("/config") for t in second), second


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_the_hosts_root_is_no_gradio_app(mounted_replica: Replica, driver: str) -> None:
    origin = mounted_replica.origin
    with pytest.raises(qs.SpaceNotFoundError) as caught:
        if driver == "sync":
            qs.Client(MAX, base_url=origin, max_retries=2).chat("hi")
        else:

            async def run() -> None:
                async with qs.AsyncClient(MAX, base_url=origin, max_retries=2) as client:
                    await client.chat("hi")

            asyncio.run(run())
    error = caught.value
    assert isinstance(error, qs.SpaceHTTPError) and error.status_code == 404
    assert str(error).startswith(f"no Gradio app answers at {origin} ")
    assert error.url == f"{origin}/config" and "mounted under a path" in str(error)


@pytest.mark.parametrize(
    "route",
    ["/config", "/gradio_api/queue/join", "/queue/data", "/call/model_chat", "/?__theme=dark"],
)
def test_a_url_into_gradios_own_routes_is_refused_naming_the_app(
    mounted_replica: Replica, route: str
) -> None:
    with pytest.raises(ValueError, match=f"use {mounted_replica.url}( |$)"):
        qs.Client(MAX, base_url=mounted_replica.url + route)


@pytest.mark.parametrize("slash", SLASHES)
def test_cli_ask_prints_the_exact_answer(mounted_replica: Replica, slash: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qwen_spaces",
            "ask",
            QUERY,
            "--base-url",
            mounted_replica.url + slash,
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=child_env(),
        cwd=str(ROOT),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ANSWER + "\n"


def test_cli_at_the_hosts_root_says_no_app_answers(mounted_replica: Replica) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qwen_spaces", "ask", "hi", "--base-url", mounted_replica.origin],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=str(ROOT),
        timeout=120,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert f"no Gradio app answers at {mounted_replica.origin} " in done.stderr
    assert "Traceback" not in done.stderr


def _stream_through(serve: Serve, query: str) -> tuple[int, str]:
    """POST a streamed chat completion to ``serve``; (status, the deltas joined)."""
    parts = urlsplit(serve.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        body = {"model": MAX, "stream": True, "messages": [{"role": "user", "content": query}]}
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
        conn.request("POST", "/v1/chat/completions", json.dumps(body).encode(), headers)
        response = conn.getresponse()
        text, done = "", False
        for line in response:
            if line.startswith(b"data: [DONE]"):
                done = True
            elif line.startswith(b"data: {"):
                choices = json.loads(line[6:])["choices"]
                text += choices[0]["delta"].get("content") or "" if choices else ""
        assert done or response.status != 200, "the stream ended without [DONE]"
        return response.status, text
    finally:
        conn.close()


@pytest.mark.parametrize("slash", SLASHES)
def test_serve_base_url_streams_the_exact_answer(mounted_replica: Replica, slash: str) -> None:
    args = ["--api-key", KEY, "--model", MAX, "--base-url", mounted_replica.url + slash]
    with Serve(*args) as serve:
        assert _stream_through(serve, QUERY) == (200, ANSWER)


def test_serve_space_flag_takes_a_mounted_url(mounted_replica: Replica) -> None:
    with Serve("--api-key", KEY, "--space", f"{MAX}={mounted_replica.url}/") as serve:
        assert _stream_through(serve, QUERY) == (200, ANSWER)


def test_serve_refuses_a_gradio_route_before_starting(mounted_replica: Replica) -> None:
    route = mounted_replica.url + "/gradio_api/queue/join"
    done = subprocess.run(
        [sys.executable, "-m", "qwen_spaces", "serve", "--port", "0", "--base-url", route],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=str(ROOT),
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"use {mounted_replica.url} " in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("slash", SLASHES)
def test_a_provider_streams_the_exact_answer(
    mounted_replica: Replica, slash: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Qwen_Qwen_2_5_Max, "url", mounted_replica.url + slash)
    assert Qwen_Qwen_2_5_Max.api_endpoint.startswith(mounted_replica.url + "/gradio_api/")
    messages = [{"role": "user", "content": QUERY}]

    async def run() -> list[str]:
        generator = Qwen_Qwen_2_5_Max.create_async_generator("qwen-2-5-max", messages)
        return [chunk async for chunk in generator if isinstance(chunk, str)]

    chunks = asyncio.run(run())
    assert "".join(chunks) == ANSWER and len(chunks) > 3
    blocking = Qwen_Qwen_2_5_Max.create_completion("qwen-2-5-max", messages)
    assert "".join(c for c in blocking if isinstance(c, str)) == ANSWER


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_behind_a_reverse_proxys_prefix(mounted_replica: Replica, driver: str) -> None:
    # The proxy serves the app (at /chat upstream) under /edge/qwen: /config's root
    # names the upstream address, not the one the client uses, and is not needed.
    with PrefixProxy(mounted_replica.url, "/edge/qwen") as proxy:
        with urllib.request.urlopen(proxy.url + "/config", timeout=30) as answer:
            root = json.loads(answer.read())["root"]
        assert root.rstrip("/") == mounted_replica.url != proxy.url
        if driver == "sync":
            with qs.Client(MAX, base_url=proxy.url + "/", max_retries=0) as client:
                text = "".join(client.stream(QUERY).text_stream)
        else:

            async def run() -> str:
                async with qs.AsyncClient(MAX, base_url=proxy.url, max_retries=0) as client:
                    return "".join([t async for t in client.stream(QUERY).text_stream])

            text = asyncio.run(run())
        targets = list(proxy.targets)
    assert text == ANSWER
    assert targets[0] == "GET /edge/qwen/config"
    assert all(t.split(" ", 1)[1].startswith("/edge/qwen/") for t in targets), targets
    assert any("/queue/data?" in t for t in targets)
