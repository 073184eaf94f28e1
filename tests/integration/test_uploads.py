"""Documents for the 1M model (``files=``) against the real Gradio 4.44 + modelscope_studio replica.

The replica's agent reads each file from the path Qwen-Agent's ``add_text``
put into the user turn and answers with its name, byte length and sha256, so
an exact answer proves the bytes arrived intact. Every scenario runs through
both clients; the table is written where QWEN_SPACES_UPLOAD_TABLE points.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qwen_spaces as qs
from tests.support.replicas import fake_model
from tests.support.replicas.launcher import Replica

ONEM = "qwen-2.5-1m"
TIMEOUT = 120.0
ROWS: dict[str, dict[str, str]] = {}

# The smallest well-formed PDF: one empty page.
TINY_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n"
    b"0000000101 00000 n \ntrailer<</Size 4/Root 1 0 R>>\nstartxref\n164\n%%EOF\n"
)


def fact(name: str, data: bytes) -> str:
    return fake_model.file_fact(name, data)


def answer(query: str, facts: list[str], turns: int = 0) -> str:
    return fake_model.expected_answer(
        fake_model.with_files(query, facts), turns, fake_model.ONEM_SYSTEM
    )


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A 50 MB file of varied bytes, and what the agent should say of it."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(50):
            chunk = bytes([i]) + block[1:]
            f.write(chunk)
            digest.update(chunk)
    yield path, f"big.bin ({50 << 20} bytes, sha256 {digest.hexdigest()})"


def run(mode: str, url: str, turns: list[tuple[str, list[Any]]]) -> list[str]:
    """The answers to a conversation's turns, each sent with its files."""
    if mode == "sync":
        with qs.Client(ONEM, base_url=url, timeout=TIMEOUT) as client:
            conv = client.conversation()
            return [conv.send(text, files=files).text for text, files in turns]

    async def main() -> list[str]:
        async with qs.AsyncClient(ONEM, base_url=url, timeout=TIMEOUT) as client:
            conv = client.conversation()
            return [(await conv.send(text, files=files)).text for text, files in turns]

    return asyncio.run(main())


def record(scenario: str, mode: str, ok: bool, seconds: float) -> None:
    ROWS.setdefault(scenario, {})[mode] = f"{'exact' if ok else 'WRONG'} in {seconds:.1f} s"
    out = os.environ.get("QWEN_SPACES_UPLOAD_TABLE")
    if out:
        lines = ["| scenario | sync | async |", "|---|---|---|"]
        lines += [f"| {s} | {r.get('sync', '')} | {r.get('async', '')} |" for s, r in ROWS.items()]
        Path(out).write_text("\n".join(lines) + "\n")


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def check(
    scenario: str, mode: str, url: str, turns: list[tuple[str, list[Any]]], expected: list[str]
) -> None:
    started = time.monotonic()
    got = run(mode, url, turns)
    record(scenario, mode, got == expected, time.monotonic() - started)
    assert got == expected


def test_one_text_file(onem_g4: Replica, mode: str, tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"Quarterly report\nrevenue up\n")
    expected = [answer("Summarise", [fact("report.txt", path.read_bytes())])]
    check("one text file (a path)", mode, onem_g4.url, [("Summarise", [path])], expected)


def test_two_files(onem_g4: Replica, mode: str, tmp_path: Path) -> None:
    a, b = b"alpha\n" * 100, b"beta\n" * 50
    (tmp_path / "a.txt").write_bytes(a)
    files: list[Any] = [str(tmp_path / "a.txt"), ("b.md", b)]
    expected = [answer("Compare these", [fact("a.txt", a), fact("b.md", b)])]
    check("two files (a path and bytes)", mode, onem_g4.url, [("Compare these", files)], expected)


def test_binary_pdf(onem_g4: Replica, mode: str) -> None:
    files: list[Any] = [("tiny.pdf", io.BytesIO(TINY_PDF))]
    expected = [answer("What is in it?", [fact("tiny.pdf", TINY_PDF)])]
    check("a small PDF (a file object)", mode, onem_g4.url, [("What is in it?", files)], expected)


def test_non_ascii_file_name(onem_g4: Replica, mode: str) -> None:
    data = "Привет, 世界 — café\n".encode()
    files: list[Any] = [("отчёт café 世界.txt", data)]
    expected = [answer("Read", [fact("отчёт café 世界.txt", data)])]
    check("a non-ASCII file name", mode, onem_g4.url, [("Read", files)], expected)


@pytest.mark.timeout(300)
def test_a_50_mb_file(onem_g4: Replica, mode: str, big_file: tuple[Path, str]) -> None:
    path, what = big_file
    expected = [answer("How big?", [what])]
    check("a 50 MB file", mode, onem_g4.url, [("How big?", [path])], expected)


def test_files_on_a_follow_up_turn(onem_g4: Replica, mode: str) -> None:
    first, second = b"first file\n", b"second file\n"
    turns: list[tuple[str, list[Any]]] = [
        ("Start", [("one.txt", first)]),
        ("No file now", []),
        ("And this one", [("two.txt", second)]),
    ]
    expected = [
        answer("Start", [fact("one.txt", first)], 0),
        answer("No file now", [], 1),
        answer("And this one", [fact("two.txt", second)], 2),
    ]
    check("files on follow-up turns (session kept)", mode, onem_g4.url, turns, expected)


def test_the_max_model_takes_no_files(max_g5: Replica, mode: str) -> None:
    with pytest.raises(ValueError, match="takes no files"):
        run_max(mode, max_g5.url)


def run_max(mode: str, url: str) -> None:
    if mode == "sync":
        qs.Client("qwen-2.5-max", base_url=url).chat("hi", files=[("a.txt", b"a")])
        return

    async def main() -> None:
        async with qs.AsyncClient("qwen-2.5-max", base_url=url) as client:
            await client.chat("hi", files=[("a.txt", b"a")])

    asyncio.run(main())
