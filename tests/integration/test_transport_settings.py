"""Proxies, cookies and TLS, through both clients over real HTTP on 127.0.0.1.

The sync client moved from requests to urllib3 (issue #13) and now does itself
what requests did for it; the async client has aiohttp do the same. Each
setting is checked against a recorded Gradio 5 call (served by ReplayServer,
which also plays the HTTP proxy: a proxy sees absolute targets) or a FakeSpace
behind tests/tls.py's TLS front. Only the sync client reads proxies and a CA
bundle from the environment, as requests did (README, Options). A dead proxy's
credentials: tests/faults/test_security.py; the redirect that drops the token:
tests/faults/test_faults.py (test_15).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import warnings
from pathlib import Path
from typing import Any

import pytest

import qwen_spaces as qs
from tests.transcript_replay import ReplayServer, load, messages_of, turns

PROXY_ENV = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
             "no_proxy", "NO_PROXY")


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def chats(mode: str, base_url: str, prompts: list[Any], **options: Any) -> list[str]:
    """The answers to ``prompts``, asked one after another on one client."""
    if mode == "sync":
        with qs.Client(base_url=base_url, max_retries=0, **options) as client:
            return [client.chat(prompt).text for prompt in prompts]

    async def run() -> list[str]:
        async with qs.AsyncClient(base_url=base_url, max_retries=0, **options) as client:
            return [(await client.chat(prompt)).text for prompt in prompts]

    return asyncio.run(run())


def _turn() -> dict[str, Any]:
    return turns(load("max-g5"))[0]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- proxies ---------------------------------------------------------------------------------


def test_proxy_with_credentials_carries_every_request(mode: str) -> None:
    turn = _turn()
    with ReplayServer() as proxy:
        proxy.add_turn(turn, with_config=True)
        url = f"http://us%40er:p%3Ass@{proxy.url.split('//')[1]}"
        texts = chats(mode, "http://space.test", [messages_of(turn)], proxy=url)
    assert texts == [turn["expected_answer"]]
    targets = [target for target, _ in proxy.seen]
    assert targets and all(t.startswith("http://space.test/") for t in targets), targets
    expected = "Basic " + base64.b64encode(b"us@er:p:ss").decode()
    assert all(h.get("proxy-authorization") == expected for _, h in proxy.seen)


def test_the_environment_proxy_is_used_unless_no_proxy_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    turn = _turn()
    with ReplayServer() as proxy:
        proxy.add_turn(turn, with_config=True)
        monkeypatch.setenv("http_proxy", proxy.url)
        assert chats("sync", "http://space.test", [messages_of(turn)]) == [turn["expected_answer"]]
        assert all(t.startswith("http://space.test/") for t, _ in proxy.seen)
    with ReplayServer() as space:  # no_proxy: straight to the Space, past a dead proxy
        space.add_turn(turn, with_config=True)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_dead_port()}")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        assert chats("sync", space.url, [messages_of(turn)]) == [turn["expected_answer"]]
        assert all(t.startswith("/") for t, _ in space.seen)


def test_an_explicit_proxy_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    turn = _turn()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_dead_port()}")
    with ReplayServer() as proxy:
        proxy.add_turn(turn, with_config=True)
        texts = chats("sync", "http://space.test", [messages_of(turn)], proxy=proxy.url)
    assert texts == [turn["expected_answer"]]


def test_a_socks_proxy_in_the_environment_is_a_clear_connection_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("all_proxy", "socks5://user:hunter2secret@127.0.0.1:1080")
    with pytest.raises(qs.SpaceConnectionError, match="socks5") as info:
        chats("sync", "http://space.test", ["hi"])
    assert "hunter2secret" not in str(info.value)


# --- cookies ---------------------------------------------------------------------------------


def test_cookies_the_space_sets_are_sent_back_on_its_later_requests(mode: str) -> None:
    turn = _turn()
    # The Space by a host name (aiohttp keeps no cookies of a bare IP address),
    # through the replay server as its proxy.
    with ReplayServer() as proxy:
        # A sticky-session cookie, as a load balancer in front of replicas sets.
        proxy.add_turn(turn, with_config=True,
                       config_headers={"Set-Cookie": "replica=r2; Path=/; HttpOnly"})
        proxy.add_turn(turn, with_config=False)  # a later call on the same client
        texts = chats(mode, "http://space.test", [messages_of(turn)] * 2, proxy=proxy.url)
    assert texts == [turn["expected_answer"]] * 2
    first, *later = proxy.seen
    assert "cookie" not in first[1]
    assert len(later) >= 4 and all(h.get("cookie") == "replica=r2" for _, h in later)


# --- TLS: what the clients verify against ----------------------------------------------------


def test_https_with_the_space_s_ca_bundle(
    mode: str, https_space: str, certificate: tuple[Path, Path]
) -> None:
    assert chats(mode, https_space, ["hi"], verify=str(certificate[0])) == ["Paris."]


def test_https_reads_the_ca_bundle_from_the_environment(
    https_space: str, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    assert chats("sync", https_space, ["hi"]) == ["Paris."]


def test_https_refuses_a_certificate_it_cannot_verify(
    mode: str, https_space: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(qs.SpaceConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        chats(mode, https_space, ["hi"])  # certifi's CAs (sync), the system's (async)


def test_https_without_verification_when_asked(mode: str, https_space: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning, as with requests
        assert chats(mode, https_space, ["hi"], verify=False) == ["Paris."]
