"""``qwen-spaces serve`` under abuse (issue 20): bad bodies, limits, key-less callers, logs, idle
and half-sent connections, a busy port. A real server subprocess each time, raw sockets."""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, Optional
from urllib.parse import urlsplit

import pytest

from qwen_spaces.testing import FakeSpace
from tests.support.server_harness import KEY, ROOT, Serve, run_client, space_args

pytestmark = pytest.mark.timeout(180)

MAX = "qwen-2.5-max"
ONEM = "qwen-2.5-1m"
CHAT = "/v1/chat/completions"


def user(text: Any) -> dict[str, Any]:
    return {"role": "user", "content": text}


def port_of(serve: Serve) -> int:
    return urlsplit(serve.url).port or 0


def exchange(serve: Serve, data: bytes, timeout: float = 20) -> bytes:
    """Send raw bytes on a new connection; all the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port_of(serve)), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def request(
    serve: Serve,
    method: str,
    path: str,
    body: Optional[bytes] = None,
    *,
    key: Optional[str] = KEY,
    content_type: Optional[str] = "application/json",
    host: Optional[str] = None,
    headers: Optional[dict[str, str]] = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request written by hand (the Host too), on a connection closed after it:
    (status, headers in lower case, body)."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {f'127.0.0.1:{port_of(serve)}' if host is None else host}",
        "Connection: close",
    ]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    if content_type and body is not None:
        lines.append(f"Content-Type: {content_type}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    raw = exchange(serve, ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    if found.get("transfer-encoding") == "chunked":
        payload = unchunk(payload)
    return int(status_line.split()[1]), found, payload


def unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, data = data.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out, data = out + data[:n], data[n + 2 :]
    return out


def error_of(payload: bytes) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(payload)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


@pytest.fixture(scope="module")
def space() -> Iterator[FakeSpace]:
    with FakeSpace() as fake:
        yield fake


@pytest.fixture(scope="module")
def served(space: FakeSpace) -> Iterator[Serve]:
    with Serve(
        "--api-key",
        KEY,
        "--max-messages",
        "5",
        "--max-chars",
        "100",
        *space_args([(MAX, space.url)]),
    ) as serve:
        yield serve


# --- 1, 2: bodies that are JSON but not a request --------------------------------------------


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000], ids=["arrays", "objects"])
def test_json_nested_100000_deep_is_a_400_not_a_500(body: bytes) -> None:
    with FakeSpace() as fake, Serve("--api-key", KEY, *space_args([(MAX, fake.url)])) as serve:
        status, _, payload = request(serve, "POST", CHAT, body)
        assert status == 400
        error = error_of(payload)
        assert "nested too deeply" in error["message"] and error["code"] == "invalid_json"
        # Still serving.
        status, _, payload = request(
            serve, "POST", CHAT, json.dumps({"model": MAX, "messages": [user("ok")]}).encode()
        )
        assert status == 200
        serve.stop()
    assert "Traceback" not in serve.stderr and "RecursionError" not in serve.stderr
    assert f"POST {CHAT} 400" in serve.stderr


LONE = [
    ({"model": MAX, "messages": [user("a\ud800b")]}, "messages[0].content"),
    ({"model": MAX, "stream": True, "messages": [user("a\udfffb")]}, "messages[0].content"),
    (
        {
            "model": MAX,
            "stream": True,
            "messages": [
                {"role": "system", "content": "s"},
                user([{"type": "text", "text": "x\ud83d"}]),
            ],
        },
        "messages[1].content[0].text",
    ),
]


@pytest.mark.parametrize(("body", "field"), LONE, ids=["plain", "stream", "text part"])
def test_a_lone_surrogate_is_a_400_naming_the_field(
    served: Serve, body: dict[str, Any], field: str
) -> None:
    data = json.dumps(body).encode()  # ASCII escapes: "\ud800" is valid JSON
    assert b"\\ud" in data
    status, _, payload = request(served, "POST", CHAT, data)
    assert status == 400
    error = error_of(payload)
    assert error["param"] == field and error["code"] == "invalid_unicode"
    assert error["message"].startswith(f"{field} holds a lone UTF-16 surrogate")
    # A pair of surrogates is one character, and fine.
    fine = json.dumps({"model": MAX, "messages": [user("emoji \ud83d\ude00")]}).encode()
    status, _, payload = request(served, "POST", CHAT, fine)
    assert status == 200 and "emoji 😀" in json.loads(payload)["choices"][0]["message"]["content"]
    text = served.log_so_far()
    assert "Traceback" not in text and "UnicodeEncodeError" not in text


# --- 3: limits, and the slot before the work ---------------------------------------------------


def test_past_the_message_and_character_limits_is_a_400_naming_the_limit(served: Serve) -> None:
    many = json.dumps({"model": MAX, "messages": [user("x")] * 6}).encode()
    status, _, payload = request(served, "POST", CHAT, many)
    error = error_of(payload)
    assert status == 400 and error["code"] == "too_many_messages"
    assert (
        "6 messages" in error["message"] and "limit of 5 (serve --max-messages)" in error["message"]
    )
    long = json.dumps({"model": MAX, "messages": [user("y" * 60), user("z" * 41)]}).encode()
    status, _, payload = request(served, "POST", CHAT, long)
    error = error_of(payload)
    assert status == 400 and error["code"] == "too_many_characters"
    assert "101 characters" in error["message"] and "(serve --max-chars)" in error["message"]
    # At the limits: answered.
    ok = json.dumps({"model": MAX, "messages": [user("y" * 50)] * 2}).encode()
    assert request(served, "POST", CHAT, ok)[0] == 200


def test_the_limits_are_in_serve_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qwen_spaces", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    text = " ".join(done.stdout.split())
    assert done.returncode == 0
    for words in (
        "--max-messages N",
        "(default 1000)",
        "--max-chars N",
        "each model's context at 4 characters a token: 4040000 for qwen-2.5-1m, 131072 for "
        "qwen-2.5-max",
        "--max-body BYTES",
        "17.2 MB with qwen-2.5-1m",
        "--idle-timeout S",
        "--body-timeout S",
        "--allowed-host",
        "--allow-origin",
    ):
        assert words in text, words


def test_the_concurrency_slot_is_taken_before_the_body_is_read() -> None:
    slow = " ".join(f"w{i}" for i in range(100))
    with (
        FakeSpace(answer=slow, delay=0.05) as fake,
        Serve(
            "--api-key",
            KEY,
            "--concurrency",
            "1",
            "--queue-wait",
            "0",
            "--max-messages",
            "5",
            *space_args([(MAX, fake.url)]),
        ) as serve,
    ):
        with socket.create_connection(("127.0.0.1", port_of(serve)), timeout=20) as busy:
            body = json.dumps({"model": MAX, "stream": True, "messages": [user("hi")]}).encode()
            busy.sendall(
                f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            seen = b""
            while b"data: {" not in seen:  # streaming: the one slot is taken
                seen += busy.recv(65536)
                assert seen.startswith(b"HTTP/1.1 200")
            # A body over the limit, and one not JSON at all, are not even read: the busy
            # server says so first.
            for bad in (
                json.dumps({"model": MAX, "messages": [user("x")] * 50}).encode(),
                b"[" * 100_000,
            ):
                status, _, payload = request(serve, "POST", CHAT, bad)
                assert status == 429 and error_of(payload)["code"] == "server_busy"


# --- 4: the key never reaches a log ----------------------------------------------------------


MALFORMED = {
    "control byte after the key": f"Authorization: Bearer {KEY}\x01".encode(),
    "space before the colon": f"Authorization : Bearer {KEY}".encode(),
    "a 9 KB value": f"Authorization: Bearer {KEY}".encode() + b"A" * 9000,
    "basic scheme, control byte": f"Authorization: Basic {KEY}\x7f".encode(),
    "key in another header": f"X-Api-Key: {KEY}\x00".encode(),
}


def test_malformed_authorization_lines_log_one_short_line_without_the_key() -> None:
    with FakeSpace() as fake, Serve("--api-key", KEY, *space_args([(MAX, fake.url)])) as serve:
        for line in MALFORMED.values():
            answer = exchange(
                serve, b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n" + line + b"\r\n\r\n"
            )
            assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]
        # The server still answers, and a good request's log line is there too.
        assert request(serve, "GET", "/v1/models")[0] == 200
        serve.stop()
    log = serve.stderr
    assert KEY not in log and KEY[:12] not in log
    assert "Traceback" not in log and "b'" not in log
    refused = [line for line in log.splitlines() if "Error handling request" in line]
    assert len(refused) == len(MALFORMED), log
    for line in refused:
        assert len(line) < 200 and " WARNING " in line and "400" in line, line
    assert "GET /v1/models 200" in log


def test_redaction_covers_aiohttp_and_asyncio_loggers_in_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from qwen_spaces._server.logs import install, uninstall

    found = install([KEY, "hf_abcdefghijklmnop"])
    try:
        with caplog.at_level(logging.INFO):
            for name in ("aiohttp.server", "aiohttp.access", "asyncio", "qwen_spaces.server.http"):
                logging.getLogger(name).info(
                    "seen %s and Bearer other-secret-1 and hf_abcdefghijklmnop", KEY
                )
            try:
                raise RuntimeError(f"boom Authorization: Token {KEY}")
            except RuntimeError:
                logging.getLogger("aiohttp.web").exception("failed")
    finally:
        uninstall(found)
    text = caplog.text
    assert KEY not in text and "other-secret-1" not in text and "hf_abcdefghijklmnop" not in text
    assert text.count("Bearer ***") == 4 and "Authorization: ***" in text


# --- 5: a server without a key, and web pages ------------------------------------------------


@pytest.fixture(scope="module")
def keyless(space: FakeSpace) -> Iterator[Serve]:
    with Serve(
        "--allowed-host",
        "models.internal",
        "--allow-origin",
        "https://app.example",
        *space_args([(MAX, space.url)]),
    ) as serve:
        yield serve


HELLO = json.dumps({"model": MAX, "messages": [user("hello")]}).encode()


def test_without_a_key_only_its_own_host_names_are_answered(keyless: Serve) -> None:
    port = port_of(keyless)
    for host in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        f"LOCALHOST:{port}",
        "models.internal",
        f"models.internal:{port + 1}",
    ):
        assert request(keyless, "GET", "/v1/models", key=None, host=host)[0] == 200, host
    for host in (
        f"evil.example:{port}",
        "attacker.test",
        f"127.0.0.1:{port + 1}",
        f"localhost.evil.example:{port}",
        "127.0.0.1",
        "",
    ):
        status, _, payload = request(keyless, "POST", CHAT, HELLO, key=None, host=host)
        assert status == 403, host
        error = error_of(payload)
        assert error["code"] == "host_not_allowed" and "--allowed-host" in error["message"]


def test_without_a_key_a_post_must_be_json(keyless: Serve) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        status, _, payload = request(
            keyless, "POST", CHAT, HELLO, key=None, content_type=content_type
        )
        assert status == 415, content_type
        assert "Content-Type: application/json" in error_of(payload)["message"]
    status, _, payload = request(
        keyless, "POST", CHAT, HELLO, key=None, content_type="application/json; charset=utf-8"
    )
    assert status == 200


def test_without_a_key_a_foreign_origin_is_refused_and_an_allowed_one_gets_cors(
    keyless: Serve,
) -> None:
    port = port_of(keyless)
    for origin in ("https://evil.example", "null", "http://localhost:3000"):
        status, headers, payload = request(
            keyless, "POST", CHAT, HELLO, key=None, headers={"Origin": origin}
        )
        assert status == 403, origin
        assert error_of(payload)["code"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in headers
    status, headers, payload = request(
        keyless, "POST", CHAT, HELLO, key=None, headers={"Origin": "https://app.example"}
    )
    assert status == 200 and headers["access-control-allow-origin"] == "https://app.example"
    assert (
        request(
            keyless, "GET", "/v1/models", key=None, headers={"Origin": f"http://127.0.0.1:{port}"}
        )[0]
        == 200
    )
    # The browser's preflight for a JSON POST from the allowed page.
    status, headers, _ = request(
        keyless,
        "OPTIONS",
        CHAT,
        key=None,
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert status == 204 and "POST" in headers["access-control-allow-methods"]
    assert "Content-Type" in headers["access-control-allow-headers"]
    # A streamed answer carries the header too.
    stream = json.dumps({"model": MAX, "stream": True, "messages": [user("s")]}).encode()
    status, headers, payload = request(
        keyless, "POST", CHAT, stream, key=None, headers={"Origin": "https://app.example"}
    )
    assert status == 200 and headers["access-control-allow-origin"] == "https://app.example"
    assert payload.endswith(b"data: [DONE]\n\n")


def test_without_a_key_openai_python_and_langchain_still_work(keyless: Serve) -> None:
    created, streamed = run_client(
        "openai_calls",
        base_url=keyless.base_url,
        api_key="unused",
        model=MAX,
        calls=[
            {"kind": "sync_create", "messages": [user("one")]},
            {"kind": "async_stream", "messages": [user("two")]},
        ],
    )
    assert created["text"] == "You said: one (turn 1)"
    assert streamed["text"] == "You said: two (turn 1)"
    chain = run_client(
        "langchain_calls",
        base_url=keyless.base_url,
        api_key="unused",
        model=MAX,
        messages=[user("three")],
    )
    assert chain["invoke"] == chain["stream"] == "You said: three (turn 1)"


# --- 6: idle and half-sent connections -------------------------------------------------------


def closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``sock`` (reading whatever it sends first)."""
    started = time.monotonic()
    sock.settimeout(limit)
    while sock.recv(65536):
        pass
    return time.monotonic() - started


