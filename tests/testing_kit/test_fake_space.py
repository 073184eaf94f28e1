"""The fake Space (qwen_spaces.testing), tested with plain requests: never the SDK's clients.

It must speak Gradio's queue protocol as the real Spaces do (checked against
the transcripts recorded from real Gradio replicas) and misbehave exactly as
each Fault says.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import pytest
import requests

import qwen_spaces as qs
from qwen_spaces.testing import FakeSpace, Fault

pytest_plugins = ["qwen_spaces.testing.pytest_plugin"]
pytestmark = pytest.mark.timeout(60)

H = "abc123abc123"
P5 = "/gradio_api"
TRANSCRIPTS = Path(__file__).resolve().parents[1] / "support" / "transcripts"
UNICODE_ANSWER = "Héllo wörld — 你好 ☕ ✓ ha ha"

Message = Any  # a decoded SSE message (dict), or the raw text of one that is not JSON


# --- helpers -------------------------------------------------------------------------------


def max_body(
    query: str = "hi",
    history: Sequence[Any] = (),
    system: str = "sys",
    fn: int = 0,
    session_hash: str = H,
) -> dict[str, Any]:
    trigger = 11 if fn == 0 else 14
    return {
        "data": [query, list(history), system],
        "event_data": None,
        "fn_index": fn,
        "trigger_id": trigger,
        "session_hash": session_hash,
    }


def ms_message(text: str) -> dict[str, Any]:
    return {
        "id": None,
        "elem_id": None,
        "elem_classes": None,
        "name": None,
        "text": text,
        "flushing": None,
        "avatar": "",
        "files": [],
    }


def join(http: requests.Session, space: FakeSpace, body: dict[str, Any], prefix: str = P5) -> str:
    resp = http.post(space.url + prefix + "/queue/join", json=body, timeout=10)
    assert resp.status_code == 200, resp.text
    event_id: str = resp.json()["event_id"]
    return event_id


def parse(raw: bytes) -> list[Message]:
    out: list[Message] = []
    for block in raw.decode("utf-8").split("\n\n"):
        if not block.startswith("data: "):
            continue
        try:
            out.append(json.loads(block[6:]))
        except ValueError:
            out.append(block)
    return out


def open_stream(
    http: requests.Session, space: FakeSpace, prefix: str = P5, session_hash: str = H, **kw: Any
) -> requests.Response:
    return http.get(
        space.url + prefix + "/queue/data",
        params={"session_hash": session_hash},
        headers={"Accept": "text/event-stream"},
        stream=True,
        timeout=kw.pop("timeout", 10),
        **kw,
    )


def read_all(resp: requests.Response) -> bytes:
    with resp:
        return b"".join(resp.iter_content(chunk_size=None))


def stream(http: requests.Session, space: FakeSpace, prefix: str = P5, **kw: Any) -> list[Message]:
    return parse(read_all(open_stream(http, space, prefix, **kw)))


def kinds(messages: list[Message]) -> list[str]:
    return [m["msg"] if isinstance(m, dict) else "<raw>" for m in messages]


def generating(messages: list[Message]) -> list[dict[str, Any]]:
    return [m for m in messages if isinstance(m, dict) and m["msg"] == "process_generating"]


def completed(messages: list[Message]) -> dict[str, Any]:
    (done,) = [m for m in messages if isinstance(m, dict) and m["msg"] == "process_completed"]
    return dict(done)


def max_text(messages: list[Message], output: int = 1) -> str:
    """The answer as a client rebuilds it from a Max stream: first value, then appends."""
    updates = generating(messages)
    text: str = updates[0]["output"]["data"][output][-1][1]
    for update in updates[1:]:
        for action, _path, value in update["output"]["data"][output]:
            assert action == "append"
            text += value
    return text


# --- /config --------------------------------------------------------------------------------


def deps_by_id(config: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {d["id"]: d for d in config["dependencies"]}


@pytest.mark.parametrize(("gradio", "prefix"), [(4, None), (5, P5), (6, P5)])
def test_max_config_has_the_spaces_layout(gradio: int, prefix: Optional[str]) -> None:
    with FakeSpace("max", gradio=gradio) as space, requests.Session() as http:
        config = http.get(space.url + "/config", timeout=10).json()
    assert config["version"].startswith(f"{gradio}.")
    assert config["protocol"] == "sse_v3"
    assert config.get("api_prefix") == prefix
    deps = deps_by_id(config)
    assert (deps[0]["api_name"], deps[0]["targets"], deps[0]["queue"]) == (
        "model_chat",
        [[11, "submit"]],
        True,
    )
    assert (deps[1]["api_name"], deps[1]["targets"]) == ("model_chat_1", [[14, "click"]])
    assert deps[0]["inputs"] == [11, 10, 8] and deps[0]["outputs"] == [11, 10, 4]
    chatbot = {c["id"]: c for c in config["components"]}[10]
    assert chatbot["type"] == "chatbot"
    # Gradio 6's Chatbot is messages-only and no longer reports a type.
    assert chatbot["props"].get("type") == (None if gradio == 6 else "tuples")


def test_1m_config_chains_an_unqueued_add_text_to_a_queued_agent_run() -> None:
    with FakeSpace("1m") as space, requests.Session() as http:
        config = http.get(space.url + "/config", timeout=10).json()
        assert http.post(space.url + P5 + "/queue/join", json={}, timeout=10).status_code == 404
    assert config["version"].startswith("4.") and "api_prefix" not in config
    deps = deps_by_id(config)
    assert (deps[1]["api_name"], deps[1]["queue"], deps[1]["targets"]) == (
        "add_text",
        False,
        [[5, "submit"]],
    )
    assert (deps[2]["api_name"], deps[2]["queue"], deps[2]["trigger_after"]) == (
        "agent_run",
        True,
        1,
    )
    assert deps[2]["targets"] == [[None, "then"]] and deps[2]["inputs"] == [4, 1, 8]
    assert {c["id"]: c["type"] for c in config["components"]}[4] == "modelscopechatbot"


def test_the_sdk_finds_its_functions_in_the_fakes_config() -> None:
    from qwen_spaces._spaces.spaces import QWEN_1M, QWEN_MAX, resolve_endpoints

    for layout, spec, gradio in [("max", QWEN_MAX, 5), ("max", QWEN_MAX, 6), ("1m", QWEN_1M, 4)]:
        with FakeSpace(layout, gradio=gradio) as space:
            config = requests.get(space.url + "/config", timeout=10).json()
        found = resolve_endpoints(spec, config)
        assert found.fn_index == (0 if layout == "max" else 2)
        assert found.trigger_id == (11 if layout == "max" else 5)
        assert found.chatbot_format == {5: "tuples", 6: "messages", 4: "ms_legacy"}[gradio]
        if layout == "1m":
            assert found.ids("add_text")[0] == 1


@pytest.mark.parametrize("gradio", [4, 5, 6])
def test_gradio_client_reads_the_max_api_info_and_chats(gradio: int) -> None:
    import gradio_client

    with FakeSpace("max", gradio=gradio, answer="Hello from the fake") as space:
        prefix = "" if gradio == 4 else P5
        info = requests.get(space.url + prefix + "/info?serialize=False", timeout=10).json()
        params = info["named_endpoints"]["/model_chat"]["parameters"]
        assert [p["parameter_name"] for p in params] == ["query", "history", "system"]
        client = gradio_client.Client(space.url, verbose=False, analytics_enabled=False)
        try:
            _, chatbot, system = client.predict("hi", [], "sys", api_name="/model_chat")
        finally:
            client.close()
    assert system == "sys"
    assert "Hello from the fake" in json.dumps(chatbot)


# --- streams ---------------------------------------------------------------------------------


def test_max_stream_appends_to_the_last_pair_and_add_up_to_the_answer() -> None:
    seen: list[tuple[str, int, str]] = []

    def answer(query: str, turns: int, system: str) -> str:
        seen.append((query, turns, system))
        return UNICODE_ANSWER

    history = [["a", "b"], ["c", "d"]]
    with FakeSpace(answer=answer, chunk_size=4) as space, requests.Session() as http:
        event_id = join(http, space, max_body("hi", history, "Be terse."))
        messages = stream(http, space)
    assert seen == [("hi", 2, "Be terse.")]
    assert kinds(messages) == [
        "estimation",
        "process_starts",
        *["process_generating"] * 7,  # 26 characters, 4 per update
        "process_completed",
        "close_stream",
    ]
    assert all(m["event_id"] == event_id for m in messages[:-1])
    first = generating(messages)[0]["output"]["data"]
    assert first == ["", [*history, ["hi", "Héll"]], "Be terse."]
    for update in generating(messages)[1:]:
        textbox, chatbot, system = update["output"]["data"]
        assert textbox == [] and system == [] and chatbot[0][:2] == ["append", [2, 1]]
    assert max_text(messages) == UNICODE_ANSWER
    done = completed(messages)
    assert done["success"] is True and done["title"] is None
    assert done["output"]["data"][1][-1] == ["hi", UNICODE_ANSWER]


def test_gradio6_streams_a_messages_chatbot_with_content_part_paths() -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "a"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
    ]
    with FakeSpace("max", gradio=6, answer="Hello world") as space, requests.Session() as http:
        join(http, space, max_body("hi", history))
        messages = stream(http, space)
    chatbot = generating(messages)[0]["output"]["data"][1]
    assert [m["role"] for m in chatbot] == ["user", "assistant", "user", "assistant"]
    assert chatbot[3]["content"] == [{"text": "Hel", "type": "text"}]
    assert generating(messages)[1]["output"]["data"][1] == [
        ["append", [3, "content", 0, "text"], "lo "]
    ]
    assert completed(messages)["output"]["data"][1][3]["content"][0]["text"] == "Hello world"


def test_gradio6_rejects_plain_string_content_in_history() -> None:
    with FakeSpace("max", gradio=6) as space, requests.Session() as http:
        join(http, space, max_body("hi", [{"role": "user", "content": "a"}]))
        done = completed(stream(http, space))
    assert done["success"] is False
    assert "Input should be a valid list" in done["output"]["error"]


def test_too_few_inputs_fail_as_gradio_says() -> None:
    body = max_body()
    body["data"] = body["data"][:2]
    with FakeSpace() as space, requests.Session() as http:
        join(http, space, body)
        done = completed(stream(http, space))
    assert done["success"] is False and done["title"] == "Error"
    assert "needed: 3, got: 2" in done["output"]["error"]


def test_gradio4_serves_the_queue_at_the_root_and_5_only_under_the_prefix() -> None:
    with FakeSpace("max", gradio=4, answer="ok") as space, requests.Session() as http:
        join(http, space, max_body(), prefix="")
        assert max_text(stream(http, space, prefix="")) == "ok"
    with FakeSpace("max", gradio=5) as space, requests.Session() as http:
        resp = http.post(space.url + "/queue/join", json=max_body(), timeout=10)
        assert (resp.status_code, resp.json()) == (404, {"detail": "Not Found"})


def test_1m_flow_predict_join_data_with_placeholder_and_server_side_history() -> None:
    seen: list[tuple[str, int, str]] = []

    def answer(query: str, turns: int, system: str) -> str:
        seen.append((query, turns, system))
        return f"answer {turns}: {UNICODE_ANSWER}"

    def turn(http: requests.Session, space: FakeSpace, text: str) -> list[Message]:
        predicted = http.post(
            space.url + "/run/predict",
            json={
                "data": [{"files": [], "text": text}, [], []],
                "event_data": None,
                "fn_index": 1,
                "trigger_id": 5,
                "session_hash": H,
            },
            timeout=10,
        ).json()
        chatbot = predicted["data"][1]
        assert chatbot == [[ms_message(text), None]]
        body = {
            "data": [chatbot, None, 0],
            "event_data": None,
            "fn_index": 2,
            "trigger_id": 5,
            "session_hash": H,
        }
        join(http, space, body, prefix="")
        return stream(http, space, prefix="")

    with FakeSpace("1m", answer=answer) as space, requests.Session() as http:
        first = turn(http, space, "hello")
        second = turn(http, space, "again")  # same session: the Space remembers
    assert seen == [("hello", 0, ""), ("again", 1, "")]

    updates = generating(first)
    bot = updates[0]["output"]["data"][0][0][1]
    assert bot[0]["text"] == "Qwen is thinking..."
    assert updates[1]["output"]["data"][0][0][0] == "replace"  # the placeholder goes
    text = updates[1]["output"]["data"][0][0][2]
    for update in updates[2:-1]:
        ((action, path, value),) = update["output"]["data"][0]
        assert (action, path) == ("append", [0, 1, 0, "text"])
        text += value
    assert updates[-1]["output"]["data"] == [[], [], []]  # Qwen-Agent's last re-yield
    assert text == f"answer 0: {UNICODE_ANSWER}"
    assert completed(second)["output"]["data"][0][0][1][0]["text"] == f"answer 1: {UNICODE_ANSWER}"


def test_1m_footer_turns_every_update_into_a_replace() -> None:
    with FakeSpace("1m", answer="abcdefghi", footer=True) as space, requests.Session() as http:
        join(
            http,
            space,
            {
                "data": [[[ms_message("q"), None]], None, 0],
                "fn_index": 2,
                "trigger_id": 5,
                "session_hash": H,
            },
            prefix="",
        )
        messages = stream(http, space, prefix="")
    ops = [u["output"]["data"][0] for u in generating(messages)[1:-1]]
    assert [op[0][0] for op in ops] == ["replace"] * 3
    assert ops[-1][0][2] == "abcdefghi\n<summary>chunk 3/3</summary>"


def test_a_scripted_list_streams_exactly_those_chunks() -> None:
    with FakeSpace(answer=["one ", "two ", "three"]) as space, requests.Session() as http:
        join(http, space, max_body())
        messages = stream(http, space)
    appends = [u["output"]["data"][1][0][2] for u in generating(messages)[1:]]
    assert appends == ["two ", "three"] and max_text(messages) == "one two three"


def test_an_answer_function_that_raises_fails_the_event_not_the_server() -> None:
    def broken(query: str, turns: int, system: str) -> str:
        raise RuntimeError("bug in the test's script")

    with FakeSpace(answer=broken) as space, requests.Session() as http:
        join(http, space, max_body())
        done = completed(stream(http, space))
        assert done["success"] is False and done["output"] == {"error": None}
        assert http.get(space.url + "/config", timeout=10).status_code == 200


def test_several_events_share_one_session_stream() -> None:
    with FakeSpace(answer=lambda q, t, s: f"re: {q}", delay=0.01) as space:
        with requests.Session() as http:
            first = join(http, space, max_body("one", fn=0))
            second = join(http, space, max_body("two", fn=1))
            messages = stream(http, space)
    assert kinds(messages)[-1] == "close_stream"
    assert kinds(messages).count("close_stream") == 1
    by_event = {m["event_id"]: m for m in messages if m["msg"] == "process_completed"}
    assert by_event[first]["output"]["data"][1][-1] == ["one", "re: one"]
    assert by_event[second]["output"]["data"][1][-1] == ["two", "re: two"]


def test_unknown_session_gets_unexpected_error_then_a_broken_stream() -> None:
    with FakeSpace() as space, requests.Session() as http:
        resp = open_stream(http, space, session_hash="nobody")
        received = bytearray()
        with resp, pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in resp.iter_content(chunk_size=None):
                received += chunk
    assert resp.status_code == 200
    assert parse(bytes(received)) == [
        {
            "msg": "unexpected_error",
            "event_id": None,
            "message": "404: Session not found.",
            "success": False,
        }
    ]


def test_cancel_ends_the_event_with_an_empty_completion() -> None:
    with FakeSpace(answer="x" * 200, chunk_size=1, delay=0.02) as space:
        with requests.Session() as http:
            event_id = join(http, space, max_body())
            resp = open_stream(http, space)
            received = bytearray()
            with resp:
                chunks = resp.iter_content(chunk_size=None)
                while b"process_generating" not in received:
                    received += next(chunks)
                cancel = {"session_hash": H, "fn_index": 0, "event_id": event_id}
                answer = http.post(space.url + P5 + "/cancel", json=cancel, timeout=10)
                for chunk in chunks:
                    received += chunk
        assert answer.json() == {"success": True}
        assert space.cancels == [event_id]
    messages = parse(bytes(received))
    assert kinds(messages)[-2:] == ["process_completed", "close_stream"]
    assert completed(messages)["output"] == {} and completed(messages)["success"] is True
    assert len(generating(messages)) < 100


def test_a_client_leaving_mid_stream_closes_its_connection_on_the_server() -> None:
    with FakeSpace(answer="x" * 500, chunk_size=1, delay=0.02) as space:
        with requests.Session() as http:
            join(http, space, max_body())
            with open_stream(http, space) as resp:
                chunks = resp.iter_content(chunk_size=None)  # held: dropping it closes
                next(chunks)
                assert space.open_connections >= 1  # the join's, reused, or a new one
        deadline = time.monotonic() + 5
        while (space.open_connections or space.stats()["streams_open"]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.02)
        assert space.open_connections == 0
        assert space.stats()["streams_open"] == 0


def test_idle_stream_sends_heartbeats_and_is_bounded() -> None:
    space = FakeSpace(
        heartbeat_interval=0.1, max_stream_seconds=1.0, faults=[Fault.heartbeats_only()]
    )
    with space, requests.Session() as http:
        join(http, space, max_body())
        started = time.monotonic()
        messages = stream(http, space)
        elapsed = time.monotonic() - started
    assert kinds(messages)[0] == "estimation"
    assert set(kinds(messages)[1:]) == {"heartbeat"} and len(messages) >= 5
    assert messages[1] == {"msg": "heartbeat", "event_id": None}
    assert 0.9 < elapsed < 3


def test_every_stream_ends_by_max_stream_seconds() -> None:
    with FakeSpace(answer="x" * 100, chunk_size=1, delay=0.1, max_stream_seconds=0.5) as space:
        with requests.Session() as http:
            join(http, space, max_body())
            started = time.monotonic()
            messages = stream(http, space)
    assert time.monotonic() - started < 2
    assert "process_completed" not in kinds(messages)


def test_stop_closes_an_open_stream_promptly() -> None:
    space = FakeSpace(faults=[Fault.heartbeats_only()]).start()
    ended = threading.Event()

    def read() -> None:
        with requests.Session() as http:
            join(http, space, max_body())
            try:
                read_all(open_stream(http, space))
            except requests.RequestException:
                pass
        ended.set()

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)
    started = time.monotonic()
    space.stop()
    assert time.monotonic() - started < 5
    assert ended.wait(5)
    reader.join()


# --- faults --------------------------------------------------------------------------------


def test_reset_before_join_resets_the_connection_then_recovers() -> None:
    with FakeSpace(faults=[Fault.reset_before_join()]) as space, requests.Session() as http:
        with pytest.raises(requests.exceptions.ConnectionError, match="reset"):
            http.post(space.url + P5 + "/queue/join", json=max_body(), timeout=10)
        join(http, space, max_body())


def test_queue_full_twice_then_the_join_succeeds() -> None:
    with FakeSpace(faults=[Fault.queue_full(times=2)]) as space, requests.Session() as http:
        answers = [
            http.post(space.url + P5 + "/queue/join", json=max_body(), timeout=10) for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].json() == {"detail": "Queue is full. Max size is 1 and size is 1."}


def test_join_faults_play_in_list_order() -> None:
    faults = [
        Fault.rate_limited(times=1, retry_after=1),
        Fault.bad_gateway(),
        Fault.queue_stopped(),
    ]
    with FakeSpace(faults=faults) as space, requests.Session() as http:
        answers = [
            http.post(space.url + P5 + "/queue/join", json=max_body(), timeout=10) for _ in range(4)
        ]
    assert [a.status_code for a in answers] == [429, 502, 503, 200]
    assert answers[0].headers["Retry-After"] == "1"
    assert answers[1].headers["Content-Type"].startswith("text/html")
    assert "<html>" in answers[1].text and "502 Bad Gateway" in answers[1].text
    assert answers[2].json() == {"detail": "Queue is stopped."}


def test_redirect_join_goes_to_another_host_that_records_authorization() -> None:
    with FakeSpace(answer="ok", faults=[Fault.redirect_join(times=2)]) as space:
        with requests.Session() as http:
            headers = {"Authorization": "Bearer hf_secret"}
            first = http.post(
                space.url + P5 + "/queue/join",
                json=max_body(),
                headers=headers,
                allow_redirects=False,
                timeout=10,
            )
            assert first.status_code == 307
            assert first.headers["Location"] == space.other_url + P5 + "/queue/join"
            assert re.fullmatch(r"http://localhost:\d+", space.other_url)
            # requests drops the token on a cross-host redirect; the other host tells.
            followed = http.post(
                space.url + P5 + "/queue/join", json=max_body(), headers=headers, timeout=10
            )
            assert followed.status_code == 200 and len(followed.json()["event_id"]) == 32
            assert max_text(stream(http, space)) == "ok"  # the other host shares the Space
            assert "Authorization" not in space.redirected_requests[0].headers
            assert space.stats()["redirected_authorization"] is False
            http.post(space.other_url + "/config", headers=headers, timeout=10)
        assert space.stats()["redirected_authorization"] is True


def test_drop_after_aborts_the_connection_mid_answer() -> None:
    with FakeSpace(answer="abcdefghijkl", faults=[Fault.drop_after(updates=2)]) as space:
        with requests.Session() as http:
            join(http, space, max_body())
            received = bytearray()
            with (
                open_stream(http, space) as resp,
                pytest.raises(requests.exceptions.ChunkedEncodingError),
            ):
                for chunk in resp.iter_content(chunk_size=None):
                    received += chunk
    messages = parse(bytes(received))
    assert kinds(messages) == [
        "estimation",
        "process_starts",
        "process_generating",
        "process_generating",
    ]
    assert max_text(messages) == "abcdef"


def test_stall_after_sends_no_bytes_for_the_stall() -> None:
    fault = Fault.stall_after(updates=1, seconds=1.0)
    with FakeSpace(answer="abcdef", faults=[fault]) as space, requests.Session() as http:
        join(http, space, max_body())
        arrivals: list[tuple[float, bytes]] = []
        with open_stream(http, space) as resp:
            for chunk in resp.iter_content(chunk_size=None):
                arrivals.append((time.monotonic(), chunk))
        join(http, space, max_body())  # only the first event stalled: a read timeout now passes
        assert max_text(stream(http, space, timeout=(5, 0.5))) == "abcdef"
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(arrivals)]
    assert max(gaps) >= 0.9
    assert max_text(parse(b"".join(c for _, c in arrivals))) == "abcdef"
    with FakeSpace(answer="abcdef", faults=[fault]) as space, requests.Session() as http:
        join(http, space, max_body())
        with pytest.raises(requests.exceptions.ConnectionError):
            read_all(open_stream(http, space, timeout=(5, 0.3)))


def test_eof_after_ends_the_stream_cleanly_without_completion() -> None:
    with FakeSpace(answer="abcdefghi", faults=[Fault.eof_after(updates=2)]) as space:
        with requests.Session() as http:
            join(http, space, max_body())
            messages = stream(http, space)
            join(http, space, max_body())  # the session goes on: the fault was used up
            assert max_text(stream(http, space)) == "abcdefghi"
    assert kinds(messages) == [
        "estimation",
        "process_starts",
        "process_generating",
        "process_generating",
    ]


def test_malformed_json_and_an_unknown_kind_do_not_spoil_the_answer() -> None:
    faults = [Fault.malformed_json(updates=1), Fault.unknown_message(updates=2)]
    with FakeSpace(answer=UNICODE_ANSWER, faults=faults) as space, requests.Session() as http:
        join(http, space, max_body())
        messages = stream(http, space)
    assert kinds(messages)[3] == "<raw>" and kinds(messages)[5] == "process_paused"
    good = [m for m in messages if isinstance(m, dict) and m["msg"] != "process_paused"]
    assert max_text(good) == UNICODE_ANSWER
    assert completed(messages)["success"] is True


@pytest.mark.parametrize(
    ("gradio", "message", "expected"),
    [
        (5, None, {"error": None}),
        (5, "Boom", {"error": "Boom", "duration": 10, "visible": True, "title": "Error"}),
        (4, "Boom", {"error": "'Boom'", "duration": 10, "visible": True}),  # Gradio 4's repr
    ],
)
def test_space_error_completes_without_success(
    gradio: int, message: Optional[str], expected: dict[str, Any]
) -> None:
    prefix = "" if gradio == 4 else P5
    faults = [Fault.space_error(message, updates=2)]
    with FakeSpace(gradio=gradio, answer="abcdefghi", faults=faults) as space:
        with requests.Session() as http:
            join(http, space, max_body(), prefix=prefix)
            messages = stream(http, space, prefix=prefix)
    assert kinds(messages)[-2:] == ["process_completed", "close_stream"]
    done = completed(messages)
    assert done["success"] is False and done["output"] == expected
    assert max_text(messages) == "abcdef"  # what arrived before the failure


def test_session_not_found_fault_breaks_a_joined_session() -> None:
    with FakeSpace(faults=[Fault.session_not_found()]) as space, requests.Session() as http:
        join(http, space, max_body())
        received = bytearray()
        with (
            open_stream(http, space) as resp,
            pytest.raises(requests.exceptions.ChunkedEncodingError),
        ):
            for chunk in resp.iter_content(chunk_size=None):
                received += chunk
    assert parse(bytes(received))[0]["message"] == "404: Session not found."


def test_dribble_writes_one_byte_per_chunk_splitting_utf8() -> None:
    faults = [Fault.dribble(seconds=0)]
    with FakeSpace(answer=UNICODE_ANSWER, faults=faults) as space, requests.Session() as http:
        join(http, space, max_body())
        with open_stream(http, space) as resp:
            chunks = list(resp.raw.read_chunked(decode_content=True))
    assert {len(c) for c in chunks[:-1]} == {1}  # close_stream is not dribbled
    whole = b"".join(chunks)
    assert "☕".encode() in whole  # a 3-byte character, sent in 3 writes
    assert max_text(parse(whole)) == UNICODE_ANSWER


def test_huge_event_is_one_message_of_the_given_size() -> None:
    size = 20 * 1024 * 1024
    with FakeSpace(answer="abc", faults=[Fault.huge_event(size=size)]) as space:
        with requests.Session() as http:
            join(http, space, max_body())
            raw = read_all(open_stream(http, space))
    blocks = raw.split(b"\n\n")
    huge = max(blocks, key=len)
    assert size < len(huge) < size + 1000
    message = json.loads(huge[6:])
    ((action, path, value),) = message["output"]["data"][1]
    assert (action, path, len(value)) == ("append", [0, 1], size)


def test_queue_wait_counts_the_rank_down() -> None:
    faults = [Fault.queue_wait(ahead=3, seconds=0.05)]
    with FakeSpace(faults=faults) as space, requests.Session() as http:
        join(http, space, max_body())
        messages = stream(http, space)
    ranks = [m["rank"] for m in messages if m["msg"] == "estimation"]
    assert ranks == [3, 2, 1, 0]


def test_fault_times_none_applies_to_every_event() -> None:
    with FakeSpace(faults=[Fault.eof_after(updates=0, times=None)]) as space:
        with requests.Session() as http:
            for _ in range(3):
                join(http, space, max_body())
                assert "process_generating" not in kinds(stream(http, space))


# --- benchmark mode -----------------------------------------------------------------------------


def test_tokens_mode_streams_exactly_n_appends_one_chunk_per_message() -> None:
    with FakeSpace(tokens=50, token_text="ha ") as space, requests.Session() as http:
        join(http, space, max_body())
        with open_stream(http, space) as resp:
            chunks = list(resp.raw.read_chunked(decode_content=True))
    assert all(
        c.startswith(b"data: ") and c.endswith(b"\n\n") and c.count(b"\n\n") == 1 for c in chunks
    )
    messages = parse(b"".join(chunks))
    updates = generating(messages)
    assert updates[0]["output"]["data"][1] == [["hi", ""]]
    assert len(updates) == 51
    assert max_text(messages) == "ha " * 50


def normalized_stream(space: FakeSpace, body: dict[str, Any], prefix: str) -> bytes:
    with requests.Session() as http:
        event_id = join(http, space, body, prefix=prefix)
        return read_all(open_stream(http, space, prefix=prefix)).replace(event_id.encode(), b"E")


@pytest.mark.parametrize(
    ("layout", "gradio", "footer"),
    [("max", 5, False), ("max", 6, False), ("1m", 4, False), ("1m", 4, True), ("max", 5, True)],
)
def test_tokens_fast_path_sends_the_same_bytes_as_the_general_path(
    layout: str, gradio: int, footer: bool
) -> None:
    if layout == "max":
        body, prefix = max_body(), P5
    else:
        body = {"data": [[[ms_message("q"), None]], None, 0], "fn_index": 2, "session_hash": H}
        prefix = ""
    kwargs: dict[str, Any] = {"layout": layout, "gradio": gradio, "tokens": 9, "footer": footer}
    with FakeSpace(**kwargs) as fast:
        expected = normalized_stream(fast, body, prefix)
    # Any fault takes the general path; a queue_wait of 0 changes nothing else.
    with FakeSpace(**kwargs, faults=[Fault.queue_wait(ahead=0)]) as general:
        assert normalized_stream(general, body, prefix) == expected


# --- observability ------------------------------------------------------------------------------


def test_keep_alive_reuse_is_visible_in_the_counters_and_stats() -> None:
    with FakeSpace(answer="ok") as space:
        with requests.Session() as http:
            for _ in range(3):
                http.get(space.url + "/config", timeout=10)
                join(http, space, max_body())
                assert max_text(stream(http, space)) == "ok"
            assert space.connections_opened == 1 and space.open_connections == 1
            stats = requests.get(space.url + "/_fake/stats", timeout=10).json()
        assert stats["connections_opened"] == 1  # polling the stats does not count
        assert stats["joins"] == 3 and stats["streams_opened"] == 3
        assert stats["requests"] == 9 and stats["cancels"] == []
        with requests.Session() as other:
            other.get(space.url + "/config", timeout=10)
        assert space.connections_opened == 2
        method, path, headers, body = space.requests[1]
        assert (method, path, body) == ("POST", P5 + "/queue/join", max_body())
        assert headers["Content-Type"] == "application/json"
        assert space.requests[2].path == P5 + f"/queue/data?session_hash={H}"


def test_fixture_factory_starts_and_stops_spaces(fake_space: Callable[..., FakeSpace]) -> None:
    space = fake_space(layout="1m", answer="hi")
    assert requests.get(space.url + "/config", timeout=10).json()["version"].startswith("4.")


async def test_async_with_serves_inside_an_asyncio_test() -> None:
    async with FakeSpace(answer="async ok") as space:
        config = await asyncio.to_thread(lambda: requests.get(space.url + "/config", timeout=10))
        assert config.status_code == 200


def test_cli_prints_ready_and_serves_until_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "qwen_spaces.testing",
        "serve",
        "--layout",
        "max",
        "--tokens",
        "5",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.fullmatch(r"READY (http://127\.0\.0\.1:\d+)\n", line)
            assert match, line
            url = match.group(1)
            with requests.Session() as http:
                assert http.get(url + "/config", timeout=10).json()["api_prefix"] == P5
                event_id = http.post(url + P5 + "/queue/join", json=max_body(), timeout=10).json()
                assert len(event_id["event_id"]) == 32
                with http.get(
                    url + P5 + "/queue/data", params={"session_hash": H}, stream=True, timeout=10
                ) as resp:
                    assert max_text(parse(resp.content)) == "ha " * 5
                stats = http.get(url + "/_fake/stats", timeout=10).json()
            assert stats["joins"] == 1 and stats["connections_opened"] == 1
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            assert proc.stdout.read() == ""  # exactly one line
        finally:
            if proc.poll() is None:
                proc.kill()


# --- faithful to the real Gradio replicas ----------------------------------------------------

VOLATILE = {"duration", "average_duration", "eta", "rank_eta", "cache_duration", "avg_time"}


def scrub(value: Any) -> Any:
    """Drop what differs run to run (timings) so structures can be compared."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def config_digest(config: dict[str, Any]) -> Any:
    components = {
        c["id"]: (c["type"], c["props"].get("type") if c["type"] == "chatbot" else None)
        for c in config["components"]
    }
    deps = [
        (
            d["id"],
            d["targets"],
            d["inputs"],
            d["outputs"],
            d["api_name"],
            d["queue"],
            d["trigger_after"],
            d["types"]["generator"],
        )
        for d in config["dependencies"]
    ]
    return config["version"], config.get("api_prefix"), config["protocol"], components, deps


