"""Every example in examples/ runs against a local replica of the Qwen2.5-Max Space, so none can rot.

The scripts run as users run them (a subprocess, the Space taken from
QWEN_SPACES_BASE_URL); the notebook is executed cell by cell in a real
ipykernel (nbclient). One real Gradio 5 replica serves the whole module; if it
cannot start, the tests fail with CI=true and are skipped otherwise.
Set QWEN_SPACES_NOTEBOOK_OUT=path.ipynb to keep the executed notebook.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

from tests.support.replicas import fake_model, fake_qwen3
from tests.support.replicas.launcher import Replica, ReplicaError, start_replica

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MODEL = "qwen-2.5-max"
START_TIMEOUT = float(os.environ.get("QWEN_SPACES_REPLICA_TIMEOUT", "90"))


def answer(query: str, turns: int = 0, system: str = fake_model.DEFAULT_SYSTEM) -> str:
    """What the replica answers to ``query``."""
    return fake_model.expected_answer(query, turns, system)


def unavailable(message: str) -> NoReturn:
    if os.environ.get("CI", "").strip().lower() in ("true", "1"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def load(name: str) -> ModuleType:
    """Import an example as a module (for its prompts), without running it."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def replica() -> Iterator[Replica]:
    try:
        started = start_replica("max", 5, timeout=START_TIMEOUT)
    except ReplicaError as exc:
        unavailable(f"the Gradio 5 Max replica could not start: {exc}")
    with started:
        yield started


@pytest.fixture(scope="module")
def qwen3_replica() -> Iterator[Replica]:
    try:
        started = start_replica("qwen3", 527, timeout=START_TIMEOUT)
    except ReplicaError as exc:
        unavailable(f"the Qwen3 replica could not start: {exc}")
    with started:
        yield started


@pytest.fixture(scope="module")
def env(replica: Replica) -> dict[str, str]:
    """The examples' environment: the replica's URL, and this venv's console scripts first."""
    env = {  # the test's own discovery cache stays (tests/conftest.py)
        k: v
        for k, v in os.environ.items()
        if not k.startswith("QWEN_SPACES_") or k == "QWEN_SPACES_CACHE_DIR"
    }
    env.update(
        QWEN_SPACES_BASE_URL=replica.url,
        QWEN_SPACES_MODEL=MODEL,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONIOENCODING="utf-8",
    )
    return env


def run(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, encoding="utf-8", timeout=120
    )
    assert done.returncode == 0, f"{args} exited with {done.returncode}:\n{done.stderr}"
    return done


# --- the scripts -------------------------------------------------------------------------------


def test_sync_stream_prints_the_answer(env: dict[str, str]) -> None:
    query = "Hello — café ☕?"
    done = run([sys.executable, str(EXAMPLES / "sync_stream.py"), query], env)
    assert done.stdout == answer(query) + "\n"


def test_async_fanout_answers_every_prompt(env: dict[str, str]) -> None:
    prompts: list[str] = load("async_fanout").PROMPTS
    done = run([sys.executable, str(EXAMPLES / "async_fanout.py")], env)
    for prompt in prompts:
        assert f"## {prompt}\n{answer(prompt)}\n" in done.stdout
    assert f"{len(prompts)} of {len(prompts)} answered" in done.stderr


def test_conversation_sends_the_history_every_turn(env: dict[str, str]) -> None:
    turns: list[str] = load("conversation").TURNS
    done = run([sys.executable, str(EXAMPLES / "conversation.py")], env)
    expected = "".join(
        f"> {text}\n{answer(text, i, 'Be brief.')}\n\n" for i, text in enumerate(turns)
    )
    assert done.stdout == expected  # "turn i": the replica received the i earlier turns
    assert f"[{1 + 2 * len(turns)} messages in the history]" in done.stderr


def without_qwen_spaces(path: str) -> str:
    """``path`` without the directories that hold a qwen-spaces command."""
    dirs = [d for d in path.split(os.pathsep) if d and not (Path(d) / "qwen-spaces").exists()]
    return os.pathsep.join(dirs)


