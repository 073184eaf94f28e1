"""``qwen-spaces ask``: streaming, --json, stdin, progress, exit codes, entry points."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

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


def test_prints_the_answer(cli: Cli) -> None:
    with FakeSpace() as space:
        result = cli("ask", "hello", "--base-url", space.url)
    assert result == Result(0, "You said: hello (turn 1)\n", "")


def test_streams_as_it_arrives() -> None:
    # A child process with stdout on a pipe: each piece must reach the pipe
    # when it arrives, not when the answer ends.
    arrivals: list[tuple[float, bytes]] = []
    with (
        FakeSpace(answer=["one ", "two ", "three"], delay=0.5) as space,
        subprocess.Popen(
            cli_command("ask", "hi", "--base-url", space.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
            cwd=ROOT,
        ) as child,
    ):
        assert child.stdout is not None
        while chunk := os.read(child.stdout.fileno(), 1024):
            arrivals.append((time.monotonic(), chunk))
        assert child.wait(timeout=10) == 0
    assert b"".join(c for _, c in arrivals) == b"one two three\n"
    first = next(t for t, c in arrivals if c.startswith(b"one"))
    assert arrivals[-1][0] - first > 0.7  # "one" came while the rest was still on its way


def test_json(cli: Cli) -> None:
    with FakeSpace(layout="1m") as space:
        result = cli("ask", "hello", "--json", "--model", "qwen-2.5-1m", "--base-url", space.url)
    assert result.code == 0 and result.err == ""
    answer = json.loads(result.out)
    assert set(answer) == {"text", "reasoning", "thinking_seconds", "model", "timings"}
    assert answer["text"] == "You said: hello (turn 1)"
    assert answer["model"] == "qwen-2.5-1m"
    assert answer["reasoning"]  # the 1M Space's "thinking" status, kept apart from the text
    assert answer["timings"]["completed"] >= answer["timings"]["started"] > 0


def test_system_prompt(cli: Cli) -> None:
    with FakeSpace(answer=lambda query, turns, system: f"[{system}] {query}") as space:
        result = cli("ask", "hi", "-s", "Be brief.", "--base-url", space.url)
    assert result.out == "[Be brief.] hi\n"


@pytest.mark.parametrize("args", [(), ("-",)])
def test_prompt_from_stdin(cli: Cli, args: tuple[str, ...]) -> None:
    with FakeSpace() as space:
        result = cli("ask", *args, "--base-url", space.url, stdin="piped question\n")
    assert result == Result(0, "You said: piped question (turn 1)\n", "")


def test_no_prompt_and_a_terminal_is_a_usage_error(cli: Cli) -> None:
    result = cli("ask", "--base-url", "http://127.0.0.1:9", tty=True)
    assert result.code == 2 and "no prompt" in result.err


def test_empty_prompt_is_a_usage_error(cli: Cli) -> None:
    assert cli("ask", "-", "--base-url", "http://127.0.0.1:9", stdin="  \n").code == 2


def test_queue_progress_on_stderr_only_when_asked(cli: Cli) -> None:
    with FakeSpace(faults=[Fault.queue_wait(ahead=3, seconds=0.05, times=2)]) as space:
        quiet = cli("ask", "hi", "--base-url", space.url)
        shown = cli("ask", "hi", "--base-url", space.url, "--progress")
    assert quiet.err == "" and shown.out == quiet.out == "You said: hi (turn 1)\n"
    lines = shown.err.splitlines()
    assert lines[:3] == [
        "queue: 3 ahead (queue of 4), about 0.2 s",
        "queue: 2 ahead (queue of 3), about 0.1 s",
        "queue: 1 ahead (queue of 2), about 0.1 s",
    ]
    assert lines[-1] == "generating..."


def test_space_error_exits_1_with_one_line(cli: Cli) -> None:
    with FakeSpace(faults=[Fault.space_error(message="boom\nwith details")]) as space:
        result = cli("ask", "hi", "--base-url", space.url)
    assert result.code == 1 and result.out == ""
    assert result.err == "qwen-spaces: SpaceError: the Space reported an error: boom with details\n"


def test_error_after_partial_text(cli: Cli) -> None:
    with FakeSpace(answer="abcdefghijkl", faults=[Fault.drop_after(updates=2)]) as space:
        result = cli("ask", "hi", "--base-url", space.url)
    assert result.code == 1
    assert result.out == "abcdef\n"  # what arrived stays printed, the line is ended
    assert (
        result.err.startswith("qwen-spaces: SpaceConnectionError: ") and result.err.count("\n") == 1
    )


def test_unreachable_exits_1(cli: Cli) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli("ask", "hi", "--base-url", f"http://127.0.0.1:{port}")
    assert result.code == 1 and result.err.startswith(
        "qwen-spaces: SpaceConnectionError: cannot reach"
    )
    assert result.err.count("\n") == 1  # no retry warnings either


@pytest.mark.parametrize(
    "args",
    [
        ("ask", "hi", "--model", "gpt-5"),
        ("ask", "hi", "--base-url", "ftp://x"),
        ("ask", "hi", "--timeout", "0"),
        ("batch", "in.jsonl"),  # no -o
        ("batch", "in.jsonl", "-o", "out.jsonl", "--concurrency", "0"),
        ("nonsense",),
        (),
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.code == 2 and result.out == "" and "usage:" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ("serve", "--no-think"),
        ("serve", "--thinking-budget", "1024"),
        ("models", "--no-think"),
        ("models", "--thinking-budget", "1024"),
    ],
)
def test_thinking_flags_only_where_a_command_asks_a_model_itself(
    cli: Cli, args: tuple[str, ...]
) -> None:
    # serve takes thinking per request (its HTTP fields) and models checks with it off:
    # the flags would do nothing there, so they are refused, not ignored.
    result = cli(*args)
    assert result.code == 2 and result.out == ""
    assert f"unrecognized arguments: {' '.join(args[1:])}" in result.err


def test_debug_shows_the_traceback_and_logs() -> None:
    with FakeSpace(faults=[Fault.space_error(message="boom", times=None)]) as space:
        plain = run_child("ask", "hi", "--base-url", space.url)
        debug = run_child("ask", "hi", "--base-url", space.url, "--debug")
        before = run_child("--debug", "ask", "hi", "--base-url", space.url)
    assert plain.returncode == debug.returncode == before.returncode == 1
    assert "Traceback" not in plain.stderr
    for result in (debug, before):
        assert "Traceback" in result.stderr and "qwen_spaces DEBUG POST" in result.stderr
        assert result.stderr.endswith(
            "qwen-spaces: SpaceError: the Space reported an error: boom\n"
        )


def test_console_script_and_module() -> None:
    script = shutil.which("qwen-spaces", path=str(Path(sys.executable).parent))
    assert script is not None, "pip install -e . puts qwen-spaces next to python"
    with FakeSpace() as space:
        for command in ([script], cli_command()):
            ok = subprocess.run(
                [*command, "ask", "hi", "--base-url", space.url],
                capture_output=True,
                text=True,
                timeout=15,
                env=child_env(),
            )
            assert (ok.returncode, ok.stdout) == (0, "You said: hi (turn 1)\n")
            usage = subprocess.run(
                [*command, "ask", "hi", "--model", "nope"],
                capture_output=True,
                text=True,
                timeout=15,
                env=child_env(),
            )
            assert usage.returncode == 2 and "unknown model 'nope'" in usage.stderr


@pytest.mark.parametrize("runner", ["default", "sigint_ignored"])
def test_ctrl_c_cancels_the_answer(runner: str) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if runner == "sigint_ignored":
        # As when the test runner was started as a background job: the child is
        # still started with SIGINT at its default, so Ctrl-C still reaches it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _ctrl_c_cancels_the_answer()
    finally:
        if runner == "sigint_ignored":
            signal.signal(signal.SIGINT, handler)


def _ctrl_c_cancels_the_answer() -> None:
    with (
        FakeSpace(answer="word " * 200, delay=0.05) as space,
        subprocess.Popen(
            cli_command("ask", "hi", "--base-url", space.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
            cwd=ROOT,
            preexec_fn=default_sigint,
        ) as child,
    ):
        assert child.stdout is not None
        assert os.read(child.stdout.fileno(), 100)  # the answer is under way
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=10)
        assert child.returncode == 130
        assert b"Traceback" not in err
        wait_until(lambda: space.cancels, what="the cancel on the Space")


def test_importing_the_cli_stays_light() -> None:
    code = "import sys, qwen_spaces._cli; print(sorted({'aiohttp', 'tqdm'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=15,
        env=child_env(),
        check=True,
    ).stdout
    assert out.strip() == "[]"


def test_a_closed_stdout_is_quiet_and_cancels() -> None:
    # `qwen-spaces ask ... | head -1`: when the reader leaves, stop without a
    # traceback and tell the Space.
    with (
        FakeSpace(answer="line\n" * 300, delay=0.01) as space,
        subprocess.Popen(
            cli_command("ask", "hi", "--base-url", space.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
            cwd=ROOT,
        ) as child,
    ):
        assert child.stdout is not None and child.stderr is not None
        assert os.read(child.stdout.fileno(), 5).startswith(b"li")
        child.stdout.close()
        assert child.wait(timeout=10) == 1
        assert child.stderr.read() == b""
        wait_until(lambda: space.cancels, what="the cancel on the Space")


def test_files_go_to_the_1m_model(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "report.txt").write_bytes(b"revenue up\n")
    (tmp_path / "notes.md").write_bytes(b"# notes\n")
    with FakeSpace(layout="1m") as space:
        result = cli(
            "ask",
            "-m",
            "qwen-2.5-1m",
            "--base-url",
            space.url,
            "-f",
            str(tmp_path / "report.txt"),
            "-f",
            str(tmp_path / "notes.md"),
            "Compare these",
        )
        uploads = space.stats()["uploads"]
    assert result.code == 0, result.err
    assert result.out.startswith("You said: Compare these [files: report.txt (11 bytes, sha256 ")
    assert "; notes.md (8 bytes, sha256 " in result.out
    assert uploads == 1


def test_a_file_for_the_max_model_or_a_missing_file_is_a_usage_error(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("a")
    with FakeSpace() as space:
        max_result = cli("ask", "--base-url", space.url, "-f", str(tmp_path / "a.txt"), "hi")
        missing = cli(
            "ask", "-m", "qwen-2.5-1m", "--base-url", space.url, "-f", str(tmp_path / "no"), "hi"
        )
        requests = len(space.requests)
    # In the command line's words (-f, -m), not the SDK's (files=, files[0]).
    assert max_result.code == 2 and max_result.err == (
        "qwen-spaces: error: -f/--file works only with -m qwen-2.5-1m; "
        "qwen-2.5-max reads no files\n"
    )
    assert missing.code == 2 and missing.err == (
        f"qwen-spaces: error: -f/--file {tmp_path / 'no'}: "
        "cannot read it: No such file or directory\n"
    )
    assert requests == 0  # refused before anything was sent


def test_file_errors_name_the_flag_and_the_path_as_given(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "ask", "-m", "qwen-2.5-1m", "--base-url", "http://127.0.0.1:9", "-f", str(tmp_path), "hi"
    )
    assert result.code == 2
    assert (
        result.err == f"qwen-spaces: error: -f/--file {tmp_path}: cannot read it: Is a directory\n"
    )
    latin1 = run_child("ask", "-m", "qwen-2.5-1m", "-f", os.fsdecode(b"caf\xe9.pdf"), "hi")
    assert latin1.returncode == 2
    assert (
        latin1.stderr
        == "qwen-spaces: error: -f/--file caf\\xe9.pdf: cannot read it: No such file or directory\n"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("QWEN_SPACES_MODEL", "gpt-5", "$QWEN_SPACES_MODEL: unknown model 'gpt-5'; known models: "),
        (
            "QWEN_SPACES_BASE_URL",
            "ftp://x",
            "$QWEN_SPACES_BASE_URL: the URL must be an http(s) URL",
        ),
        (
            "QWEN_SPACES_BASE_URL",
            "http://127.0.0.1:9/gradio_api/",
            "$QWEN_SPACES_BASE_URL: the URL must be the Gradio app's URL, not one of its routes: "
            "use http://127.0.0.1:9 ",
        ),
    ],
)
def test_a_bad_variable_is_named(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    for command in (("ask", "hi"), ("models",), ("batch", "in.jsonl", "-o", "out.jsonl")):
        result = cli(*command)
        assert result.code == 2 and result.out == ""
        assert result.err.startswith(f"qwen-spaces: error: {expected}"), result.err
        assert "argument" not in result.err  # not blamed on a flag that was never given


def test_the_variables_fill_in_for_flags_not_given(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeSpace(layout="1m") as space:
        monkeypatch.setenv("QWEN_SPACES_MODEL", "qwen-2.5-1m-demo")  # an alias
        monkeypatch.setenv("QWEN_SPACES_BASE_URL", space.url + "/")
        from_env = cli("ask", "hi", "--json")
        monkeypatch.setenv("QWEN_SPACES_BASE_URL", "ftp://ignored")  # a flag wins over its variable
        flag = cli("ask", "hi", "--json", "--base-url", space.url)
    assert from_env.code == flag.code == 0, from_env.err + flag.err
    assert json.loads(from_env.out)["model"] == json.loads(flag.out)["model"] == "qwen-2.5-1m"


def test_text_that_is_not_utf8_is_a_usage_error() -> None:
    with FakeSpace() as space:
        argument = run_child("ask", "--base-url", space.url, os.fsdecode(b"caf\xe9"))
        system = run_child("ask", "--base-url", space.url, "-s", os.fsdecode(b"\xff"), "hi")
        piped = subprocess.run(
            cli_command("ask", "--base-url", space.url),
            input=b"ab\xe9",
            capture_output=True,
            timeout=15,
            env=child_env(),
            cwd=ROOT,
        )
        requests = len(space.requests)
    assert (argument.returncode, argument.stderr) == (
        2,
        "qwen-spaces: error: the prompt is not UTF-8 text (byte 0xe9 at index 3)\n",
    )
    assert (system.returncode, system.stderr) == (
        2,
        "qwen-spaces: error: -s/--system is not UTF-8 text (byte 0xff at index 0)\n",
    )
    assert (piped.returncode, piped.stderr) == (
        2,
        b"qwen-spaces: error: the prompt on stdin is not UTF-8 text (byte 0xe9 at offset 2)\n",
    )
    assert requests == 0


def test_hf_token_from_the_environment_reaches_the_space(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_FromTheEnvironment123")
    with FakeSpace() as space:
        result = cli("ask", "hello", "--base-url", space.url)
        auth = {r.headers.get("Authorization") for r in space.requests}
    assert result.code == 0, result.err
    assert auth == {"Bearer hf_FromTheEnvironment123"}


def test_credentials_in_the_base_url_are_refused_without_showing_them(cli: Cli) -> None:
    result = cli("ask", "hi", "--base-url", "http://user:hf_SECRETabcdef123@127.0.0.1:9")
    assert result.code == 2
    assert "credentials" in result.err and "SECRET" not in result.err


def test_a_file_name_that_is_not_utf8_is_sent_as_browsers_send_it(tmp_path: Path) -> None:
    # `-f $'caf\xe9.txt'`: the name's bytes come to Python with surrogate escapes.
    latin1 = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(latin1, "wb") as out:
        out.write(b"menu")
    with FakeSpace(layout="1m") as space:
        done = subprocess.run(
            [
                *cli_command("ask", "-m", "qwen-2.5-1m", "--base-url", space.url, "-f"),
                latin1,
                "Read",
            ],
            capture_output=True,
            timeout=15,
            env=child_env(),
            cwd=ROOT,
        )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().startswith("You said: Read [files: caf\ufffd.txt (4 bytes, sha256 ")


@pytest.mark.parametrize("path", ["/gradio_api/", "/some/path/queue/join"])
def test_a_base_url_into_gradios_routes_is_a_usage_error(cli: Cli, path: str) -> None:
    with FakeSpace() as space:
        result = cli("ask", "hi", "--base-url", space.url + path)
        requests = len(space.requests)
    app = space.url + ("/some/path" if path.startswith("/some") else "")
    assert result.code == 2 and requests == 0
    assert result.err.endswith(
        "error: argument --base-url: the URL must be the Gradio app's URL, not one of its "
        f"routes: use {app} (got the path {path!r}; the client adds Gradio's own paths)\n"
    )