def test_idle_and_half_sent_connections_are_closed_within_the_bound() -> None:
    slow = " ".join(f"w{i}" for i in range(40))
    with (
        FakeSpace(answer=lambda q, turns, system: slow if q == "slow" else q, delay=0.06) as fake,
        Serve(
            "--api-key",
            KEY,
            "--idle-timeout",
            "1",
            "--body-timeout",
            "1",
            *space_args([(MAX, fake.url)]),
        ) as serve,
    ):
        address = ("127.0.0.1", port_of(serve))
        with socket.create_connection(address) as idle, socket.create_connection(address) as half:
            half.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthor".encode())
            assert closed_after(idle, 10) < 4
            assert closed_after(half, 10) < 4
        # Kept alive after an answer, then closed when idle.
        with socket.create_connection(address) as kept:
            kept.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            kept.settimeout(10)
            assert b" 200 " in kept.recv(65536)
            assert closed_after(kept, 10) < 4
        # Headers whole, half a body: a 408 within the body timeout.
        with socket.create_connection(address) as body:
            started = time.monotonic()
            body.sendall(
                f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}"
                '\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"mo'.encode()
            )
            body.settimeout(10)
            answer = body.recv(65536)
            assert b" 408 " in answer.split(b"\r\n")[0] and time.monotonic() - started < 4
            assert b"did not arrive within 1 s" in answer
        # An answer streaming for longer than the idle timeout is not cut.
        started = time.monotonic()
        stream = json.dumps({"model": MAX, "stream": True, "messages": [user("slow")]}).encode()
        status, _, payload = request(serve, "POST", CHAT, stream)
        assert status == 200 and payload.endswith(b"data: [DONE]\n\n")
        assert time.monotonic() - started > 2


