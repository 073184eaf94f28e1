"""The fake Qwen3 demo (FakeSpace(layout="qwen3")), tested over raw HTTP: never the SDK's clients.

What a client of the Qwen3 Space meets (``shared/PROTOCOL.md`` sections 4 and 6):
Gradio 5.27's config, ``add_message`` with four inputs and seven outputs, the
chatbot as an update dict of pro.Chatbot messages (a ``tool`` part for the
reasoning, then a ``text`` part), the history and the thinking switch held in
the session, the error turn and a full queue.
"""

from __future__ import annotations

import asyncio
import copy
import json
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, Optional

import aiohttp
import pytest
import requests

from qwen_spaces.testing import FakeSpace, Fault, RecordedChat

pytestmark = pytest.mark.timeout(60)

P = "/gradio_api"
ADD_MESSAGE, TOGGLE_THINKING, NEW_CHAT, CLEAR_HISTORY = 13, 3, 6, 15
CHATBOT_OUTPUT = 5
SETTINGS = {"model": "qwen3-32b", "sys_prompt": "Be brief.", "thinking_budget": 4}
SPAN = '<span style="color: var(--color-red-500)">{}</span>'


# --- helpers -------------------------------------------------------------------------------


def body(
    prompt: str,
    settings: Optional[dict[str, Any]] = None,
    *,
    session_hash: str = "q3session01",
    fn: int = ADD_MESSAGE,
) -> dict[str, Any]:
    """A join of add_message as gpt4free sent it: the two State inputs as null."""
    data: list[Any] = [prompt, dict(SETTINGS if settings is None else settings), None, None]
    if fn == TOGGLE_THINKING:
        data = [None]
    elif fn in (NEW_CHAT,):
        data = [None, None]
    elif fn == CLEAR_HISTORY:
        data = [None]
    trigger = {ADD_MESSAGE: 33, TOGGLE_THINKING: 61, NEW_CHAT: 15, CLEAR_HISTORY: 56}[fn]
    return {
        "data": data,
        "event_data": None,
        "fn_index": fn,
        "trigger_id": trigger,
        "session_hash": session_hash,
    }


