"""Pure: our events in the OpenAI chat-completion chunk format, for tools that speak it."""

from __future__ import annotations

import time
from typing import Any, Optional

from .._events import Event, Reasoning, TextDelta, new_completion_id

__all__ = ["OpenAIChunks"]


class OpenAIChunks:
    """Turns a stream's events into ``chat.completion.chunk`` dicts.

    The first chunk carries the assistant role, each TextDelta one content
    chunk, Reasoning a ``reasoning_content`` chunk, and the last chunk the
    ``finish_reason``. Queue status has no OpenAI equivalent and is skipped.
    ``id`` should be the id the stream's Reply will carry, so that chunks and
    reply match; by default a new unique one.
    """

    def __init__(self, model: str, id: Optional[str] = None) -> None:
        self.model = model
        self.created = int(time.time())
        self.id = id if id is not None else new_completion_id()
        self._started = False

    def _chunk(self, delta: dict[str, Any], finish: Optional[str] = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def convert(self, event: Event) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not self._started and isinstance(event, (TextDelta, Reasoning)):
            self._started = True
            out.append(self._chunk({"role": "assistant", "content": ""}))
        if isinstance(event, TextDelta) and event.text:
            out.append(self._chunk({"content": event.text}))
        elif isinstance(event, Reasoning):
            out.append(self._chunk({"reasoning_content": event.text}))
        return out

    def finish(self) -> dict[str, Any]:
        return self._chunk({}, finish="stop")