def transcript_paths() -> list[Path]:
    paths = sorted(TRANSCRIPTS.glob("*.json")) + sorted(TRANSCRIPTS.glob("errors/*.json"))
    # The fake has no shifted layout, and does not reproduce Gradio 4's stale
    # diff state (recorded in onem-g4-stale-diff; the SDK's replay tests cover it).
    return [
        p
        for p in paths
        if "shifted" not in p.stem
        and "stale-diff" not in p.stem
        and p.stem.startswith(("max", "onem"))  # the layouts this check scripts
    ]


def fake_for(transcript: dict[str, Any]) -> FakeSpace:
    """A FakeSpace scripted like the replica that recorded ``transcript``."""
    from tests.support.replicas import fake_model

    layout = "1m" if transcript["scenario"].startswith("onem") else "max"
    gradio = int(transcript["gradio_version"].split(".")[0])

    def answer(query: str, turns: int, system: str) -> list[str]:
        label = fake_model.ONEM_SYSTEM if layout == "1m" else system
        return fake_model.tokens(fake_model.expected_answer(query, turns, label))

    # The replicas fail on purpose on these queries (see tests/support/replicas/*_app.py).
    faults = []
    query = transcript["request"]["query"]
    message = "replica failure (requested by the query)"
    if query == "__fail_midway__":
        faults.append(Fault.space_error(message, updates=5))
    elif query == "__fail__":
        faults.append(Fault.space_error(message, updates=1 if layout == "1m" else 0))
    footer = "footer" in transcript["scenario"]
    return FakeSpace(layout, gradio=gradio, answer=answer, footer=footer, faults=faults)


