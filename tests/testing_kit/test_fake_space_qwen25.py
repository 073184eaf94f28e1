"""The fake Qwen2.5 demo (FakeSpace(layout="qwen2.5")), tested over raw HTTP.

PROTOCOL.md section 5: Gradio 4 (no prefix), ``model_chat(query, history,
system, size)`` at fn 3 / trigger 25, a radio whose known value is "72B", and
modelscope-studio legacy cells: dicts with a ``text`` field.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from qwen_spaces.testing import FakeSpace, RecordedChat

pytestmark = pytest.mark.timeout(60)

SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def body(prompt: str, history: list[Any], size: Any = "72B", fn: int = 3) -> dict[str, Any]:
    """gpt4free's join for this Space."""
    return {
        "data": [prompt, history, SYSTEM, size],
        "event_data": None,
        "fn_index": fn,
        "trigger_id": 25 if fn == 3 else 28,
        "session_hash": "q25session",
    }


def run(http: requests.Session, space: FakeSpace, payload: dict[str, Any]) -> list[dict[str, Any]]:
    joined = http.post(space.url + "/queue/join", json=payload, timeout=10)
    assert joined.status_code == 200, joined.text
    resp = http.get(
        space.url + "/queue/data", params={"session_hash": "q25session"}, stream=True, timeout=10
    )
    with resp:
        raw = b"".join(resp.iter_content(chunk_size=None))
    return [json.loads(b[6:]) for b in raw.decode().split("\n\n") if b.startswith("data: ")]


def test_qwen25_config_is_gradio_4_with_a_size_radio() -> None:
    with FakeSpace("qwen2.5") as space, requests.Session() as http:
        config = http.get(space.url + "/config", timeout=10).json()
    assert config["version"] == "4.44.1" and "api_prefix" not in config
    deps = {d["id"]: d for d in config["dependencies"]}
    components = {c["id"]: c for c in config["components"]}
    chat = deps[3]
    assert (chat["api_name"], chat["targets"], chat["queue"]) == (
        "model_chat",
        [[25, "submit"]],
        True,
    )
    types = [components[i]["type"] for i in chat["inputs"]]
    assert types == ["textbox", "modelscopechatbot", "textbox", "radio"]
    assert chat["inputs"] == [25, 24, 22, 12] and chat["outputs"] == [25, 24, 18]
    assert components[chat["inputs"][3]]["props"]["value"] == "72B"
    sizes = {
        c["props"]["label"]: c
        for c in config["components"]
        if c["type"] == "radio" and c["props"].get("label")
    }
    assert ["72B", "72B"] in sizes["Qwen2.5:"]["props"]["choices"]
    with pytest.raises(ValueError, match="gradio must be one of \\[4\\]"):
        FakeSpace("qwen2.5", gradio=5)


def test_the_answer_streams_as_appends_to_the_bot_cells_text() -> None:
    space = FakeSpace("qwen2.5", answer="Hello there, friend.", chunk_size=5)
    with space, requests.Session() as http:
        messages = run(http, space, body("hi", []))
    gens = [m for m in messages if m["msg"] == "process_generating"]
    first = gens[0]["output"]["data"]
    assert first[0] == "" and first[2] == SYSTEM
    (user, bot) = first[1][0]
    assert (user["text"], bot["text"]) == ("hi", "Hello")
    assert set(bot) == {
        "id",
        "elem_id",
        "elem_classes",
        "name",
        "text",
        "flushing",
        "avatar",
        "files",
    }
    ops = [op for m in gens[1:] for op in m["output"]["data"][1]]
    assert ops == [
        ["append", [0, 1, "text"], " ther"],
        ["append", [0, 1, "text"], "e, fr"],
        ["append", [0, 1, "text"], "iend."],
    ]
    (done,) = [m for m in messages if m["msg"] == "process_completed"]
    assert done["success"] is True
    assert done["output"]["data"][1][0][1]["text"] == "Hello there, friend."
    assert space.chats == [RecordedChat("q25session", "hi", 0, SYSTEM, "72B")]


def test_history_in_string_or_dict_cells_counts_as_earlier_turns() -> None:
    space = FakeSpace("qwen2.5")  # the default answer counts the turns it was given
    history = [["one", "first answer"], [{"text": "two"}, {"text": "second answer"}]]
    with space, requests.Session() as http:
        messages = run(http, space, body("three", history, size="7B", fn=4))
    (done,) = [m for m in messages if m["msg"] == "process_completed"]
    chatbot = done["output"]["data"][1]
    assert [pair[0]["text"] for pair in chatbot] == ["one", "two", "three"]
    assert chatbot[2][1]["text"] == "You said: three (turn 3)"
    assert space.chats[0].turns == 2 and space.chats[0].model == "7B"


def test_a_size_outside_the_radios_choices_fails_as_gradio_refuses_it() -> None:
    with FakeSpace("qwen2.5") as space, requests.Session() as http:
        messages = run(http, space, body("hi", [], size="100B"))
    (done,) = [m for m in messages if m["msg"] == "process_completed"]
    assert done["success"] is False
    assert "'100B' is not in the list of choices" in done["output"]["error"]
    assert space.chats == []
