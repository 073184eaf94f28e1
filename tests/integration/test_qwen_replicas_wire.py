"""The Qwen3, Qwen2-72B and Qwen2.5 replica Spaces over raw HTTP (requests), without the SDK.

These pin what the replicas put on the wire (tests/support/replicas/README.md, "Qwen3
demo"), so the SDK's adapters are written against a server that behaves as the
public record says: /config, the queue join, the SSE stream with nested diffs,
the thinking toggle in the same session, the server-side history, the error
turn and the named-API route. Each expected text comes from the fake models.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
import requests

from tests.support.replicas import fake_model, fake_qwen3
from tests.support.replicas.launcher import Replica

TIMEOUT = 30.0
QUERY = "Laugh: ha ha — café ☕?"
SYSTEM = "Be brief — très."
#: The Space's own ids (PROTOCOL.md section 4), which the unshifted replica must reproduce.
SPACE_INPUTS = [33, 38, 60, 1]
SPACE_OUTPUTS = [33, 56, 22, 15, 20, 29, 1]


# --- a minimal client: join, read the stream, apply diffs --------------------------------


def new_session() -> str:
    return uuid.uuid4().hex[:12]


def dependency(replica: Replica, api_name: str) -> dict[str, Any]:
    return next(d for d in replica.config["dependencies"] if d.get("api_name") == api_name)


def prefix(replica: Replica) -> str:
    return str(replica.config.get("api_prefix") or "")


def join_and_stream(
    replica: Replica, api_name: str, data: list[Any], session: str
) -> list[dict[str, Any]]:
    """Join the queue for ``api_name`` and return every message of the session's stream."""
    dep = dependency(replica, api_name)
    base = replica.url + prefix(replica)
    body = {
        "data": data,
        "event_data": None,
        "fn_index": dep["id"],
        "trigger_id": dep["targets"][0][0],
        "session_hash": session,
    }
    joined = requests.post(base + "/queue/join", json=body, timeout=TIMEOUT)
    assert joined.status_code == 200, joined.text
    event_id = joined.json()["event_id"]
    resp = requests.get(
        base + "/queue/data",
        params={"session_hash": session},
        headers={"Accept": "text/event-stream"},
        timeout=TIMEOUT,
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    messages = [
        json.loads(line[6:])
        for line in resp.content.decode("utf-8").splitlines()
        if line.startswith("data: ")
    ]
    assert messages[-1]["msg"] == "close_stream"
    assert {m["event_id"] for m in messages[:-1]} == {event_id}
    return messages


def apply_ops(value: Any, ops: list[list[Any]]) -> Any:
    for action, path, new in ops:
        if not path:
            value = new
            continue
        target = value
        for key in path[:-1]:
            target = target[key]
        key = path[-1]
        if action == "replace":
            target[key] = new
        elif action == "append":
            target[key] += new
        elif action == "add" and isinstance(target, list):
            target.insert(key, new)
        elif action == "add":
            target[key] = new
        elif action == "delete":
            del target[key]
        else:  # pragma: no cover - a new action would be a finding
            raise AssertionError(f"unknown diff action {action!r}")
    return value


def replay(messages: list[dict[str, Any]]) -> tuple[list[Any], dict[str, Any]]:
    """(outputs rebuilt from the process_generating diffs, the process_completed message)."""
    current: list[Any] | None = None
    for message in messages:
        if message["msg"] == "process_generating":
            data = message["output"]["data"]
            if current is None:
                current = copy.deepcopy(data)
            else:
                current = [apply_ops(v, ops) for v, ops in zip(current, data, strict=True)]
    completed = next(m for m in messages if m["msg"] == "process_completed")
    return current or [], completed


def settings(model: str, system: str, budget: int) -> dict[str, Any]:
    return {"model": model, "sys_prompt": system, "thinking_budget": budget}


def parts(turn: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [p for p in turn["content"] if p["type"] == kind]


# --- Qwen3 ---------------------------------------------------------------------------------


def test_qwen3_config_has_the_spaces_layout(
    qwen3_g527: Replica, qwen3_g527_shifted: Replica
) -> None:
    config = qwen3_g527.config
    assert (config["version"], config["api_prefix"], config["protocol"]) == (
        "5.27.0",
        "/gradio_api",
        "sse_v3",
    )
    add = dependency(qwen3_g527, "add_message")
    assert (add["id"], add["targets"], add["inputs"], add["outputs"]) == (
        13,
        [[33, "submit"]],
        SPACE_INPUTS,
        SPACE_OUTPUTS,
    )
    assert add["queue"] is True and add["types"]["generator"] is True
    toggle = dependency(qwen3_g527, "toggle_thinking")
    assert (toggle["id"], toggle["targets"], toggle["inputs"], toggle["outputs"]) == (
        3,
        [[61, "click"]],
        [60],
        [60],
    )
    for replica in (qwen3_g527, qwen3_g527_shifted):
        types = {c["id"]: c["type"] for c in replica.config["components"]}
        dep = dependency(replica, "add_message")
        assert [types[i] for i in dep["inputs"]] == ["antdxsender", "antdform", "state", "state"]
        assert types[dep["outputs"][5]] == "modelscopeprochatbot"
    shifted = dependency(qwen3_g527_shifted, "add_message")
    assert shifted["id"] != 13 and shifted["targets"][0][0] != 33
    assert not set(shifted["inputs"]) & set(SPACE_INPUTS)


def test_qwen3_streams_reasoning_then_answer_exactly(qwen3_replica: Replica) -> None:
    session = new_session()
    data = [QUERY, settings("qwen3-14b", SYSTEM, 3), None, None]
    messages = join_and_stream(qwen3_replica, "add_message", data, session)
    outputs, completed = replay(messages)
    assert completed["success"] is True
    final = completed["output"]["data"]
    assert final[5]["__type__"] == "update"
    assert outputs[5]["value"] == final[5]["value"]  # the diffs rebuild the final value
    user, bot = final[5]["value"]
    assert (user["role"], user["content"]) == ("user", QUERY)
    assert (bot["role"], bot["header"], bot["status"]) == ("assistant", "Qwen3-14B", "done")
    assert bot["footer"].endswith("s")
    (tool,) = parts(bot, "tool")
    (text,) = parts(bot, "text")
    assert tool["content"] == fake_qwen3.expected_reasoning(
        QUERY, "qwen3-14b", 3, fake_qwen3.NO_SYSTEM, 0
    )
    assert tool["options"]["status"] == "done"
    assert tool["options"]["title"].startswith("End of Thought (")
    assert text["content"] == fake_qwen3.expected_answer(
        QUERY, "qwen3-14b", 3, True, fake_qwen3.NO_SYSTEM, 0
    )
    # Streamed in small pieces: many appends, first to the reasoning, then to the answer.
    appends = [  # the part index of each append: 0 the reasoning, 1 the answer
        op[1][3]
        for m in messages
        if m["msg"] == "process_generating"
        for op in m["output"]["data"][5]
        if op and op[0] == "append"
    ]
    assert appends == sorted(appends) and appends[0] == 0 and len(appends) > 40


def test_qwen3_toggle_turns_thinking_off_for_the_session(qwen3_g527: Replica) -> None:
    session = new_session()
    toggled = join_and_stream(qwen3_g527, "toggle_thinking", [None], session)
    done = toggled[-2]
    assert done["msg"] == "process_completed" and done["success"] is True
    assert done["output"]["data"] == [None]  # a State output is never sent
    for turn, prompt in enumerate([QUERY, "Again, ha!"]):  # the follow-up sends only its message
        data = [prompt, settings("qwen3-32b", SYSTEM, 4), None, None]
        _, completed = replay(join_and_stream(qwen3_g527, "add_message", data, session))
        chat = completed["output"]["data"][5]["value"]
        assert len(chat) == 2 * (turn + 1)
        bot = chat[-1]
        assert parts(bot, "tool") == []
        (text,) = parts(bot, "text")
        assert text["content"] == fake_qwen3.expected_answer(
            prompt, "qwen3-32b", 4, False, fake_qwen3.NO_SYSTEM, turn
        )


def test_qwen3_error_turn_fails_with_a_null_error(qwen3_g527: Replica) -> None:
    prompt = f"Fail {fake_qwen3.ERROR_MARKER}"
    data = [prompt, settings(fake_qwen3.DEFAULT_MODEL, SYSTEM, 2), None, None]
    messages = join_and_stream(qwen3_g527, "add_message", data, new_session())
    outputs, completed = replay(messages)
    assert completed["success"] is False
    assert completed["output"] == {"error": None}
    bot = outputs[5]["value"][-1]
    assert bot["status"] == "done" and bot["loading"] is False
    reasoning, partial = fake_qwen3.partial_error_texts(
        prompt, fake_qwen3.DEFAULT_MODEL, 2, True, fake_qwen3.NO_SYSTEM, 0
    )
    assert [p["content"] for p in parts(bot, "tool")] == [reasoning]
    assert [p["content"] for p in parts(bot, "text")] == [
        partial,
        f'<span style="color: var(--color-red-500)">{fake_qwen3.ERROR_MESSAGE}</span>',
    ]


def test_qwen3_early_error_leaves_only_the_span(qwen3_g527: Replica) -> None:
    prompt = f"Fail at once {fake_qwen3.ERROR_EARLY_MARKER}"
    data = [prompt, settings("qwen3-4b", SYSTEM, 1), None, None]
    outputs, completed = replay(join_and_stream(qwen3_g527, "add_message", data, new_session()))
    assert (completed["success"], completed["output"]) == (False, {"error": None})
    bot = outputs[5]["value"][-1]
    assert bot["status"] == "done" and bot["footer"] is None
    assert [(p["type"], p["content"]) for p in bot["content"]] == [
        ("text", f'<span style="color: var(--color-red-500)">{fake_qwen3.ERROR_MESSAGE}</span>')
    ]


def test_qwen3_named_api_route_streams_snapshots(qwen3_g527: Replica) -> None:
    base = qwen3_g527.url + "/gradio_api/call/add_message"
    data = [QUERY, settings("qwen3-8b", SYSTEM, 8), None, None]
    started = requests.post(base, json={"data": data}, timeout=TIMEOUT)
    assert started.status_code == 200, started.text
    resp = requests.get(f"{base}/{started.json()['event_id']}", timeout=TIMEOUT)
    lines = resp.content.decode("utf-8").splitlines()
    events = [line[7:] for line in lines if line.startswith("event: ")]
    assert set(events) == {"generating", "complete"} and events[-1] == "complete"
    last = json.loads([line for line in lines if line.startswith("data: ")][-1][6:])
    assert len(last) == 7
    (text,) = parts(last[5]["value"][-1], "text")
    assert text["content"] == fake_qwen3.expected_answer(
        QUERY, "qwen3-8b", 8, True, fake_qwen3.NO_SYSTEM, 0
    )


# --- Qwen2-72B and Qwen2.5 -----------------------------------------------------------------


def test_qwen2_72b_replica_is_the_usual_demo(qwen2_g4: Replica) -> None:
    assert qwen2_g4.version == "4.44.1" and "api_prefix" not in qwen2_g4.config
    dep = dependency(qwen2_g4, "model_chat")
    assert (dep["id"], dep["targets"][0][0]) == (0, 11)
    data = [QUERY, [], fake_model.DEFAULT_SYSTEM]
    outputs, completed = replay(join_and_stream(qwen2_g4, "model_chat", data, new_session()))
    expected = fake_model.expected_answer(QUERY, 0, fake_model.DEFAULT_SYSTEM)
    assert completed["success"] is True
    assert outputs[1] == completed["output"]["data"][1] == [[QUERY, expected]]


@pytest.mark.parametrize("size", ["72B", "7B"])
def test_qwen25_replica_takes_the_size_and_dict_cells(qwen25_g4: Replica, size: str) -> None:
    dep = dependency(qwen25_g4, "model_chat")
    assert (dep["id"], dep["targets"][0][0], len(dep["inputs"])) == (3, 25, 4)
    history = [[{"text": "Hi", "files": []}, {"text": "Hello! ☕", "files": []}]]
    data = [QUERY, history, SYSTEM, size]
    outputs, completed = replay(join_and_stream(qwen25_g4, "model_chat", data, new_session()))
    assert completed["success"] is True
    chatbot = completed["output"]["data"][1]
    assert outputs[1] == chatbot
    expected = fake_model.expected_answer(QUERY, 1, fake_model.sized_system(size, SYSTEM))
    assert [cell["text"] for cell in chatbot[-1]] == [QUERY, expected]