@pytest.mark.parametrize("path", transcript_paths(), ids=lambda p: p.stem)
def test_fake_answers_like_the_recorded_replica(path: Path) -> None:
    transcript = json.loads(path.read_text(encoding="utf-8"))
    exchanges = [x for turn in transcript.get("turns") or [transcript] for x in turn["exchanges"]]
    fixed_ids: dict[str, str] = {}
    with fake_for(transcript) as space, requests.Session() as http:
        for exchange in exchanges:
            resp = http.request(
                exchange["method"],
                space.url + exchange["path"],
                params=exchange["query_params"],
                json=exchange["request_json"],
                timeout=10,
            )
            where = f"{exchange['method']} {exchange['path']}"
            assert resp.status_code == exchange["status"], where
            assert resp.headers["Content-Type"] == exchange["content_type"], where
            if exchange["path"] == "/config":
                assert config_digest(resp.json()) == config_digest(json.loads(exchange["body"]))
                continue
            text = resp.text
            if exchange["path"].endswith("/queue/join"):
                fixed_ids[resp.json()["event_id"]] = f"{len(fixed_ids) + 1:032x}"
            for real, fixed in fixed_ids.items():
                text = text.replace(real, fixed)
            if exchange["content_type"].startswith("text/event-stream"):
                assert scrub(parse(text.encode())) == scrub(parse(exchange["body"].encode())), where
            else:
                assert scrub(json.loads(text)) == scrub(json.loads(exchange["body"])), where


