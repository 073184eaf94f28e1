"""Where a Space's functions are and what shape its chatbot takes: plain data, no logic."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from .._value import Frozen

__all__ = ["ChatbotFormat", "Endpoints", "Function"]

# Gradio's chatbots (tuples; messages with list or str content), modelscope
# studio's legacy chatbot (the 1M and Qwen2.5 demos) and its pro chatbot (Qwen3).
ChatbotFormat = Literal["tuples", "messages", "messages_str", "ms_legacy", "ms_pro"]


class Function(Frozen):
    """A side function of a layout, by the adapter's name for it (``add_text``, ``thinking``)."""

    __match_args__: ClassVar[tuple[str, ...]] = ("name", "fn_index", "trigger_id")
    __slots__ = __match_args__
    name: str
    fn_index: int
    trigger_id: Optional[int]

    def __init__(self, name: str, fn_index: int, trigger_id: Optional[int]) -> None:
        self._set("name", name)
        self._set("fn_index", fn_index)
        self._set("trigger_id", trigger_id)


class Endpoints(Frozen):
    """The ids and shapes one call needs.

    Read from ``/config`` when it can be; otherwise the Space's known defaults.
    ``fn_index``/``trigger_id`` are the chat function's; ``side`` holds the
    other functions a layout's plan calls in the same session.
    """

    __match_args__: ClassVar[tuple[str, ...]] = (
        "api_prefix",
        "fn_index",
        "trigger_id",
        "chatbot_output",
        "chatbot_format",
        "side",
        "from_config",
    )
    __slots__ = __match_args__
    api_prefix: str
    fn_index: int
    trigger_id: Optional[int]
    chatbot_output: int
    chatbot_format: ChatbotFormat
    side: tuple[Function, ...]
    from_config: bool

    def __init__(
        self,
        api_prefix: str,
        fn_index: int,
        trigger_id: Optional[int],
        chatbot_output: int,
        chatbot_format: ChatbotFormat,
        side: tuple[Function, ...] = (),
        from_config: bool = False,
    ) -> None:
        self._set("api_prefix", api_prefix)
        self._set("fn_index", fn_index)
        self._set("trigger_id", trigger_id)
        self._set("chatbot_output", chatbot_output)
        self._set("chatbot_format", chatbot_format)
        self._set("side", side)
        self._set("from_config", from_config)

    def ids(self, name: str) -> tuple[int, Optional[int]]:
        """``(fn_index, trigger_id)`` of the function the adapter calls ``name``."""
        for function in self.side:
            if function.name == name:
                return function.fn_index, function.trigger_id
        raise LookupError(f"the Space's /config has no {name!r} function")
