"""A Space restart between turns: the conversation goes on with its history, or says it can't.

A restart empties every Gradio session (the State lives in the process), and
the same session hash then names a new, empty session. Here the server
process is really restarted on the same port (``Replica.restart()``) between
two turns, on Qwen-Agent's real WebUI (the 1M demo's page, model echoing
what reached it) and on the Qwen3 replica (upstream calls kept whole at
``GET /replica/upstream``). Each test holds one restart for both clients.

- A follow-up must reach the model with the earlier turn (the SDK redoes the
  turn in a fresh session with the whole history) and, on Qwen3, with the
  conversation's thinking switch still applied.
- A conversation resumed from a bare session hash has no history to resend:
  ``qwen_spaces.SessionLostError``, never an answer from an empty session.
- A state saved with ``to_dict`` and loaded with ``from_dict`` recovers.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

import qwen_spaces as qs
from tests.integration import test_qwen_replicas_wire as wire
from tests.support.replicas.fake_openai import FakeOpenAI
from tests.support.replicas.launcher import Replica

pytestmark = pytest.mark.timeout(180)

TIMEOUT = 60.0
ONEM = "qwen-2.5-1m"
QWEN3 = "qwen-3-8b"
#: (client, the word its turn one told the 1M model)
SEEN_FOLLOW = (("sync", "GRAPE"), ("async", "HONEYDEW"))
SEEN_SAVED = (("sync", "KIWI"), ("async", "LIME"))


def session_lost_error() -> type[BaseException]:
    """``qwen_spaces.SessionLostError``, imported when a test needs it (the lead adds it)."""
    from qwen_spaces import SessionLostError  # type: ignore[attr-defined]

    error: type[BaseException] = SessionLostError
    assert issubclass(error, qs.QwenSpacesError)
    return error


def check_lost(outcomes: dict[str, object]) -> None:
    """Each client's outcome (the error raised, or the reply) must be a SessionLostError."""
    wrong = {k: v for k, v in outcomes.items() if not isinstance(v, qs.QwenSpacesError)}
    assert not wrong, f"answered from a session the Space no longer has: {wrong}"
    error = session_lost_error()
    assert all(isinstance(v, error) for v in outcomes.values()), outcomes


def upstream(replica: Replica) -> list[dict[str, Any]]:
    """Every call the Qwen3 replica's process made to its model, oldest first."""
    with urllib.request.urlopen(replica.url + "/replica/upstream", timeout=10) as resp:
        calls: list[dict[str, Any]] = json.loads(resp.read().decode("utf-8"))
    return calls


def qwen3_call(replica: Replica, query: str) -> dict[str, Any]:
    """The replica's last upstream call whose last user message ends with ``query``.

    The last: a turn redone in a fresh session may have reached the model on
    the lost one too before its job was cancelled.
    """
    found = []
    for call in upstream(replica):
        users = [m["content"] for m in call["messages"] if m["role"] == "user"]
        if users and users[-1].endswith(query):
            found.append(call)
    assert found, f"no upstream call for {query!r}"
    return found[-1]


def model_input(call: dict[str, Any]) -> str:
    """All the text of an upstream call's messages."""
    return "\n".join(str(m["content"]) for m in call["messages"])


def onem_input(model: FakeOpenAI, query: str) -> str:
    """The text the 1M model was given in the last call whose last user message ends with query."""
    found = [c for c in model.chats if c.texts("user") and c.texts("user")[-1].endswith(query)]
    assert found, f"no model call for {query!r}"
    return "\n".join(found[-1].texts("user") + found[-1].texts("assistant"))


def qwen3_problems(replica: Replica, reply: qs.Reply, query: str, word: str) -> list[str]:
    """What is wrong with a thinking-off follow-up whose turn one held ``word``."""
    call = qwen3_call(replica, query)
    problems = []
    if word not in model_input(call):
        problems.append(f"{query!r}: turn one never reached the model: {call['messages']}")
    if call["enable_thinking"] is not False or reply.reasoning or "thinking off" not in reply.text:
        problems.append(f"{query!r}: came back with thinking on (the model got {call})")
    return problems


# --- Qwen3 ----------------------------------------------------------------------------------


