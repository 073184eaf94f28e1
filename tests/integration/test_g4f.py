"""The providers as gpt4free drop-ins, through gpt4free's own client, against the replicas.

gpt4free (g4f 0.5.5.0) lives in its own venv (.venvs/g4f, built by make), so
each replica gets one run of ``g4f_driver.py`` in that venv, all at once; the
driver reports what every entry point handed back and the checks are here.
Rows: entry point x replica (Max on Gradio 4, 5, 6; 1M streaming appends and
with the changing <summary> footer). Columns: exact text, streamed chunks,
system prompt + 3-turn history, reasoning, conversation. With
``QWEN_SPACES_G4F_TABLE=/path.md`` the results table is written there.

Without the g4f venv the tests skip, or fail with ``CI=true``.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration import g4f_scenarios as spec
from tests.replicas import fake_model
from tests.replicas.launcher import Replica

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "g4f_driver.py"
DRIVER_TIMEOUT = 300.0
# The first test waits for the replicas and all five driver runs (~45 s on 2 cores).
pytestmark = pytest.mark.timeout(DRIVER_TIMEOUT + 120)

#: replica fixture -> (provider kind, row label)
REPLICAS = {
    "max_g4": ("max", "Max, Gradio 4"),
    "max_g5": ("max", "Max, Gradio 5"),
    "max_g6": ("max", "Max, Gradio 6"),
    "onem_g4": ("onem", "1M, appends"),
    "onem_g4_footer": ("onem", "1M, <summary> footer"),
}
ENTRIES = spec.ENTRY_POINTS
STREAMING = {e for e in ENTRIES if "stream=True" in e}
# What gpt4free 0.5.5.0 itself does with a provider's chunks (its client code):
# - a conversation is handed out by these entry points only (the sync
#   streaming client keeps it; ChatCompletion without stream returns a str);
EXPOSES_CONVERSATION = {
    "Client.create",
    "AsyncClient.create",
    "AsyncClient.create(stream=True)",
    "ChatCompletion.create(stream=True)",
    "ChatCompletion.create_async(stream=True)",
    "IterListProvider + Client.create",
    "IterListProvider + AsyncClient.create(stream=True)",
}
# - the sync client hands that conversation out as a plain dict;
CONVERSATION_AS_DICT = {"Client.create", "IterListProvider + Client.create"}
# - the 1M status ("Qwen is thinking...") is a Reasoning chunk the providers
#   keep falsy so that ChatCompletion's str never holds it; gpt4free's async
#   streaming client and IterListProvider drop falsy chunks, so there it is
#   not delivered at all (and still never part of the content).
DELIVERS_REASONING = {
    "Client.create",
    "Client.create(stream=True)",
    "AsyncClient.create",
    "ChatCompletion.create(stream=True)",
    "ChatCompletion.create_async(stream=True)",
}
REASONING_AS_CHUNKS = {"ChatCompletion.create(stream=True)", "ChatCompletion.create_async(stream=True)"}

_table: dict[tuple[str, str], dict[str, str]] = {}


def _unavailable(message: str) -> None:
    if os.environ.get("CI", "").strip().lower() in ("true", "1"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def g4f_python() -> str:
    """The Python of the gpt4free venv (QWEN_SPACES_G4F_PYTHON, else .venvs/g4f)."""
    python = os.environ.get("QWEN_SPACES_G4F_PYTHON") or str(REPO / ".venvs" / "g4f" / "bin" / "python")
    if not Path(python).exists():
        _unavailable(f"no gpt4free venv at {python} (run `make venvs`, or set QWEN_SPACES_G4F_PYTHON)")
    return python


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # This checkout's qwen_spaces, whatever the venv's editable install points at.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("G4F_PROXY", None)
    return env


@pytest.fixture(scope="session")
def g4f_reports(
    g4f_python: str,
    max_g4: Replica,
    max_g5: Replica,
    max_g6: Replica,
    onem_g4: Replica,
    onem_g4_footer: Replica,
) -> dict[str, dict[str, Any]]:
    """One driver run per replica, all at once: replica name -> the driver's report."""
    replicas = {
        "max_g4": max_g4, "max_g5": max_g5, "max_g6": max_g6,
        "onem_g4": onem_g4, "onem_g4_footer": onem_g4_footer,
    }
    workdir = tempfile.mkdtemp(prefix="g4f-driver-")  # gpt4free may write files in its cwd
    running = {
        name: subprocess.Popen(
            [g4f_python, str(DRIVER), REPLICAS[name][0], replica.url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir, env=_env(),
        )
        for name, replica in replicas.items()
    }
    reports: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + DRIVER_TIMEOUT
    try:
        for name, process in running.items():
            try:
                out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"the gpt4free driver for {name} took over {DRIVER_TIMEOUT:.0f} s")
            if process.returncode != 0:
                pytest.fail(f"the gpt4free driver for {name} failed:\n{err.decode()[-3000:]}")
            reports[name] = json.loads(out)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    return reports


