"""``qwen-spaces batch``: per-line answers and errors, resuming, Ctrl-C and crashes."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qwen_spaces.testing import FakeSpace, Fault
from tests.support.cli_runs import (
    ROOT,
    Result,
    child_env,
    cli_command,
    default_sigint,
    run_child,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(20)

Cli = Callable[..., Result]


def write_lines(path: Path, *items: Any) -> Path:
    path.write_text("".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items))
    return path


def read_records(path: Path) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), "the file ends with a whole line"
    return [json.loads(line) for line in raw.splitlines()]


def answer(prompt: str) -> str:
    return f"You said: {prompt} (turn 1)"


def test_answers_each_line(cli: Cli, tmp_path: Path) -> None:
    source = write_lines(
        tmp_path / "in.jsonl",
        {"id": "a", "prompt": "one"},
        {"prompt": "two"},  # no id: its line number
        "",
        {
            "id": 7,
            "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "three"}],
        },
    )
    out = tmp_path / "out.jsonl"
    with FakeSpace() as space:
        result = cli("batch", str(source), "-o", str(out), "--base-url", space.url)
    assert result.code == 0 and result.out == ""
    assert result.err == f"3 answered, 0 failed -> {out}\n"  # no bar: stderr is not a terminal
    records = {json.dumps(r["id"]): r for r in read_records(out)}
    assert set(records) == {'"a"', "2", "7"}
    assert records['"a"']["text"] == answer("one")
    assert records["2"]["text"] == answer("two")
    assert records["7"]["text"] == answer("three")
    for record in records.values():
        assert set(record) == {"id", "text", "model", "timings"}
        assert record["model"] == "qwen-2.5-max" and record["timings"]["completed"] > 0


def test_errors_are_per_line_and_retried(cli: Cli, tmp_path: Path) -> None:
    source = write_lines(
        tmp_path / "in.jsonl",
        {"id": 1, "prompt": "one"},
        "not json",
        {"id": 3, "messages": [{"role": "assistant", "content": "last is not a user"}]},
        {"id": 4, "prompt": "four"},
        {"id": 5},
    )
    out = tmp_path / "out.jsonl"
    with FakeSpace(faults=[Fault.space_error(message="flaky")]) as space:
        first = cli("batch", str(source), "-o", str(out), "--base-url", space.url, "-c", "1")
        errors = {r["id"]: r for r in read_records(out) if "error" in r}
        assert errors[2]["error"].startswith("line 2: not JSON: ")
        assert errors[3]["error_type"] == "ValueError" and errors[3]["error"].startswith("line 3: ")
        assert errors[5]["error_type"] == "InputError" and errors[5]["error"].startswith("line 5: ")
        flaky = next(r for r in errors.values() if r["error_type"] == "SpaceError")
        assert flaky["error"] == "the Space reported an error: flaky"

        # The rerun asks again only for the failed lines; the Space error is gone.
        second = cli("batch", str(source), "-o", str(out), "--base-url", space.url)
    # Each bad line is named, once, as IN:LINE; only the Space's failure is worth a rerun.
    bad_lines = [
        f"{source}:2: not JSON: Expecting value: line 1 column 1 (char 0)",
        f"{source}:3: the last message must be a user message (after any system messages)",
        f'{source}:5: expected "prompt" (a string) or "messages" (a list)',
        f"rerunning will not fix these 3 lines: correct them in {source}, then run again",
    ]
    assert first.code == 1
    assert first.err.splitlines() == [
        f"1 answered, 4 failed -> {out}",
        *bad_lines,
        "1 failed at the Space or on the network: run again to retry it",
    ]
    assert second.code == 1
    assert second.err.splitlines() == [
        f"1 answered, 3 failed, 1 already answered -> {out}",
        *bad_lines,
    ]
    assert "retry" not in second.err  # a rerun cannot help any failure left
    records = read_records(out)
    assert sorted(r["id"] for r in records) == [
        1,
        2,
        3,
        4,
        5,
    ]  # one line per id: old failures dropped
    assert {r["id"] for r in records if "text" in r} == {1, 4}


def test_duplicate_ids_are_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", {"prompt": "x"}, {"id": 1, "prompt": "y"})
    result = cli(
        "batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--base-url", "http://127.0.0.1:9"
    )
    assert result.code == 2 and "id 1 is also on line 1" in result.err
    assert not (tmp_path / "out.jsonl").exists()


def test_missing_input_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("batch", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "out.jsonl"))
    assert result.code == 2 and "cannot read" in result.err


def test_a_torn_last_line_is_dropped_and_redone(cli: Cli, tmp_path: Path) -> None:
    source = write_lines(
        tmp_path / "in.jsonl", {"id": 1, "prompt": "one"}, {"id": 2, "prompt": "two"}
    )
    out = tmp_path / "out.jsonl"
    done = {"id": 1, "text": "kept", "model": "qwen-2.5-max", "timings": {}}
    out.write_text(json.dumps(done) + '\n{"id": 2, "text": "You sa')  # power lost mid-write
    with FakeSpace() as space:
        assert cli("batch", str(source), "-o", str(out), "--base-url", space.url).code == 0
    assert [(r["id"], r["text"]) for r in read_records(out)] == [(1, "kept"), (2, answer("two"))]


def test_runs_concurrently(cli: Cli, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", *({"prompt": f"p{i}"} for i in range(8)))
    with FakeSpace(answer="abcdefghij", chunk_size=1, delay=0.1) as space:  # ~1 s an answer
        started = time.monotonic()
        result = cli(
            "batch",
            str(source),
            "-o",
            str(tmp_path / "out.jsonl"),
            "--base-url",
            space.url,
            "-c",
            "8",
        )
        elapsed = time.monotonic() - started
    assert result.code == 0 and len(read_records(tmp_path / "out.jsonl")) == 8
    assert elapsed < 4  # one at a time would take 8 s


def test_progress_bar(cli: Cli, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", {"prompt": "a"}, {"prompt": "b"})
    with FakeSpace() as space:
        result = cli(
            "batch",
            str(source),
            "-o",
            str(tmp_path / "out.jsonl"),
            "--base-url",
            space.url,
            "--progress",
        )
    assert "2/2" in result.err and "line/s" in result.err
    # stderr is no terminal here (a log): whole lines, no \r frames redrawn in place
    assert "\r" not in result.err and "\x1b" not in result.err
    assert result.err.splitlines()[-2].startswith("2/2 [")


def test_many_bad_lines_are_listed_up_to_ten(cli: Cli, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", *(["{broken"] * 12), {"prompt": "fine"})
    out = tmp_path / "out.jsonl"
    with FakeSpace() as space:
        result = cli("batch", str(source), "-o", str(out), "--base-url", space.url)
    lines = result.err.splitlines()
    assert result.code == 1 and lines[0] == f"1 answered, 12 failed -> {out}"
    assert [line.split(":")[1] for line in lines[1:11]] == [str(n) for n in range(1, 11)]
    assert lines[11:] == [
        '... and 2 more (the "error" of each in OUT)',
        f"rerunning will not fix these 12 lines: correct them in {source}, then run again",
    ]


@pytest.mark.parametrize("how", ["interrupt", "crash"])
def test_stopped_midway_then_resumed(tmp_path: Path, how: str) -> None:
    # Ctrl-C (SIGINT) or a crash (SIGKILL) in the middle: every line in OUT is
    # whole, and the rerun answers exactly the rest, each id once.
    n = 24
    source = write_lines(
        tmp_path / "in.jsonl", *({"id": f"q{i}", "prompt": f"prompt {i}"} for i in range(n))
    )
    out = tmp_path / "out.jsonl"
    command = cli_command("batch", str(source), "-o", str(out), "-c", "4")
    with FakeSpace(delay=0.05) as space:  # about 0.5 s an answer
        with subprocess.Popen(
            [*command, "--base-url", space.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=ROOT,
            preexec_fn=default_sigint,
        ) as child:
            # Interrupt while an answer is streaming: a call whose join has not
            # answered yet has no event id, so there would be nothing to cancel.
            wait_until(
                lambda: (
                    out.exists()
                    and out.read_bytes().count(b"\n") >= 5
                    and space.stats()["streams_open"] >= 1
                ),
                what="5 answers and one streaming",
            )
            child.send_signal(signal.SIGINT if how == "interrupt" else signal.SIGKILL)
            _, err = child.communicate(timeout=10)
        first = read_records(out)
        assert 5 <= len(first) < n and all("text" in r for r in first)
        if how == "interrupt":
            assert child.returncode == 130, err
            assert (
                err
                == f"interrupted: {len(first)} of {n} answered in {out}; run the same command again to resume\n"
            )
            # the answers in flight were cancelled on the Space, not left running
            wait_until(lambda: space.cancels, what="cancels")
            assert 1 <= len(space.cancels) <= 4
        else:
            assert child.returncode == -signal.SIGKILL
        joins = space.stats()["joins"]

        rerun = run_child(*command[3:], "--base-url", space.url)
        assert rerun.returncode == 0, rerun.stderr
        assert f"{n - len(first)} answered, 0 failed, {len(first)} already answered" in rerun.stderr
        assert space.stats()["joins"] - joins == n - len(first)  # nothing answered twice

    records = read_records(out)
    assert records[: len(first)] == first
    assert sorted(r["id"] for r in records) == sorted(f"q{i}" for i in range(n))
    for record in records:
        assert record["text"] == answer(f"prompt {record['id'][1:]}")


def test_unwritable_output_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", {"prompt": "x"})
    out = tmp_path / "no" / "out.jsonl"
    result = cli("batch", str(source), "-o", str(out), "--base-url", "http://127.0.0.1:9")
    assert result.code == 2
    assert (
        result.err
        == f"qwen-spaces: error: cannot write {out}: the directory {out.parent} does not exist\n"
    )
