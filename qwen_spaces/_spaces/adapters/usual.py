"""Qwen's usual demo: ``model_chat(query, history, system[, size])`` on a Gradio chatbot.

The layout of the Qwen2.5-Max, Qwen2-72B-Instruct and Qwen2.5 demos. The
whole conversation is sent each time, the history as real chatbot turns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ..._gradio import payloads
from ..._gradio.discovery import ConfigView
from ..._gradio.endpoints import ChatbotFormat, Endpoints
from .base import CallInput, SpaceAdapter

__all__ = ["UsualChatAdapter"]


class UsualChatAdapter(SpaceAdapter):
    """``model_chat(query, history, system, *extra)``; ``extra`` are fixed inputs
    after the system prompt (the Qwen2.5 demo's model size, ``"72B"``)."""

    def __init__(
        self, default_system: str = "You are a helpful assistant.", extra: Sequence[Any] = ()
    ) -> None:
        super().__init__(default_system)
        self.extra = tuple(extra)

    def accepts(self, inputs: Sequence[Any], config: ConfigView) -> bool:
        return len(inputs) == 3 + len(self.extra) and config.is_chatbot(inputs[1])

    def chatbot_format(self, declared: Optional[str], gradio_major: Optional[int]) -> ChatbotFormat:
        if declared == "tuples":
            return "tuples"
        if declared is None and gradio_major is not None and gradio_major < 6:
            return "tuples"  # before Gradio 6, tuples unless the Space says otherwise
        # Gradio 6 messages carry content as a list of parts; Gradio 5's as a str.
        return "messages" if gradio_major is None or gradio_major >= 6 else "messages_str"

    def join_data(
        self, endpoints: Endpoints, call: CallInput, done: Mapping[str, Any]
    ) -> tuple[list[Any], int]:
        prompt = payloads.split_messages(call.messages)
        system = prompt.system if prompt.system is not None else self.default_system
        history = payloads.chatbot_value(prompt.history, endpoints.chatbot_format)
        turns = len(prompt.history)
        # Message chatbots hold two entries a turn.
        first = turns if endpoints.chatbot_format == "tuples" else 2 * turns
        return [prompt.query, history, system, *self.extra], first
