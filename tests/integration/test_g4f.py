"""The providers as gpt4free drop-ins, through gpt4free's own client, against the replicas.

gpt4free lives in its own venvs, two releases: g4f 0.5.5.0 (.venvs/g4f, the
last with Qwen providers of its own) and gpt4free 8.8.6 (.venvs/g4f-new, which
has none: its users pass ours). Each replica gets one run of
``g4f_driver.py`` per venv, all at once; the driver reports what every entry
point handed back and the checks are here. Rows: gpt4free release x entry
point x replica (Max on Gradio 4, 5, 6; 1M streaming appends and with the
changing <summary> footer; the Qwen3 demo on Gradio 5.27; Qwen2-72B and
Qwen2.5 on Gradio 4). Columns: exact text, streamed chunks, system prompt +
3-turn history, reasoning, conversation. With
``QWEN_SPACES_G4F_TABLE=/path.md`` the results table is written there.

The last tests run the same providers without gpt4free (the dev venv), sync
and async. Without a gpt4free venv the tests skip, or fail with ``CI=true``.
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

from qwen_spaces._gradio import payloads
from tests.support import g4f_scenarios as spec
from tests.support.replicas import fake_model
from tests.support.replicas import fake_qwen3 as fq
from tests.support.replicas.launcher import Replica

REPO = Path(__file__).resolve().parents[2]
DRIVER = REPO / "tests" / "support" / "g4f_driver.py"
DRIVER_TIMEOUT = 420.0
PARALLEL = 6  # driver processes at once (2 cores; each mostly waits on its replica)
# The first test waits for the replicas and all sixteen driver runs.
pytestmark = pytest.mark.timeout(DRIVER_TIMEOUT + 120)

#: gpt4free release -> (environment variable, default venv, version)
RELEASES = {
    "0.5": ("QWEN_SPACES_G4F_PYTHON", ".venvs/g4f", "0.5.5.0"),
    "8.8": ("QWEN_SPACES_G4F_NEW_PYTHON", ".venvs/g4f-new", "8.8.6"),
}
#: replica fixture -> (provider kind, row label)
REPLICAS = {
    "max_g4": ("max", "Max, Gradio 4"),
    "max_g5": ("max", "Max, Gradio 5"),
    "max_g6": ("max", "Max, Gradio 6"),
    "onem_g4": ("onem", "1M, appends"),
    "onem_g4_footer": ("onem", "1M, <summary> footer"),
    "qwen3_g527": ("qwen3", "Qwen3, Gradio 5.27"),
    "qwen2_g4": ("qwen2", "Qwen2-72B, Gradio 4"),
    "qwen25_g4": ("qwen25", "Qwen2.5, Gradio 4"),
}
#: one replica per provider class
ONE_PER_KIND = {
    "max": "max_g5",
    "onem": "onem_g4",
    "qwen3": "qwen3_g527",
    "qwen2": "qwen2_g4",
    "qwen25": "qwen25_g4",
}
ENTRIES = spec.ENTRY_POINTS
STREAMING = {e for e in ENTRIES if "stream=True" in e}
NOT_STREAMED_STR = {"ChatCompletion.create", "ChatCompletion.create_async"}
# What gpt4free itself does with a provider's chunks (its client code):
# - a conversation is handed out by these entry points only (ChatCompletion
#   without stream returns a str; 0.5's sync streaming client keeps it);
EXPOSES_CONVERSATION = {
    "0.5": set(ENTRIES) - NOT_STREAMED_STR - {"Client.create(stream=True)"},
    "8.8": set(ENTRIES) - NOT_STREAMED_STR,
}
# - the sync client hands that conversation out as a plain dict;
CONVERSATION_AS_DICT = {"Client.create", "IterListProvider + Client.create"}
# - reasoning (the Qwen3 thinking, the 1M status "Qwen is thinking...") is a
#   truthy Reasoning when the caller streams, a falsy one when it does not (so
#   that ChatCompletion's str, which joins every truthy chunk, never holds it):
#   every entry point delivers it but those two str ones and IterListProvider
#   without streaming, which drops falsy chunks (never part of the content).
DELIVERS_REASONING = set(ENTRIES) - NOT_STREAMED_STR - {"IterListProvider + Client.create"}
REASONING_AS_CHUNKS = {
    "ChatCompletion.create(stream=True)",
    "ChatCompletion.create_async(stream=True)",
}

_table: dict[tuple[str, str, str], dict[str, str]] = {}


def _unavailable(message: str) -> None:
    if os.environ.get("CI", "").strip().lower() in ("true", "1"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _python(release: str) -> str:
    variable, venv, _ = RELEASES[release]
    python = os.environ.get(variable) or str(REPO / venv / "bin" / "python")
    if not Path(python).exists():
        _unavailable(
            f"no gpt4free {release} venv at {python} (run `make venvs`, or set {variable})"
        )
    return python


@pytest.fixture(scope="session")
def g4f_python() -> str:
    """The Python of the g4f 0.5.5.0 venv (QWEN_SPACES_G4F_PYTHON, else .venvs/g4f)."""
    return _python("0.5")


@pytest.fixture(scope="session")
def g4f_new_python() -> str:
    """The Python of the gpt4free 8.8.6 venv (QWEN_SPACES_G4F_NEW_PYTHON, else .venvs/g4f-new)."""
    return _python("8.8")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # This checkout's qwen_spaces, whatever the venv's editable install points at.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("G4F_PROXY", None)
    return env


@pytest.fixture(scope="session")
def g4f_reports(
    g4f_python: str,
    g4f_new_python: str,
    max_g4: Replica,
    max_g5: Replica,
    max_g6: Replica,
    onem_g4: Replica,
    onem_g4_footer: Replica,
    qwen3_g527: Replica,
    qwen2_g4: Replica,
    qwen25_g4: Replica,
) -> dict[tuple[str, str], dict[str, Any]]:
    """One driver run per release and replica, PARALLEL at a time: -> the driver's report."""
    replicas = {
        "max_g4": max_g4,
        "max_g5": max_g5,
        "max_g6": max_g6,
        "onem_g4": onem_g4,
        "onem_g4_footer": onem_g4_footer,
        "qwen3_g527": qwen3_g527,
        "qwen2_g4": qwen2_g4,
        "qwen25_g4": qwen25_g4,
    }
    pythons = {"0.5": g4f_python, "8.8": g4f_new_python}
    todo = [(release, name) for name in replicas for release in pythons]
    workdir = tempfile.mkdtemp(prefix="g4f-driver-")  # gpt4free may write files in its cwd
    running: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
    reports: dict[tuple[str, str], dict[str, Any]] = {}
    deadline = time.monotonic() + DRIVER_TIMEOUT
    try:
        while todo or running:
            while todo and len(running) < PARALLEL:
                release, name = todo.pop(0)
                running[(release, name)] = subprocess.Popen(
                    [pythons[release], str(DRIVER), REPLICAS[name][0], replicas[name].url],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=workdir,
                    env=_env(),
                )
            done = [key for key, process in running.items() if process.poll() is not None]
            for key in done:
                process = running.pop(key)
                out, err = process.communicate()
                if process.returncode != 0:
                    pytest.fail(
                        f"the gpt4free {key[0]} driver for {key[1]} failed:\n{err.decode()[-3000:]}"
                    )
                reports[key] = json.loads(out)
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the gpt4free drivers took over {DRIVER_TIMEOUT:.0f} s: {sorted(running)}"
                )
            if not done:
                time.sleep(0.2)
    finally:
        for process in running.values():
            process.kill()
            process.communicate()  # reaps it and closes its pipes
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
        "| gpt4free | entry point | replica | " + " | ".join(columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    for release, (_, _, version) in RELEASES.items():
        for entry in ENTRIES:
            for name, (_, label) in REPLICAS.items():
                cells = _table.get((release, entry, name))
                if cells is not None:
                    row = " | ".join(cells.get(c, "not run") for c in columns)
                    lines.append(f"| {version} | `{entry}` | {label} | {row} |")
    return "\n".join(lines) + "\n"


# --- expected answers: the replicas' fake models echo what they were given -------------------


def expected(kind: str, query: str, turns: int, system: str | None = None, name: str = "") -> str:
    """The answer of ``kind``'s replica; ``name`` is the model name the call used (Qwen3)."""
    if kind == "onem":  # the 1M Space has no system prompt; its replica labels itself
        return fake_model.expected_answer(query, turns, fake_model.ONEM_SYSTEM)
    if kind == "qwen3":
        model = spec.QWEN3_IDS[name]
        return fq.expected_answer(query, model, fq.DEFAULT_BUDGET, True, fq.NO_SYSTEM, turns)
    if kind == "qwen25":  # the size radio's value is part of what the replica answers
        return fake_model.expected_answer(
            query, turns, fake_model.sized_system("72B", system or fake_model.QWEN25_SYSTEM)
        )
    return fake_model.expected_answer(query, turns, system or fake_model.DEFAULT_SYSTEM)


def expected_reasoning(query: str, turns: int, system: str | None = None, name: str = "") -> str:
    model = spec.QWEN3_IDS[name]
    return fq.expected_reasoning(query, model, fq.DEFAULT_BUDGET, fq.NO_SYSTEM, turns)


def _history() -> list[dict[str, str]]:
    turns = []
    for user, assistant in spec.HISTORY:
        turns += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return [*turns, {"role": "user", "content": spec.QUERY}]


def history_prompt(kind: str) -> tuple[str, int]:
    """What the Space is asked with the system prompt and history: (prompt, earlier turns)."""
    if kind in ("max", "qwen2", "qwen25"):  # three chatbot turns, then the query
        return spec.QUERY, len(spec.HISTORY)
    # The 1M Space takes one text: the conversation flattened (PROTOCOL.md
    # section 3); on Qwen3, a history its session has not seen goes in the
    # first prompt, the system prompt at its head (the page never gives the
    # model its form's system prompt: PROTOCOL.md section 6).
    return payloads.flatten([{"role": "system", "content": spec.SYSTEM}, *_history()]), 0


# --- checks: each returns the cell; a failed one raises AssertionError ----------------------


def _ok(obs: dict[str, Any], what: str) -> dict[str, Any]:
    assert "error" not in obs, f"{what}: {obs.get('error')}\n{obs.get('trace', '')}"
    assert obs["content_types"] in ([], ["str"]) and not obs["other"], f"{what}: {obs}"
    return obs


def check_exact(release: str, kind: str, entry: str, run: dict[str, Any]) -> str:
    obs = _ok(run["plain"], "plain call")
    assert obs["text"] == expected(kind, spec.QUERY, 0, name=run["model"])
    assert fake_model.THINKING not in obs["text"] and "hmm hmm" not in obs["text"]
    return "✓ exact"


def check_chunks(release: str, kind: str, entry: str, run: dict[str, Any]) -> str:
    obs = _ok(run["plain"], "plain call")
    if entry not in STREAMING:
        assert obs["content_chunks"] == 1
        return "1 (not streamed)"
    assert obs["content_chunks"] > 10, obs
    return f"✓ {obs['content_chunks']}"


def check_history(release: str, kind: str, entry: str, run: dict[str, Any]) -> str:
    obs = _ok(run["history"], "system + history call")
    prompt, turns = history_prompt(kind)
    assert obs["text"] == expected(kind, prompt, turns, spec.SYSTEM, run["model"])
    if kind in ("max", "qwen2", "qwen25"):
        return "✓ system + 3 turns"
    return "✓ system + 3 turns, flattened"


def check_reasoning(release: str, kind: str, entry: str, run: dict[str, Any]) -> str:
    reasoning = [run[s]["reasoning"] for s in ("plain", "history")]
    texts = [run[s]["text"] for s in ("plain", "history")]
    assert all(fake_model.THINKING not in t and "hmm hmm" not in t for t in texts)
    if kind in ("max", "qwen2", "qwen25"):  # these Spaces send no status
        assert reasoning == ["", ""]
        return "none sent"
    if entry not in DELIVERS_REASONING:
        assert reasoning == ["", ""]
        if entry.startswith("ChatCompletion"):  # a str: the answer alone
            return "kept out of the str"
        return "dropped by g4f (falsy chunk); not in content"
    if kind == "qwen3":
        prompt, _ = history_prompt(kind)
        assert reasoning == [
            expected_reasoning(spec.QUERY, 0, name=run["model"]),
            expected_reasoning(prompt, 0, spec.SYSTEM, run["model"]),
        ]
        if entry in STREAMING:  # streamed as it came, in many Reasoning chunks
            assert run["plain"]["reasoning_chunks"] > 10
    else:
        assert reasoning == [fake_model.THINKING] * 2
    if entry in REASONING_AS_CHUNKS:
        assert run["plain"]["reasoning_types"] == ["ThinkingReasoning"]
        return "✓ Reasoning chunks"
    return "✓ reasoning_content" if release == "0.5" else "✓ reasoning"


def check_conversation(release: str, kind: str, entry: str, run: dict[str, Any]) -> str:
    first = _ok(run["first"], "first turn")
    second_query = spec.FOLLOW_UP[1]
    assert first["text"] == expected(kind, spec.first_query(entry), 0, name=run["model"])
    if entry not in EXPOSES_CONVERSATION[release]:
        assert first["conversation"] is None and "follow_up" not in run
        return "n/a: g4f does not hand it out"
    conversation = first["conversation"]
    assert conversation is not None, "return_conversation=True gave no response.conversation"
    handed = conversation.get(spec.CLASSES[kind], conversation)  # IterListProvider nests it
    assert isinstance(handed["session_hash"], str) and len(handed["session_hash"]) == 12
    assert handed.get("thinking") is (True if kind == "qwen3" else None)
    assert first["conversation_is_dict"] is (entry in CONVERSATION_AS_DICT)
    # Turn 1 and only the new message: the 1M and Qwen3 Spaces kept the first
    # turn in their session (nothing flattened); the others got it as a chatbot turn.
    want = expected(kind, second_query, 1, name=run["model"])
    form = "dict" if first["conversation_is_dict"] else "object"
    if release == "8.8" and entry == "IterListProvider + Client.create":
        # gpt4free 8.8's IterListProvider cannot take back the dict its own
        # sync client handed out (it setattr()s on it); wrapped in its
        # JsonConversation, it continues.
        assert "'dict' object has no attribute" in run["follow_up"]["error"]
        assert _ok(run["follow_up_wrapped"], "follow-up, wrapped")["text"] == want
        assert "alone" not in run  # the failed follow-up handed nothing back
        return "✓ continued (dict → g4f JsonConversation(**dict): g4f 8.8 bug)"
    assert _ok(run["follow_up"], "follow-up")["text"] == want
    # Then the seed's rule: the new user message alone continues the session.
    alone = _ok(run["alone"], "the new message alone")
    assert alone["text"] == expected(kind, spec.ALONE, 2, name=run["model"])
    return f"✓ continued ({form}), then alone"


CHECKS: dict[str, Callable[[str, str, str, dict[str, Any]], str]] = {
    "exact text": check_exact,
    "chunks": check_chunks,
    "history": check_history,
    "reasoning": check_reasoning,
    "conversation": check_conversation,
}


@pytest.mark.parametrize("replica", list(REPLICAS))
@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("release", list(RELEASES))
def test_entry_point(
    release: str, entry: str, replica: str, g4f_reports: dict[tuple[str, str], dict[str, Any]]
) -> None:
    kind = REPLICAS[replica][0]
    run = g4f_reports[(release, replica)]["entries"][entry]
    cells: dict[str, str] = {}
    failures: list[str] = []
    for column, check in CHECKS.items():
        try:
            cells[column] = check(release, kind, entry, run)
        except (AssertionError, KeyError) as exc:
            cells[column] = "✗ FAILED"
            failures.append(f"{column}: {exc!r}")
    _table[(release, entry, replica)] = cells
    assert not failures, "\n".join(failures)


#: What each class says of itself, as gpt4free's last versions had it.
CLASS_FACTS = {
    "max": ("Qwen Qwen-2.5-Max", "qwen-qwen2-5-max", "/gradio_api/queue/join?", True),
    "onem": ("Qwen Qwen-2.5M", "qwen-2.5-1m-demo", "/run/predict?__theme=light&", False),
    "qwen3": ("Qwen Qwen-3", "qwen-3-235b", "/gradio_api/queue/join?__theme=system", False),
    "qwen2": ("Qwen Qwen-2.72B", "qwen-qwen2-72b-instruct", "/queue/join?", True),
    "qwen25": ("Qwen Qwen-2.5", "qwen-qwen2-5", "/queue/join", True),
}


@pytest.mark.parametrize("kind", list(ONE_PER_KIND))
@pytest.mark.parametrize("release", list(RELEASES))
def test_classes_are_gpt4free_providers(
    release: str, kind: str, g4f_reports: dict[tuple[str, str], dict[str, Any]]
) -> None:
    report = g4f_reports[(release, ONE_PER_KIND[kind])]
    assert report["g4f_version"] == RELEASES[release][2]
    assert Path(report["qwen_spaces_file"]).resolve().is_relative_to(REPO)
    facts = report["class"]
    assert facts["gpt4free_flag"] is True
    assert facts["is_async_generator_provider"] and facts["is_provider_model_mixin"]
    # Every method gpt4free's own providers have (0.5 has more than 8.8).
    assert "create_async_generator" in facts["offered_methods"] and facts["missing_methods"] == []
    assert len(facts["offered_methods"]) == (8 if release == "0.5" else 4)
    name = spec.CLASSES[kind]
    assert facts["get_dict"]["name"] == facts["get_parent"] == name
    assert facts["params"] == ("str" if release == "0.5" else None)  # 8.8 has no params
    assert facts["needs_auth"] is False and facts["working"] is True
    assert facts["supports_stream"] and facts["supports_system_message"]
    label, default, endpoint, history = CLASS_FACTS[kind]
    assert facts["label"] == label and facts["default_model"] == default
    assert facts["api_endpoint"] == facts["url"] + endpoint
    # As the seeds list them; Max and the older demos send the real history.
    assert facts["supports_message_history"] is history
    assert set(facts["get_model"]) == set(spec.NAMES[kind])
    if kind == "qwen3":  # each name to the Space's own id of its model
        assert facts["get_model"] == spec.QWEN3_IDS
        assert facts["get_models"] == spec.NAMES["qwen3"][:8]
    else:
        assert set(facts["get_model"].values()) == {default}


@pytest.mark.parametrize("replica", list(REPLICAS))
@pytest.mark.parametrize("release", list(RELEASES))
def test_names_unknown_model_and_media(
    release: str, replica: str, g4f_reports: dict[tuple[str, str], dict[str, Any]]
) -> None:
    kind = REPLICAS[replica][0]
    edge = g4f_reports[(release, replica)]["edge"]
    # Every spelling of the model: the answer of that model.
    assert edge["names"] == {
        name: expected(kind, spec.QUERY, 0, name=name) for name in spec.NAMES[kind]
    }
    unknown = edge["unknown_model"]
    assert unknown["raised"] == "ModelNotFoundError"
    assert unknown["is_gpt4free_error"] and unknown["is_value_error"]
    assert "gpt-4o-unknown" in unknown["message"]
    first = spec.NAMES[kind][0]
    if kind != "onem":  # these Spaces read no documents: refused before any request
        assert edge["media"]["raised"] == "ValueError" and "files" in edge["media"]["message"]
    else:  # uploaded; the replica's agent read each file from the path it was given
        facts = [
            fake_model.file_fact("pixel.png", base64.b64decode("iVBORw0KGgo=")),
            fake_model.file_fact("notes.txt", b"notes\n"),
        ]
        assert edge["media"]["raised"] is None, edge["media"]
        assert edge["media"]["text"] == expected(kind, fake_model.with_files(spec.QUERY, facts), 0)
    empty = _ok(edge["empty_media"], "media=[]")
    assert empty["text"] == expected(kind, spec.QUERY, 0, name=first)


@pytest.mark.parametrize("replica", ["onem_g4", "qwen3_g527"])
@pytest.mark.parametrize("release", list(RELEASES))
def test_a_conversation_survives_a_space_restart(
    release: str, replica: str, g4f_reports: dict[tuple[str, str], dict[str, Any]]
) -> None:
    restart = g4f_reports[(release, replica)]["edge"]["restart"]
    first, second = spec.RESTART
    for label in ("sync", "async"):
        assert _ok(restart[label + "1"], "turn one")["text"] == f"[0] {first}"
        chats = restart[label + "_chats"]
        # After the restart the follow-up went with turn one to a new session.
        last = chats[-1]
        assert last["turns"] == 0 and first in last["query"] and second in last["query"]
        assert last["session_hash"] != chats[0]["session_hash"]
        assert _ok(restart[label + "2"], "after the restart")["text"] == f"[0] {last['query']}"
        if replica.startswith("qwen3"):  # thinking stayed off in the new session
            assert chats[0]["thinking"] is False and last["thinking"] is False


@pytest.mark.parametrize("release", list(RELEASES))
def test_qwen3_thinking_off_and_budget_hold_over_follow_ups(
    release: str, g4f_reports: dict[tuple[str, str], dict[str, Any]]
) -> None:
    checks = g4f_reports[(release, "qwen3_g527")]["edge"]["no_think"]
    model = spec.QWEN3_IDS[spec.NAMES["qwen3"][1]]
    # enable_thinking=False and thinking_budget=4 (units of 1024) reached the
    # Space; the session kept thinking off for the follow-ups (the second
    # passes enable_thinking=False again, the third nothing), each sending
    # only its new message.
    for turn, (label, query) in enumerate(
        zip(("first", "second", "third"), spec.NO_THINK, strict=True)
    ):
        obs = _ok(checks[label], label)
        assert obs["text"] == fq.expected_answer(
            query, model, spec.NO_THINK_BUDGET, False, fq.NO_SYSTEM, turn
        )
        assert obs["reasoning"] == ""
        handed = obs["conversation"]
        assert (
            handed["thinking"] is False
            and handed["session_hash"] == checks["first"]["conversation"]["session_hash"]
        )
    on = _ok(checks["thinking_on"], "thinking=True")
    assert on["text"] == fq.expected_answer(
        spec.QUERY, model, fq.DEFAULT_BUDGET, True, fq.NO_SYSTEM, 0
    )
    assert on["reasoning"] == fq.expected_reasoning(
        spec.QUERY, model, fq.DEFAULT_BUDGET, fq.NO_SYSTEM, 0
    )
    # A budget in tokens (what the SDK takes) is refused: gpt4free's unit is 1024 tokens.
    assert checks["budget_tokens"]["raised"] == "ValueError"
    assert "units of 1024" in checks["budget_tokens"]["message"]
    assert "4096 tokens is 4" in checks["budget_tokens"]["message"]
    assert checks["bad_switch"]["raised"] == "TypeError"


@pytest.mark.parametrize("kind", ["onem", "qwen3"])
@pytest.mark.parametrize("release", list(RELEASES))
def test_a_chat_never_continues_another_that_began_alike(
    release: str, kind: str, g4f_reports: dict[tuple[str, str], dict[str, Any]]
) -> None:
    chats = g4f_reports[(release, ONE_PER_KIND[kind])]["edge"]["cache_chats"]
    start, a_query, b_query = spec.CACHE_CHATS
    name = spec.NAMES[kind][0]
    for chat in ("a", "b"):
        assert _ok(chats[chat + "1"], chat)["text"] == expected(kind, start, 0, name=name)
    assert _ok(chats["a2"], "a2")["text"] == expected(kind, a_query, 1, name=name)
    b2 = _ok(chats["b2"], "b2")["text"]
    if release == "0.5":  # B's own conversation, continued
        assert b2 == expected(kind, b_query, 1, name=name)
    else:
        # gpt4free 8.8's conversation cache passed B the conversation of A
        # (same first message), which holds A's turns: the provider saw it and
        # started a fresh session with B's own history, rather than answer
        # inside A's.
        history = [
            {"role": "user", "content": start},
            {"role": "assistant", "content": chats["b1"]["text"]},
            {"role": "user", "content": b_query},
        ]
        assert b2 == expected(kind, payloads.flatten(history), 0, name=name)


@pytest.mark.parametrize("release", list(RELEASES))
def test_import_qwen_spaces_never_imports_gpt4free(release: str) -> None:
    code = (
        "import sys, qwen_spaces, qwen_spaces._cli\n"
        "before = 'g4f' in sys.modules\n"
        "import qwen_spaces.providers as p\n"
        "print(before, 'g4f' in sys.modules, p.GPT4FREE)\n"
    )
    out = subprocess.run(
        [_python(release), "-c", code],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=True,
    ).stdout.split()
    assert out == ["False", "True", "True"]


def test_gpt4free_is_not_a_dependency() -> None:
    # tests/apps/providers/test_providers.py checks the standalone classes in the dev
    # venv, which has no gpt4free.
    requires = importlib.metadata.requires("qwen_spaces") or []
    assert requires and not [r for r in requires if r.lower().startswith(("g4f", "nodriver"))]


# --- the same provider without gpt4free: the dev venv has no gpt4free ----------------------


def _split(chunks: list[Any]) -> tuple[str, str, Any]:
    import qwen_spaces as qs

    text = "".join(c for c in chunks if isinstance(c, str))
    reasoning = "".join(c.text for c in chunks if isinstance(c, qs.Reasoning))
    handed = [c for c in chunks if not isinstance(c, (str, qs.Reasoning))]
    return text, reasoning, handed[-1] if handed else None


def test_qwen3_provider_stands_alone_sync_then_async(
    qwen3_g527: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from qwen_spaces.providers import GPT4FREE, Qwen_Qwen_3

    assert GPT4FREE is False
    monkeypatch.setattr(Qwen_Qwen_3, "url", qwen3_g527.url)
    model = "qwen3-8b"
    first = [{"role": "user", "content": spec.QUERY}]
    chunks = list(
        Qwen_Qwen_3.create_completion(
            "qwen-3-8b", first, return_conversation=True, thinking_budget=2, timeout=30
        )
    )
    text, reasoning, conversation = _split(chunks)
    assert text == fq.expected_answer(spec.QUERY, model, 2, True, fq.NO_SYSTEM, 0)
    assert reasoning == fq.expected_reasoning(spec.QUERY, model, 2, fq.NO_SYSTEM, 0)
    assert conversation.thinking is True and len(conversation.session_hash) == 12
    # The async generator continues the same session (only the new message
    # is sent), with thinking turned off, not streamed.
    follow_up = [
        *first,
        {"role": "assistant", "content": text},
        {"role": "user", "content": "Next?"},
    ]

    async def second() -> list[Any]:
        return [
            c
            async for c in Qwen_Qwen_3.create_async_generator(
                "qwen-3-8b",
                follow_up,
                conversation=conversation.get_dict(),
                return_conversation=True,
                enable_thinking=False,
                stream=False,
            )
        ]

    text2, reasoning2, conversation2 = _split(asyncio.run(second()))
    assert text2 == fq.expected_answer("Next?", model, fq.DEFAULT_BUDGET, False, fq.NO_SYSTEM, 1)
    assert reasoning2 == ""
    assert conversation2.session_hash == conversation.session_hash
    assert conversation2.thinking is False


@pytest.mark.parametrize("kind", ["qwen2", "qwen25"])
def test_older_demo_providers_stand_alone_with_history(
    kind: str, qwen2_g4: Replica, qwen25_g4: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from qwen_spaces import providers

    provider = getattr(providers, spec.CLASSES[kind])
    monkeypatch.setattr(provider, "url", (qwen2_g4 if kind == "qwen2" else qwen25_g4).url)
    messages = [{"role": "system", "content": spec.SYSTEM}, *_history()]
    name = spec.NAMES[kind][0]
    text, reasoning, _ = _split(list(provider.create_completion(name, messages, timeout=30)))
    assert text == expected(kind, spec.QUERY, len(spec.HISTORY), spec.SYSTEM) and reasoning == ""

    async def streamed() -> list[Any]:
        return [c async for c in provider.create_async_generator(name, spec.QUERY)]

    chunks = asyncio.run(streamed())
    assert "".join(chunks) == expected(kind, spec.QUERY, 0) and len(chunks) > 10
