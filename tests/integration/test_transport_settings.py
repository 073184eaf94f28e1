"""Proxies, cookies, TLS and sessions, through both clients over real HTTP on 127.0.0.1.

The sync client sends through requests, the async one through aiohttp; with
``trust_env`` (the default) both read the same environment the same way:
``$HTTP(S)_PROXY``/``$NO_PROXY`` and the CA bundle (``$REQUESTS_CA_BUNDLE``,
``$CURL_CA_BUNDLE``, ``$SSL_CERT_FILE``). Each setting is checked against a
recorded Gradio 5 call (served by ReplayServer, which also plays the HTTP
proxy: a proxy sees absolute targets), or a FakeSpace behind tests/support/tls.py's TLS
front reached through a real CONNECT proxy. A dead proxy's credentials:
tests/faults/test_security.py; the redirect that drops the token:
tests/faults/test_faults.py (test_15).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests

import qwen_spaces as qs
from qwen_spaces.testing import FakeSpace
from tests.support.tls import TLSFront, self_signed
from tests.support.transcript_replay import ReplayServer, load, messages_of, turns

PROXY_ENV = (
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
)
CA_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_ENV + CA_ENV:
        monkeypatch.delenv(name, raising=False)


class ConnectProxy:
    """An HTTPS proxy on 127.0.0.1: it answers CONNECT and pipes the tunnel, recording targets."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                continue
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        client.settimeout(10)
        with client:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                data = client.recv(4096)
                if not data:
                    return
                head += data
            method, target = head.split(b" ", 2)[:2]
            if method != b"CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            self.targets.append(target.decode())
            host, port = target.decode().rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=10) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pipe = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                pipe.start()
                _pipe(client, upstream)
                pipe.join(10)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


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


