"""``qwen-spaces chat`` driven through a pseudo-terminal (pexpect), as a person would."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qwen_spaces.testing import FakeSpace
from tests.support.cli_runs import ROOT, child_env, default_sigint
from tests.support.waiting import wait_until

pexpect = pytest.importorskip("pexpect")

pytestmark = pytest.mark.timeout(20)

PROMPT = "you> "
Child = Any  # a pexpect.spawn: pexpect has no type hints


def answer(query: str, turns: int, system: str) -> str:
    if query.startswith("slow"):
        return "slow " * 400  # 0.02 s a 3-character update: about 13 s in all
    return f"[{system}] {query} (turn {turns + 1})"


@pytest.fixture
def space() -> Iterator[FakeSpace]:
    with FakeSpace(answer=answer, delay=0.02) as space:
        yield space


def spawn(space: FakeSpace, home: Path, *args: str) -> Child:
    env = child_env(home)
    env["TERM"] = "dumb"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "qwen_spaces", "chat", "--base-url", space.url, *args],
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=10,
        dimensions=(24, 200),
        preexec_fn=default_sigint,
    )
    child.expect_exact(PROMPT)
    return child


def say(child: Child, line: str, *expected: str) -> None:
    child.sendline(line)
    for text in expected:
        child.expect_exact(text)
    child.expect_exact(PROMPT)


def leave(child: Child) -> int:
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus)


def test_conversation_save_reset_load(space: FakeSpace, home: Path, tmp_path: Path) -> None:
    saved = tmp_path / "conv.json"
    child = spawn(space, home, "--system", "Be brief.")
    say(child, "hello", "[Be brief.] hello (turn 1)")
    say(child, "again", "[Be brief.] again (turn 2)")
    say(child, f"/save {saved}", f"(saved 5 messages to {saved})")
    say(child, "/reset", "(conversation reset)")
    say(child, "fresh", "[Be brief.] fresh (turn 1)")
    say(child, f"/load {saved}", "(loaded 5 messages, model qwen-2.5-max)")
    say(child, "more", "[Be brief.] more (turn 3)")  # the saved history went to the Space
    say(child, "/system Answer in French.", "(new conversation with this system prompt)")
    say(child, "/system", "Answer in French.")
    say(child, "bonjour", "[Answer in French.] bonjour (turn 1)")
    say(child, "//literal", "] /literal (turn 2)")
    say(child, "/help", "/save FILE", "/load FILE")
    say(child, "/nope", "unknown command /nope")
    say(child, f"/load {tmp_path / 'missing.json'}", "error: cannot load")
    assert leave(child) == 0

    conversation = json.loads(saved.read_text())
    assert conversation["model"] == "qwen-2.5-max"
    assert len(conversation["session_hash"]) == 12
    assert conversation["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "[Be brief.] hello (turn 1)"},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "[Be brief.] again (turn 2)"},
    ]
    # readline kept the history, for the next session's up arrow
    assert "/save " in (home / ".qwen_spaces_history").read_text()


def test_ctrl_c_stops_the_answer_and_cancels_it(space: FakeSpace, home: Path) -> None:
    child = spawn(space, home)
    say(child, "first", "first (turn 1)")
    child.sendline("slow please")
    child.expect_exact("slow slow slow")
    child.sendintr()
    child.expect_exact("[stopped; this turn is not kept]")
    child.expect_exact(PROMPT)
    wait_until(lambda: len(space.cancels) == 1, what="the cancel on the Space")
    say(child, "second", "second (turn 2)")  # the stopped turn is not in the history
    child.sendintr()  # at the prompt: a fresh line, not the end
    child.expect_exact(PROMPT)
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert len(space.cancels) == 1


def test_history_file_under_xdg_state_home(space: FakeSpace, home: Path, tmp_path: Path) -> None:
    env_home = tmp_path / "state"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "qwen_spaces", "chat", "--base-url", space.url],
        env={**child_env(home), "XDG_STATE_HOME": str(env_home), "TERM": "dumb"},
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=10,
        preexec_fn=default_sigint,
    )
    child.expect_exact(PROMPT)
    say(child, "remember me", "remember me (turn 1)")
    assert leave(child) == 0
    assert "remember me" in (env_home / "qwen_spaces" / "history").read_text()


def test_file_attaches_a_document_to_the_next_message(home: Path, tmp_path: Path) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_bytes(b"twelve bytes")
    with FakeSpace(layout="1m", answer=answer, delay=0.01) as space:
        child = spawn(space, home, "--model", "qwen-2.5-1m")
        say(child, f"/file {tmp_path / 'missing.txt'}", "cannot read")
        say(child, f"/file {doc}", "(attached")
        say(child, "/file", f"(attached: {doc})")
        say(child, "Read it", "Read it [files: notes.txt (12 bytes, sha256 ", "(turn 1)")
        say(child, "And now?", "And now? (turn 2)")  # the file went with one message only
        assert leave(child) == 0
        uploads = space.stats()["uploads"]
    assert uploads == 1


def test_file_on_a_model_without_files_is_refused_and_clear_drops_attachments(
    space: FakeSpace, home: Path, tmp_path: Path
) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_text("x")
    child = spawn(space, home)  # qwen-2.5-max
    say(child, f"/file {doc}", "reads no files; /file needs -m qwen-2.5-1m")
    say(child, "/file", "(attached: nothing)")
    say(child, "Hello", "Hello (turn 1)")  # nothing stuck
    say(child, "/file clear", "(attachments cleared)")
    assert leave(child) == 0


def test_save_into_a_missing_directory_says_so(
    space: FakeSpace, home: Path, tmp_path: Path
) -> None:
    target = tmp_path / "no" / "such" / "conv.json"
    child = spawn(space, home)
    say(child, "hello", "hello (turn 1)")
    child.sendline(f"/save {target}")
    child.expect_exact(
        f"error: cannot save to {target}: the directory {target.parent} does not exist"
    )
    child.expect_exact(PROMPT)
    assert ".tmp" not in (child.before or "")  # never the temporary file's name
    say(child, f"/save {tmp_path}", f"error: cannot save to {tmp_path}: Is a directory")
    assert leave(child) == 0
    assert not target.parent.exists() and list(tmp_path.glob(".*.tmp")) == []


def test_file_errors_speak_of_the_file_command(home: Path, tmp_path: Path) -> None:
    with FakeSpace(layout="1m", answer=answer, delay=0.01) as space:
        child = spawn(space, home, "--model", "qwen-2.5-1m")
        missing = tmp_path / "q1.pdf"
        say(child, f"/file {missing}", f"error: /file {missing}: cannot read it: No such file")
        say(child, f"/file {tmp_path}", f"error: /file {tmp_path}: cannot read it: Is a directory")
        assert leave(child) == 0


@pytest.mark.parametrize("errors", ["default", "strict"])
def test_a_line_that_is_not_utf8_is_refused_without_a_traceback(
    space: FakeSpace, errors: str
) -> None:
    # A Latin-1 "café" on a pipe: Python keeps the byte as an escape (then the
    # session goes on), or, with stdin decoded strictly, cannot decode the line.
    env = child_env()
    if errors == "strict":
        env["PYTHONIOENCODING"] = "utf-8:strict"
    done = subprocess.run(
        [sys.executable, "-m", "qwen_spaces", "chat", "--base-url", space.url],
        input=b"caf\xe9\n" + "café\n".encode(),
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=15,
    )
    err = done.stderr.decode()
    assert done.returncode == 0 and err.count("\n") == 1 and "Traceback" not in err
    if errors == "default":
        assert err == "error: that line is not UTF-8 text (byte 0xe9 at index 3)\n"
        assert "] café (turn 1)" in done.stdout.decode()  # the next line was answered
        assert space.stats()["joins"] == 1
    else:
        assert err == "error: that line is not UTF-8 text (invalid continuation byte)\n"
        assert space.stats()["joins"] == 0
