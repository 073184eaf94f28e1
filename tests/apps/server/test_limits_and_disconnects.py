"""``qwen-spaces serve`` (issue 26): default limits that fit each model's context, and clients
that go away mid-body or mid-stream. A real server subprocess, raw sockets."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from qwen_spaces._server.parse import BODY_BYTES_PER_CHAR, BODY_ROOM, CHARS_PER_TOKEN
from qwen_spaces._spaces.spaces import SPACES
from qwen_spaces.testing import FakeSpace
from tests.apps.server.test_hardening import CHAT, MAX, ONEM, error_of, port_of, request, user
from tests.support.server_harness import KEY, Serve, space_args

pytestmark = pytest.mark.timeout(180)

ONEM_CHARS = 1_010_000 * CHARS_PER_TOKEN  # 4,040,000: the 1M model's context in characters
DEFAULT_BODY = ONEM_CHARS * BODY_BYTES_PER_CHAR + BODY_ROOM


def wait_for_log(serve: Serve, pattern: str, count: int, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = serve.log_so_far()
        if len(re.findall(pattern, text)) >= count:
            return text
        time.sleep(0.05)
    raise AssertionError(f"{count} x {pattern!r} not logged within {timeout} s:\n{text}")


# --- default limits: each model's context -------------------------------------------------


def test_default_limits_fit_each_models_context() -> None:
    with (
        FakeSpace() as fake,
        FakeSpace(layout="1m", answer=lambda q, turns, system: f"{len(q)} characters") as onem,
        Serve("--api-key", KEY, *space_args([(MAX, fake.url), (ONEM, onem.url)])) as serve,
    ):
        # Each model's context, in tokens, and the characters a request may hold.
        status, _, payload = request(serve, "GET", "/v1/models")
        models = {m["id"]: m for m in json.loads(payload)["data"]}
        assert status == 200 and set(models) == {MAX, ONEM}
        assert models[ONEM]["context_length"] == 1_010_000
        assert models[ONEM]["max_chars"] == ONEM_CHARS
        assert models[MAX]["context_length"] == 32_768
        assert models[MAX]["max_chars"] == 32_768 * CHARS_PER_TOKEN

        # A prompt of the 1M model's whole context goes through, by default.
        prompt = ("The quick brown fox, naïve café ☕ 你好.\n" * 110_000)[:ONEM_CHARS]
        body = json.dumps({"model": ONEM, "messages": [user(prompt)]}).encode()
        status, _, payload = request(serve, "POST", CHAT, body)
        assert status == 200, payload[:500]
        answer = json.loads(payload)["choices"][0]["message"]["content"]
        assert answer == f"{ONEM_CHARS} characters"

        # One character more is a 400 naming the field and the model's limit.
        body = json.dumps({"model": ONEM, "messages": [user(prompt + "!")]}).encode()
        status, _, payload = request(serve, "POST", CHAT, body)
        error = error_of(payload)
        assert status == 400 and error["param"] == "messages"
        assert error["code"] == "too_many_characters"
        assert error["message"] == (
            "the messages hold 4,040,001 characters of text, over the limit of 4,040,000 for "
            "qwen-2.5-1m: its context of 1,010,000 tokens at about 4 characters a token "
            "(serve --max-chars sets another)"
        )

        # The same prompt to a 32k model: a 400 with that model's limit.
        body = json.dumps({"model": MAX, "messages": [user(prompt)]}).encode()
        status, _, payload = request(serve, "POST", CHAT, body)
        error = error_of(payload)
        assert status == 400 and error["param"] == "messages"
        assert "over the limit of 131,072 for qwen-2.5-max" in error["message"]
        assert "its context of 32,768 tokens" in error["message"]

        # The body limit admits the largest model's prompt, at 4 bytes a character, and
        # no more: a larger body is refused from its Content-Length, unread.
        head = (
            f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n"
            f"Content-Length: {DEFAULT_BODY + 1}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port_of(serve)), timeout=20) as sock:
            sock.sendall(head.encode())
            # Read the answer alone: the server lingers a while for the body it refused.
            answer_bytes = b""
            while b"}}" not in answer_bytes:
                chunk = sock.recv(65536)
                assert chunk, answer_bytes
                answer_bytes += chunk
        assert answer_bytes.startswith(b"HTTP/1.1 413 ")
        assert f"limit of {DEFAULT_BODY} bytes".encode() in answer_bytes
        serve.stop()
    assert "Traceback" not in serve.stderr


def test_the_registry_gives_every_model_a_context() -> None:
    for spec in SPACES:
        assert spec.context_length >= 32_768, spec.model
    by_model = {spec.model: spec.context_length for spec in SPACES}
    assert by_model["qwen-2.5-1m"] == 1_010_000
    assert by_model["qwen-3-0.6b"] == by_model["qwen-3-1.7b"] == 32_768
    assert by_model["qwen-3-4b"] == by_model["qwen-3-235b"] == 131_072


def test_the_body_limit_follows_the_largest_model_served() -> None:
    from qwen_spaces._server.parse import Limits

    assert Limits().body_for([MAX]) == 131_072 * 4 + (1 << 20)
    assert Limits().body_for([MAX, ONEM, "qwen-3-8b"]) == DEFAULT_BODY == 17_208_576
    assert Limits(chars=1000).body_for([ONEM]) == 4000 + (1 << 20)
    # A prompt of a whole context fits however the client encodes it: English in any JSON,
    # CJK escaped as \uXXXX (6 bytes a character, about 1.5 characters a token).
    assert 1_010_000 * 1.5 * 6 < DEFAULT_BODY


def test_with_max_chars_given_it_applies_to_every_model() -> None:
    with (
        FakeSpace() as fake,
        Serve("--api-key", KEY, "--max-chars", "10", *space_args([(MAX, fake.url)])) as serve,
    ):
        status, _, payload = request(serve, "GET", "/v1/models")
        assert json.loads(payload)["data"][0]["max_chars"] == 10
        body = json.dumps({"model": MAX, "messages": [user("x" * 11)]}).encode()
        status, _, payload = request(serve, "POST", CHAT, body)
        assert status == 400
        assert error_of(payload)["message"] == (
            "the messages hold 11 characters of text, over this server's limit of 10 "
            "(serve --max-chars)"
        )


# --- clients that go away -------------------------------------------------------------------


LONG = " ".join(f"w{i}" for i in range(400))


def long_for_hi(query: str, turns: int, system: str) -> str:
    return LONG if query == "hi" else f"You said: {query}"


def test_clients_that_go_away_are_one_info_line_each_and_499() -> None:
    with (
        FakeSpace(answer=long_for_hi, delay=0.05) as fake,
        Serve("--api-key", KEY, *space_args([(MAX, fake.url)])) as serve,
    ):
        address = ("127.0.0.1", port_of(serve))
        head = (
            f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        ).encode()
        # Five clients promise 100,000 bytes, send 30 and close.
        for _ in range(5):
            with socket.create_connection(address, timeout=10) as sock:
                sock.sendall(head + json.dumps({"model": MAX, "messages": []}).encode()[:30])
        wait_for_log(serve, r" 499 ", 5)
        # One closes mid-stream, after the first words of the answer.
        body = json.dumps({"model": MAX, "stream": True, "messages": [user("hi")]}).encode()
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(head.replace(b"100000", str(len(body)).encode()) + body)
            seen = b""
            while b'"content":"w' not in seen:
                part = sock.recv(65536)
                assert part, seen
                seen += part
            assert seen.startswith(b"HTTP/1.1 200 ")
        wait_for_log(serve, r" 499 ", 6)
        deadline = time.monotonic() + 10
        while not fake.cancels and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(fake.cancels) == 1  # the answer was cancelled on the Space
        # The server goes on.
        ok = json.dumps({"model": MAX, "messages": [user("next")]}).encode()
        assert request(serve, "POST", CHAT, ok)[0] == 200
        serve.stop()
    lines = serve.stderr.splitlines()
    assert "Traceback" not in serve.stderr and "unexpected error" not in serve.stderr
    assert all(" INFO " in line for line in lines), serve.stderr
    assert sum(f"POST {CHAT} 499 " in line for line in lines) == 6, serve.stderr
    assert (
        sum(
            line.endswith("(the client went away before its request body was complete)")
            for line in lines
        )
        == 5
    )
    assert (
        sum(
            line.endswith("model=qwen-2.5-max stream=true (the client went away during the stream)")
            for line in lines
        )
        == 1
    )
    # One line per request: the six that went away, the one answered, and the shutdown.
    assert len(lines) == 8, serve.stderr
    assert " 500 " not in serve.stderr
