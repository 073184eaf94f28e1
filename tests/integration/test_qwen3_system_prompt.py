"""A system prompt reaches the Qwen3 models, once, on the replica of the Space's own app.py.

The Space's ``format_history`` builds the model's messages from the session's
turns only: the settings form's ``sys_prompt`` never reaches the model. So the
SDK must deliver it where the model reads it (in the session's turns), and a
follow-up in the same session must not repeat it. The replica keeps every
call to its model whole (``GET /replica/upstream``).
"""

from __future__ import annotations

from typing import Any

import pytest

import qwen_spaces as qs
from tests.integration.test_session_restart import model_input, qwen3_call
from tests.support.replicas.launcher import Replica

pytestmark = pytest.mark.timeout(120)

TIMEOUT = 60.0
SYSTEM = "Always answer like a pirate — très bref."


def user_input(call: dict[str, Any]) -> str:
    """The user turns of an upstream call (the fake model's answers echo what it got)."""
    return "\n".join(str(m["content"]) for m in call["messages"] if m["role"] == "user")


def test_chat_with_a_system_message_reaches_the_model_once_sync(qwen3_g527: Replica) -> None:
    with qs.Client("qwen-3-14b", base_url=qwen3_g527.url, timeout=TIMEOUT) as client:
        first = client.chat(
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Pirate one?"}]
        )
        client.chat("Pirate two?", conversation=first.conversation)
    seen = model_input(qwen3_call(qwen3_g527, "Pirate one?"))
    assert SYSTEM in seen, f"the system prompt never reached the model: {seen!r}"
    again = user_input(qwen3_call(qwen3_g527, "Pirate two?"))
    assert again.count(SYSTEM) == 1, f"the follow-up's user turns: {again!r}"


async def test_conversation_system_reaches_the_model_once_async(qwen3_g527: Replica) -> None:
    async with qs.AsyncClient("qwen-3-4b", base_url=qwen3_g527.url, timeout=TIMEOUT) as client:
        conv = client.conversation(system=SYSTEM, thinking=False)
        await conv.send("Async pirate one?")
        await conv.send("Async pirate two?")
    seen = model_input(qwen3_call(qwen3_g527, "Async pirate one?"))
    assert SYSTEM in seen, f"the system prompt never reached the model: {seen!r}"
    again = user_input(qwen3_call(qwen3_g527, "Async pirate two?"))
    assert again.count(SYSTEM) == 1, f"the follow-up's user turns: {again!r}"
