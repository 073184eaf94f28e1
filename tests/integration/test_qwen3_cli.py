"""``qwen-spaces`` with a Qwen3 model, against the real-Gradio replica of the Qwen3 demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from qwen_spaces._gradio.payloads import flatten
from tests.support.cli_runs import ROOT, child_env, default_sigint
from tests.support.replicas import fake_qwen3 as fq
from tests.support.replicas.launcher import Replica

QUERY = "Laugh: ha ha — café ☕?"


def ask(replica: Replica, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qwen_spaces", "ask", QUERY, "--base-url", replica.url, *args],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=str(ROOT),
        timeout=120,
        preexec_fn=default_sigint,
    )


def test_ask_into_a_pipe_prints_the_answer_alone(qwen3_g527: Replica) -> None:
    result = ask(qwen3_g527, "-m", "qwen-3-32b", "--thinking-budget", "2048")
    assert result.returncode == 0, result.stderr
    expected = fq.expected_answer(QUERY, "qwen3-32b", 2, True, fq.NO_SYSTEM, 0)
    assert result.stdout == expected + "\n"
    assert "hmm" not in result.stdout + result.stderr  # the reasoning: not into a pipe


def test_ask_no_think_and_json(qwen3_g527: Replica) -> None:
    result = ask(qwen3_g527, "-m", "qwen3-8b", "--no-think", "--json", "-s", "Be brief.")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    opening = flatten(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUERY}]
    )
    assert answer["text"] == fq.expected_answer(opening, "qwen3-8b", 38, False, fq.NO_SYSTEM, 0)
    assert answer["reasoning"] == "" and answer["thinking_seconds"] is None
    assert answer["model"] == "qwen-3-8b"
    thinking = json.loads(ask(qwen3_g527, "-m", "qwen-3-4b", "--json").stdout)
    assert thinking["reasoning"] == fq.expected_reasoning(QUERY, "qwen3-4b", 38, fq.NO_SYSTEM, 0)
    assert thinking["thinking_seconds"] >= 0


def test_ask_on_a_terminal_shows_the_reasoning_dimmed_on_stderr(
    qwen3_g527: Replica, tmp_path: Path
) -> None:
    command = [
        sys.executable,
        "-m",
        "qwen_spaces",
        "ask",
        QUERY,
        "-m",
        "qwen-3-0.6b",
        "--base-url",
        qwen3_g527.url,
    ]
    # stderr on a terminal, stdout into a pipe: the answer alone on stdout.
    target = tmp_path / "out.txt"
    script = " ".join(f"'{c}'" for c in command) + f" > '{target}'"
    child = pexpect.spawn(
        "/bin/sh",
        ["-c", script],
        env=child_env(),
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=120,
        preexec_fn=default_sigint,
    )
    child.expect(pexpect.EOF)
    child.close()
    out = target.read_text(encoding="utf-8")
    reasoning = fq.expected_reasoning(QUERY, "qwen3-0.6b", 38, fq.NO_SYSTEM, 0)
    assert child.exitstatus == 0
    assert "\x1b[2m" + reasoning in child.before.replace("\r\n", "\n")
    assert out == fq.expected_answer(QUERY, "qwen3-0.6b", 38, True, fq.NO_SYSTEM, 0) + "\n"


def test_chat_think_off_holds_for_the_next_turns(qwen3_g527: Replica, tmp_path: Path) -> None:
    env = child_env(tmp_path)
    env["TERM"] = "dumb"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "qwen_spaces", "chat", "-m", "qwen-3-14b", "--base-url", qwen3_g527.url],
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=120,
        dimensions=(24, 400),
        preexec_fn=default_sigint,
    )
    child.expect_exact("you> ")
    child.sendline("/think off")
    child.expect_exact("(thinking off from the next message)")
    child.expect_exact("you> ")
    for turn, query in enumerate(("Hi", "Again, ha!")):
        child.sendline(query)
        child.expect_exact(fq.expected_answer(query, "qwen3-14b", 38, False, fq.NO_SYSTEM, turn))
        child.expect_exact("you> ")
    child.sendline("/think")
    child.expect_exact("thinking: off")
    child.sendeof()
    child.expect(pexpect.EOF)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "qwen-2.5-max", "--no-think"], "work only with a thinking model"),
        (["-m", "qwen-3-8b", "--thinking-budget", "40000"], "--thinking-budget must be from 1"),
    ],
)
def test_thinking_flags_are_checked_in_the_command_lines_words(
    args: list[str], message: str
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "qwen_spaces",
            "ask",
            "hi",
            "--base-url",
            "http://127.0.0.1:9",
            *args,
        ],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=str(ROOT),
        timeout=60,
    )
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr
