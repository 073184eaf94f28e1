"""The Qwen2.5 demo (qwen-qwen2-5.hf.space): one page, a radio of model sizes.

Gradio 4 (no prefix) with modelscope-studio's legacy chatbot, whose cells are
message dicts with a ``text`` field: ``model_chat(query, history, system,
size)`` (fn 3, bound to the input's submit, trigger 25) answers with the input
cleared, the chatbot and the system prompt; the answer grows by appends at
``[n, 1, "text"]``. The history travels with every call, as on the Max demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._gradio import VERSIONS, InputError
from ._layout import Chat, Layout, SessionState
from ._onem import ms_chatbot, ms_message

__all__ = ["DEFAULT_SIZE", "SIZES", "Qwen25Layout"]

SIZES = ("72B", "32B", "14B", "7B", "3B", "1.5B", "0.5B")
DEFAULT_SIZE = "72B"
DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
SIZE, SYSTEM, SET_SYSTEM, SYSTEM_STATE, CHATBOT, INPUT, CLEAR, SEND = 5, 9, 12, 13, 21, 25, 27, 28


class Qwen25Layout(Layout):
    """The Qwen2.5 demo on Gradio 4: ``model_chat(query, history, system, size)``."""

    name = "qwen2.5"
    space_id = "Qwen/Qwen2.5"
    title = "Qwen2.5"
    chat_fns = frozenset({3, 4})
    versions = {4: VERSIONS[4]}  # modelscope-studio's legacy chatbot is Gradio 4's

    def components(self) -> list[dict[str, Any]]:
        c = self.component
        choices = [[s, s] for s in SIZES]
        return [
            c(1, "markdown", value="<center><font size=8>Qwen2.5-72B-Instruct</center>"),
            c(2, "row", variant="default", equal_height=False),
            c(SIZE, "radio", value=DEFAULT_SIZE, label="Size", choices=choices, type="value"),
            c(6, "form"),
            c(SYSTEM, "textbox", value=DEFAULT_SYSTEM, lines=1, label="System", type="text"),
            c(10, "form"),
            c(SET_SYSTEM, "button", value="🛠️ Set system prompt and clear history"),
            c(SYSTEM_STATE, "textbox", value=DEFAULT_SYSTEM, visible=False, type="text"),
            c(14, "form"),
            c(CHATBOT, "modelscopechatbot", value=[], label="Qwen2.5", flushing=False),
            c(INPUT, "textbox", value="", lines=1, label="Input", type="text"),
            c(26, "form"),
            c(CLEAR, "button", value="🧹 Clear history"),
            c(SEND, "button", value="🚀 Send"),
        ]

    def tree(self) -> dict[str, Any]:
        system = [{"id": 10, "children": [{"id": SYSTEM}]}, {"id": SET_SYSTEM}]
        return {
            "id": 0,
            "children": [
                {"id": 1},
                {"id": 6, "children": [{"id": SIZE}]},
                {"id": 2, "children": system},
                {"id": 14, "children": [{"id": SYSTEM_STATE}]},
                {"id": CHATBOT},
                {"id": 26, "children": [{"id": INPUT}]},
                {"id": CLEAR},
                {"id": SEND},
            ],
        }

    def dependencies(self) -> list[dict[str, Any]]:
        d = self.dependency
        ins, outs = [INPUT, CHATBOT, SYSTEM_STATE, SIZE], [INPUT, CHATBOT, SYSTEM]
        return [
            d(0, [[SIZE, "change"]], [], [INPUT, CHATBOT], "clear_session"),
            d(1, [[CLEAR, "click"]], [], [INPUT, CHATBOT], "clear_session_1"),
            d(2, [[SET_SYSTEM, "click"]], [SYSTEM], [SYSTEM_STATE, SYSTEM, CHATBOT],
              "modify_system_session"),
            d(3, [[INPUT, "submit"]], ins, outs, "model_chat", generator=True),
            d(4, [[SEND, "click"]], ins, outs, "model_chat_1", generator=True),
        ]  # fmt: skip

    def parameter_names(self, fn: int) -> Sequence[str]:
        chat = ("query", "history", "system", "radio")
        return {3: chat, 4: chat, 2: ("system",)}.get(fn, ())

    def chat(self, data: list[Any], state: SessionState) -> Chat:
        query = data[0] if isinstance(data[0], str) else ""
        system = data[2] if isinstance(data[2], str) else ""
        if data[3] not in SIZES:
            # Gradio's Radio refuses a value outside its choices before the function runs.
            raise InputError(f"Value: {data[3]!r} is not in the list of choices: {list(SIZES)!r}")
        earlier = ms_chatbot(data[1])
        n = len(earlier)

        def render(text: str) -> list[Any]:
            return ["", [*earlier, [ms_message(query, files=[]), ms_message(text)]], system]

        return Chat(
            query=query,
            turns=n,
            system=system,
            n_outputs=3,
            chatbot_output=1,
            render=render,
            answer_path=[n, 1, "text"],
            model=str(data[3]),
        )
