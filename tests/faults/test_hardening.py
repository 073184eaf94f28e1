"""Hardening (issue #9): what outside tests found, each through both clients."""

from __future__ import annotations

from typing import Any

import pytest

from qwen_spaces.testing import FakeSpace
from tests.faults.conftest import call

pytestmark = pytest.mark.timeout(60)

ANSWER = "Hello from the fake Space."


def joins(space: FakeSpace) -> list[Any]:
    return [r.json for r in space.requests if r.path.endswith("/queue/join")]


# --- 6. OpenAI message variants ----------------------------------------------------


def test_developer_message_is_sent_as_the_system_prompt(mode: str) -> None:
    messages = [
        {"role": "developer", "content": "Answer in French.", "name": "ops"},
        {"role": "user", "content": "u1", "name": "alice"},
        {"role": "assistant", "content": None},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q"},
    ]
    with FakeSpace(answer=ANSWER) as space:
        out = call(mode, space.url, messages)
        sent = joins(space)
    assert out.error is None and out.reply is not None and out.reply.text == ANSWER
    assert len(sent) == 1
    query, history, system = sent[0]["data"]
    assert (query, history, system) == ("q", [["u1", "a1"]], "Answer in French.")


@pytest.mark.parametrize(
    "message",
    [
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]},
    ],
)
def test_unsupported_openai_features_fail_before_anything_is_sent(
    mode: str, message: dict[str, Any]
) -> None:
    with FakeSpace(answer=ANSWER) as space:
        with pytest.raises(ValueError, match="not supported"):
            call(mode, space.url, [message, {"role": "user", "content": "q"}])
        assert joins(space) == []
