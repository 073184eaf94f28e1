"""The 1M layout on the Space's own page: Qwen-Agent 0.0.16's real WebUI, both clients.

The 1M demo ran Qwen-Agent's ``WebUI(Assistant(...))``. Here the real package
(.venvs/qwenagent) serves it against ``fake_openai``, a model that answers
with every message it was given, so each test sees what reached the model:
the session's earlier turns, the system prompt, the document text Qwen-Agent's
RAG put in. The WebUI shows an answer as ``convert_fncall_to_text`` makes it
(``shown``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import qwen_spaces as qs
from qwen_spaces._gradio import payloads
from tests.support.replicas.fake_openai import Chat, FakeOpenAI
from tests.support.replicas.launcher import Replica

pytestmark = pytest.mark.timeout(120)

MODEL = "qwen-2.5-1m"
TIMEOUT = 60.0
DOC_FACT = "The vault code is PAPAYA-4711, wrote the café's owner."


def shown(answer: str) -> str:
    """The model's answer as the WebUI puts it in its chatbot (qwen_agent.gui.utils)."""
    return answer.lstrip("\n").rstrip().replace("```", "")


def answered(model: FakeOpenAI, reply: qs.Reply, mark: int) -> Chat:
    """The one model call since ``mark`` whose answer the reply shows, exactly."""
    chats = [c for c in model.chats_since(mark) if shown(c.answer) == reply.text]
    assert len(chats) == 1, f"{len(chats)} model calls answered {reply.text[:200]!r}"
    return chats[0]


def test_the_webui_is_qwen_agents_own_page(qwen_agent_webui: Replica) -> None:
    assert qwen_agent_webui.version == "5.1.0"  # the gui extra's pin
    types = {c["type"] for c in qwen_agent_webui.config["components"]}
    assert {"modelscopechatbot", "modelscopemultimodalinput", "state"} <= types
    names = {d.get("api_name") for d in qwen_agent_webui.config["dependencies"]}
    assert {"add_text", "agent_run"} <= names


def test_exact_answer_and_a_three_turn_conversation_sync(
    qwen_agent_webui: Replica, fake_openai: FakeOpenAI
) -> None:
    queries = ["First — ha ha ☕?", "Second, naïve?", "Third ✓"]
    with qs.Client(MODEL, base_url=qwen_agent_webui.url, timeout=TIMEOUT) as client:
        mark = len(fake_openai.chats)
        with client.stream("Hello ☕ — exact?") as stream:
            deltas = [e.text for e in stream if isinstance(e, qs.TextDelta)]
            reply = stream.reply
        chat = answered(fake_openai, reply, mark)
        assert "".join(deltas) == reply.text and len(deltas) > 3  # streamed, exact
        assert chat.texts("user") == ["Hello ☕ — exact?"] and chat.body.get("stream") is True

        conv = client.conversation()
        replies = []
        for query in queries:
            mark = len(fake_openai.chats)
            replies.append(conv.send(query))
            last = answered(fake_openai, replies[-1], mark)
    # The third call's model input holds both earlier turns, as the session kept them.
    assert last.texts("user") == queries
    assert [shown(a) for a in last.texts("assistant")] == [r.text for r in replies[:2]]
    assert [m["content"] for m in conv.messages] == [
        x for q, r in zip(queries, replies, strict=True) for x in (q, r.text)
    ]


async def test_exact_answer_and_a_three_turn_conversation_async(
    qwen_agent_webui: Replica, fake_openai: FakeOpenAI
) -> None:
    queries = ["Eins ☕", "Zwei — ha", "Drei?"]
    async with qs.AsyncClient(MODEL, base_url=qwen_agent_webui.url, timeout=TIMEOUT) as client:
        conv = client.conversation()
        replies = []
        for query in queries:
            mark = len(fake_openai.chats)
            replies.append(await conv.send(query))
            last = answered(fake_openai, replies[-1], mark)
    assert last.texts("user") == queries
    assert [shown(a) for a in last.texts("assistant")] == [r.text for r in replies[:2]]


def test_the_system_prompt_reaches_the_model_sync(
    qwen_agent_webui: Replica, fake_openai: FakeOpenAI
) -> None:
    system = "Answer in French — très bref."
    with qs.Client(MODEL, base_url=qwen_agent_webui.url, timeout=TIMEOUT) as client:
        conv = client.conversation(system=system)
        mark = len(fake_openai.chats)
        first = conv.send("Bonjour?")
        chat = answered(fake_openai, first, mark)
        mark = len(fake_openai.chats)
        second = conv.send("Encore?")
        again = answered(fake_openai, second, mark)
    # The page has no system prompt: it goes at the head of the first prompt.
    assert chat.texts("user") == [payloads.flatten(conv.messages[:2])]
    assert system in chat.texts("user")[0]
    # The follow-up sends only the new message; the model still sees it once, in turn one.
    assert again.texts("user") == [chat.texts("user")[0], "Encore?"]
    assert sum(m.count(system) for m in again.texts("user")) == 1


async def test_the_system_prompt_reaches_the_model_async(
    qwen_agent_webui: Replica, fake_openai: FakeOpenAI
) -> None:
    system = "Be brief — async."
    async with qs.AsyncClient(MODEL, base_url=qwen_agent_webui.url, timeout=TIMEOUT) as client:
        mark = len(fake_openai.chats)
        reply = await client.chat(
            [{"role": "system", "content": system}, {"role": "user", "content": "Hi ☕"}]
        )
    chat = answered(fake_openai, reply, mark)
    assert chat.texts("user") == [f"System: {system}\nUser: Hi ☕"]


def _document(tmp_path: Path) -> Path:
    path = tmp_path / "vault-note.txt"
    path.write_text(f"Minutes of the meeting.\n{DOC_FACT}\nNothing else was said.\n", "utf-8")
    return path


def test_a_document_goes_through_qwen_agents_rag_sync(
    qwen_agent_webui: Replica, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    doc = _document(tmp_path)
    with qs.Client(MODEL, base_url=qwen_agent_webui.url, timeout=TIMEOUT) as client:
        conv = client.conversation()
        mark = len(fake_openai.chats)
        reply = conv.send("What is the vault code?", files=[doc])
        chat = answered(fake_openai, reply, mark)
        # Qwen-Agent's RAG read the uploaded file and put its text in the system message.
        assert DOC_FACT in chat.system and "vault-note.txt" in chat.system
        assert chat.texts("user")[-1].endswith("What is the vault code?")
        assert DOC_FACT in reply.text  # the echo: what the model was given
        mark = len(fake_openai.chats)
        follow = conv.send("And who wrote it?")
        again = answered(fake_openai, follow, mark)
    # The session keeps the file in its turn one: the follow-up still reads it.
    assert DOC_FACT in again.system
    assert again.texts("user")[-1] == "And who wrote it?"


async def test_a_document_goes_through_qwen_agents_rag_async(
    qwen_agent_webui: Replica, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    doc = _document(tmp_path)
    async with qs.AsyncClient(MODEL, base_url=qwen_agent_webui.url, timeout=TIMEOUT) as client:
        mark = len(fake_openai.chats)
        reply = await client.chat("What is the vault code?", files=[doc])
    chat = answered(fake_openai, reply, mark)
    assert DOC_FACT in chat.system and "vault-note.txt" in chat.system
