"""The Qwen2.5-1M demo: Qwen-Agent's web UI on modelscope-studio's legacy components.

``add_text`` (unqueued, by ``/run/predict``) appends the user turn to the
session's server-side history, then ``agent_run`` (queued) answers it; the
bot cell holds one message dict per agent; uploaded files reach the agent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ._gradio import InputError
from ._layout import Chat, Layout, SessionState, file_fact
from ._max import pairs_in

__all__ = ["PLACEHOLDER", "History", "OneMLayout", "ms_chatbot", "ms_message"]

# The 1M Space's status text before the first words: not part of the answer.
PLACEHOLDER = "Qwen is thinking..."


@dataclass
class History(SessionState):
    """The 1M Space's server-side conversation for one session hash."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    pending: Optional[str] = None
    # Paths of the files that came with the pending message (Qwen-Agent's {"file": path}).
    pending_files: list[str] = field(default_factory=list)


def _history(state: SessionState) -> History:
    assert isinstance(state, History), "a 1M session keeps a History"
    return state


class OneMLayout(Layout):
    """The Qwen2.5-1M demo (Qwen-Agent's web UI on modelscope-studio's legacy
    components): ``add_text`` unqueued, then ``agent_run`` queued, history kept
    server-side per session."""

    name = "1m"
    placeholder = PLACEHOLDER
    space_id = "Qwen/Qwen2.5-1M-Demo"
    title = "Qwen2.5-1M"
    chat_fns = frozenset({2})
    predict_fn = 1
    CHATBOT = 4

    def components(self) -> list[dict[str, Any]]:
        c = self.component
        return [
            c(1, "state", value=[]),
            c(2, "row", variant="default", equal_height=False),
            c(3, "column", scale=4, min_width=320),
            c(self.CHATBOT, "modelscopechatbot", value=[], height=600, flushing=False),
            c(5, "modelscopemultimodalinput", value={"files": [], "text": ""}, type="text"),
            c(6, "form"),
            c(7, "column", scale=1, min_width=160),
            c(8, "dropdown", value=0, label="Agents", type="value", choices=[["Qwen2.5-1M", 0]]),
            c(9, "markdown", value="**Qwen2.5-1M**"),
            c(10, "form"),
        ]

    def tree(self) -> dict[str, Any]:
        chat_column = {"id": 3, "children": [{"id": 4}, {"id": 6, "children": [{"id": 5}]}]}
        side_column = {"id": 7, "children": [{"id": 10, "children": [{"id": 8}]}, {"id": 9}]}
        return {
            "id": 0,
            "children": [{"id": 1}, {"id": 2, "children": [chat_column, side_column]}],
        }

    def dependencies(self) -> list[dict[str, Any]]:
        d = self.dependency
        chat_io = [self.CHATBOT, 1, 8]
        text_io = [5, self.CHATBOT, 1]
        return [
            d(0, [[8, "change"]], [8], [8, 9], "change_agent", queue=False),
            d(1, [[5, "submit"]], text_io, text_io, "add_text", queue=False, generator=True),
            d(2, [[None, "then"]], chat_io, chat_io, "agent_run", generator=True, trigger_after=1),
            d(3, [[None, "then"]], [], [5], "flushed", trigger_after=2),
        ]

    def new_state(self) -> History:
        return History()

    def predict(self, fn: int, data: list[Any], state: SessionState) -> list[Any]:
        if fn != self.predict_fn:
            return super().predict(fn, data, state)
        history = _history(state)
        self.check_inputs(fn, data)
        user = data[0]
        text = user.get("text") if isinstance(user, Mapping) else user
        if not isinstance(text, str):
            raise InputError("1 validation error for MultimodalInputData\ntext\n  Field required")
        given = user.get("files") if isinstance(user, Mapping) else None
        files = [
            f for f in given or [] if isinstance(f, Mapping) and isinstance(f.get("path"), str)
        ]
        history.pending = text
        history.pending_files = [str(f["path"]) for f in files]
        chatbot = ms_chatbot(data[1])
        cells = [{"file": dict(f), "alt_text": None} for f in files]
        chatbot.append([ms_message(text, files=cells), None])
        clear_input = {
            "interactive": False,
            "value": {"files": [], "text": ""},
            "__type__": "update",
        }
        return [clear_input, chatbot, None]

    def chat(self, data: list[Any], state: SessionState) -> Chat:
        history = _history(state)
        chatbot = ms_chatbot(data[0])
        if history.pending is not None:
            query = history.pending
        elif chatbot and isinstance(chatbot[-1][0], dict):
            # No add_text first: the real Space would answer from an empty
            # history; the fake is lenient and reads the chatbot instead.
            query = str(chatbot[-1][0].get("text") or "")
        else:
            query = ""
        if history.pending_files:
            # As Qwen-Agent's agent reads the files it is given: here, what
            # proves the bytes arrived intact.
            facts = [self.file_facts.get(p) or file_fact(p) for p in history.pending_files]
            query = f"{query} [files: {'; '.join(facts)}]"
        history.pending = None
        history.pending_files = []
        turns = len(history.pairs)
        if not chatbot:
            chatbot = [[ms_message(query, files=[]), None]]
        n = len(chatbot) - 1
        earlier, user = chatbot[:-1], chatbot[-1][0]

        agent = data[2]

        def render(text: str) -> list[Any]:
            return [[*earlier, [user, [ms_message(text)]]], None, agent]

        def on_complete(text: str) -> None:
            history.pairs.append((query, text))

        return Chat(
            query=query,
            turns=turns,
            system="",
            n_outputs=3,
            chatbot_output=0,
            render=render,
            answer_path=[n, 1, 0, "text"],
            on_complete=on_complete,
            trailer=True,
        )


# --- modelscope-studio legacy chatbot values ---------------------------------------


_MS_KEYS = ("id", "elem_id", "elem_classes", "name", "text", "flushing", "avatar", "files")


def ms_message(text: str, files: Optional[list[Any]] = None) -> dict[str, Any]:
    """modelscope-studio's legacy chatbot message, in its serialised key order."""
    return {
        "id": None,
        "elem_id": None,
        "elem_classes": None,
        "name": None,
        "text": text,
        "flushing": None,
        "avatar": "",
        "files": files,
    }


def _ms_cell(cell: Any) -> Any:
    if cell is None:
        return None
    if isinstance(cell, list):
        return [_ms_cell(c) for c in cell]
    if isinstance(cell, str):
        return ms_message(cell)
    if isinstance(cell, Mapping):
        message = ms_message(str(cell.get("text") or ""), cell.get("files"))
        message.update({k: cell[k] for k in _MS_KEYS if k in cell and k not in ("text",)})
        return message
    raise InputError(f"a chatbot message must be a dict or str, got {type(cell).__name__}")


def ms_chatbot(raw: Any) -> list[list[Any]]:
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise InputError("1 validation error for ChatbotData\n  Input should be a valid list")
    return [[_ms_cell(c) for c in pairs_in([pair])[0]] for pair in raw]
