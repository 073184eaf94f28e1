"""The discovery cache (issue #13): where it lives, what it holds, when it is trusted.

The file side (``qwen_spaces._client.discovery_cache``), the call's decision to go back
to /config once (``ChatCall.next_attempt``), and both clients against a
FakeSpace: a filled cache saves the /config round trip, a call uses one
connection, a corrupt file is ignored and rewritten. Every test has its own
cache directory (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import qwen_spaces as qs
from qwen_spaces._client import discovery_cache
from qwen_spaces._client.client_core import ClientCore
from qwen_spaces._core.call import ChatCall
from qwen_spaces._errors import QueueFullError, SpaceError, SpaceHTTPError
from qwen_spaces._gradio.endpoints import Endpoints, Function
from qwen_spaces._spaces.adapters import Step
from qwen_spaces._spaces.spaces import QWEN_1M, QWEN_MAX
from qwen_spaces.testing import FakeSpace

ROOT = Path(__file__).resolve().parents[2]
URL = "http://127.0.0.1:9"
MAX_IDS = Endpoints("/gradio_api", 0, 11, 1, "tuples", from_config=True)
ONEM_IDS = Endpoints("", 2, 5, 0, "ms_legacy", (Function("add_text", 1, 5),), from_config=True)


def config_requests(space: FakeSpace) -> int:
    return sum(1 for r in space.requests if r.path.split("?")[0] == "/config")


def next_step(call: ChatCall) -> Step | None:
    request = call.next_request()
    return None if request is None else request.step


# --- the file ------------------------------------------------------------------------------


def test_the_directory_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QWEN_SPACES_CACHE_DIR", str(tmp_path / "explicit"))
    assert discovery_cache.cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("QWEN_SPACES_CACHE_DIR")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert discovery_cache.cache_dir() == tmp_path / "xdg" / "qwen_spaces"
        monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # invalid per the spec: ignored
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert discovery_cache.cache_dir() == tmp_path / "home" / ".cache" / "qwen_spaces"


def test_store_then_load_round_trips_per_model_and_url() -> None:
    assert discovery_cache.load(URL, QWEN_MAX.model) is None
    assert discovery_cache.store(URL, QWEN_MAX.model, MAX_IDS)
    assert discovery_cache.store(URL, QWEN_1M.model, ONEM_IDS)
    assert discovery_cache.load(URL, QWEN_MAX.model) == MAX_IDS
    assert discovery_cache.load(URL, QWEN_1M.model) == ONEM_IDS
    assert discovery_cache.load(URL + "/other", QWEN_MAX.model) is None
    # One small file per entry; nothing left behind by the atomic writes.
    names = sorted(p.name for p in discovery_cache.cache_dir().iterdir())
    assert len(names) == 2 and all(n.startswith("endpoints-") for n in names)


def test_an_entry_expires_after_the_ttl() -> None:
    saved = 1_000_000.0
    discovery_cache.store(URL, QWEN_MAX.model, MAX_IDS, now=saved)
    assert discovery_cache.load(URL, QWEN_MAX.model, now=saved + 60) == MAX_IDS
    assert discovery_cache.load(URL, QWEN_MAX.model, now=saved + discovery_cache.TTL) is None
    # Written by a clock far ahead: not trusted either.
    assert discovery_cache.load(URL, QWEN_MAX.model, now=saved - 3600) is None


def test_many_expired_entries_are_removed_by_a_write() -> None:
    directory = discovery_cache.cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    old = time.time() - discovery_cache.TTL - 60
    for n in range(80):  # local servers on random ports, long ago
        stale = directory / f"endpoints-{n:024d}.json"
        stale.write_text("{}")
        os.utime(stale, (old, old))
    leftover = directory / ".endpoints-x.json.abc.tmp"  # a writer that crashed
    leftover.write_text("{")
    os.utime(leftover, (old, old))
    (directory / "unrelated.txt").write_text("kept")
    discovery_cache.store(URL, QWEN_MAX.model, MAX_IDS)
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [discovery_cache.entry_path(URL, QWEN_MAX.model).name, "unrelated.txt"]
    )
    assert discovery_cache.load(URL, QWEN_MAX.model) == MAX_IDS


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "no"])
def test_qwen_spaces_cache_off_disables_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    discovery_cache.store(URL, QWEN_MAX.model, MAX_IDS)
    monkeypatch.setenv("QWEN_SPACES_CACHE", value)
    assert discovery_cache.load(URL, QWEN_MAX.model) is None
    assert not discovery_cache.store(URL, QWEN_1M.model, ONEM_IDS)
    assert len(list(discovery_cache.cache_dir().iterdir())) == 1


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\xff\xfe garbage",
        b"[]",
        json.dumps({"version": 2}).encode(),
        None,  # a valid entry with a field of the wrong type (below)
        "another key",
    ],
)
def test_a_corrupt_file_is_ignored(content: object) -> None:
    discovery_cache.store(URL, QWEN_MAX.model, MAX_IDS)
    path = discovery_cache.entry_path(URL, QWEN_MAX.model)
    if content is None:
        entry = json.loads(path.read_text())
        entry["endpoints"]["fn_index"] = "0"
        content = json.dumps(entry).encode()
    elif content == "another key":
        entry = json.loads(path.read_text())
        entry["key"] = "0" * 64
        content = json.dumps(entry).encode()
    assert isinstance(content, bytes)
    path.write_bytes(content)
    assert discovery_cache.load(URL, QWEN_MAX.model) is None


def test_an_unwritable_directory_is_not_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("QWEN_SPACES_CACHE_DIR", str(blocker / "cache"))
    assert not discovery_cache.store(URL, QWEN_MAX.model, MAX_IDS)
    assert discovery_cache.load(URL, QWEN_MAX.model) is None


def test_the_file_holds_no_url_and_no_token() -> None:
    # (A base URL with credentials in it is refused when the client is built.)
    core = ClientCore(
        QWEN_MAX.model, base_url="https://example.hf.space", hf_token="hf_secrettoken123"
    )
    core._remember(MAX_IDS)
    text = discovery_cache.entry_path(core.base_url, core.model).read_text()
    for secret in ("hf_secrettoken123", "example.hf.space", "Bearer"):
        assert secret not in text
    assert os.stat(discovery_cache.entry_path(core.base_url, core.model)).st_mode & 0o077 == 0


_WRITER = """
import sys
from qwen_spaces._client import discovery_cache
from qwen_spaces._gradio.endpoints import Endpoints
fn = int(sys.argv[1])
ids = Endpoints("/gradio_api", fn, 11, 1, "tuples", from_config=True)
print("go", flush=True)
sys.stdin.readline()
for _ in range(300):
    assert discovery_cache.store("http://127.0.0.1:9", "qwen-2.5-max", ids)
