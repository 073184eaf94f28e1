"""The public event and result types a stream yields and a call returns.

Events are plain slotted dataclasses, to be treated as read-only; not frozen,
because a frozen dataclass costs a third more to create and a stream makes
one per token.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Union

__all__ = [
    "ConversationState",
    "Event",
    "QueueStatus",
    "Reasoning",
    "Reply",
    "TextDelta",
    "new_completion_id",
]


def new_completion_id() -> str:
    """A unique OpenAI-style completion id: ``chatcmpl-`` and 32 random hex digits.

    Random, not a timestamp: concurrent replies must never share an id.
    """
    return f"chatcmpl-{os.urandom(16).hex()}"  # as random as uuid4, without its import


@dataclass(slots=True)
class TextDelta:
    """New answer text.

    ``backtrack`` is almost always 0, and then concatenating every ``text``
    gives ``Reply.text``. When a Space rewrites text it had already sent
    (rather than extending it), ``backtrack`` says how many characters of what
    came before to drop before appending ``text``. ``text_stream``,
    ``openai_chunks()`` and the providers pass only ``text`` on: a consumer
    that must mirror such rewrites exactly reads the events.
    """

    text: str
    backtrack: int = 0


@dataclass(slots=True)
class Reasoning:
    """A status or thinking text from the Space (e.g. "Qwen is thinking..."): not answer text."""

    text: str


@dataclass(slots=True)
class QueueStatus:
    """Where the request stands in the Space's queue.

    ``rank`` is the number of requests ahead (0 = next), ``eta`` the Space's
    estimate in seconds; either may be None when the Space does not say.
    ``started`` is True once generation has begun.
    """

    rank: Optional[int] = None
    queue_size: Optional[int] = None
    eta: Optional[float] = None
    started: bool = False


Event = Union[TextDelta, Reasoning, QueueStatus]


@dataclass
class ConversationState:
    """What a conversation needs to continue: its messages and the Space session.

    ``session_hash`` is reused across turns so that Spaces that keep history on
    the server (the 1M demo) see one session; ``synced`` is how many of
    ``messages`` that session already holds, so only newer ones are sent.
    """

    model: str
    session_hash: str
    messages: list[dict[str, str]] = field(default_factory=list)
    synced: int = 0

    @property
    def system(self) -> Optional[str]:
        for message in self.messages:
            if message["role"] == "system":
                return message["content"]
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for saving a conversation (see from_dict)."""
        return {
            "model": self.model,
            "session_hash": self.session_hash,
            "messages": [dict(m) for m in self.messages],
            "synced": self.synced,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ConversationState:
        """A state saved with to_dict(), checked: a clear ValueError if it is not one."""
        if not isinstance(data, dict):
            raise ValueError("a saved conversation is a JSON object")
        model, session_hash = data.get("model"), data.get("session_hash")
        messages, synced = data.get("messages", []), data.get("synced", 0)
        if not isinstance(model, str) or not isinstance(session_hash, str) or not session_hash:
            raise ValueError("a saved conversation needs a 'model' and a 'session_hash'")
        if not isinstance(messages, list) or not all(
            isinstance(m, dict)
            and m.get("role") in ("system", "user", "assistant")
            and isinstance(m.get("content"), str)
            for m in messages
        ):
            raise ValueError("'messages' must be a list of {'role': ..., 'content': str}")
        if not isinstance(synced, int) or not 0 <= synced <= len(messages):
            synced = 0  # unknown: resend the history rather than trust it
        return cls(
            model=model,
            session_hash=session_hash,
            messages=[{"role": m["role"], "content": m["content"]} for m in messages],
            synced=synced,
        )


@dataclass
class Reply:
    """A finished answer.

    ``text`` is the answer, ``reasoning`` any status/thinking text,
    ``model`` the canonical model name, ``conversation`` the state to continue
    from (it includes this answer). ``id`` is unique to this reply and is the
    ``id`` of :meth:`to_openai` (and of its stream's ``openai_chunks()``).
    """

    text: str
    model: str
    reasoning: str = ""
    conversation: Optional[ConversationState] = None
    created: float = field(default_factory=time.time)
    timings: dict[str, float] = field(default_factory=dict)
    id: str = field(default_factory=new_completion_id)

    def __str__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:  # rendered by Jupyter
        return self.text

    def to_openai(self) -> dict[str, Any]:
        """The reply as an OpenAI chat-completion dict."""
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": int(self.created),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": self.text,
                        **({"reasoning_content": self.reasoning} if self.reasoning else {}),
                    },
                    "finish_reason": "stop",
                }
            ],
        }
