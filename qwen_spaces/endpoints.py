"""Where a Space's functions are and what shape its chatbot takes: plain data, no logic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

__all__ = ["ChatbotFormat", "Endpoints", "Function"]

# Gradio's chatbots (tuples; messages with list or str content), modelscope
# studio's legacy chatbot (the 1M and Qwen2.5 demos) and its pro chatbot (Qwen3).
ChatbotFormat = Literal["tuples", "messages", "messages_str", "ms_legacy", "ms_pro"]


@dataclass(frozen=True)
class Function:
    """A side function of a layout, by the adapter's name for it (``add_text``, ``thinking``)."""

    name: str
    fn_index: int
    trigger_id: Optional[int]


@dataclass(frozen=True)
class Endpoints:
    """The ids and shapes one call needs.

    Read from ``/config`` when it can be; otherwise the Space's known defaults.
    ``fn_index``/``trigger_id`` are the chat function's; ``side`` holds the
    other functions a layout's plan calls in the same session.
    """

    api_prefix: str
    fn_index: int
    trigger_id: Optional[int]
    chatbot_output: int
    chatbot_format: ChatbotFormat
    side: tuple[Function, ...] = ()
    from_config: bool = False

    def ids(self, name: str) -> tuple[int, Optional[int]]:
        """``(fn_index, trigger_id)`` of the function the adapter calls ``name``."""
        for function in self.side:
            if function.name == name:
                return function.fn_index, function.trigger_id
        raise LookupError(f"the Space's /config has no {name!r} function")