@pytest.fixture(scope="session", autouse=True)
def _write_table() -> Any:
    yield
    path = os.environ.get("QWEN_SPACES_G4F_TABLE")
    if path and _table:
        Path(path).write_text(render_table(), encoding="utf-8")


def render_table() -> str:
    columns = ["exact text", "chunks", "history", "reasoning", "conversation"]
    lines = [
        "| entry point | replica | " + " | ".join(columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for entry in ENTRIES:
        for name, (_, label) in REPLICAS.items():
            cells = _table.get((entry, name))
            if cells is not None:
                row = " | ".join(cells.get(c, "not run") for c in columns)
                lines.append(f"| `{entry}` | {label} | {row} |")
    return "\n".join(lines) + "\n"


# --- expected answers: the replicas' fake model echoes what it was given ---------------------


def expected(kind: str, query: str, turns: int, system: str = fake_model.DEFAULT_SYSTEM) -> str:
    if kind == "onem":  # the 1M Space has no system prompt; its replica labels itself
        return fake_model.expected_answer(query, turns, fake_model.ONEM_SYSTEM)
    return fake_model.expected_answer(query, turns, system)


def expected_history(kind: str) -> str:
    if kind == "max":  # system prompt and three chatbot turns, then the query
        return expected(kind, spec.QUERY, len(spec.HISTORY), spec.SYSTEM)
    # The 1M Space takes one text: the conversation flattened (PROTOCOL.md section 3).
    lines = [f"System: {spec.SYSTEM}"]
    for user, assistant in spec.HISTORY:
        lines += [f"User: {user}", f"Assistant: {assistant}"]
    lines.append(f"User: {spec.QUERY}")
    return expected(kind, "\n".join(lines), 0)


# --- checks: each returns the cell; a failed one raises AssertionError ----------------------


def _ok(obs: dict[str, Any], what: str) -> dict[str, Any]:
    assert "error" not in obs, f"{what}: {obs.get('error')}\n{obs.get('trace', '')}"
    assert obs["content_types"] in ([], ["str"]) and not obs["other"], f"{what}: {obs}"
    return obs


def check_exact(kind: str, entry: str, run: dict[str, Any]) -> str:
    obs = _ok(run["plain"], "plain call")
    assert obs["text"] == expected(kind, spec.QUERY, 0)
    assert fake_model.THINKING not in obs["text"]
    return "✓ exact"


def check_chunks(kind: str, entry: str, run: dict[str, Any]) -> str:
    obs = _ok(run["plain"], "plain call")
    if entry not in STREAMING:
        assert obs["content_chunks"] == 1
        return "1 (not streamed)"
    assert obs["content_chunks"] > 10, obs
    return f"✓ {obs['content_chunks']}"


def check_history(kind: str, entry: str, run: dict[str, Any]) -> str:
    obs = _ok(run["history"], "system + history call")
    assert obs["text"] == expected_history(kind)
    return "✓ system + 3 turns" if kind == "max" else "✓ system + 3 turns, flattened"


def check_reasoning(kind: str, entry: str, run: dict[str, Any]) -> str:
    reasoning = [run[s]["reasoning"] for s in ("plain", "history")]
    texts = [run[s]["text"] for s in ("plain", "history")]
    assert all(fake_model.THINKING not in t for t in texts)
    if kind == "max":  # the Max Space sends no status
        assert reasoning == ["", ""]
        return "none sent"
    if entry not in DELIVERS_REASONING:
        assert reasoning == ["", ""]
        if entry.startswith("ChatCompletion"):  # a str: the answer alone
            return "kept out of the str"
        return "dropped by g4f (falsy chunk); not in content"
    assert reasoning == [fake_model.THINKING] * 2
    return "✓ Reasoning chunk" if entry in REASONING_AS_CHUNKS else "✓ reasoning_content"


def check_conversation(kind: str, entry: str, run: dict[str, Any]) -> str:
    first = _ok(run["first"], "first turn")
    first_query, second_query = spec.FOLLOW_UP
    assert first["text"] == expected(kind, first_query, 0)
    if entry not in EXPOSES_CONVERSATION:
        assert first["conversation"] is None and "follow_up" not in run
        return "n/a: g4f does not hand it out"
    conversation = first["conversation"]
    assert conversation is not None, "return_conversation=True gave no response.conversation"
    session = conversation.get("session_hash") or conversation.get(
        "Qwen_Qwen_2_5_Max" if kind == "max" else "Qwen_Qwen_2_5M", {}
    ).get("session_hash")
    assert isinstance(session, str) and len(session) == 12
    assert first["conversation_is_dict"] is (entry in CONVERSATION_AS_DICT)
    follow_up = _ok(run["follow_up"], "follow-up")
    # Turn 1 and only the new message: the 1M Space kept the first turn in
    # its session (nothing flattened); Max got it as a chatbot turn.
    assert follow_up["text"] == expected(kind, second_query, 1)
    form = "dict" if first["conversation_is_dict"] else "object"
    return f"✓ continued ({form})"


CHECKS: dict[str, Callable[[str, str, dict[str, Any]], str]] = {
    "exact text": check_exact,
    "chunks": check_chunks,
    "history": check_history,
    "reasoning": check_reasoning,
    "conversation": check_conversation,
}


@pytest.mark.parametrize("replica", list(REPLICAS))
@pytest.mark.parametrize("entry", ENTRIES)
def test_entry_point(entry: str, replica: str, g4f_reports: dict[str, dict[str, Any]]) -> None:
    kind = REPLICAS[replica][0]
    run = g4f_reports[replica]["entries"][entry]
    cells: dict[str, str] = {}
    failures: list[str] = []
    for column, check in CHECKS.items():
        try:
            cells[column] = check(kind, entry, run)
        except AssertionError as exc:
            cells[column] = "✗ FAILED"
            failures.append(f"{column}: {exc}")
    _table[(entry, replica)] = cells
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("replica", ["max_g5", "onem_g4"])
def test_classes_are_gpt4free_providers(replica: str, g4f_reports: dict[str, dict[str, Any]]) -> None:
    kind = REPLICAS[replica][0]
    report = g4f_reports[replica]
    assert report["g4f_version"] == "0.5.5.0"
    assert Path(report["qwen_spaces_file"]).resolve().is_relative_to(REPO)
    facts = report["class"]
    assert facts["gpt4free_flag"] is True
    assert facts["is_async_generator_provider"] and facts["is_provider_model_mixin"]
    assert facts["missing_methods"] == []
    name = "Qwen_Qwen_2_5_Max" if kind == "max" else "Qwen_Qwen_2_5M"
    assert facts["get_dict"]["name"] == facts["get_parent"] == name
    assert facts["params_is_str"] and facts["needs_auth"] is False and facts["working"] is True
    assert facts["supports_stream"] and facts["supports_system_message"]
    # As the seeds list them; Max says True because it sends the real history.
    assert facts["supports_message_history"] is (kind == "max")
    default = "qwen-qwen2-5-max" if kind == "max" else "qwen-2.5-1m-demo"
    assert set(facts["get_model"].values()) == {default}
    assert set(facts["get_model"]) == set(spec.NAMES[kind])


@pytest.mark.parametrize("replica", list(REPLICAS))
def test_names_unknown_model_and_media(replica: str, g4f_reports: dict[str, dict[str, Any]]) -> None:
    kind = REPLICAS[replica][0]
    edge = g4f_reports[replica]["edge"]
    # Every spelling of the model: the same answer.
    assert edge["names"] == {name: expected(kind, spec.QUERY, 0) for name in spec.NAMES[kind]}
    unknown = edge["unknown_model"]
    assert unknown["raised"] == "ModelNotFoundError"
    assert unknown["is_gpt4free_error"] and unknown["is_value_error"]
    assert "gpt-4o-unknown" in unknown["message"]
    if kind == "max":  # the Max Space reads no documents: refused before any request
        assert edge["media"]["raised"] == "ValueError" and "files" in edge["media"]["message"]
    else:  # uploaded; the replica's agent read each file from the path it was given
        facts = [
            fake_model.file_fact("pixel.png", base64.b64decode("iVBORw0KGgo=")),
            fake_model.file_fact("notes.txt", b"notes\n"),
        ]
        assert edge["media"]["raised"] is None, edge["media"]
        assert edge["media"]["text"] == expected(kind, fake_model.with_files(spec.QUERY, facts), 0)
    assert _ok(edge["empty_media"], "media=[]")["text"] == expected(kind, spec.QUERY, 0)


def test_import_qwen_spaces_never_imports_gpt4free(g4f_python: str) -> None:
    code = (
        "import sys, qwen_spaces, qwen_spaces.cli\n"
        "before = 'g4f' in sys.modules\n"
        "import qwen_spaces.providers as p\n"
        "print(before, 'g4f' in sys.modules, p.GPT4FREE)\n"
    )
    out = subprocess.run(
        [g4f_python, "-c", code], capture_output=True, text=True, env=_env(), timeout=120, check=True
    ).stdout.split()
    assert out == ["False", "True", "True"]


def test_gpt4free_is_not_a_dependency() -> None:
    # tests/unit/test_providers.py checks the standalone classes in the dev
    # venv, which has no gpt4free.
    requires = importlib.metadata.requires("qwen_spaces") or []
    assert requires and not [r for r in requires if r.lower().startswith(("g4f", "nodriver"))]