@pytest.mark.parametrize("variable", ["http_proxy", "HTTP_PROXY"])
def test_the_environment_proxy_is_used_unless_no_proxy_says_otherwise(
    mode: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    turn = _turn()
    with ReplayServer() as proxy:
        proxy.add_turn(turn, with_config=True)
        monkeypatch.setenv(variable, proxy.url)
        assert chats(mode, "http://space.test", [messages_of(turn)]) == [turn["expected_answer"]]
        assert all(t.startswith("http://space.test/") for t, _ in proxy.seen)
    with ReplayServer() as space:  # no_proxy: straight to the Space, past a dead proxy
        space.add_turn(turn, with_config=True)
        monkeypatch.setenv(variable, f"http://127.0.0.1:{_dead_port()}")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert chats(mode, space.url, [messages_of(turn)]) == [turn["expected_answer"]]
        assert all(t.startswith("/") for t, _ in space.seen)


def test_an_explicit_proxy_wins_over_the_environment(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    turn = _turn()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_dead_port()}")
    with ReplayServer() as proxy:
        proxy.add_turn(turn, with_config=True)
        texts = chats(mode, "http://space.test", [messages_of(turn)], proxy=proxy.url)
    assert texts == [turn["expected_answer"]]


@pytest.mark.parametrize("variable", ["https_proxy", "HTTPS_PROXY"])
def test_https_goes_through_the_environment_s_https_proxy(
    mode: str,
    variable: str,
    https_space: str,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    with ConnectProxy() as proxy:
        monkeypatch.setenv(variable, proxy.url)
        assert chats(mode, https_space, ["hi"]) == ["Paris."]
        assert proxy.targets and set(proxy.targets) == {https_space.split("//")[1]}
        # NO_PROXY names the host: the same call goes straight there.
        before = len(proxy.targets)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        assert chats(mode, https_space, ["hi"]) == ["Paris."]
        assert len(proxy.targets) == before


def test_trust_env_false_reads_no_proxy_and_no_ca_bundle_from_the_environment(
    mode: str, https_space: str, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{_dead_port()}")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    # Not the dead proxy (a connection error), not the bundle: the library's own CAs.
    with pytest.raises(qs.SpaceConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        chats(mode, https_space, ["hi"], trust_env=False)


def test_a_socks_proxy_in_the_environment_is_a_clear_connection_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # requests reads $ALL_PROXY; aiohttp does not (docs/guides/transports.rst).
    monkeypatch.setenv("all_proxy", "socks5://user:hunter2secret@127.0.0.1:1080")
    with pytest.raises(qs.SpaceConnectionError, match="SOCKS") as info:
        chats("sync", "http://space.test", ["hi"])
    assert "hunter2secret" not in str(info.value)


# --- cookies ---------------------------------------------------------------------------------


def test_cookies_the_space_sets_are_sent_back_on_its_later_requests(mode: str) -> None:
    turn = _turn()
    # The Space by a host name (aiohttp keeps no cookies of a bare IP address),
    # through the replay server as its proxy.
    with ReplayServer() as proxy:
        # A sticky-session cookie, as a load balancer in front of replicas sets.
        proxy.add_turn(
            turn, with_config=True, config_headers={"Set-Cookie": "replica=r2; Path=/; HttpOnly"}
        )
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


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_https_reads_the_ca_bundle_from_the_environment(
    mode: str,
    variable: str,
    https_space: str,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(variable, str(certificate[0]))
    assert chats(mode, https_space, ["hi"]) == ["Paris."]


def test_the_ca_bundle_variables_are_read_in_the_same_order(
    mode: str,
    https_space: str,
    certificate: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # $REQUESTS_CA_BUNDLE first: a wrong one there fails whatever $SSL_CERT_FILE says.
    other = tmp_path / "other.pem"
    other.write_bytes(self_signed(tmp_path, "other")[0].read_bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with pytest.raises(qs.SpaceConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        chats(mode, https_space, ["hi"])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    assert chats(mode, https_space, ["hi"]) == ["Paris."]


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


# --- a client certificate (mutual TLS) -------------------------------------------------------


@pytest.fixture(scope="module")
def client_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("client-tls"), "client")


@pytest.fixture(scope="module")
def mtls_space(
    certificate: tuple[Path, Path], client_certificate: tuple[Path, Path]
) -> Iterator[str]:
    """A FakeSpace behind TLS that requires the client certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(client_certificate[0])
    with FakeSpace(layout="max", answer="Paris.") as space:
        port = int(space.url.rsplit(":", 1)[1])
        with TLSFront(port, context) as front:
            yield f"https://127.0.0.1:{front.port}"


@pytest.mark.parametrize("form", ["pair", "one file"])
def test_cert_sends_a_client_certificate(
    mode: str,
    form: str,
    mtls_space: str,
    certificate: tuple[Path, Path],
    client_certificate: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    ca = str(certificate[0])
    with pytest.raises(qs.SpaceConnectionError):  # no certificate: the handshake fails
        chats(mode, mtls_space, ["hi"], verify=ca)
    cert: Any = (str(client_certificate[0]), str(client_certificate[1]))
    if form == "one file":
        both = tmp_path / "both.pem"
        both.write_bytes(client_certificate[0].read_bytes() + client_certificate[1].read_bytes())
        cert = str(both)
    assert chats(mode, mtls_space, ["hi"], verify=ca, cert=cert) == ["Paris."]


def test_a_missing_client_certificate_file_is_a_connection_error(
    mode: str, mtls_space: str, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    with pytest.raises(qs.SpaceConnectionError):
        chats(mode, mtls_space, ["hi"], verify=str(certificate[0]), cert=str(tmp_path / "none.pem"))


def test_cert_of_the_wrong_type_is_refused_before_anything_is_sent() -> None:
    for cls in (qs.Client, qs.AsyncClient):
        with pytest.raises(TypeError, match="cert must be"):
            cls(cert=("a.pem",))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="trust_env"):
            cls(trust_env="yes")  # type: ignore[arg-type]


# --- a session of the user's -----------------------------------------------------------------


def test_client_sends_through_the_user_s_requests_session_and_leaves_it_open() -> None:
    turn = _turn()
    session = requests.Session()
    session.headers["X-Corporate"] = "yes"
    with ReplayServer() as space:
        space.add_turn(turn, with_config=True)
        with qs.Client(base_url=space.url, max_retries=0, session=session) as client:
            assert client.chat(messages_of(turn)).text == turn["expected_answer"]
        assert space.seen and all(h.get("x-corporate") == "yes" for _, h in space.seen)
        # Still the user's to use (and to close).
        space.add("GET", "/extra", b"{}")
        assert session.get(space.url + "/extra", timeout=10).status_code == 200
    session.close()


def test_async_client_sends_through_the_user_s_aiohttp_session_and_leaves_it_open() -> None:
    turn = _turn()

    async def run(url: str) -> tuple[str, bool]:
        async with aiohttp.ClientSession(headers={"X-Corporate": "yes"}) as session:
            async with qs.AsyncClient(base_url=url, max_retries=0, session=session) as client:
                text = (await client.chat(messages_of(turn))).text
            return text, session.closed

    with ReplayServer() as space:
        space.add_turn(turn, with_config=True)
        text, closed = asyncio.run(run(space.url))
    assert text == turn["expected_answer"] and closed is False
    assert space.seen and all(h.get("x-corporate") == "yes" for _, h in space.seen)


def test_a_session_of_the_wrong_library_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"requests\.Session"):
        qs.Client(session=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"aiohttp\.ClientSession"):
        qs.AsyncClient(session=requests.Session())  # type: ignore[arg-type]
