"""A Space restart between turns, through ``serve`` + openai-python and through gpt4free's client.

The real server processes restart between turns (``Replica.restart()``): the
Qwen3 replica (its upstream calls kept whole at ``GET /replica/upstream``)
and Qwen-Agent 0.0.16's real WebUI (the 1M demo's page) on a fake model that
echoes what reached it; both are this module's own. The clients run in their
own processes and pause between turns:

- openai-python (``.venvs/openai``) against one ``qwen-spaces serve`` that
  stays up across the restart: each turn sends the whole history (as OpenAI
  clients do); serve continues the Space's session with the new message
  alone, so after the restart it must send the history again;
- gpt4free's own client, 0.5.5.0 (``.venvs/g4f``) and 8.8.6
  (``.venvs/g4f-new``), ``Client`` (sync) and ``AsyncClient`` streaming, with
  the providers Qwen_Qwen_2_5M and Qwen_Qwen_3: the follow-up passes back the
  conversation gpt4free handed out with only the new user message.

Every client's turn one runs, then one restart of both Spaces (restarts are
the cost: they are shared), then every follow-up. The checks: the
follow-up's model input holds turn one, and on Qwen3 with thinking off the
follow-up ran with enable_thinking False. With ``CI=true`` a missing venv or
a server that cannot start fails, never skips.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Optional

import pytest

from tests.integration.test_g4f import RELEASES, _env, _python, _unavailable
from tests.integration.test_session_restart import (
    model_input,
    onem_input,
    qwen3_call,
    upstream,
)
from tests.support.replicas.fake_openai import FakeOpenAI
from tests.support.replicas.launcher import Replica
from tests.support.server_harness import CLIENTS, KEY, Serve, openai_python, space_args

SUPPORT = Path(__file__).resolve().parents[1] / "support"
TURN_ONE = "QWEN_SPACES_TURN_ONE"
RESULT = "QWEN_SPACES_RESULT"
TURN_TIMEOUT = 150.0  # each client's turns (g4f's import alone takes seconds on 2 cores)
# The first test runs every client's two turns and both Spaces' restart.
pytestmark = pytest.mark.timeout(2 * TURN_TIMEOUT + 120)

ONEM, QWEN3 = "qwen-2.5-1m", "qwen-3-8b"
SERVE_KINDS = ("sync_create", "async_stream")
G4F_ENTRIES = ("Client.create", "AsyncClient.create(stream=True)")
#: client -> (model kind -> (conversation label -> the word its turn one tells the model))
WORDS = {
    "serve": {
        "qwen3": {"sync_create": "APRICOT", "async_stream": "BLUEBERRY"},
        "onem": {"sync_create": "CLEMENTINE", "async_stream": "DAMSON"},
    },
    "g4f-0.5": {
        "qwen3": {"Client.create": "ELDERBERRY", "AsyncClient.create(stream=True)": "FEIJOA"},
        "onem": {"Client.create": "GUAVA", "AsyncClient.create(stream=True)": "HUCKLEBERRY"},
    },
    "g4f-8.8": {
        "qwen3": {"Client.create": "JACKFRUIT", "AsyncClient.create(stream=True)": "KUMQUAT"},
        "onem": {"Client.create": "LYCHEE", "AsyncClient.create(stream=True)": "MULBERRY"},
    },
}


def name(client: str, kind: str, label: str) -> str:
    return f"{client} {kind} {label}"


def first_text(client: str, kind: str, label: str) -> str:
    return f"[{name(client, kind, label)}] one: the word is {WORDS[client][kind][label]}"


def follow_text(client: str, kind: str, label: str) -> str:
    # Each tag is bracketed: no follow-up is the end of another (the helpers match by suffix).
    return f"[{name(client, kind, label)}] two: which word?"


class Paused:
    """A client process that prints TURN_ONE, waits for a line on stdin, then prints RESULT."""

    def __init__(self, label: str, argv: list[str], env: dict[str, str], cwd: str) -> None:
        self.label = label
        self._log: IO[str] = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            encoding="utf-8",
            env=env,
            cwd=cwd,
        )
        self._lines: queue.Queue[Optional[str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _stderr(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read()[-3000:]

    def expect(self, marker: str, deadline: float) -> Any:
        """The JSON after ``marker`` on the client's stdout; AssertionError on exit or timeout."""
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(
                    f"{self.label}: no {marker} line in time\n{self._stderr()}"
                ) from None
            if line is None:
                code = self.process.wait(timeout=10)
                raise AssertionError(
                    f"{self.label} exited {code} before {marker}:\n{self._stderr()}"
                )
            if line.startswith(marker + " "):
                return json.loads(line[len(marker) + 1 :])

    def resume(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        self._log.close()


def openai_client(serve: Serve, workdir: str) -> Paused:
    conversations = [
        {
            "name": name("serve", kind, label),
            "model": QWEN3 if kind == "qwen3" else ONEM,
            "kind": label,
            "first": first_text("serve", kind, label),
            "follow": follow_text("serve", kind, label),
            # Thinking off on each turn: serve applies what each request names.
            "extra": {"extra_body": {"enable_thinking": False}} if kind == "qwen3" else {},
        }
        for kind in ("qwen3", "onem")
        for label in SERVE_KINDS
    ]
    spec = {"base_url": serve.base_url, "api_key": KEY, "conversations": conversations}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "QWEN_"))}
    argv = [openai_python(), str(CLIENTS / "openai_restart.py"), json.dumps(spec)]
    return Paused("openai-python", argv, env, workdir)


