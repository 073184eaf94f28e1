"""A long-context prompt through ``qwen-spaces serve`` with its default limits (issue 26).

A 3 MB user message (about 750k tokens, within the 1M model's context) is
streamed through the server to the 1M replica (Gradio 4): it must get the
exact answer, and the server's memory must stay bounded: its peak resident
set (``VmHWM``) is reported and asserted on.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.replicas import fake_model
from tests.support.replicas.launcher import Replica
from tests.support.server_harness import KEY, Serve, space_args

pytestmark = pytest.mark.timeout(300)

ONEM = "qwen-2.5-1m"
MB = 1_000_000

#: The server's peak RSS may grow by at most this much for one 3 MB prompt. Measured: 42 MB
#: (the body, its JSON, the payloads to the Space and the Space's echoes of the chatbot
#: holding the prompt); the bound leaves almost 3x headroom.
PEAK_GROWTH_LIMIT = 120 * MB


def long_prompt(size: int) -> str:
    """``size`` bytes of UTF-8 text: numbered words with some non-ASCII in every line."""
    lines, total, i = [], 0, 0
    while total < size:
        line = f"line {i}: " + " ".join(f"w{i}_{k}" for k in range(12)) + " naïve ☕ 你好\n"
        lines.append(line)
        total += len(line.encode("utf-8"))
        i += 1
    return "".join(lines).encode("utf-8")[:size].decode("utf-8", "ignore")


def kib(status: str, field: str) -> int:
    """A ``kB`` field of /proc/PID/status, in bytes."""
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc status")


def stream_text(url: str, body: bytes) -> tuple[int, str, list[dict[str, Any]]]:
    """POST a streamed chat request: (status, the content joined, the chunks)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=240)
    try:
        conn.request(
            "POST",
            "/v1/chat/completions",
            body=body,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        if response.status != 200:
            return response.status, response.read().decode("utf-8", "replace"), []
        chunks: list[dict[str, Any]] = []
        for raw in response:
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunks.append(json.loads(line.removeprefix("data: ")))
        text = "".join(
            c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
        )
        return response.status, text, chunks
    finally:
        conn.close()


def test_a_3mb_prompt_streams_through_serve_to_the_1m_replica_by_default(
    onem_g4: Replica, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = long_prompt(3 * MB)
    assert len(prompt.encode("utf-8")) >= 3 * MB - 4 and len(prompt) > fake_model.LONG_QUERY
    # As json.dumps sends it by default: non-ASCII escaped (6 bytes a character).
    body = json.dumps(
        {"model": ONEM, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    )
    with Serve("--api-key", KEY, *space_args([(ONEM, onem_g4.url)])) as serve:
        proc = Path(f"/proc/{serve.process.pid}/status")
        before = kib(proc.read_text(), "VmHWM")
        started = time.monotonic()
        status, text, chunks = stream_text(serve.url, body.encode("ascii"))
        seconds = time.monotonic() - started
        peak = kib(proc.read_text(), "VmHWM")
        serve.stop()
    assert status == 200, text[:2000]
    assert text == fake_model.expected_answer(prompt, 0, fake_model.ONEM_SYSTEM)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    log = serve.stderr
    assert "Traceback" not in log and " ERROR " not in log
    assert "POST /v1/chat/completions 200" in log
    with capsys.disabled():
        print(
            f"\n3 MB prompt ({len(prompt):,} characters, body {len(body) / MB:.1f} MB) through "
            f"serve: {seconds:.2f} s; serve's peak RSS {before / MB:.0f} MB before, "
            f"{peak / MB:.0f} MB after (+{(peak - before) / MB:.0f} MB)"
        )
    assert peak - before < PEAK_GROWTH_LIMIT, (before, peak)
