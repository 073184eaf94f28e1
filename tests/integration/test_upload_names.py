"""File names that are not UTF-8, sent to the real Gradio 4.44 + modelscope_studio replica.

Sent the way browsers send them (UTF-8, U+FFFD for each undecodable byte),
the real Space takes them and its agent reads the real file, through both
clients. Gradio keeps only letters, digits and a few marks of a file name when
it stores an upload, so the agent sees "caf.txt": what a browser's upload of
the same file gets.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

import qwen_spaces as qs
from tests.support.replicas import fake_model
from tests.support.replicas.launcher import Replica

ONEM = "qwen-2.5-1m"


def chat(mode: str, url: str, files: list[Any]) -> str:
    if mode == "sync":
        with qs.Client(ONEM, base_url=url, timeout=120) as client:
            return client.chat("Read", files=files).text

    async def main() -> str:
        async with qs.AsyncClient(ONEM, base_url=url, timeout=120) as client:
            return (await client.chat("Read", files=files)).text

    return asyncio.run(main())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_non_utf8_file_names_reach_the_real_space(
    onem_g4: Replica, mode: str, tmp_path: Path
) -> None:
    latin1 = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(latin1, "wb") as out:
        out.write(b"menu\n")
    files: list[Any] = [os.fsdecode(latin1), (b"r\xe9sum\xe9.md", b"cv\n")]
    facts = [
        fake_model.file_fact("caf.txt", b"menu\n"),
        fake_model.file_fact("rsum.md", b"cv\n"),
    ]
    expected = fake_model.expected_answer(
        fake_model.with_files("Read", facts), 0, fake_model.ONEM_SYSTEM
    )
    assert chat(mode, onem_g4.url, files) == expected
