"""The key-less server's Host and Origin rules (issue 20, item 5), and a real server on ::1."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import pytest

from qwen_spaces._server.errors import APIError
from qwen_spaces._server.guard import Guard, split_host
from tests.support.server_harness import ROOT

LOCAL = ("127.0.0.1", 8000)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("LocalHost.:8000", ("localhost", 8000)),
        ("[::1]:8000", ("::1", 8000)),
        ("[::1]", ("::1", None)),
        ("example.org", ("example.org", None)),
        ("a:b:c", ("a:b:c", None)),
        ("host:port", ("", None)),
        ("[::1]x", ("", None)),
    ],
)
def test_host_headers_split_into_name_and_port(
    header: str, expected: tuple[str, int | None]
) -> None:
    assert split_host(header) == expected


def test_only_this_servers_names_and_the_allowed_ones_pass() -> None:
    guard = Guard.of(hosts=["Models.Internal", "proxy.example:443"])
    for host in (
        "127.0.0.1:8000",
        "localhost:8000",
        "[::1]:8000",
        "models.internal:1",
        "models.internal",
        "proxy.example:443",
    ):
        assert guard.host_allowed(host, LOCAL), host
    for host in (
        "127.0.0.1:8001",
        "localhost",
        "evil.example:8000",
        "proxy.example:444",
        "127.0.0.1.evil.example:8000",
        "",
        "[::1]:8001",
    ):
        assert not guard.host_allowed(host, LOCAL), host
    # The address the client connected to is a name of this server too (a LAN address).
    assert Guard().host_allowed("192.168.1.5:8000", ("192.168.1.5", 8000))
    assert Guard.of(hosts=["*"]).host_allowed("anything.example", LOCAL)


def test_origins_pass_only_when_allowed_and_any_host_does_not_allow_any_origin() -> None:
    guard = Guard.of(hosts=["*"], origins=["https://app.example/"])
    assert guard.origin_allowed("https://APP.example", LOCAL)
    assert guard.origin_allowed("http://127.0.0.1:8000", LOCAL)  # its own
    for origin in ("https://evil.example", "null", "http://localhost:3000", "file://"):
        assert not guard.origin_allowed(origin, LOCAL), origin
    assert guard.cors_origin("https://app.example") == "https://app.example"
    assert guard.cors_origin("https://evil.example") is None
    assert Guard.of(origins=["*"]).cors_origin("https://any.example") == "https://any.example"


def test_check_refuses_with_the_status_and_the_option_to_use() -> None:
    guard = Guard()
    cases = [
        ({"Host": "evil.example"}, "application/json", 403, "--allowed-host"),
        (
            {"Host": "127.0.0.1:8000", "Origin": "https://x.example"},
            "application/json",
            403,
            "--allow-origin",
        ),
        ({"Host": "127.0.0.1:8000"}, "text/plain", 415, "application/json"),
    ]
    for headers, content_type, status, words in cases:
        with pytest.raises(APIError) as caught:
            guard.check("POST", headers, content_type, LOCAL)
        assert caught.value.status == status and words in caught.value.message
    guard.check("GET", {"Host": "localhost:8000"}, "application/octet-stream", LOCAL)


def test_a_server_on_ipv6_loopback_answers_its_bracketed_name() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qwen_spaces",
            "serve",
            "--host",
            "::1",
            "--port",
            "0",
            "--space",
            "qwen-2.5-max=http://127.0.0.1:9",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        found = re.search(r"http://\[::1\]:(\d+)/v1", process.stdout.readline())
        assert found, "serve did not start on ::1"
        port = int(found.group(1))

        def status(host: str) -> int:
            with socket.create_connection(("::1", port), timeout=20) as sock:
                sock.sendall(
                    f"GET /v1/models HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
                )
                return int(sock.recv(65536).split()[1])

        assert status(f"[::1]:{port}") == 200
        assert status(f"localhost:{port}") == 200
        assert status(f"[::1]:{port + 1}") == 403
        assert status(f"evil.example:{port}") == 403
    finally:
        process.terminate()
        process.communicate(timeout=20)
