"""A Space that forgot the conversation's session: noticed, and the turn redone with its history.

The fake Space's ``restart()`` drops every session and draws a new app_id, as
a real Space's crash, rebuild or wake from sleep does. The answer echoes what
reached the model, so each test sees the history the Space was given.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

import qwen_spaces as qs
from qwen_spaces._events import ConversationState
from qwen_spaces.testing import FakeSpace, RecordedChat


def echo(query: str, turns: int, system: str, chat: RecordedChat | None = None) -> str:
    return f"[{turns} earlier] {query}"


def no_reasoning(query: str, turns: int, system: str, chat: RecordedChat | None = None) -> str:
    return "thought"


def space(layout: str) -> FakeSpace:
    if layout == "qwen3":
        return FakeSpace("qwen3", answer=echo, reasoning=no_reasoning)
    return FakeSpace("1m", answer=echo)


MODEL = {"qwen3": "qwen-3-8b", "1m": "qwen-2.5-1m"}


def paths(fake: FakeSpace, end: str) -> list[str]:
    return [r.path for r in fake.requests if r.path.split("?")[0].endswith(end)]


async def send(kind: str, fake: FakeSpace, layout: str, texts: list[str], **conv: Any) -> list[Any]:
    """Each text a turn of one conversation; ``restart`` between turns restarts the Space."""
    replies: list[Any] = []
    if kind == "sync":
        with qs.Client(model=MODEL[layout], base_url=fake.url, max_retries=0) as client:
            conversation = client.conversation(**conv)
            for text in texts:
                if text == "restart":
                    fake.restart()
                else:
                    replies.append(conversation.send(text))
        return replies
    async with qs.AsyncClient(model=MODEL[layout], base_url=fake.url, max_retries=0) as aclient:
        aconversation = aclient.conversation(**conv)
        for text in texts:
            if text == "restart":
                fake.restart()
            else:
                replies.append(await aconversation.send(text))
    return replies


@pytest.mark.parametrize("layout", ["1m", "qwen3"])
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_restart_between_turns_resends_the_history(
    kind: str, layout: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qwen_spaces")
    with space(layout) as fake:
        replies = await send(kind, fake, layout, ["one", "restart", "two"])
        chats = list(fake.chats)
    assert replies[0].text == "[0 earlier] one"
    # The last run saw the first turn: the whole history, in a new session.
    last = chats[-1]
    assert "one" in last.query and "[0 earlier] one" in last.query and "two" in last.query
    assert last.session_hash != chats[0].session_hash
    assert replies[1].text == f"[0 earlier] {last.query}"
    assert replies[1].conversation.session_hash == last.session_hash
    assert any("no longer holds" in r.getMessage() for r in caplog.records)
    assert all(r.levelno == logging.INFO for r in caplog.records if "no longer" in r.getMessage())


@pytest.mark.parametrize("layout", ["1m", "qwen3"])
def test_without_a_restart_the_follow_up_sends_only_the_new_message(layout: str) -> None:
    with (
        space(layout) as fake,
        qs.Client(model=MODEL[layout], base_url=fake.url) as client,
    ):
        conversation = client.conversation()
        conversation.send("one")
        second = conversation.send("two")
        chats = list(fake.chats)
        app_ids = paths(fake, "/app_id")
    assert [c.query for c in chats] == ["one", "two"] and chats[1].turns == 1
    assert second.text == "[1 earlier] two"
    # The cost: the 1M page shows nothing of its session, so each follow-up
    # asks /app_id once (the first turn read it in /config); Qwen3's stream
    # shows the session, so it asks nothing.
    assert len(app_ids) == (1 if layout == "1m" else 0)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_qwen3_thinking_off_stays_off_after_a_restart(kind: str) -> None:
    with space("qwen3") as fake:
        replies = await send(kind, fake, "qwen3", ["one", "restart", "two"], thinking=False)
        chats = list(fake.chats)
        cancels = list(fake.cancels)
    assert [r.reasoning for r in replies] == ["", ""]
    # The run on the empty session (thinking on, the Space's default) was
    # stopped; the redo ran with thinking off again.
    assert chats[0].thinking is False and chats[-1].thinking is False
    assert "one" in chats[-1].query
    assert len(chats) == 3 and chats[1].query == "two" and chats[1].thinking is True
    assert len(cancels) == 1


def test_the_qwen3_stream_shows_the_loss_without_an_added_request() -> None:
    with space("qwen3") as fake, qs.Client(model=MODEL["qwen3"], base_url=fake.url) as client:
        conversation = client.conversation()
        conversation.send("one")
        fake.restart()
        before = len(fake.requests)
        conversation.send("two")
        sent = [r.path.split("?")[0] for r in fake.requests[before:]]
    # join + data on the empty session, its cancel, then join + data afresh.
    assert [p.rsplit("/", 2)[-1] for p in sent] == ["join", "data", "cancel", "join", "data"]


@pytest.mark.parametrize("layout", ["1m", "qwen3"])
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_saved_state_reloaded_after_a_restart_recovers(kind: str, layout: str) -> None:
    with space(layout) as fake:
        with qs.Client(model=MODEL[layout], base_url=fake.url) as client:
            saved = client.conversation().send("one").conversation.to_dict()
        fake.restart()
        state = ConversationState.from_dict(saved)
        if kind == "sync":
            with qs.Client(model=MODEL[layout], base_url=fake.url) as client:
                reply = client.conversation(state=state).send("two")
        else:
            async with qs.AsyncClient(model=MODEL[layout], base_url=fake.url) as aclient:
                reply = await aclient.conversation(state=state).send("two")
        chats = list(fake.chats)
    assert "one" in chats[-1].query and reply.text.endswith("two")


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_bare_session_hash_on_an_empty_qwen3_session_is_session_lost(kind: str) -> None:
    with space("qwen3") as fake:
        with qs.Client(model=MODEL["qwen3"], base_url=fake.url) as client:
            first = client.conversation().send("one")
        fake.restart()
        with pytest.raises(qs.SessionLostError, match="bare session_hash") as caught:
            await send(kind, fake, "qwen3", ["two"], session_hash=first.conversation.session_hash)
        cancels = list(fake.cancels)
    assert caught.value.cause == "empty session" and isinstance(caught.value, qs.QwenSpacesError)
    assert len(cancels) == 1  # the run on the empty session was stopped


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_bare_hash_with_its_app_id_on_1m_is_session_lost(kind: str) -> None:
    with space("1m") as fake:
        with qs.Client(model=MODEL["1m"], base_url=fake.url) as client:
            first = client.conversation().send("one")
        saved = {
            "model": "qwen-2.5-1m",
            "session_hash": first.conversation.session_hash,
            "app_id": fake.app_id,
            "unseen": True,
        }
        fake.restart()
        joins_before = len(paths(fake, "/queue/join"))
        with pytest.raises(qs.SessionLostError, match="restarted"):
            await send(kind, fake, "1m", ["two"], state=ConversationState.from_dict(saved))
        # Nothing was sent to the empty session.
        assert len(paths(fake, "/queue/join")) == joins_before


def test_the_state_saves_its_app_id_and_a_bare_hash() -> None:
    state = ConversationState.resumed("qwen-2.5-1m", "abc", [], app_id=7)
    data = state.to_dict()
    assert data["app_id"] == 7 and data["unseen"] is True
    assert ConversationState.from_dict(data) == state
    with pytest.raises(ValueError, match="app_id"):
        ConversationState.from_dict({**data, "app_id": "7"})
    fresh = ConversationState("qwen-2.5-1m")
    assert "unseen" not in fresh.to_dict() and not fresh.session.continued


def test_a_1m_session_with_documents_is_session_lost_after_a_restart(tmp_path: Any) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_text("the notes")
    with space("1m") as fake, qs.Client(model=MODEL["1m"], base_url=fake.url) as client:
        conversation = client.conversation()
        conversation.send("read it", files=[str(doc)])
        assert conversation.state.to_dict()["documents"] is True
        fake.restart()
        with pytest.raises(qs.SessionLostError, match="files=") as caught:
            conversation.send("and then?")
    assert caught.value.missing == "documents" and caught.value.cause == "restart"


def test_when_the_1m_client_asks_the_app_id() -> None:
    with space("1m") as fake:
        with qs.Client(model=MODEL["1m"], base_url=fake.url) as client:
            client.chat("warm-up")  # reads /config, stores the ids in the discovery cache
            client.chat("a one-shot call")  # knows the app_id: asks nothing
            assert paths(fake, "/app_id") == []
        # A new client (a new process) takes the ids from the cache: a one-shot
        # call asks nothing; the first turn of a conversation asks once, so
        # that a restart before its follow-up is seen.
        with qs.Client(model=MODEL["1m"], base_url=fake.url) as client:
            client.chat("one-shot")
            assert paths(fake, "/app_id") == [] and paths(fake, "/config") == ["/config"]
        with qs.Client(model=MODEL["1m"], base_url=fake.url) as client:
            conversation = client.conversation()
            conversation.send("one")
            assert len(paths(fake, "/app_id")) == 1
            fake.restart()
            reply = conversation.send("two")
        assert "one" in fake.chats[-1].query and reply.text.endswith("two")
