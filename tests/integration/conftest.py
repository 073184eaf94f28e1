"""Real Gradio replica Spaces on loopback, one per Gradio generation and layout.

Every test under tests/integration gets the ``integration`` mark. The replicas
the selected tests need are all launched at once when collection ends (they
start in parallel), and each fixture waits for its own. A replica that cannot
start fails the test with ``CI=true`` and skips it otherwise.

Servers a test module restarts (``Replica.restart()``: a Space restart) are
its own, started once per module: Qwen-Agent's real WebUI (the 1M demo's page)
on a fake OpenAI-compatible model, and a Qwen3 replica.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.replicas.fake_openai import FakeOpenAI
from tests.support.replicas.launcher import Replica, ReplicaError, launch_replica
from tests.support.replicas.webui_launcher import start_webui

HERE = Path(__file__).resolve().parent
START_TIMEOUT = float(os.environ.get("QWEN_SPACES_REPLICA_TIMEOUT", "90"))

#: fixture name -> (kind, gradio major, options)
REPLICAS: dict[str, tuple[str, int, dict[str, Any]]] = {
    "max_g4": ("max", 4, {}),
    "max_g5": ("max", 5, {}),
    "max_g6": ("max", 6, {}),
    "max_g5_shifted": ("max", 5, {"shift_ids": True}),
    "onem_g4": ("onem", 4, {}),
    "onem_g4_footer": ("onem", 4, {"footer": True}),
    # The Qwen3 demo on Gradio 5.27 + modelscope_studio 1.6.1 (the "527" venv), with the
    # Space's ids and with every id and fn_index shifted; the two older Qwen demos on 4.44.
    "qwen3_g527": ("qwen3", 527, {}),
    "qwen3_g527_shifted": ("qwen3", 527, {"shift_ids": True}),
    "qwen2_g4": ("qwen2", 4, {}),
    "qwen25_g4": ("qwen25", 4, {}),
    # The Max app mounted under a path of a FastAPI app (gr.mount_gradio_app(app, demo,
    # path="/chat")): nothing answers at the host's root.
    "max_g4_mounted": ("max", 4, {"mount_path": "/chat"}),
    "max_g5_mounted": ("max", 5, {"mount_path": "/chat"}),
}
MAX_REPLICAS = ["max_g4", "max_g5", "max_g6", "max_g5_shifted"]
ONEM_REPLICAS = ["onem_g4", "onem_g4_footer"]
QWEN3_REPLICAS = ["qwen3_g527", "qwen3_g527_shifted"]
MOUNTED_REPLICAS = ["max_g4_mounted", "max_g5_mounted"]

_pool: dict[str, Replica] = {}


def _in_integration(item: pytest.Item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


def _needed(item: pytest.Item) -> set[str]:
    names = set(getattr(item, "fixturenames", ())) & REPLICAS.keys()
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        names |= {v for v in callspec.params.values() if isinstance(v, str) and v in REPLICAS}
    return names


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Before -m deselection runs, so `-m integration` / `-m "not integration"` work.
    for item in items:
        if _in_integration(item):
            item.add_marker(pytest.mark.integration)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    wanted: set[str] = set()
    for item in session.items:
        if _in_integration(item):
            wanted |= _needed(item)
    for name in sorted(wanted):
        _launch(name)


def pytest_sessionfinish(session: pytest.Session) -> None:
    for replica in list(_pool.values()):
        replica.stop()
    _pool.clear()


def _launch(name: str) -> Replica | None:
    if name not in _pool:
        kind, gradio, options = REPLICAS[name]
        try:
            _pool[name] = launch_replica(kind, gradio, **options)
        except ReplicaError:
            return None  # reported when a test asks for it
    return _pool[name]


def _unavailable(message: str) -> None:
    if os.environ.get("CI", "").strip().lower() in ("true", "1"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _ready(name: str) -> Replica:
    kind, gradio, options = REPLICAS[name]
    replica = _pool.get(name)
    try:
        if replica is None:
            replica = launch_replica(kind, gradio, **options)
            _pool[name] = replica
        return replica.wait_ready(START_TIMEOUT)
    except ReplicaError as exc:
        _pool.pop(name, None)
        _unavailable(f"replica {name} could not start: {exc}")
        raise  # unreachable: _unavailable raises


def _fixture(name: str) -> Any:
    @pytest.fixture(scope="session", name=name)
    def replica_fixture() -> Iterator[Replica]:
        replica = _ready(name)
        yield replica
        replica.stop()
        _pool.pop(name, None)

    replica_fixture.__doc__ = f"The {name} replica Space, started once per session."
    return replica_fixture


max_g4 = _fixture("max_g4")
max_g5 = _fixture("max_g5")
max_g6 = _fixture("max_g6")
max_g5_shifted = _fixture("max_g5_shifted")
onem_g4 = _fixture("onem_g4")
onem_g4_footer = _fixture("onem_g4_footer")
qwen3_g527 = _fixture("qwen3_g527")
qwen3_g527_shifted = _fixture("qwen3_g527_shifted")
qwen2_g4 = _fixture("qwen2_g4")
qwen25_g4 = _fixture("qwen25_g4")
max_g4_mounted = _fixture("max_g4_mounted")
max_g5_mounted = _fixture("max_g5_mounted")


@pytest.fixture(scope="session", params=MAX_REPLICAS)
def max_replica(request: pytest.FixtureRequest) -> Replica:
    """Each Max replica in turn (Gradio 4, 5, 6 and 5 with shifted ids)."""
    replica: Replica = request.getfixturevalue(request.param)
    return replica


@pytest.fixture(scope="session", params=ONEM_REPLICAS)
def onem_replica(request: pytest.FixtureRequest) -> Replica:
    """Each 1M replica in turn (without and with the changing <summary> footer)."""
    replica: Replica = request.getfixturevalue(request.param)
    return replica


@pytest.fixture(scope="session", params=QWEN3_REPLICAS)
def qwen3_replica(request: pytest.FixtureRequest) -> Replica:
    """Each Qwen3 replica in turn (the Space's ids, then every id and fn_index shifted)."""
    replica: Replica = request.getfixturevalue(request.param)
    return replica


@pytest.fixture(scope="session", params=MOUNTED_REPLICAS)
def mounted_replica(request: pytest.FixtureRequest) -> Replica:
    """The Max app mounted at /chat, on Gradio 4 (no api prefix) and 5 (/gradio_api)."""
    replica: Replica = request.getfixturevalue(request.param)
    return replica


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible model that answers with what reached it, in a thread."""
    with FakeOpenAI() as model:
        yield model


@pytest.fixture(scope="module")
def qwen_agent_webui(fake_openai: FakeOpenAI) -> Iterator[Replica]:
    """Qwen-Agent 0.0.16's own WebUI (.venvs/qwenagent) on ``fake_openai``, once per module."""
    try:
        webui = start_webui(fake_openai.url, timeout=START_TIMEOUT)
    except ReplicaError as exc:
        _unavailable(f"Qwen-Agent's WebUI could not start: {exc}")
        raise  # unreachable: _unavailable raises
    yield webui
    died = webui.process.poll()
    tail = webui.log_tail()
    webui.stop()
    if died is not None:  # it died under the module's tests: say why
        pytest.fail(f"Qwen-Agent's WebUI exited with code {died}:\n{tail}", pytrace=False)


@pytest.fixture(scope="module")
def qwen3_restartable() -> Iterator[Replica]:
    """A Qwen3 replica of the module's own, which its tests may restart."""
    try:
        replica = launch_replica("qwen3", 527).wait_ready(START_TIMEOUT)
    except ReplicaError as exc:
        _unavailable(f"replica qwen3 (restartable) could not start: {exc}")
        raise
    yield replica
    replica.stop()
