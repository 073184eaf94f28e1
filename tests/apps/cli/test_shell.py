"""Completion scripts, --help's exit codes and environment, and what each command imports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from qwen_spaces._cli import EPILOG, _parser
from qwen_spaces._cli.common import (
    COMMAND_HELP,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)
from qwen_spaces._spaces.spaces import SPACES
from qwen_spaces.testing import FakeSpace
from tests.support.cli_runs import ROOT, child_env, run_child

pytestmark = pytest.mark.timeout(60)

MODELS = [spec.model for spec in SPACES]


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("completion")
    found = {}
    for shell in ("bash", "zsh", "fish"):
        done = run_child("completion", shell)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        assert done.stdout.strip(), f"no {shell} script"
        found[shell] = where / f"qwen-spaces.{shell}"
        found[shell].write_text(done.stdout)
    return found


def test_the_bash_script_is_valid_bash(scripts: dict[str, Path]) -> None:
    done = subprocess.run(["bash", "-n", str(scripts["bash"])], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def bash_complete(script: Path, line: str) -> list[str]:
    """What the bash script offers for the last word of ``line`` (a trailing space: a new word)."""
    words = line.split(" ")
    program = (
        f"source {script}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_qwen_spaces\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, timeout=10, cwd=script.parent
    )
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


def test_bash_completes_commands_options_models_and_shells(scripts: dict[str, Path]) -> None:
    bash = scripts["bash"]
    assert bash_complete(bash, "qwen-spaces ") == [
        "-h", "--help", "--version", "--debug",
        "ask", "chat", "batch", "models", "completion", "serve",
    ]  # fmt: skip
    assert bash_complete(bash, "qwen-spaces co") == ["completion"]
    assert bash_complete(bash, "qwen-spaces --debug a") == ["ask"]
    assert bash_complete(bash, "qwen-spaces ask --js") == ["--json"]
    assert bash_complete(bash, "qwen-spaces ask -m ") == MODELS
    assert bash_complete(bash, "qwen-spaces chat --model qwen-3-3") == ["qwen-3-32b", "qwen-3-30b"]
    assert bash_complete(bash, "qwen-spaces completion ") == ["bash", "zsh", "fish"]
    assert "--api-key" in bash_complete(bash, "qwen-spaces serve --api")
    assert bash_complete(bash, "qwen-spaces ask -f qwen-spaces.b") == ["qwen-spaces.bash"]
    assert bash_complete(bash, "qwen-spaces ask --timeout ") == []


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_the_zsh_and_fish_scripts(scripts: dict[str, Path], shell: str) -> None:
    text = scripts[shell].read_text()
    for name in ("ask", "chat", "batch", "models", "completion", "serve", "thinking-budget"):
        assert name in text
    assert all(model in text for model in MODELS)
    # Checked by the shell itself where it is installed (Debian: apt-get install zsh fish).
    check = {"zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}[shell]
    if shutil.which(check[0]) is None:
        assert text.startswith("#compdef qwen-spaces" if shell == "zsh" else "# fish completion")
        return
    done = subprocess.run([*check, str(scripts[shell])], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_fish_completes_when_fish_is_installed(scripts: dict[str, Path]) -> None:
    if shutil.which("fish") is None:
        assert "__fish_seen_subcommand_from completion" in scripts["fish"].read_text()
        return
    program = (
        f"source {scripts['fish']}; complete -C 'qwen-spaces ask --mo'; "
        "complete -C 'qwen-spaces completion '; complete -C 'qwen-spaces ch'"
    )
    done = subprocess.run(
        ["fish", "--no-config", "-c", program], capture_output=True, text=True, timeout=20
    )
    offered = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert "--model" in offered and {"bash", "zsh", "fish"} <= set(offered) and "chat" in offered


def test_an_unknown_shell_is_a_usage_error() -> None:
    done = run_child("completion", "powershell")
    assert done.returncode == EXIT_USAGE and "invalid choice: 'powershell'" in done.stderr


def test_help_lists_exit_codes_and_environment_variables() -> None:
    done = run_child("--help")
    assert done.returncode == 0
    out = done.stdout
    assert EPILOG.strip() in out
    for code in (EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED):
        assert re.search(rf"^  {code} +\S", out, re.M), code
    variables = re.findall(r"^  ([A-Z_]+)", out.split("environment:")[1], re.M)
    for name in ("QWEN_SPACES_MODEL", "QWEN_SPACES_BASE_URL", "HF_TOKEN", "QWEN_SPACES_CACHE"):
        assert name in variables
    assert "NO_COLOR" in out and "QWEN_SPACES_CACHE_DIR" in out and "QWEN_SPACES_LOG" in out


def test_the_help_without_the_commands_parsers_lists_them_as_they_do() -> None:
    # `qwen-spaces --help` builds no command's parser: each line must be the real one's.
    light, full = _parser("").format_help(), _parser().format_help()
    assert light == full
    assert all(line in light for line in COMMAND_HELP.values())
    for command in COMMAND_HELP:
        assert _parser(command).format_help() == full
    done = run_child("serve", "--help")
    assert done.returncode == 0 and "--api-key" in done.stdout


FORBIDDEN = ("asyncio", "aiohttp", "qwen_spaces._server")
OTHER_COMMANDS = {f"qwen_spaces._cli.{name}" for name in ("chat", "batch", "completion", "models")}


# Runs the command as the console script does, then writes sys.modules to a file.
MODULES_AT_EXIT = (
    "import atexit, json, os, runpy, sys\n"
    "out = os.environ['QS_MODULES_OUT']\n"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(sys.modules))))\n"
    "sys.argv = ['qwen-spaces', *sys.argv[1:]]\n"
    "runpy.run_module('qwen_spaces', run_name='__main__')\n"
)


def imported(*args: str, env: dict[str, str] | None = None) -> tuple[int, set[str], str]:
    """Run the command in a fresh interpreter: its exit code, the modules it had, its stdout."""
    with tempfile.TemporaryDirectory() as where:
        out = Path(where) / "modules.json"
        done = subprocess.run(
            [sys.executable, "-c", MODULES_AT_EXIT, *args],
            capture_output=True,
            text=True,
            timeout=30,
            env={**(env or child_env()), "QS_MODULES_OUT": str(out)},
            cwd=ROOT,
        )
        names = set(json.loads(out.read_text()))
    return done.returncode, names, done.stdout


@pytest.mark.parametrize("args", [("--version",), ("models",), ("--help",), ("ask", "--help")])
def test_cold_commands_import_neither_the_server_nor_asyncio(args: tuple[str, ...]) -> None:
    code, names, _ = imported(*args)
    assert code == 0
    assert "qwen_spaces._cli" in names  # the measure works
    assert not {n for n in names if n.split(".")[0] in FORBIDDEN or n.startswith(FORBIDDEN)}


def test_ask_imports_requests_but_neither_the_server_nor_asyncio() -> None:
    with FakeSpace(answer="Cold.") as space:
        code, names, out = imported("ask", "--base-url", space.url, "hi")
    assert (code, out) == (0, "Cold.\n")
    assert "requests" in names and "qwen_spaces._cli.ask" in names
    assert not {n for n in names if n.split(".")[0] in FORBIDDEN or n.startswith(FORBIDDEN)}
    assert not names & OTHER_COMMANDS  # only the module of the command run


def test_serve_still_imports_the_server() -> None:
    env = {**child_env(), "QWEN_SPACES_API_KEY": ""}
    code, names, _ = imported("serve", "--port", "not-a-port", env=env)
    assert code == EXIT_USAGE and "qwen_spaces._server.command" in names
