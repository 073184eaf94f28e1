"""The Qwen2.5 demo (qwen-qwen2-5.hf.space): one page, a radio of model sizes.

Gradio 4 (no prefix) with modelscope-studio's legacy chatbot, whose cells are
message dicts with a ``text`` field: ``model_chat(query, history, system,
size)`` (fn 3, bound to the input's submit, trigger 25; the size is a hidden
radio's value, set by three visible ones) answers with the input
cleared, the chatbot and the system prompt; the answer grows by appends at
``[n, 1, "text"]``. The history travels with every call, as on the Max demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._gradio import VERSIONS, InputError
from ._layout import Chat, Layout, SessionState
from ._onem import ms_chatbot, ms_message

__all__ = ["DEFAULT_SIZE", "OTHER_SIZES", "SIZES", "Qwen25Layout"]

SIZES = ("72B", "32B", "14B", "7B", "3B", "1.5B", "0.5B")
OTHER_SIZES = ("Math-72B", "Math-7B", "Math-1.5B", "Coder-7B", "Coder-1.5B")
DEFAULT_SIZE = "72B"
DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
# The three visible radios, the hidden one that holds the choice, and the chat's blocks.
RADIOS, SIZE = (4, 7, 10), 12
SYSTEM, SET_SYSTEM, SYSTEM_STATE, CHATBOT, INPUT, CLEAR, SEND = 18, 21, 22, 24, 25, 27, 28


class Qwen25Layout(Layout):
    """The Qwen2.5 demo on Gradio 4: ``model_chat(query, history, system, size)``."""

    name = "qwen2.5"
    space_id = "Qwen/Qwen2.5"
    title = "Qwen2.5"
    chat_fns = frozenset({3, 4})
    versions = {4: VERSIONS[4]}  # modelscope-studio's legacy chatbot is Gradio 4's

    def components(self) -> list[dict[str, Any]]:
        c = self.component

        def choices(names: Sequence[str]) -> list[list[str]]:
            return [[n, n] for n in names]

        title = "<center><font size=8>Qwen2.5: A Party of Foundation Models!</center>"
        return [
            c(1, "markdown", value=title),
            c(2, "row", variant="default", equal_height=True),
            c(3, "row", variant="default", equal_height=True),
            c(RADIOS[0], "radio", choices=choices(SIZES), value=DEFAULT_SIZE, type="value",
              label="Qwen2.5:"),
            c(5, "form", scale=1, min_width=160),
            c(RADIOS[1], "radio", choices=choices(OTHER_SIZES[:3]), type="value",
              label="Qwen2.5-Math:"),
            c(8, "form", scale=1, min_width=160),
            c(RADIOS[2], "radio", choices=choices(OTHER_SIZES[3:]), type="value",
              label="Qwen2.5-Coder:"),
            c(11, "form", scale=1, min_width=160),
            c(SIZE, "radio", choices=[], value=DEFAULT_SIZE, type="value", visible=False),
            c(15, "markdown", value="<center><font size=8>Qwen2.5-72B-instruct</center>"),
            c(SYSTEM, "textbox", value=DEFAULT_SYSTEM, lines=1, label="System", type="text"),
            c(19, "form", scale=0, min_width=0),
            c(SET_SYSTEM, "button", value="Set system prompt and clear history", scale=2),
            c(SYSTEM_STATE, "textbox", value=DEFAULT_SYSTEM, visible=False, type="text"),
            c(23, "form", scale=1, min_width=160),
            c(CHATBOT, "modelscopechatbot", value=[], label="72b", flushing=False),
            c(INPUT, "textbox", lines=1, label="Input", type="text"),
            c(26, "row", variant="default", equal_height=True),
            c(CLEAR, "button", value="Clear history"),
            c(SEND, "button", value="Send"),
            c(29, "form", scale=0, min_width=0),
            c(30, "form", scale=0, min_width=0),
        ]  # fmt: skip

    def tree(self) -> dict[str, Any]:
        radios = [
            {"id": row, "children": [{"id": form, "children": [{"id": radio}]}]}
            for row, form, radio in ((3, 5, RADIOS[0]), (6, 8, RADIOS[1]), (9, 11, RADIOS[2]))
        ]
        system = [
            {"id": 17, "children": [{"id": 19, "children": [{"id": SYSTEM}]}]},
            {"id": 20, "children": [{"id": SET_SYSTEM}]},
            {"id": 23, "children": [{"id": SYSTEM_STATE}]},
        ]
        chat = [
            {"id": 15},
            {"id": 16, "children": system},
            {"id": CHATBOT},
            {"id": 29, "children": [{"id": INPUT}]},
            {"id": 26, "children": [{"id": CLEAR}, {"id": SEND}]},
        ]
        return {
            "id": 0,
            "children": [
                {"id": 1},
                {"id": 2, "children": radios},
                {"id": 30, "children": [{"id": SIZE}]},
                {"id": 13, "children": [{"id": 14, "children": chat}]},
            ],
        }

    def dependencies(self) -> list[dict[str, Any]]:
        d = self.dependency
        ins, outs = [INPUT, CHATBOT, SYSTEM_STATE, SIZE], [INPUT, CHATBOT, SYSTEM]
        a, b, c = RADIOS
        return [
            d(0, [[a, "change"]], [a, b, c], [SIZE, b, c], "update_other_radios"),
            d(1, [[b, "change"]], [b, a, c], [SIZE, a, c], "update_other_radios_1"),
            d(2, [[c, "change"]], [c, a, b], [SIZE, a, b], "update_other_radios_2"),
            d(3, [[INPUT, "submit"]], ins, outs, "model_chat", generator=True),
            d(4, [[SEND, "click"]], ins, outs, "model_chat_1", generator=True),
            d(5, [[CLEAR, "click"]], [], [INPUT, CHATBOT], "clear_session"),
            d(6, [[SET_SYSTEM, "click"]], [SYSTEM], [SYSTEM_STATE, SYSTEM, CHATBOT],
              "modify_system_session"),
            d(7, [[SIZE, "change"]], [SIZE, SYSTEM], [15, CHATBOT, SYSTEM_STATE, SYSTEM, INPUT],
              "choose_radio"),
        ]  # fmt: skip

    def parameter_names(self, fn: int) -> Sequence[str]:
        chat = ("query", "history", "system", "radio")
        return {3: chat, 4: chat, 2: ("system",)}.get(fn, ())

    def chat(self, data: list[Any], state: SessionState) -> Chat:
        query = data[0] if isinstance(data[0], str) else ""
        system = data[2] if isinstance(data[2], str) else ""
        if data[3] not in SIZES + OTHER_SIZES:
            # (inferred) the app knows no model for any other size.
            raise InputError(f"Value: {data[3]!r} is not in the list of choices: {list(SIZES)!r}")
        # The app answers from the history's texts: earlier cells come back as new
        # messages, their other fields reset (files null).
        earlier = [[_text_only(cell) for cell in pair] for pair in ms_chatbot(data[1])]
        n = len(earlier)

        def render(text: str) -> list[Any]:
            return ["", [*earlier, [ms_message(query), ms_message(text)]], system]

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


def _text_only(cell: Any) -> Any:
    if cell is None:
        return None
    cells = cell if isinstance(cell, list) else [cell]  # a multi-bot cell: its texts joined
    return ms_message("".join(str(c.get("text") or "") for c in cells if c is not None))
