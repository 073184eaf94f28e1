"""The usual Qwen demo layout (Qwen2.5-Max, Qwen2-72B): ``model_chat(query, history, system)``.

A tuples chatbot on Gradio 4 and 5, a messages one on Gradio 6; the history
travels with every call, nothing is kept per session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

from ._gradio import InputError
from ._layout import Chat, Layout, SessionState

__all__ = ["DEFAULT_SYSTEM", "MaxLayout", "pairs_in"]

DEFAULT_SYSTEM = "You are a helpful assistant."


class MaxLayout(Layout):
    """The Qwen2.5-Max demo: ``model_chat(query, history, system)``, a tuples chatbot
    (messages on Gradio 6)."""

    name = "max"
    space_id = "Qwen/Qwen2.5-Max-Demo"
    title = "Qwen2.5-Max"
    chat_fns = frozenset({0, 1})
    CHATBOT = 10

    def components(self) -> list[dict[str, Any]]:
        chatbot_props: dict[str, Any] = {"value": [], "label": "Qwen2.5-Max", "height": 500}
        if self.gradio < 6:  # Gradio 6's Chatbot is messages-only and drops the prop
            chatbot_props["type"] = "tuples"
        c = self.component
        return [
            c(1, "markdown", value="<center><font size=8>Qwen2.5-Max</center>"),
            c(2, "row", variant="default", equal_height=False),
            c(3, "column", scale=3, min_width=320),
            c(4, "textbox", value=DEFAULT_SYSTEM, lines=1, label="System", type="text"),
            c(5, "form"),
            c(6, "column", scale=1, min_width=160),
            c(7, "button", value="🛠️ Set system prompt and clear history", scale=2),
            c(8, "textbox", value=DEFAULT_SYSTEM, visible=False, type="text"),
            c(9, "form"),
            c(self.CHATBOT, "chatbot", **chatbot_props),
            c(11, "textbox", value="", lines=1, label="Input", type="text"),
            c(12, "row", variant="default", equal_height=False),
            c(13, "button", value="🧹 Clear history"),
            c(14, "button", value="🚀 Send"),
            c(15, "form"),
        ]

    def tree(self) -> dict[str, Any]:
        system_row = [
            {"id": 3, "children": [{"id": 5, "children": [{"id": 4}]}]},
            {"id": 6, "children": [{"id": 7}]},
            {"id": 9, "children": [{"id": 8}]},
        ]
        return {
            "id": 0,
            "children": [
                {"id": 1},
                {"id": 2, "children": system_row},
                {"id": 10},
                {"id": 15, "children": [{"id": 11}]},
                {"id": 12, "children": [{"id": 13}, {"id": 14}]},
            ],
        }

    def parameter_names(self, fn: int) -> Sequence[str]:
        # model_chat(query, history, system), modify_system_session(system)
        return {
            0: ("query", "history", "system"),
            1: ("query", "history", "system"),
            3: ("system",),
        }.get(fn, ())

    def dependencies(self) -> list[dict[str, Any]]:
        d = self.dependency
        chat_io = ([11, self.CHATBOT, 8], [11, self.CHATBOT, 4])
        return [
            d(0, [[11, "submit"]], *chat_io, "model_chat", generator=True),
            d(1, [[14, "click"]], *chat_io, "model_chat_1", generator=True),
            d(2, [[13, "click"]], [], [11, self.CHATBOT], "clear_session"),
            d(3, [[7, "click"]], [4], [8, 4, self.CHATBOT], "modify_system_session"),
        ]

    def chat(self, data: list[Any], state: SessionState) -> Chat:
        query = data[0] if isinstance(data[0], str) else ""
        system = data[2] if isinstance(data[2], str) else ""
        raw = data[1] if data[1] is not None else []
        if not isinstance(raw, list):
            raise InputError("1 validation error for ChatbotData\n  Input should be a valid list")
        if self.gradio >= 6:
            earlier = _messages_in(raw)
            turns = sum(1 for m in earlier if m["role"] == "assistant")
            n = len(earlier) + 1  # the assistant message holding the answer

            def render(text: str) -> list[Any]:
                return [
                    "",
                    [*earlier, _message("user", query), _message("assistant", text)],
                    system,
                ]

            path: list[Union[int, str]] = [n, "content", 0, "text"]
        else:
            pairs = pairs_in(raw)
            turns = len(pairs)

            def render(text: str) -> list[Any]:
                return ["", [*[list(p) for p in pairs], [query, text]], system]

            path = [len(pairs), 1]
        return Chat(
            query=query,
            turns=turns,
            system=system,
            n_outputs=3,
            chatbot_output=1,
            render=render,
            answer_path=path,
        )


# --- chatbot values ------------------------------------------------------------


def pairs_in(raw: list[Any]) -> list[tuple[Any, Any]]:
    pairs: list[tuple[Any, Any]] = []
    for item in raw:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise InputError(
                "1 validation error for ChatbotDataTuples\n  Input should be a valid tuple "
                f"of two items, got {item!r:.80}"
            )
        pairs.append((item[0], item[1]))
    return pairs


def _messages_in(raw: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    errors: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or item.get("role") not in ("user", "assistant", "system"):
            errors.append(f"{i}\n  Input should be a valid dictionary with a role")
            continue
        content = item.get("content")
        if not isinstance(content, list):
            # Gradio 6 takes content only as a list of parts.
            errors.append(
                f"{i}.content\n  Input should be a valid list [type=list_type, "
                f"input_value={content!r:.40}, input_type={type(content).__name__}]"
            )
            continue
        texts = [p.get("text", "") for p in content if isinstance(p, Mapping)]
        out.append(_message(str(item["role"]), "".join(str(t) for t in texts)))
    if errors:
        raise InputError(
            f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} for "
            "ChatbotDataMessages\n" + "\n".join(errors)
        )
    return out


def _message(role: str, text: str) -> dict[str, Any]:
    return {
        "role": role,
        "metadata": None,
        "content": [{"text": text, "type": "text"}],
        "options": None,
    }