async def test_qwen3_follow_up_after_a_restart_has_turn_one_and_thinking_off(
    qwen3_restartable: Replica,
) -> None:
    url = qwen3_restartable.url
    with qs.Client(QWEN3, base_url=url, timeout=TIMEOUT) as client:
        async with qs.AsyncClient(QWEN3, base_url=url, timeout=TIMEOUT) as aclient:
            sconv = client.conversation(thinking=False)
            aconv = aclient.conversation(thinking=False)
            assert sconv.send("Sync one: the word is BANANA").reasoning == ""
            assert (await aconv.send("Async one: the word is CHERRY")).reasoning == ""
            qwen3_restartable.restart()
            sync_two = sconv.send("Sync two: which word?")
            async_two = await aconv.send("Async two: which word?")
    problems = []
    for reply, query, word in (
        (sync_two, "Sync two: which word?", "BANANA"),
        (async_two, "Async two: which word?", "CHERRY"),
    ):
        problems += qwen3_problems(qwen3_restartable, reply, query, word)
    assert not problems, "\n".join(problems)


async def test_qwen3_bare_session_hash_after_a_restart_is_session_lost(
    qwen3_restartable: Replica,
) -> None:
    url = qwen3_restartable.url
    with qs.Client(QWEN3, base_url=url, timeout=TIMEOUT) as client:
        async with qs.AsyncClient(QWEN3, base_url=url, timeout=TIMEOUT) as aclient:
            sconv, aconv = client.conversation(), aclient.conversation()
            sconv.send("Sync one, bare")
            await aconv.send("Async one, bare")
            qwen3_restartable.restart()
            sync_bare = client.conversation(
                state=qs.ConversationState(sconv.state.model, session_hash=sconv.session_hash)
            )
            async_bare = aclient.conversation(
                state=qs.ConversationState(aconv.state.model, session_hash=aconv.session_hash)
            )
            outcomes: dict[str, object] = {}
            try:
                outcomes["sync"] = sync_bare.send("Sync two, bare").text
            except qs.QwenSpacesError as exc:
                outcomes["sync"] = exc
            try:
                outcomes["async"] = (await async_bare.send("Async two, bare")).text
            except qs.QwenSpacesError as exc:
                outcomes["async"] = exc
    check_lost(outcomes)


async def test_qwen3_saved_state_after_a_restart_recovers(qwen3_restartable: Replica) -> None:
    url = qwen3_restartable.url
    with qs.Client(QWEN3, base_url=url, timeout=TIMEOUT) as client:
        conv = client.conversation(thinking=False)
        conv.send("Saved sync one: the word is DATE")
        sync_saved = json.dumps(conv.state.to_dict())
    async with qs.AsyncClient(QWEN3, base_url=url, timeout=TIMEOUT) as aclient:
        aconv = aclient.conversation(thinking=False)
        await aconv.send("Saved async one: the word is ELDER")
        async_saved = json.dumps(aconv.state.to_dict())
    qwen3_restartable.restart()
    # Loaded by new clients, as a program that saved them to disk would.
    with qs.Client(QWEN3, base_url=url, timeout=TIMEOUT) as client:
        state = qs.ConversationState.from_dict(json.loads(sync_saved))
        sync_two = client.conversation(state=state).send("Saved sync two: which word?")
    async with qs.AsyncClient(QWEN3, base_url=url, timeout=TIMEOUT) as aclient:
        state = qs.ConversationState.from_dict(json.loads(async_saved))
        async_two = await aclient.conversation(state=state).send("Saved async two: which word?")
    problems = []
    for reply, query, word in (
        (sync_two, "Saved sync two: which word?", "DATE"),
        (async_two, "Saved async two: which word?", "ELDER"),
    ):
        problems += qwen3_problems(qwen3_restartable, reply, query, word)
    assert not problems, "\n".join(problems)


def test_qwen3_bare_session_hash_without_a_restart_continues(qwen3_restartable: Replica) -> None:
    # The control for the restart tests: the Space still holds the session.
    with qs.Client(QWEN3, base_url=qwen3_restartable.url, timeout=TIMEOUT) as client:
        conv = client.conversation()
        conv.send("Kept one: the word is FIG")
        bare = client.conversation(
            state=qs.ConversationState(conv.state.model, session_hash=conv.session_hash)
        )
        bare.send("Kept two: which word?")
    assert "FIG" in model_input(qwen3_call(qwen3_restartable, "Kept two: which word?"))


# --- the 1M demo's page: Qwen-Agent's WebUI ------------------------------------------------


async def test_1m_follow_up_after_a_restart_has_turn_one(
    qwen_agent_webui: Replica, fake_openai: FakeOpenAI
) -> None:
    url = qwen_agent_webui.url
    with qs.Client(ONEM, base_url=url, timeout=TIMEOUT) as client:
        async with qs.AsyncClient(ONEM, base_url=url, timeout=TIMEOUT) as aclient:
            sconv, aconv = client.conversation(), aclient.conversation()
            sconv.send("1M sync one: the word is GRAPE")
            await aconv.send("1M async one: the word is HONEYDEW")
            qwen_agent_webui.restart()
            sconv.send("1M sync two: which word?")
            await aconv.send("1M async two: which word?")
    seen = {w: onem_input(fake_openai, f"1M {c} two: which word?") for c, w in SEEN_FOLLOW}
    assert all(word in text for word, text in seen.items()), f"the model got: {seen}"