@pytest.mark.parametrize("where", ["on PATH", "only in .venv/bin, after make"])
def test_cli_batch_answers_every_line_and_resumes(
    env: dict[str, str], tmp_path: Path, where: str
) -> None:
    if where != "on PATH":
        # As after `make` in a checkout: the command is in .venv/bin, not on PATH.
        assert (ROOT / ".venv" / "bin" / "qwen-spaces").exists(), "make builds .venv"
        env = {**env, "PATH": without_qwen_spaces(env["PATH"])}
    prompts = EXAMPLES / "prompts.jsonl"
    out = tmp_path / "answers.jsonl"
    run(["bash", str(EXAMPLES / "cli_batch.sh"), str(prompts), str(out)], env, cwd=tmp_path)
    expected = []
    for line in prompts.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if "prompt" in item:
            expected.append(answer(item["prompt"]))
        else:
            system, user = (m["content"] for m in item["messages"])
            expected.append(answer(user, 0, system))
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    # The script runs the batch twice: the second run must add nothing.
    assert [record.get("error") for record in records] == [None] * len(expected)
    assert sorted(record["text"] for record in records) == sorted(expected)


# --- the notebook ----------------------------------------------------------------------------

NOTEBOOK_QUERIES = ["What is 2+2?", "Name three primary colours.", "What is the capital of Japan?"]
MARKDOWN_QUERY = "Show a short Markdown list of three fruits."
KERNEL = "qwen-spaces-examples"


THINKING_QUERY = "Is 9.11 bigger than 9.9?"


def test_notebook_runs_in_a_kernel(
    env: dict[str, str], qwen3_replica: Replica, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        import nbclient
        import nbformat
    except ImportError as exc:
        unavailable(f"nbclient is not installed ({exc}); `make` installs it")
    # A kernel spec of our own, running this very Python, so the notebook never
    # meets a user's "python3" kernel from another environment.
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    kernel_env = {k: env[k] for k in ("QWEN_SPACES_BASE_URL", "QWEN_SPACES_MODEL")}
    kernel_env["QWEN_SPACES_QWEN3_BASE_URL"] = qwen3_replica.url
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "qwen_spaces examples",
        "language": "python",
        "env": kernel_env,
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # no user profile or startup files

    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)  # type: ignore[no-untyped-call]
    nbclient.NotebookClient(
        notebook, kernel_name=KERNEL, timeout=60, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()  # raises CellExecutionError, with the cell's traceback, if a cell fails
    if os.environ.get("QWEN_SPACES_NOTEBOOK_OUT"):
        nbformat.write(notebook, os.environ["QWEN_SPACES_NOTEBOOK_OUT"])  # type: ignore[no-untyped-call]

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    stdout = "".join(
        out.text for out in outputs if out.output_type == "stream" and out.name == "stdout"
    )
    for query in NOTEBOOK_QUERIES:
        assert answer(query) in stdout
    assert "started=True" in stdout  # on_status saw the queue's last status
    markdown = [
        out.data["text/markdown"] for out in outputs if "text/markdown" in out.get("data", {})
    ]
    assert markdown[0] == answer(MARKDOWN_QUERY)
    # A Qwen3 reply: its reasoning folded apart above the answer.
    model = "qwen3-32b"
    reasoning = fake_qwen3.expected_reasoning(THINKING_QUERY, model, 38, fake_qwen3.NO_SYSTEM, 0)
    thought = fake_qwen3.expected_answer(THINKING_QUERY, model, 38, True, fake_qwen3.NO_SYSTEM, 0)
    assert len(markdown) == 2 and markdown[1].startswith("<details><summary>Thinking (")
    assert markdown[1].endswith(f"\n\n{reasoning}\n\n</details>\n\n{thought}")


def test_notebook_runs_with_jupyter_execute_as_the_readme_says(
    env: dict[str, str], qwen3_replica: Replica, tmp_path: Path
) -> None:
    # The conversations guide's command, with this venv's jupyter and its own "python3" kernel;
    # the user's Jupyter and IPython directories stay out of it.
    jupyter = Path(sys.executable).parent / "jupyter"
    isolated = {
        **env,
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "QWEN_SPACES_QWEN3_BASE_URL": qwen3_replica.url,
    }
    copy = tmp_path / "notebook.ipynb"
    copy.write_bytes((EXAMPLES / "notebook.ipynb").read_bytes())
    run([str(jupyter), "execute", "--output=executed", str(copy)], isolated, cwd=tmp_path)
    executed = json.loads((tmp_path / "executed.ipynb").read_text(encoding="utf-8"))
    outputs = [
        out for cell in executed["cells"] if cell["cell_type"] == "code" for out in cell["outputs"]
    ]
    assert not [out for out in outputs if out["output_type"] == "error"]
    stdout = "".join(
        "".join(out["text"])
        for out in outputs
        if out["output_type"] == "stream" and out["name"] == "stdout"
    )
    for query in NOTEBOOK_QUERIES:
        assert answer(query) in stdout