def run(http: requests.Session, space: Any, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Join, then read the session's stream to its end (``space``: anything with a ``url``)."""
    joined = http.post(space.url + P + "/queue/join", json=payload, timeout=10)
    assert joined.status_code == 200, joined.text
    resp = http.get(
        space.url + P + "/queue/data",
        params={"session_hash": payload["session_hash"]},
        headers={"Accept": "text/event-stream"},
        stream=True,
        timeout=10,
    )
    with resp:
        raw = b"".join(resp.iter_content(chunk_size=None))
    return [json.loads(b[6:]) for b in raw.decode().split("\n\n") if b.startswith("data: ")]


def apply(value: Any, ops: Sequence[Sequence[Any]]) -> Any:
    """Gradio's diff ops applied to a value, as a client must apply them."""
    for action, path, new in ops:
        if not path:
            value = copy.deepcopy(new)
            continue
        *parents, last = path
        target = value
        for key in parents:
            target = target[key]
        if action == "replace":
            target[last] = copy.deepcopy(new)
        elif action == "append":
            target[last] += new
        elif action == "add":
            if isinstance(target, list):
                target.insert(last, copy.deepcopy(new))
            else:
                target[last] = copy.deepcopy(new)
        elif action == "delete":
            del target[last]
        else:  # pragma: no cover - the fake sends no other action
            raise AssertionError(action)
    return value


def replay(messages: list[dict[str, Any]]) -> list[list[Any]]:
    """Every output value the stream showed, rebuilt from its first value and diffs."""
    shown: list[list[Any]] = []
    for m in messages:
        if m["msg"] != "process_generating":
            continue
        data = m["output"]["data"]
        if not shown:
            shown.append(copy.deepcopy(data))
        else:
            shown.append(
                [apply(copy.deepcopy(v), ops) for v, ops in zip(shown[-1], data, strict=True)]
            )
    return shown


def completion(messages: list[dict[str, Any]]) -> dict[str, Any]:
    (done,) = [m for m in messages if m["msg"] == "process_completed"]
    return done


def last_turn(values: list[Any]) -> dict[str, Any]:
    chatbot = values[CHATBOT_OUTPUT]
    assert chatbot["__type__"] == "update"
    turn: dict[str, Any] = chatbot["value"][-1]
    return turn


def parts(turn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["type"]: p for p in turn["content"]}


def all_ops(messages: list[dict[str, Any]]) -> list[list[Any]]:
    gens = [m for m in messages if m["msg"] == "process_generating"]
    return [op for m in gens[1:] for op in m["output"]["data"][CHATBOT_OUTPUT]]


# --- /config -------------------------------------------------------------------------------


def test_qwen3_config_is_gradio_5_27_with_the_demos_components_and_functions() -> None:
    with FakeSpace("qwen3") as space, requests.Session() as http:
        config = http.get(space.url + "/config", timeout=10).json()
        # Gradio 5: nothing but /config outside the prefix.
        assert http.post(space.url + "/queue/join", json={}, timeout=10).status_code == 404
    assert (config["version"], config["api_prefix"], config["protocol"]) == (
        "5.27.0",
        P,
        "sse_v3",
    )
    assert config["show_error"] is False  # launch()'s default: errors say {"error": null}
    types = {c["id"]: c["type"] for c in config["components"]}
    deps = {d["id"]: d for d in config["dependencies"]}
    add = deps[ADD_MESSAGE]
    assert (add["api_name"], add["queue"], add["types"]["generator"]) == ("add_message", True, True)
    assert [types[i] for i in add["inputs"]] == ["antdxsender", "antdform", "state", "state"]
    assert (
        len(add["outputs"]) == 7 and types[add["outputs"][CHATBOT_OUTPUT]] == "modelscopeprochatbot"
    )
    assert add["targets"] == [[add["inputs"][0], "submit"]]
    toggle = deps[TOGGLE_THINKING]
    assert toggle["api_name"] == "toggle_thinking" and toggle["queue"] is True
    assert toggle["inputs"] == toggle["outputs"] == [add["inputs"][2]]
    form = {c["id"]: c for c in config["components"]}[add["inputs"][1]]
    assert form["props"]["value"]["model"] == "qwen3-235b-a22b"


def test_qwen3_exists_on_gradio_5_only_and_reasoning_is_qwen3s() -> None:
    with pytest.raises(ValueError, match="gradio must be one of \\[5\\]"):
        FakeSpace("qwen3", gradio=4)
    with pytest.raises(ValueError, match="reasoning is only streamed by the 'qwen3' layout"):
        FakeSpace("max", reasoning="hmm")
    with pytest.raises(ValueError, match="layout must be one of"):
        FakeSpace("qwen4")


# --- one answer ------------------------------------------------------------------------------


def test_a_thinking_answer_streams_the_reasoning_part_then_the_text_part() -> None:
    space = FakeSpace("qwen3", answer="Paris is the capital.", reasoning="France, so Paris.")
    with space, requests.Session() as http:
        messages = run(http, space, body("Capital of France?"))
    assert [m["msg"] for m in messages][:2] == ["estimation", "process_starts"]
    assert [m["msg"] for m in messages][-2:] == ["process_completed", "close_stream"]
    shown = replay(messages)
    # The first value: the input cleared, the user turn shown, every output full.
    first = shown[0]
    assert first[0] == {"loading": True, "value": None, "__type__": "update"}
    assert first[6] is None  # a State output is never sent
    assert [m["role"] for m in first[CHATBOT_OUTPUT]["value"]] == ["user"]
    assert first[CHATBOT_OUTPUT]["value"][0]["content"] == "Capital of France?"
    # The diffs, as PROTOCOL.md section 6 shows them.
    ops = all_ops(messages)
    assert ops[2][:2] == ["add", ["value", 1]] and ops[2][2]["status"] == "pending"
    assert ops[2][2]["loading"] is True and ops[2][2]["header"] == "Qwen3-32B"
    assert ["replace", ["value", 1, "loading"], False] in ops
    tool_adds = [op for op in ops if op[:2] == ["add", ["value", 1, "content", 0]]]
    assert tool_adds[0][2]["type"] == "tool"
    assert tool_adds[0][2]["options"] == {"title": "Thinking...", "status": "pending"}
    appends = [op for op in ops if op[0] == "append"]
    assert {tuple(op[1]) for op in appends} == {
        ("value", 1, "content", 0, "content"),
        ("value", 1, "content", 1, "content"),
    }
    # The end: the thought closed, the answer whole, the turn done with its timing.
    turn = last_turn(shown[-1])
    assert (turn["status"], turn["footer"], turn["loading"]) == ("done", "2.34s", False)
    tool, text = turn["content"]
    assert (tool["type"], tool["content"]) == ("tool", "France, so Paris.")
    assert tool["options"] == {"title": "End of Thought (1.23s)", "status": "done"}
    assert (text["type"], text["content"]) == ("text", "Paris is the capital.")
    done = completion(messages)
    assert done["success"] is True and done["output"]["data"] == shown[-1]


def test_each_setting_and_the_prompt_reach_the_recorded_chat() -> None:
    space = FakeSpace("qwen3")  # the default answer and reasoning say what they got
    with space, requests.Session() as http:
        messages = run(http, space, body("Hello", {**SETTINGS, "model": "qwen3-0.6b"}))
    assert space.chats == [
        RecordedChat("q3session01", "Hello", 0, "Be brief.", "qwen3-0.6b", True, 4)
    ]
    turn = last_turn(completion(messages)["output"]["data"])
    assert parts(turn)["tool"]["content"] == (
        "Thinking about: Hello (model qwen3-0.6b, budget 4, turn 1)"
    )
    assert parts(turn)["text"]["content"] == "You said: Hello (turn 1)"
    assert turn["header"] == "Qwen3-0.6B"


def test_scripted_chunks_stream_exactly_and_a_callable_gets_the_recorded_chat() -> None:
    seen: list[RecordedChat] = []

    def answer(query: str, turns: int, system: str, chat: RecordedChat) -> list[str]:
        seen.append(chat)
        return ["On ", chat.model or "?", "."]

    space = FakeSpace("qwen3", answer=answer, reasoning=["a", "bc", "☕"])
    with space, requests.Session() as http:
        messages = run(http, space, body("q"))
    ops = all_ops(messages)
    reasoning_appends = [
        op[2] for op in ops if op[:2] == ["append", ["value", 1, "content", 0, "content"]]
    ]
    answer_appends = [
        op[2] for op in ops if op[:2] == ["append", ["value", 1, "content", 1, "content"]]
    ]
    assert reasoning_appends == ["bc", "☕"] and answer_appends == ["qwen3-32b", "."]
    assert seen[0].model == "qwen3-32b" and seen[0].thinking is True


# --- the session ---------------------------------------------------------------------------


def test_a_follow_up_in_the_session_sends_only_the_new_message() -> None:
    space = FakeSpace("qwen3", answer=lambda q, turns, s: f"{q} #{turns + 1}", reasoning="r")
    with space, requests.Session() as http:
        run(http, space, body("first"))
        messages = run(http, space, body("second"))
        other = run(http, space, body("elsewhere", session_hash="q3session02"))
    history = completion(messages)["output"]["data"][CHATBOT_OUTPUT]["value"]
    assert [(m["role"], m["content"] if m["role"] == "user" else parts(m)["text"]["content"])
            for m in history] == [
        ("user", "first"), ("assistant", "first #1"), ("user", "second"), ("assistant", "second #2"),
    ]  # fmt: skip
    # The new turn is added after the two the session remembers.
    assert all_ops(messages)[2][:2] == ["add", ["value", 3]]
    assert [c.turns for c in space.chats] == [0, 1, 0]
    fresh = completion(other)["output"]["data"][CHATBOT_OUTPUT]["value"]
    assert len(fresh) == 2 and parts(fresh[1])["text"]["content"] == "elsewhere #1"
    # Keys are unique in a conversation.
    assert len({m["key"] for m in history}) == 4


def test_toggle_thinking_is_a_queued_call_of_the_session_that_holds_for_follow_ups() -> None:
    space = FakeSpace("qwen3", answer="A.", reasoning="R.")
    with space, requests.Session() as http:
        toggled = run(http, space, body("", fn=TOGGLE_THINKING))
        off1 = run(http, space, body("one"))
        off2 = run(http, space, body("two"))
        run(http, space, body("", fn=TOGGLE_THINKING))
        on = run(http, space, body("three"))
    assert [m["msg"] for m in toggled] == [
        "estimation", "process_starts", "process_completed", "close_stream",
    ]  # fmt: skip
    assert completion(toggled)["output"]["data"] == [None]
    for messages in (off1, off2):
        turn = last_turn(completion(messages)["output"]["data"])
        assert [p["type"] for p in turn["content"]] == ["text"]
        assert turn["content"][0]["content"] == "A."
        assert not any(op[1][-1:] == ["options"] for op in all_ops(messages))
    assert [p["type"] for p in last_turn(completion(on)["output"]["data"])["content"]] == [
        "tool",
        "text",
    ]
    assert [c.thinking for c in space.chats] == [False, False, True]


def test_new_chat_forgets_the_conversation_and_turns_thinking_back_on() -> None:
    space = FakeSpace("qwen3", answer="A.")
    with space, requests.Session() as http:
        run(http, space, body("", fn=TOGGLE_THINKING))
        run(http, space, body("one"))
        run(http, space, body("", fn=NEW_CHAT))
        messages = run(http, space, body("two"))
    assert len(completion(messages)["output"]["data"][CHATBOT_OUTPUT]["value"]) == 2
    assert [(c.turns, c.thinking) for c in space.chats] == [(0, False), (0, True)]


def test_the_state_inputs_sent_are_ignored_for_the_sessions() -> None:
    space = FakeSpace("qwen3", answer="A.")
    payload = body("one")
    payload["data"][2] = {"enable_thinking": False}  # what a client cannot set this way
    payload["data"][3] = {"conversation_contexts": {"x": {}}, "conversation_id": "x"}
    with space, requests.Session() as http:
        run(http, space, payload)
    assert space.chats[0].thinking is True and space.chats[0].turns == 0


# --- errors --------------------------------------------------------------------------------


def test_an_unknown_model_is_the_spaces_error_turn_then_a_failed_event_saying_null() -> None:
    space = FakeSpace("qwen3")
    with space, requests.Session() as http:
        messages = run(http, space, body("hi", {**SETTINGS, "model": "qwen9-1t"}))
    done = completion(messages)
    assert done["success"] is False and done["output"] == {"error": None}
    turn = last_turn(replay(messages)[-1])
    assert turn["status"] == "done" and turn["loading"] is False
    assert turn["content"][-1] == {
        "type": "text",
        "copyable": True,
        "editable": True,
        "content": SPAN.format("Error code: 404 - The model `qwen9-1t` does not exist."),
        "options": None,
    }


@pytest.mark.parametrize("budget", [0, 39, "8", None])
def test_a_budget_out_of_the_sliders_range_is_an_error_turn(budget: Any) -> None:
    space = FakeSpace("qwen3")
    with space, requests.Session() as http:
        messages = run(http, space, body("hi", {**SETTINGS, "thinking_budget": budget}))
    assert completion(messages)["output"] == {"error": None}
    assert "thinking_budget" in last_turn(replay(messages)[-1])["content"][-1]["content"]
    assert space.chats[0].thinking_budget == budget


def test_no_settings_fail_before_the_turn_shows() -> None:
    space = FakeSpace("qwen3")
    payload = body("hi")
    payload["data"][1] = None
    with space, requests.Session() as http:
        messages = run(http, space, payload)
    assert completion(messages)["output"] == {"error": None}
    shown = replay(messages)
    assert len(shown) == 1 and len(shown[0][CHATBOT_OUTPUT]["value"]) == 1  # the user turn only


def test_a_failure_midway_keeps_the_reasoning_so_far_and_adds_the_red_message() -> None:
    space = FakeSpace(
        "qwen3",
        answer="never",
        reasoning=["one ", "two ", "three"],
        faults=[Fault.space_error("upstream timed out", updates=4)],
    )
    with space, requests.Session() as http:
        messages = run(http, space, body("hi"))
        after = run(http, space, body("again"))
    done = completion(messages)
    assert done["success"] is False and done["output"] == {"error": None}
    turn = last_turn(replay(messages)[-1])
    tool, error = turn["content"]
    assert tool["content"] == "one two " and tool["options"]["status"] == "pending"
    assert error["content"] == SPAN.format("upstream timed out")
    # The failed turn stays in the session's history, as on the Space.
    assert len(completion(after)["output"]["data"][CHATBOT_OUTPUT]["value"]) == 4


def test_too_few_inputs_fail_hidden_as_the_space_hides_every_error() -> None:
    payload = body("hi")
    payload["data"] = payload["data"][:3]
    with FakeSpace("qwen3") as space, requests.Session() as http:
        messages = run(http, space, payload)
    done = completion(messages)
    assert (done["success"], done["output"], done["title"]) == (False, {"error": None}, "Error")
    assert space.chats == []


def test_a_full_queue_is_a_503_with_gradios_detail() -> None:
    with FakeSpace("qwen3", faults=[Fault.queue_full(times=1)]) as space:
        with requests.Session() as http:
            first = http.post(space.url + P + "/queue/join", json=body("hi"), timeout=10)
            messages = run(http, space, body("hi"))
    assert first.status_code == 503
    assert first.json() == {"detail": "Queue is full. Max size is 1 and size is 1."}
    assert completion(messages)["success"] is True


def test_a_dropped_stream_ends_mid_reasoning() -> None:
    space = FakeSpace("qwen3", reasoning="x" * 30, faults=[Fault.drop_after(updates=3)])
    with space, requests.Session() as http:
        http.post(space.url + P + "/queue/join", json=body("hi"), timeout=10)
        resp = http.get(
            space.url + P + "/queue/data", params={"session_hash": "q3session01"},
            stream=True, timeout=10,
        )  # fmt: skip
        with pytest.raises(requests.exceptions.ChunkedEncodingError), resp:
            b"".join(resp.iter_content(chunk_size=None))


# --- the benchmark mode and an asyncio client ----------------------------------------------


def test_tokens_mode_appends_n_tokens_to_the_answer_part() -> None:
    with FakeSpace("qwen3", tokens=50, token_text="ab ") as space, requests.Session() as http:
        messages = run(http, space, body("go"))
    ops = all_ops(messages)
    appends = [op for op in ops if op[0] == "append"]
    assert len(appends) == 50
    assert {tuple(op[1]) for op in appends} == {("value", 1, "content", 0, "content")}
    turn = last_turn(completion(messages)["output"]["data"])
    assert turn["content"][0]["content"] == "ab " * 50 and turn["status"] == "done"
    assert replay(messages)[-1] == completion(messages)["output"]["data"]


def test_an_aiohttp_client_reads_the_same_answer() -> None:
    async def main(url: str) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http:
            async with http.post(url + P + "/queue/join", json=body("hi")) as joined:
                assert joined.status == 200
            out = []
            params = {"session_hash": "q3session01"}
            async with http.get(url + P + "/queue/data", params=params) as resp:
                async for line in resp.content:
                    if line.startswith(b"data: "):
                        out.append(json.loads(line[6:]))
            return out

    with FakeSpace("qwen3", answer="Héllo ☕", reasoning="思考", chunk_size=1) as space:
        messages = asyncio.run(main(space.url))
    turn = last_turn(replay(messages)[-1])
    assert [p["content"] for p in turn["content"]] == ["思考", "Héllo ☕"]
    assert messages[-1] == {"msg": "close_stream", "event_id": None}


# --- the named API -------------------------------------------------------------------------


def call(
    http: requests.Session, space: FakeSpace, api: str, data: list[Any]
) -> list[tuple[str, Any]]:
    """``POST call/{api}``, then its stream: the (event, data) pairs."""
    joined = http.post(space.url + P + "/call/" + api, json={"data": data}, timeout=10)
    assert joined.status_code == 200, joined.text
    url = f"{space.url}{P}/call/{api}/{joined.json()['event_id']}"
    with http.get(url, stream=True, timeout=10) as resp:
        raw = b"".join(resp.iter_content(chunk_size=None)).decode()
    events = []
    for block in raw.split("\n\n"):
        if block:
            name, data_line = block.split("\n")
            events.append(
                (name.removeprefix("event: "), json.loads(data_line.removeprefix("data: ")))
            )
    return events


def test_the_named_api_streams_full_snapshots_of_the_seven_outputs() -> None:
    space = FakeSpace("qwen3", answer="Paris.", reasoning="France.", chunk_size=2)
    with space, requests.Session() as http:
        events = call(http, space, "add_message", ["Capital?", SETTINGS, None, None])
        failed = call(http, space, "add_message", ["x", {**SETTINGS, "model": "nope"}, None, None])
        missing = http.post(space.url + P + "/call/no_such_fn", json={"data": []}, timeout=10)
    names = [name for name, _ in events]
    assert names[-1] == "complete" and set(names[:-1]) == {"generating"}
    for _, data in events:
        assert len(data) == 7 and data[CHATBOT_OUTPUT]["__type__"] == "update"
    growing = [
        last_turn(data)["content"] for _, data in events if len(last_turn(data)["content"]) == 2
    ]
    # Three answer yields, the turn marked done, the input freed, the completion.
    assert [c[1]["content"] for c in growing] == ["Pa", "Pari"] + ["Paris."] * 4
    final = last_turn(events[-1][1])
    assert [p["content"] for p in final["content"]] == ["France.", "Paris."]
    assert failed[-1] == ("error", None)
    assert "does not exist" in last_turn(failed[-2][1])["content"][-1]["content"]
    assert missing.status_code == 404
    # Each call is a session of its own: no history carried over.
    assert [c.turns for c in space.chats] == [0, 0]


def test_serve_plays_the_qwen3_layout_with_a_scripted_reasoning() -> None:
    command = [sys.executable, "-m", "qwen_spaces.testing", "serve", "--layout", "qwen3"]
    command += ["--answer", "Yes.", "--reasoning", "Let me see."]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("READY http://127.0.0.1:"), line
            url = line.split()[1]
            with requests.Session() as http:
                config = http.get(url + "/config", timeout=10).json()
                messages = run(http, SimpleNamespace(url=url), body("Well?"))
            assert config["version"] == "5.27.0"
            turn = last_turn(completion(messages)["output"]["data"])
            assert [p["content"] for p in turn["content"]] == ["Let me see.", "Yes."]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_shifted_ids_move_every_id_and_the_fake_follows_the_names() -> None:
    with FakeSpace("qwen3", answer="A.", reasoning="R.", shift_ids=True) as space:
        with requests.Session() as http:
            config = http.get(space.url + "/config", timeout=10).json()
            deps = {d["api_name"]: d for d in config["dependencies"]}
            add, toggle = deps["add_message"], deps["toggle_thinking"]
            assert (add["id"], add["inputs"], add["targets"]) == (
                14,
                [34, 39, 61, 2],
                [[34, "submit"]],
            )
            assert (toggle["id"], toggle["inputs"]) == (4, [61])
            types = {c["id"]: c["type"] for c in config["components"]}
            assert [types[i] for i in add["inputs"]] == [
                "antdxsender",
                "antdform",
                "state",
                "state",
            ]
            assert types[add["outputs"][CHATBOT_OUTPUT]] == "modelscopeprochatbot"
            toggled = {**body("", fn=TOGGLE_THINKING), "fn_index": toggle["id"]}
            run(http, space, toggled)
            messages = run(http, space, {**body("hi"), "fn_index": add["id"]})
            # The old numbers no longer name the chat: fn 13 is now regenerate_message.
            stale = run(http, space, {**body("hi"), "fn_index": ADD_MESSAGE})
    turn = last_turn(completion(messages)["output"]["data"])
    assert [p["type"] for p in turn["content"]] == ["text"]  # the toggle reached the session
    assert completion(stale)["success"] is True and len(space.chats) == 1


@pytest.mark.parametrize(("layout", "fn"), [("max", 0), ("1m", 2), ("qwen2.5", 3)])
def test_shifted_ids_work_on_every_layout(layout: str, fn: int) -> None:
    with FakeSpace(layout, shift_ids=True) as space, requests.Session() as http:
        config = http.get(space.url + "/config", timeout=10).json()
    deps = {d["id"]: d for d in config["dependencies"]}
    assert deps[0]["api_name"] == "title_change"
    assert deps[fn + 1]["api_name"] in ("model_chat", "agent_run")
    ids = [c["id"] for c in config["components"]]
    assert len(ids) == len(set(ids)) and ids[0] == 1
    every_input = {i for d in config["dependencies"] for i in d["inputs"] + d["outputs"]}
    assert every_input <= set(ids)