async def test_1m_bare_session_hash_after_a_restart_is_session_lost(
    qwen_agent_webui: Replica, fake_openai: FakeOpenAI
) -> None:
    url = qwen_agent_webui.url
    with qs.Client(ONEM, base_url=url, timeout=TIMEOUT) as client:
        async with qs.AsyncClient(ONEM, base_url=url, timeout=TIMEOUT) as aclient:
            sconv, aconv = client.conversation(), aclient.conversation()
            sconv.send("1M sync one, bare")
            await aconv.send("1M async one, bare")
            qwen_agent_webui.restart()
            sync_bare = client.conversation(
                state=qs.ConversationState(sconv.state.model, session_hash=sconv.session_hash)
            )
            async_bare = aclient.conversation(
                state=qs.ConversationState(aconv.state.model, session_hash=aconv.session_hash)
            )
            outcomes: dict[str, object] = {}
            try:
                outcomes["sync"] = sync_bare.send("1M sync two, bare").text
            except qs.QwenSpacesError as exc:
                outcomes["sync"] = exc
            try:
                outcomes["async"] = (await async_bare.send("1M async two, bare")).text
            except qs.QwenSpacesError as exc:
                outcomes["async"] = exc
    check_lost(outcomes)


async def test_1m_saved_state_after_a_restart_recovers(
    qwen_agent_webui: Replica, fake_openai: FakeOpenAI
) -> None:
    url = qwen_agent_webui.url
    with qs.Client(ONEM, base_url=url, timeout=TIMEOUT) as client:
        conv = client.conversation()
        conv.send("1M saved sync one: the word is KIWI")
        sync_saved = json.dumps(conv.state.to_dict())
    async with qs.AsyncClient(ONEM, base_url=url, timeout=TIMEOUT) as aclient:
        aconv = aclient.conversation()
        await aconv.send("1M saved async one: the word is LIME")
        async_saved = json.dumps(aconv.state.to_dict())
    qwen_agent_webui.restart()
    with qs.Client(ONEM, base_url=url, timeout=TIMEOUT) as client:
        state = qs.ConversationState.from_dict(json.loads(sync_saved))
        client.conversation(state=state).send("1M saved sync two: which word?")
    async with qs.AsyncClient(ONEM, base_url=url, timeout=TIMEOUT) as aclient:
        state = qs.ConversationState.from_dict(json.loads(async_saved))
        await aclient.conversation(state=state).send("1M saved async two: which word?")
    seen = {w: onem_input(fake_openai, f"1M saved {c} two: which word?") for c, w in SEEN_SAVED}
    assert all(word in text for word, text in seen.items()), f"the model got: {seen}"


# --- what a client can see of a restart (pinned here: the SDK's detection reads these) -------


def _app_id(replica: Replica) -> Any:
    with urllib.request.urlopen(replica.url + "/gradio_api/app_id", timeout=10) as resp:
        return json.loads(resp.read().decode("utf-8"))["app_id"]


def _first_chatbot_roles(replica: Replica, session: str, text: str) -> list[str]:
    """The roles in the chatbot's first value of an add_message run (output 5)."""
    data = [text, wire.settings("qwen3-8b", "S", 1), None, None]
    messages = wire.join_and_stream(replica, "add_message", data, session)
    first = next(m for m in messages if m.get("msg") == "process_generating")
    return [turn["role"] for turn in first["output"]["data"][5]["value"]]


def test_a_restart_shows_in_app_id_and_in_qwen3s_first_chatbot_value(
    qwen3_restartable: Replica, qwen_agent_webui: Replica
) -> None:
    session = wire.new_session()
    assert _first_chatbot_roles(qwen3_restartable, session, "one") == ["user"]
    # The session's whole history, then the new user turn (the pending answer comes next).
    assert _first_chatbot_roles(qwen3_restartable, session, "two") == ["user", "assistant", "user"]
    for server in (qwen3_restartable, qwen_agent_webui):
        before = _app_id(server)
        assert before == server.app_id  # /config says the same
        server.restart()
        assert _app_id(server) == server.app_id != before
    # The same session hash now names an empty session: one user turn.
    assert _first_chatbot_roles(qwen3_restartable, session, "three") == ["user"]