"""


def test_two_processes_writing_at_once_leave_a_valid_file() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(fn)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for fn in (3, 7)
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline() == "go\n"
        for writer in writers:  # both start together
            assert writer.stdin is not None
            writer.stdin.write("\n")
            writer.stdin.flush()
        seen = set()
        deadline = time.monotonic() + 60
        while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
            existed = discovery_cache.entry_path(URL, QWEN_MAX.model).exists()
            found = discovery_cache.load(URL, QWEN_MAX.model)
            # A reader never sees half a file: once there, it is always whole.
            assert found is not None or not existed
            if found is not None:
                seen.add(found.fn_index)
        for writer in writers:
            assert writer.wait(60) == 0
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
            for stream in (writer.stdin, writer.stdout):
                if stream is not None:
                    stream.close()
    final = discovery_cache.load(URL, QWEN_MAX.model)
    assert final is not None and final.fn_index in (3, 7)
    assert seen <= {3, 7}
    # No temporary file survives.
    assert [p.name for p in discovery_cache.cache_dir().iterdir()] == [
        discovery_cache.entry_path(URL, QWEN_MAX.model).name
    ]


# --- the call's decision -------------------------------------------------------------------


def _cached_call(ids: Endpoints = MAX_IDS, cached: bool = True) -> ChatCall:
    core = ClientCore(QWEN_MAX.model, base_url=URL)
    core.endpoints, core._endpoints_cached, core._cache_read = ids, cached, True
    return core.new_call("hi")


def _refused(call: ChatCall, status: int) -> SpaceHTTPError:
    request = call.next_request()
    assert request is not None and request.step is Step.JOIN
    with pytest.raises(SpaceHTTPError) as caught:
        call.on_response(request, status, {}, b'{"detail": "Not Found"}')
    return caught.value


@pytest.mark.parametrize("status", [404, 422, 500, 400])
def test_cached_ids_the_join_refuses_go_back_to_config_once(status: int) -> None:
    call = _cached_call()
    error = _refused(call, status)
    assert call.next_attempt(error) == 0.0  # at once, and no retry used
    assert call.config_refetched
    request = call.next_request()
    assert request is not None and request.step is Step.CONFIG
    config = {
        "version": "5.12.0",
        "api_prefix": "/gradio_api",
        "components": [{"id": 12, "type": "chatbot", "props": {"type": "tuples"}}],
        "dependencies": [
            {
                "id": 4,
                "api_name": "model_chat",
                "targets": [[13, "submit"]],
                "inputs": [12],
                "outputs": [12],
            }
        ],
    }
    call.on_response(request, 200, {}, json.dumps(config).encode())
    assert call.wire.endpoints is not None and call.wire.endpoints.fn_index == 4
    # Refused again with fresh ids: an ordinary failure now (a retry or the error).
    error = _refused(call, status)
    if status == 500:
        assert call.next_attempt(error) > 0  # retried like any 500, after a backoff
        assert next_step(call) is Step.JOIN
    else:
        with pytest.raises(SpaceHTTPError):
            call.next_attempt(error)


@pytest.mark.parametrize("status", [404, 500])
def test_ids_read_from_config_are_not_refetched(status: int) -> None:
    call = _cached_call(cached=False)
    error = _refused(call, status)
    if status == 404:
        with pytest.raises(SpaceHTTPError):
            call.next_attempt(error)
    else:
        call.next_attempt(error)
        assert not call.config_refetched
        assert next_step(call) is Step.JOIN


def test_a_queue_full_answer_is_not_a_sign_of_stale_ids() -> None:
    call = _cached_call()
    request = call.next_request()
    assert request is not None
    with pytest.raises(QueueFullError) as caught:
        call.on_response(request, 503, {}, b'{"detail": "Queue is full. Max size is 1"}')
    call.next_attempt(caught.value)
    assert not call.config_refetched


def test_a_failure_naming_the_inputs_on_the_stream_refetches_before_any_text() -> None:
    call = _cached_call()
    join = call.next_request()
    assert join is not None
    call.on_response(join, 200, {}, b'{"event_id": "e1"}')
    data = call.next_request()
    assert data is not None and data.step is Step.DATA and call.on_headers(data, 200)
    failed = {
        "msg": "process_completed",
        "event_id": "e1",
        "success": False,
        "output": {
            "error": "An event handler (model_chat) didn't receive enough input values "
            "(needed: 4, got: 3)."
        },
    }
    assert call.feed(f"data: {json.dumps(failed)}\n\n".encode()) == []
    assert call.finished
    with pytest.raises(SpaceError) as caught:
        call.end_of_stream()
    assert call.next_attempt(caught.value) == 0.0
    assert next_step(call) is Step.CONFIG


def test_the_refetch_is_skipped_once_text_arrived() -> None:
    call = _cached_call(MAX_IDS.replace(chatbot_output=1))
    join = call.next_request()
    assert join is not None
    call.on_response(join, 200, {}, b'{"event_id": "e1"}')
    data = call.next_request()
    assert data is not None and call.on_headers(data, 200)
    generating = {
        "msg": "process_generating",
        "event_id": "e1",
        "success": True,
        "output": {"data": ["", [["hi", "Hel"]], "sys"], "is_generating": True},
    }
    failed = {
        "msg": "process_completed",
        "event_id": "e1",
        "success": False,
        "output": {"error": "1 validation error: input should be a valid list"},
    }
    events = call.feed(f"data: {json.dumps(generating)}\n\n".encode())
    assert [getattr(e, "text", None) for e in events if isinstance(e, qs.TextDelta)] == ["Hel"]
    call.feed(f"data: {json.dumps(failed)}\n\n".encode())
    with pytest.raises(SpaceError) as caught:
        call.end_of_stream()
    with pytest.raises(SpaceError):
        call.next_attempt(caught.value)
    assert not call.config_refetched


# --- the clients, against a FakeSpace --------------------------------------------------------


def test_building_a_client_reads_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache was read at construction")

    monkeypatch.setattr(discovery_cache, "load", refuse)
    qs.Client(model=QWEN_MAX.model, base_url=URL).close()
    code = (
        "import sys, qwen_spaces as qs; qs.Client(base_url='http://127.0.0.1:9'); "
        "print('qwen_spaces._client.discovery_cache' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("layout", ["max", "1m"])
def test_a_new_client_with_a_filled_cache_skips_config_sync(layout: str) -> None:
    model = QWEN_MAX.model if layout == "max" else QWEN_1M.model
    with FakeSpace(layout=layout, answer="Paris.") as space:
        with qs.Client(model=model, base_url=space.url) as first:
            assert first.chat("hi").text == "Paris."
        assert config_requests(space) == 1
        assert discovery_cache.load(space.url, model) is not None
        before = space.connections_opened
        with qs.Client(model=model, base_url=space.url) as second:  # a "new process"
            assert second.chat("hi").text == "Paris."
        assert config_requests(space) == 1  # no /config: straight to the join
        # All of the call's requests on one keep-alive connection.
        assert space.connections_opened - before == 1


@pytest.mark.parametrize("layout", ["max", "1m"])
async def test_a_new_client_with_a_filled_cache_skips_config_async(layout: str) -> None:
    model = QWEN_MAX.model if layout == "max" else QWEN_1M.model
    async with FakeSpace(layout=layout, answer="Paris.") as space:
        async with qs.AsyncClient(model=model, base_url=space.url) as first:
            assert (await first.chat("hi")).text == "Paris."
        before = space.connections_opened
        async with qs.AsyncClient(model=model, base_url=space.url) as second:
            assert (await second.chat("hi")).text == "Paris."
        assert config_requests(space) == 1
        assert space.connections_opened - before == 1


def test_a_cold_call_uses_one_connection_config_included() -> None:
    with FakeSpace(layout="1m", answer="Paris.") as space:
        with qs.Client(model=QWEN_1M.model, base_url=space.url) as client:
            assert client.chat("hi").text == "Paris."
        # /config, /run/predict, /queue/join, /queue/data: one connection.
        assert space.connections_opened == 1


def test_a_corrupt_file_is_ignored_and_rewritten() -> None:
    with FakeSpace(layout="max", answer="Paris.") as space:
        path = discovery_cache.entry_path(space.url, QWEN_MAX.model)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'{"version": 1, "key": ')
        with qs.Client(model=QWEN_MAX.model, base_url=space.url) as client:
            assert client.chat("hi").text == "Paris."
        assert config_requests(space) == 1
        stored = discovery_cache.load(space.url, QWEN_MAX.model)
        assert stored is not None and stored.from_config
        assert json.loads(path.read_text())["version"] == 2


def test_qwen_spaces_cache_off_reads_config_every_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QWEN_SPACES_CACHE", "off")
    with FakeSpace(layout="max", answer="Paris.") as space:
        for _ in range(2):
            with qs.Client(model=QWEN_MAX.model, base_url=space.url) as client:
                assert client.chat("hi").text == "Paris."
        assert config_requests(space) == 2
    assert list(discovery_cache.cache_dir().iterdir()) == []