def test_there_are_transcripts_to_compare_with() -> None:
    if not transcript_paths():
        pytest.skip("no transcripts recorded yet")
    assert any(p.stem.startswith("onem") for p in transcript_paths())


def _uploaded_paths(space: FakeSpace) -> list[str]:
    sent = json.dumps([r.json for r in space.requests])
    return re.findall(r'"path": "([^"]*fake-space-files-[^"]*)"', sent)


def test_stop_deletes_what_was_uploaded() -> None:
    with FakeSpace("1m", answer="Read.") as space:
        with qs.Client(model="qwen-2.5-1m", base_url=space.url) as client:
            assert client.chat("read it", files=[("a.txt", b"hello")]).text == "Read."
        paths = _uploaded_paths(space)
        assert paths and all(Path(p).read_bytes() == b"hello" for p in paths)
    assert not any(Path(p).exists() for p in paths)
    space.stop()  # twice: nothing left to delete, no error


async def test_leaving_async_with_deletes_what_was_uploaded() -> None:
    async with FakeSpace("1m", answer="Read.") as space:
        async with qs.AsyncClient(model="qwen-2.5-1m", base_url=space.url) as client:
            reply = await client.chat("read it", files=[("a.txt", b"hello")])
        assert reply.text == "Read."
        paths = _uploaded_paths(space)
        assert paths and all(Path(p).read_bytes() == b"hello" for p in paths)
    assert not any(Path(p).exists() for p in paths)
