"""The base URL: a Gradio app at a host's root or mounted under a path.

- A path is kept and every request goes under it (as gradio_client does),
  with or without a trailing slash; repeated slashes collapse.
- A path into Gradio's own routes, a ?query (``?__theme=``) or #fragment is
  refused before anything is sent, in the words of the interface (base_url=,
  --base-url, --space, $QWEN_SPACES_BASE_URL, a provider's url), naming the
  app's URL to use.
- A URL where no Gradio app answers (its /config is a 404) is a
  SpaceNotFoundError naming the URL, not retried, with nothing sent after.
- The discovery cache keys on the whole URL, path included.

The real Gradio apps mounted under a path are in tests/integration/test_mounted.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import responses
from aioresponses import aioresponses

import qwen_spaces as qs
from qwen_spaces._client import discovery_cache
from qwen_spaces._gradio.space_url import check_base_url, gradio_route_at
from qwen_spaces.providers import Qwen_Qwen_2_5_Max
from qwen_spaces.testing import FakeSpace, MockSpace
from tests.support.cli_runs import Result, cli  # noqa: F401 (the fixture)

pytestmark = pytest.mark.timeout(60)

HOST = "http://127.0.0.1:8000"
MAX = "qwen-2.5-max"
DRIVERS = ["sync", "async"]

# --- the rules --------------------------------------------------------------------------------

KEPT = [
    ("", ""),
    ("/", ""),
    ("/chat", "/chat"),
    ("/chat/", "/chat"),
    ("//chat//", "/chat"),
    ("/apps/qwen/max", "/apps/qwen/max"),
    ("/api/qwen", "/api/qwen"),  # a proxy prefix named api is not Gradio's /api/predict
    ("/queue", "/queue"),  # a lone name is an app's path: Gradio's routes have more
    ("/call", "/call"),
    ("/config/chat", "/config/chat"),  # Gradio's names, but not where its routes are
    ("/chat%20bot", "/chat%20bot"),
]


@pytest.mark.parametrize(("path", "kept"), KEPT)
def test_a_path_is_kept_without_its_trailing_slash(path: str, kept: str) -> None:
    assert check_base_url(HOST + path) == HOST + kept


@pytest.mark.parametrize("empty", ["?", "#", "/?", "/#"])
def test_an_empty_query_or_fragment_is_dropped(empty: str) -> None:
    assert check_base_url(f"{HOST}/chat{empty}") == f"{HOST}/chat"


def test_scheme_is_lowercased_and_host_and_port_kept() -> None:
    assert check_base_url("  HTTPS://X.hf.space:8443/Chat/  ") == "https://X.hf.space:8443/Chat"
    assert check_base_url("http://[::1]:7860/chat/") == "http://[::1]:7860/chat"


# (the path given, the app's path the message names)
OWN_ROUTES = [
    ("/config", ""),
    ("/config/", ""),
    ("/chat/config", "/chat"),
    ("/app_id", ""),
    ("/chat/app_id", "/chat"),
    ("/info", ""),
    ("/theme.css", ""),
    ("/upload", ""),
    ("/upload_progress", ""),
    ("/startup-events", ""),
    ("/cancel", ""),
    ("/gradio_api", ""),
    ("/gradio_api/", ""),
    ("/gradio_api/info", ""),
    ("/chat/gradio_api/queue/join", "/chat"),
    ("/a/b/gradio_api/call/model_chat/abc", "/a/b"),
    ("/queue/join", ""),
    ("/queue/data", ""),
    ("/chat/queue/data", "/chat"),
    ("/call/model_chat", ""),
    ("/chat/call/model_chat/0123abcd", "/chat"),
    ("/run/predict", ""),
    ("/chat/run/model_chat", "/chat"),
    ("/api/predict", ""),
    ("/api/predict/", ""),
    ("/heartbeat/abc123", ""),
    ("/file=/tmp/gradio/x.txt", ""),
    ("/chat/file=/tmp/x", "/chat"),
    ("/chat/proxy=https://x/y", "/chat"),
]


@pytest.mark.parametrize(("path", "app"), OWN_ROUTES)
def test_every_gradio_route_is_refused_naming_the_apps_url(path: str, app: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_base_url(HOST + path)
    message = str(caught.value)
    assert message.startswith("base_url must be the Gradio app's URL, not one of its routes")
    assert f"use {HOST}{app} (got the path {path!r}" in message


def test_gradio_route_at_finds_where_the_route_begins() -> None:
    assert gradio_route_at(["chat", "gradio_api", "queue", "join"]) == 1
    assert gradio_route_at(["x", "queue", "data"]) == 1
    assert gradio_route_at(["chat", "queue"]) is None
    assert gradio_route_at([]) is None


@pytest.mark.parametrize(
    ("suffix", "app", "says"),
    [
        ("/?__theme=dark", "", "__theme is a setting of the page"),
        ("/chat/?__theme=light", "/chat", "__theme is a setting of the page"),
        ("/chat?view=api", "/chat", r"without \?query or #fragment"),
        ("/chat#top", "/chat", r"without \?query or #fragment"),
        ("/chat/config?x=1", "/chat", "not one of its routes"),  # the route is said first
    ],
)
def test_a_query_or_fragment_is_refused_naming_the_apps_url(
    suffix: str, app: str, says: str
) -> None:
    with pytest.raises(ValueError, match=says) as caught:
        check_base_url(HOST + suffix)
    assert f"use {HOST}{app}" in str(caught.value)
    assert str(caught.value).split("use ", 1)[1].split(" ")[0] == HOST + app


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"{HOST}/my chat", "spaces or control characters"),
        (f"{HOST}/chat\n", None),  # surrounding whitespace is stripped: accepted
        (f"{HOST}/ch\tat", "spaces or control characters"),
        (f"{HOST}/a/../config", r"\. or \.\."),
        (f"{HOST}/./chat", r"\. or \.\."),
        ("http://127.0.0.1:99999/chat", "port"),
        ("http://127.0.0.1:x/chat", "port"),
        ("http:///chat", "http"),
        ("https://huggingface.co/spaces/Qwen/Qwen2.5-Max-Demo", "OWNER-NAME.hf.space"),
    ],
)
def test_other_malformed_urls_are_refused(url: str, says: str | None) -> None:
    if says is None:
        assert check_base_url(url) == f"{HOST}/chat"
        return
    with pytest.raises(ValueError, match=says):
        check_base_url(url)


def test_credentials_in_a_mounted_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="credentials") as caught:
        check_base_url("http://user:hf_SECRETabcdef123@127.0.0.1/chat/config")
    assert "SECRET" not in str(caught.value)
    with pytest.raises(ValueError, match="http") as caught:
        check_base_url("user:hf_SECRETabcdef123@127.0.0.1/chat")
    assert "SECRET" not in str(caught.value)


# --- every interface refuses before anything is sent -----------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("route", ["/gradio_api/", "/config", "/queue/join", "/?__theme=dark"])
def test_both_clients_refuse_a_route_before_anything_is_sent(driver: str, route: str) -> None:
    client_class = qs.Client if driver == "sync" else qs.AsyncClient
    with FakeSpace() as space:
        with pytest.raises(ValueError, match=f"use {space.url}/chat"):
            client_class(base_url=space.url + "/chat" + route)
        assert space.requests == []


def test_the_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_SPACES_BASE_URL", f"{HOST}/chat/gradio_api")
    with pytest.raises(ValueError, match=r"^\$QWEN_SPACES_BASE_URL must be .* use http"):
        qs.Client()
    monkeypatch.setenv("QWEN_SPACES_BASE_URL", f"{HOST}/chat/")
    assert qs.Client().base_url == f"{HOST}/chat"


@pytest.mark.parametrize(
    "args",
    [
        ("ask", "hi", "--base-url", f"{HOST}/chat/config"),
        ("models", "--base-url", f"{HOST}/chat/queue/data"),
        ("serve", "--port", "0", "--base-url", f"{HOST}/chat/gradio_api/queue/join"),
        ("serve", "--port", "0", "--space", f"{MAX}={HOST}/chat/call/model_chat"),
    ],
)
def test_the_cli_and_serve_refuse_a_route_as_a_usage_error(
    cli: Callable[..., Result],  # noqa: F811
    args: tuple[str, ...],
) -> None:
    result = cli(*args)
    assert result.code == 2 and result.out == ""
    assert f"the URL must be the Gradio app's URL, not one of its routes: use {HOST}/chat " in (
        result.err
    )


def test_the_cli_names_the_environment_variable(
    cli: Callable[..., Result],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QWEN_SPACES_BASE_URL", f"{HOST}/chat/?__theme=dark")
    result = cli("ask", "hi")
    assert result.code == 2
    assert "$QWEN_SPACES_BASE_URL: the URL must be the app's URL without ?query" in result.err
    assert f"use {HOST}/chat" in result.err


def test_a_provider_refuses_a_route_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeSpace() as space:
        monkeypatch.setattr(Qwen_Qwen_2_5_Max, "url", space.url + "/chat/gradio_api")
        messages = [{"role": "user", "content": "hi"}]
        with pytest.raises(ValueError, match=f"use {space.url}/chat"):
            list(Qwen_Qwen_2_5_Max.create_completion("qwen-2-5-max", messages))

        async def run() -> None:
            async for _ in Qwen_Qwen_2_5_Max.create_async_generator("qwen-2-5-max", messages):
                pass

        with pytest.raises(ValueError, match=f"use {space.url}/chat"):
            asyncio.run(run())
        assert space.requests == []


def test_a_providers_api_endpoint_follows_a_mounted_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Qwen_Qwen_2_5_Max, "url", f"{HOST}/chat/")
    assert Qwen_Qwen_2_5_Max.api_endpoint == f"{HOST}/chat/gradio_api/queue/join?"


# --- every request goes under the path (HTTP mocks of both clients) --------------------------

MOUNTED = "https://apps.example.com/qwen/max"


@pytest.mark.parametrize("gradio", [4, 5])
@pytest.mark.parametrize("slash", ["", "/"])
def test_client_sends_every_request_under_the_path(gradio: int, slash: str) -> None:
    with responses.RequestsMock() as mock:
        space = MockSpace("max", answer="Mounted.", base_url=MOUNTED, gradio=gradio).register(mock)
        with qs.Client(MAX, base_url=MOUNTED + slash, max_retries=0) as client:
            assert "".join(client.stream("hi").text_stream) == "Mounted."
        urls = [call.request.url for call in mock.calls]
    prefix = "" if gradio == 4 else "/gradio_api"
    assert urls[0] == f"{MOUNTED}/config"
    assert urls[1] == f"{MOUNTED}{prefix}/queue/join"
    assert urls[2].startswith(f"{MOUNTED}{prefix}/queue/data?session_hash=")
    assert [path for _, path in space.requests] == [
        "/config",
        f"{prefix}/queue/join",
        f"{prefix}/queue/data",
    ]


@pytest.mark.parametrize("gradio", [4, 5])
async def test_async_client_sends_every_request_under_the_path(gradio: int) -> None:
    with aioresponses() as mock:
        space = MockSpace("max", answer="Mounted.", base_url=MOUNTED, gradio=gradio).register(mock)
        async with qs.AsyncClient(MAX, base_url=MOUNTED + "/", max_retries=0) as client:
            reply = await client.chat("hi")
        urls = [str(url).split("?")[0] for _, url in mock.requests]
    prefix = "" if gradio == 4 else "/gradio_api"
    assert reply.text == "Mounted."
    assert sorted(urls) == sorted(
        [f"{MOUNTED}/config", f"{MOUNTED}{prefix}/queue/join", f"{MOUNTED}{prefix}/queue/data"]
    )
    assert len(space.requests) == 3


# --- no Gradio app there ------------------------------------------------------------------------


def _run(driver: str, url: str, **options: Any) -> Any:
    if driver == "sync":
        with qs.Client(MAX, base_url=url, **options) as client:
            return client.chat("hi")

    async def run() -> Any:
        async with qs.AsyncClient(MAX, base_url=url, **options) as client:
            return await client.chat("hi")

    return asyncio.run(run())


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("path", ["/nowhere", "/some/path/"])
def test_a_path_where_no_app_answers_is_space_not_found(driver: str, path: str) -> None:
    with FakeSpace() as space:
        with pytest.raises(qs.SpaceNotFoundError) as caught:
            _run(driver, space.url + path, max_retries=2)
        sent = [r.path for r in space.requests]
    base = space.url + path.rstrip("/")
    error = caught.value
    assert sent == [f"{path.rstrip('/')}/config"]  # not retried, nothing else tried
    assert isinstance(error, qs.SpaceHTTPError) and isinstance(error, qs.QwenSpacesError)
    assert error.status_code == 404 and error.base_url == base and error.url == f"{base}/config"
    assert str(error).startswith(f"no Gradio app answers at {base} (GET {base}/config: HTTP 404)")
    assert error.partial_text == ""


@pytest.mark.parametrize("driver", DRIVERS)
def test_cached_ids_of_an_app_that_went_away_end_in_space_not_found(driver: str) -> None:
    # The cache holds the app's ids; the app is gone: the join's 404 sends the
    # call back to /config, whose 404 says so.
    with FakeSpace() as space:
        assert _run(driver, space.url, max_retries=0).text
    with FakeSpace() as other:
        url = other.url + "/gone"
        endpoints = discovery_cache.load(space.url, MAX)
        assert endpoints is not None
        discovery_cache.store(url, MAX, endpoints)
        with pytest.raises(qs.SpaceNotFoundError):
            _run(driver, url, max_retries=0)
        assert [r.path for r in other.requests] == ["/gone/gradio_api/queue/join", "/gone/config"]


# --- the discovery cache ------------------------------------------------------------------------


def test_the_cache_entry_is_the_whole_url_path_included() -> None:
    root, chat, other = HOST, f"{HOST}/chat", f"{HOST}/chat/other"
    files = {discovery_cache.entry_path(url, MAX) for url in (root, chat, other)}
    assert len(files) == 3
    # A trailing slash or not is one entry, once the URL is checked.
    same = {discovery_cache.entry_path(check_base_url(u), MAX) for u in (chat, chat + "/")}
    assert same == {discovery_cache.entry_path(chat, MAX)}


def test_a_cached_entry_for_one_mount_is_not_read_for_another() -> None:
    with FakeSpace() as space:
        assert _run("sync", space.url, max_retries=0).text
        endpoints = discovery_cache.load(space.url, MAX)
    assert endpoints is not None
    assert discovery_cache.store(f"{HOST}/chat", MAX, endpoints)
    assert discovery_cache.load(f"{HOST}/chat", MAX) == endpoints
    assert discovery_cache.load(HOST, MAX) is None
    assert discovery_cache.load(f"{HOST}/chat/x", MAX) is None