def g4f_client(release: str, urls: dict[str, str], workdir: str) -> Paused:
    client = f"g4f-{release}"
    conversations = [
        {
            "name": name(client, kind, entry),
            "kind": kind,
            "entry": entry,
            "model": QWEN3 if kind == "qwen3" else ONEM,
            "first": first_text(client, kind, entry),
            "follow": follow_text(client, kind, entry),
            # Thinking off in turn one only: the conversation carries the switch.
            "kwargs": {"enable_thinking": False} if kind == "qwen3" else {},
        }
        for kind in ("qwen3", "onem")
        for entry in G4F_ENTRIES
    ]
    spec = {"urls": urls, "conversations": conversations}
    argv = [_python(release), str(SUPPORT / "g4f_restart_driver.py"), json.dumps(spec)]
    return Paused(f"gpt4free {RELEASES[release][2]}", argv, _env(), workdir)


def _start(client: str, serve: Optional[Serve], urls: dict[str, str], workdir: str) -> Paused:
    if client == "serve":
        assert serve is not None
        return openai_client(serve, workdir)
    return g4f_client(client.removeprefix("g4f-"), urls, workdir)


class Run:
    """What every client got, per conversation; or why a client has nothing."""

    def __init__(self) -> None:
        self.turns: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, str] = {}  # client -> why it has no result
        self.unavailable: dict[str, str] = {}  # client -> its missing venv / server
        self.app_ids: dict[str, tuple[Any, Any]] = {}
        #: the Qwen3 replica's upstream calls before its restart (a restart empties its log)
        self.qwen3_before: list[dict[str, Any]] = []
        self.serve_alive_after = False
        self.serve_url_after = ""
        self.serve_log = ""

    def of(self, client: str) -> dict[str, Any]:
        """The client's turns, per conversation; fails (or skips) when it has none."""
        if client in self.unavailable:
            _unavailable(self.unavailable[client])
        assert client not in self.failed, self.failed[client]
        return self.turns


def _available(client: str) -> Optional[str]:
    """None, or why the client cannot run (its venv is missing)."""
    try:
        if client == "serve":
            openai_python()
        else:
            _python(client.removeprefix("g4f-"))
    except (pytest.skip.Exception, pytest.fail.Exception) as outcome:
        return str(outcome.msg)
    return None


def _restart_both(*spaces: Replica) -> None:
    with ThreadPoolExecutor(len(spaces)) as pool:
        for done in [pool.submit(space.restart) for space in spaces]:
            done.result()


@pytest.fixture(scope="module")
def run(
    qwen3_restartable: Replica, qwen_agent_webui: Replica, fake_openai: FakeOpenAI
) -> Iterator[Run]:
    """Every client's turn one, one restart of both Spaces, every follow-up."""
    out = Run()
    urls = {"qwen3": qwen3_restartable.url, "onem": qwen_agent_webui.url}
    workdir = tempfile.mkdtemp(prefix="restart-apps-")  # gpt4free may write files in its cwd
    serve: Optional[Serve] = None
    clients: dict[str, Paused] = {}
    try:
        for client in WORDS:
            why = _available(client)
            if why is not None:
                out.unavailable[client] = why
        if "serve" not in out.unavailable:
            pairs = [(QWEN3, urls["qwen3"]), (ONEM, urls["onem"])]
            serve = Serve("--api-key", KEY, *space_args(pairs))
            try:
                serve.start()
            except RuntimeError as exc:
                out.unavailable["serve"] = f"qwen-spaces serve could not start: {exc}"
        for client in WORDS:
            if client not in out.unavailable:
                clients[client] = _start(client, serve, urls, workdir)
        deadline = time.monotonic() + TURN_TIMEOUT
        for client, process in list(clients.items()):
            try:
                out.turns.update(process.expect(TURN_ONE, deadline))
            except AssertionError as exc:
                out.failed[client] = f"turn one: {exc}"
                clients.pop(client).close()
        before = {"qwen3": qwen3_restartable.app_id, "onem": qwen_agent_webui.app_id}
        out.qwen3_before = upstream(qwen3_restartable)
        _restart_both(qwen3_restartable, qwen_agent_webui)
        out.app_ids = {
            "qwen3": (before["qwen3"], qwen3_restartable.app_id),
            "onem": (before["onem"], qwen_agent_webui.app_id),
        }
        for process in clients.values():
            process.resume()
        deadline = time.monotonic() + TURN_TIMEOUT
        for client, process in clients.items():
            try:
                out.turns.update(process.expect(RESULT, deadline))
            except AssertionError as exc:
                out.failed[client] = f"follow-up: {exc}"
        if serve is not None and "serve" not in out.unavailable:
            out.serve_alive_after = serve.process.poll() is None
            out.serve_url_after = serve.url
            out.serve_log = serve.log_so_far()
        yield out
    finally:
        for process in clients.values():
            process.close()
        if serve is not None:
            serve.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _no_error(obs: dict[str, Any], what: str) -> dict[str, Any]:
    assert "error" not in obs, f"{what}: {obs['error']}\n{obs.get('trace', '')}"
    return obs