# --- 10: file parts, in the request's words ----------------------------------------------------


def file_part(name: str, data: bytes) -> dict[str, Any]:
    encoded = base64.b64encode(data).decode()
    return {
        "type": "file",
        "file": {"filename": name, "file_data": f"data:text/plain;base64,{encoded}"},
    }


def test_file_parts_errors_speak_of_the_request() -> None:
    with (
        FakeSpace() as fake,
        FakeSpace(layout="1m") as onem,
        Serve("--api-key", KEY, *space_args([(MAX, fake.url), (ONEM, onem.url)])) as serve,
    ):
        to_max = {
            "model": MAX,
            "messages": [
                user("hi"),
                {"role": "assistant", "content": "yo"},
                user([{"type": "text", "text": "read"}, file_part("a.txt", b"a")]),
            ],
        }
        status, _, payload = request(serve, "POST", CHAT, json.dumps(to_max).encode())
        error = error_of(payload)
        assert status == 400 and error["param"] == "messages[2].content[1]"
        assert error["message"] == (
            "messages[2].content[1]: file parts work only with model "
            "qwen-2.5-1m; qwen-2.5-max reads text only"
        )
        only_file = {"model": ONEM, "messages": [user([file_part("a.txt", b"a")])]}
        status, _, payload = request(serve, "POST", CHAT, json.dumps(only_file).encode())
        error = error_of(payload)
        assert status == 400 and error["param"] == "messages[0].content"
        assert "has file parts but no text" in error["message"]
        assert "last user message" not in error["message"]
        empty = {
            "model": ONEM,
            "messages": [user("a"), {"role": "assistant", "content": "b"}, user("  ")],
        }
        status, _, payload = request(serve, "POST", CHAT, json.dumps(empty).encode())
        error = error_of(payload)
        assert status == 400 and error["param"] == "messages[2].content"
        assert error["message"].startswith("messages[2].content is empty")


# --- 15: a busy port ---------------------------------------------------------------------------


def test_a_busy_port_is_one_line_suggesting_port_0() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "qwen_spaces",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--space",
                f"{MAX}=http://127.0.0.1:9",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert re.fullmatch(
        rf"qwen-spaces serve: cannot listen on 127\.0\.0\.1:{port}: the port is already in use; "
        r"choose another with --port N, or --port 0 for a free one\n",
        done.stderr,
    ), done.stderr
    assert "http://" not in done.stdout
