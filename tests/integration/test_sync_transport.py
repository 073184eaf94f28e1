"""What the sync client kept when it moved from requests to urllib3 (issue #13).

requests gave the Client a proxy from the environment, proxy credentials, a
cookie jar, a CA bundle and redirects that drop the token on the way to
another host; the transport now does each itself. Each is checked here over
real HTTP on 127.0.0.1 (a recorded Gradio 5 call, served by ReplayServer),
TLS against a loopback certificate (a FakeSpace behind tests/tls.py's TLS
front), the redirect in tests/faults/test_faults.py
(test_15).
"""

from __future__ import annotations

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


def _turn() -> dict[str, Any]:
    return turns(load("max-g5"))[0]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_proxy_with_credentials_carries_every_request() -> None:
    turn = _turn()
    with ReplayServer() as proxy:  # an HTTP proxy sees absolute targets: it serves them
        proxy.add_turn(turn, with_config=True)
        url = f"http://us%40er:p%3Ass@{proxy.url.split('//')[1]}"
        with qs.Client(base_url="http://space.test", proxy=url, max_retries=0) as client:
            reply = client.chat(messages_of(turn))
    assert reply.text == turn["expected_answer"]
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
        with qs.Client(base_url="http://space.test", max_retries=0) as client:
            assert client.chat(messages_of(turn)).text == turn["expected_answer"]
        assert all(t.startswith("http://space.test/") for t, _ in proxy.seen)
    with ReplayServer() as space:  # no_proxy: straight to the Space, past a dead proxy
        space.add_turn(turn, with_config=True)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_dead_port()}")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        with qs.Client(base_url=space.url, max_retries=0) as client:
            assert client.chat(messages_of(turn)).text == turn["expected_answer"]
        assert all(t.startswith("/") for t, _ in space.seen)


def test_an_explicit_proxy_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    turn = _turn()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_dead_port()}")
    with ReplayServer() as proxy:
        proxy.add_turn(turn, with_config=True)
        with qs.Client(base_url="http://space.test", proxy=proxy.url, max_retries=0) as client:
            assert client.chat(messages_of(turn)).text == turn["expected_answer"]


def test_cookies_the_space_sets_are_sent_back_on_its_later_requests() -> None:
    turn = _turn()
    with ReplayServer() as space:
        # A sticky-session cookie, as a load balancer in front of replicas sets.
        space.add_turn(turn, with_config=True,
                       config_headers={"Set-Cookie": "replica=r2; Path=/; HttpOnly"})
        with qs.Client(base_url=space.url, max_retries=0) as client:
            assert client.chat(messages_of(turn)).text == turn["expected_answer"]
            space.add_turn(turn, with_config=False)
            client.chat(messages_of(turn))  # a later call keeps the jar
    first, *later = space.seen
    assert "cookie" not in first[1]
    assert len(later) >= 4 and all(h.get("cookie") == "replica=r2" for _, h in later)


def test_a_dead_proxy_is_a_connection_error_without_its_credentials() -> None:
    url = f"http://user:hunter2secret@127.0.0.1:{_dead_port()}"
    with qs.Client(base_url="http://space.test", proxy=url, max_retries=0) as client:
        with pytest.raises(qs.SpaceConnectionError) as info:
            client.chat("hi")
    assert "hunter2secret" not in str(info.value) and "hunter2secret" not in repr(info.value)


def test_a_socks_proxy_in_the_environment_is_a_clear_connection_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("all_proxy", "socks5://user:hunter2secret@127.0.0.1:1080")
    with qs.Client(base_url="http://space.test", max_retries=0) as client:
        with pytest.raises(qs.SpaceConnectionError, match="socks5") as info:
            client.chat("hi")
    assert "hunter2secret" not in str(info.value)


# --- TLS: what the Client verifies against ---------------------------------------------------


def test_https_with_the_space_s_ca_bundle(https_space: str, certificate: tuple[Path, Path]) -> None:
    with qs.Client(base_url=https_space, verify=str(certificate[0]), max_retries=0) as client:
        assert client.chat("hi").text == "Paris."


def test_https_reads_the_ca_bundle_from_the_environment(
    https_space: str, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    with qs.Client(base_url=https_space, max_retries=0) as client:
        assert client.chat("hi").text == "Paris."


def test_https_refuses_a_certificate_it_cannot_verify(
    https_space: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with qs.Client(base_url=https_space, max_retries=0) as client:  # certifi's CAs
        with pytest.raises(qs.SpaceConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            client.chat("hi")


def test_https_without_verification_when_asked(https_space: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning, as with requests
        with qs.Client(base_url=https_space, verify=False, max_retries=0) as client:
            assert client.chat("hi").text == "Paris."