def turn_one_call(run: Run, text: str) -> dict[str, Any]:
    """The Qwen3 model's call for turn one ``text`` (kept before the restart emptied the log)."""
    for call in run.qwen3_before:
        users = [m["content"] for m in call["messages"] if m["role"] == "user"]
        if users and users[-1].endswith(text):
            return call
    raise AssertionError(f"no upstream call for {text!r} before the restart")


def check_qwen3(replica: Replica, run: Run, client: str, label: str) -> list[str]:
    """What is wrong with a thinking-off Qwen3 conversation over the restart."""
    turns = run.of(client)[name(client, "qwen3", label)]
    word, query = WORDS[client]["qwen3"][label], follow_text(client, "qwen3", label)
    one = _no_error(turns["one"], f"{label}, turn one")
    assert one["reasoning"] == "", f"{label}: turn one came back with thinking on: {one}"
    assert turn_one_call(run, first_text(client, "qwen3", label))["enable_thinking"] is False
    two = _no_error(turns["two"], f"{label}, the follow-up")
    call = qwen3_call(replica, query)
    problems = []
    if word not in model_input(call):
        problems.append(f"{label}: turn one never reached the model: {call['messages']}")
    if (
        call["enable_thinking"] is not False
        or two["reasoning"]
        or "thinking off" not in two["text"]
    ):
        problems.append(f"{label}: the follow-up ran with thinking on: the model got {call}")
    return problems


def check_onem(model: FakeOpenAI, run: Run, client: str, label: str) -> list[str]:
    """What is wrong with a 1M conversation over the restart."""
    turns = run.of(client)[name(client, "onem", label)]
    word, query = WORDS[client]["onem"][label], follow_text(client, "onem", label)
    assert word in _no_error(turns["one"], f"{label}, turn one")["text"]  # the echo
    two = _no_error(turns["two"], f"{label}, the follow-up")
    seen = onem_input(model, query)
    if word not in seen:
        return [f"{label}: turn one never reached the model, which got: {seen!r} ({two['text']!r})"]
    return []


# --- serve + openai-python ------------------------------------------------------------------


def test_the_spaces_really_restarted_between_the_turns(run: Run) -> None:
    for space, (before, after) in run.app_ids.items():
        assert before is not None and after is not None and before != after, (space, before, after)


def test_serve_stays_up_across_the_space_restart(run: Run) -> None:
    run.of("serve")
    # One serve process did both turns.
    assert run.serve_alive_after and run.serve_url_after, run.serve_log[-3000:]
    # Its log says what happened to each lost session (an INFO line, no traceback).
    lost = [line for line in run.serve_log.splitlines() if "no longer holds" in line]
    assert lost and all(" INFO " in line for line in lost), run.serve_log[-3000:]
    assert "Traceback" not in run.serve_log


def test_serve_qwen3_follow_up_after_a_restart_has_turn_one_and_thinking_off(
    run: Run, qwen3_restartable: Replica
) -> None:
    problems = []
    for label in SERVE_KINDS:
        problems += check_qwen3(qwen3_restartable, run, "serve", label)
    assert not problems, "\n".join(problems)


def test_serve_1m_follow_up_after_a_restart_has_turn_one(run: Run, fake_openai: FakeOpenAI) -> None:
    problems = []
    for label in SERVE_KINDS:
        problems += check_onem(fake_openai, run, "serve", label)
    assert not problems, "\n".join(problems)


# --- gpt4free's own client, both releases ---------------------------------------------------


@pytest.mark.parametrize("release", list(RELEASES))
def test_g4f_qwen3_follow_up_alone_after_a_restart_has_turn_one_and_thinking_off(
    run: Run, qwen3_restartable: Replica, release: str
) -> None:
    problems = []
    for entry in G4F_ENTRIES:
        problems += check_qwen3(qwen3_restartable, run, f"g4f-{release}", entry)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("release", list(RELEASES))
def test_g4f_1m_follow_up_alone_after_a_restart_has_turn_one(
    run: Run, fake_openai: FakeOpenAI, release: str
) -> None:
    problems = []
    for entry in G4F_ENTRIES:
        problems += check_onem(fake_openai, run, f"g4f-{release}", entry)
    assert not problems, "\n".join(problems)
