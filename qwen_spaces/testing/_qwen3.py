"""The Qwen3 demo (qwen-qwen3-demo.hf.space): eight models behind one page, with thinking.

Gradio 5.27 with modelscope_studio 1.x: ``add_message(input, settings,
thinking_state, state)`` (fn 13, bound to the Sender's submit) answers with
seven outputs, the chatbot (output 5) as an update dict whose value is the
conversation: pro.Chatbot messages whose assistant turn holds a ``tool`` part
(the reasoning) then a ``text`` part (the answer). The conversation and the
thinking switch live in the session (two ``gr.State``s): a follow-up sends only
the new message; ``toggle_thinking`` (fn 3) flips the switch in the session.
An error shows as a red text part, then a failed event saying ``{"error": null}``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ._gradio import skip, update
from ._layout import Chat, Frames, Layout, RecordedChat, SessionState

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SYS_PROMPT",
    "MAX_THINKING_BUDGET",
    "MODELS",
    "Qwen3Layout",
    "Qwen3State",
    "default_reasoning",
]

# The Space's model ids and the labels its chatbot shows above each answer.
MODELS = {
    "qwen3-235b-a22b": "Qwen3-235B-A22B",
    "qwen3-32b": "Qwen3-32B",
    "qwen3-30b-a3b": "Qwen3-30B-A3B",
    "qwen3-14b": "Qwen3-14B",
    "qwen3-8b": "Qwen3-8B",
    "qwen3-4b": "Qwen3-4B",
    "qwen3-1.7b": "Qwen3-1.7B",
    "qwen3-0.6b": "Qwen3-0.6B",
}
DEFAULT_MODEL = "qwen3-235b-a22b"
DEFAULT_SYS_PROMPT = "You are a helpful and harmless assistant."
MAX_THINKING_BUDGET = 38  # the settings slider's maximum, in units of 1024 tokens
DEFAULT_SETTINGS = {
    "model": DEFAULT_MODEL,
    "sys_prompt": DEFAULT_SYS_PROMPT,
    "thinking_budget": MAX_THINKING_BUDGET,
}
# The timings the fake reports: constant, so equal runs give equal bytes.
THOUGHT_SECONDS = "1.23"
TOTAL_SECONDS = "2.34"
THINKING_TITLE = "Thinking..."
THOUGHT_TITLE = f"End of Thought ({THOUGHT_SECONDS}s)"

# Component and function ids, as a fresh Gradio 5.27 numbers the demo's blocks (gpt4free
# knew sender 33, form 38, thinking state 60, state 1, add_message 13; a client should
# find them by api_name and component type).
STATE, ADD_BTN, CONVERSATIONS, DELETE_ITEM, CHATBOT, SUGGESTION = 1, 15, 20, 22, 29, 30
SENDER, HEADER_STATE, HEADER, FORM, SETTINGS_BTN = 33, 35, 36, 38, 50
CLEAR_BTN, THINKING, THINKING_BTN = 56, 60, 61
TOGGLE_THINKING, NEW_CHAT, ADD_MESSAGE, CLEAR_HISTORY = 3, 6, 13, 15
_SUBMIT_OUTPUTS = [SENDER, CLEAR_BTN, DELETE_ITEM, ADD_BTN, CONVERSATIONS, CHATBOT, STATE]
_CHATBOT_OUTPUT = _SUBMIT_OUTPUTS.index(CHATBOT)  # 5
_CONFIG_KEYS = (
    "actions", "disabled_actions", "header", "footer", "avatar", "variant", "shape",
    "placement", "loading", "typing", "elem_style", "elem_classes", "styles", "class_names",
)  # fmt: skip


def _config(**fields: Any) -> dict[str, Any]:
    """A pro.Chatbot user_config or bot_config, every field present."""
    out: dict[str, Any] = dict.fromkeys(_CONFIG_KEYS)
    out.update(fields)
    return out


_BOT = _config(actions=["copy", "retry", "edit", "delete"], header="Qwen3", placement="start")
_USER = _config(actions=["copy", "edit", "delete"], placement="end")
_BUSY_BOT = {**_BOT, "disabled_actions": ["edit", "retry", "delete"]}
_BUSY_USER = {**_USER, "disabled_actions": ["edit", "delete"]}

# pro.Chatbot's message fields, in the order its data model serialises them.
_MESSAGE_KEYS = (
    "actions", "disabled_actions", "header", "footer", "avatar", "variant", "shape",
    "placement", "loading", "typing", "elem_style", "elem_classes", "styles",
    "class_names", "role", "key", "status", "content", "meta",
)  # fmt: skip


def default_reasoning(query: str, turns: int, system: str, chat: RecordedChat) -> str:
    """The fake's reasoning when none is scripted: says what reached the model."""
    return (
        f"Thinking about: {query} (model {chat.model}, budget {chat.thinking_budget}, "
        f"turn {turns + 1})"
    )


@dataclass
class Qwen3State(SessionState):
    """The session's two States: the thinking switch and the conversation."""

    thinking: bool = True
    conversation_id: str = ""
    label: str = ""  # the conversation's name in the list: its first message
    messages: list[dict[str, Any]] = field(default_factory=list)
    serial: int = 0  # message keys are made from it, so equal runs give equal bytes

    def key(self) -> str:
        self.serial += 1
        digest = hashlib.sha1(f"{self.conversation_id}/{self.serial}".encode()).hexdigest()
        return str(uuid.UUID(digest[:32]))


def _state(state: SessionState) -> Qwen3State:
    assert isinstance(state, Qwen3State), "a Qwen3 session keeps a Qwen3State"
    return state


def message(**fields: Any) -> dict[str, Any]:
    """A pro.Chatbot message with every field present (null where unset)."""
    out: dict[str, Any] = dict.fromkeys(_MESSAGE_KEYS)
    out.update(fields)
    return out


def part(kind: str, content: str, options: Any = None, *, editable: bool = True) -> dict[str, Any]:
    """One part of a message's content, as the data model serialises it."""
    return {
        "type": kind,
        "copyable": editable,
        "editable": editable,
        "content": content,
        "options": options,
    }


class _Turn:
    """One add_message run: the conversation it shows as the answer grows."""

    def __init__(self, state: Qwen3State, model: Any, query: str) -> None:
        self.state = state
        self.earlier = list(state.messages)
        user = message(role="user", key=state.key(), content=query)
        self.user = user
        self.assistant = message(
            role="assistant",
            key=state.key(),
            header=MODELS.get(model) if isinstance(model, str) else None,
            loading=True,
            status="pending",
            content=[],
        )
        self.shown = False  # the assistant turn is in the chatbot
        self.reasoning: Optional[str] = None
        self.answer: Optional[str] = None

    def _messages(self) -> list[dict[str, Any]]:
        turns = [*self.earlier, self.user]
        if self.shown:
            turns.append(_copy(self.assistant))
        return turns

    def _content(self) -> list[dict[str, Any]]:
        parts = []
        if self.reasoning is not None:
            done = self.answer is not None
            options = {
                "title": THOUGHT_TITLE if done else THINKING_TITLE,
                "status": "done" if done else "pending",
            }
            parts.append(part("tool", self.reasoning, options, editable=False))
        if self.answer is not None:
            parts.append(part("text", self.answer))
        return parts

    def busy(self) -> list[Any]:
        """add_message's first yield: the input cleared, the buttons off, the user turn in."""
        state = self.state
        items = [{"label": state.label, "key": state.conversation_id, "disabled": False}]
        chatbot = update(bot_config=_BUSY_BOT, user_config=_BUSY_USER, value=self._messages())
        off = update(disabled=True)
        convs = update(active_key=state.conversation_id, items=items)
        return [update(loading=True, value=None), off, off, off, convs, chatbot, None]

    def frame(self) -> list[Any]:
        """A yield of the answer's loop: only the chatbot changes."""
        self.assistant["content"] = self._content()
        chatbot = update(value=self._messages())
        return [skip(), skip(), skip(), skip(), skip(), chatbot, None]

    def pending(self) -> list[Any]:
        self.shown = True
        return self.frame()

    def think(self, reasoning: str) -> list[Any]:
        self.assistant["loading"] = False
        self.reasoning = reasoning
        return self.frame()

    def say(self, answer: str) -> list[Any]:
        self.assistant["loading"] = False
        self.answer = answer
        return self.frame()

    def done(self) -> list[Any]:
        self.assistant.update(status="done", footer=f"{TOTAL_SECONDS}s", loading=False)
        return self.frame()

    def error(self, text: str) -> list[Any]:
        """The app's except branch: a red text part, the turn marked done."""
        self.shown = True
        self.assistant.update(loading=False, status="done")
        self.assistant["content"] = self._content()
        span = f'<span style="color: var(--color-red-500)">{text}</span>'
        self.assistant["content"].append(part("text", span))
        chatbot = update(value=[*self.earlier, self.user, _copy(self.assistant)])
        return [skip(), skip(), skip(), skip(), skip(), chatbot, None]

    def free(self) -> list[Any]:
        """The finally branch: the input and buttons back; the turns kept in the session."""
        state = self.state
        state.messages = [*self.earlier, self.user, _copy(self.assistant)]
        items = [{"label": state.label, "key": state.conversation_id}]
        chatbot = update(bot_config=_BOT, user_config=_USER, value=state.messages)
        on = update(disabled=False)
        return [update(loading=False), on, on, on, update(items=items), chatbot, None]


def _copy(msg: dict[str, Any]) -> dict[str, Any]:
    out = dict(msg)
    if isinstance(out["content"], list):
        out["content"] = [{**p, "options": _copy_options(p["options"])} for p in out["content"]]
    return out


def _copy_options(options: Any) -> Any:
    return dict(options) if isinstance(options, dict) else options


def _check(settings: Mapping[str, Any]) -> Optional[str]:
    """What the model's API would answer to these settings, if it refuses them."""
    model, budget = settings.get("model"), settings.get("thinking_budget", 1)
    if model not in MODELS:
        return f"Error code: 404 - The model `{model}` does not exist."
    if isinstance(budget, bool) or not isinstance(budget, int):
        return f"Error code: 400 - thinking_budget must be an integer, got {budget!r}"
    if not 1 <= budget <= MAX_THINKING_BUDGET:
        return f"Error code: 400 - thinking_budget must be in [1, {MAX_THINKING_BUDGET}]"
    return None


class Qwen3Layout(Layout):
    """The Qwen3 demo on Gradio 5.27: session-held history and a thinking switch."""

    name = "qwen3"
    space_id = "Qwen/Qwen3-Demo"
    title = "Qwen3 Demo"
    chat_fns = frozenset({ADD_MESSAGE})
    versions = {5: "5.27.0"}
    shows_errors = False  # launch()'s default: a plain exception says {"error": null}
    thinks = True

    def new_state(self) -> Qwen3State:
        return Qwen3State()

    # --- /config ---------------------------------------------------------------

    def components(self) -> list[dict[str, Any]]:
        c = self.component
        options = [{"label": label, "value": key} for key, label in MODELS.items()]
        return [
            c(STATE, "state"),  # a State's props carry no value
            c(3, "modelscopeapplication"),
            c(4, "antdxxprovider"),
            c(ADD_BTN, "antdbutton", block=True, variant="filled", color="primary"),
            c(CONVERSATIONS, "antdxconversations", elem_classes=["chatbot-conversations-list"]),
            c(DELETE_ITEM, "antdmenuitem", label="Delete", danger=True, key="delete"),
            c(CHATBOT, "modelscopeprochatbot", value=[], height=0, user_config=_USER,
              bot_config=_BOT, elem_classes=["chatbot-chat-messages"]),
            c(SUGGESTION, "antdxsuggestion", items=[]),
            c(SENDER, "antdxsender", placeholder='Enter "/" to get suggestions'),
            c(HEADER_STATE, "state"),
            c(HEADER, "antdxsenderheader", open=True, title="Settings"),
            c(FORM, "antdform", value=dict(DEFAULT_SETTINGS)),
            c(41, "antdselect", options=options),
            c(44, "antdinputtextarea", auto_size={"minRows": 3}),
            c(47, "antdslider", min=1, max=MAX_THINKING_BUDGET, step=1),
            c(SETTINGS_BTN, "antdbutton", type="text"),
            c(CLEAR_BTN, "antdbutton", type="text"),
            c(THINKING, "state"),
            c(THINKING_BTN, "antdbutton", value="Thinking", shape="round", variant="solid"),
        ]  # fmt: skip

    def tree(self) -> dict[str, Any]:
        form = {"id": FORM, "children": [{"id": 41}, {"id": 44}, {"id": 47}]}
        prefix = [{"id": SETTINGS_BTN}, {"id": CLEAR_BTN}, {"id": THINKING}, {"id": THINKING_BTN}]
        sender = {
            "id": SENDER,
            "children": [{"id": HEADER_STATE}, {"id": HEADER, "children": [form]}],
        }
        left = [{"id": ADD_BTN}, {"id": CONVERSATIONS, "children": [{"id": DELETE_ITEM}]}]
        chat = [{"id": CHATBOT}, {"id": SUGGESTION, "children": [sender, *prefix]}]
        return {
            "id": 0,
            "children": [
                {"id": STATE},
                {"id": 3, "children": [{"id": 4, "children": [*left, *chat]}]},
            ],
        }

    def dependencies(self) -> list[dict[str, Any]]:
        d = self.dependency
        chat_outputs = list(_SUBMIT_OUTPUTS)
        switch_outputs = [CONVERSATIONS, CHATBOT, FORM, THINKING, STATE]
        return [
            d(0, [[HEADER_STATE, "change"]], [HEADER_STATE], [HEADER], "apply_header_state"),
            d(1, [[HEADER, "open_change"]], [HEADER_STATE], [HEADER_STATE],
              "toggle_settings_header"),
            d(2, [[THINKING, "change"]], [THINKING], [THINKING_BTN], "apply_thinking_state"),
            d(TOGGLE_THINKING, [[THINKING_BTN, "click"]], [THINKING], [THINKING],
              "toggle_thinking"),
            d(4, [[STATE, "change"]], [STATE], [], "update_browser_state"),
            d(5, [[0, "load"]], [STATE], [CONVERSATIONS, STATE], "apply_browser_state"),
            d(NEW_CHAT, [[ADD_BTN, "click"]], [THINKING, STATE], switch_outputs, "new_chat"),
            d(7, [[CONVERSATIONS, "active_change"]], [THINKING, STATE], switch_outputs,
              "select_conversation"),
            d(8, [[CONVERSATIONS, "menu_click"]], [STATE], [CONVERSATIONS, CHATBOT, STATE],
              "click_conversation_menu"),
            d(9, [[CHATBOT, "welcome_prompt_select"]], [], [SENDER], "apply_prompt"),
            d(10, [[CHATBOT, "delete"]], [STATE], [STATE], "delete_message"),
            d(11, [[CHATBOT, "edit"]], [STATE, CHATBOT], [STATE], "edit_message"),
            d(12, [[CHATBOT, "retry"]], [FORM, THINKING, STATE], chat_outputs,
              "regenerate_message", generator=True),
            d(ADD_MESSAGE, [[SENDER, "submit"]], [SENDER, FORM, THINKING, STATE], chat_outputs,
              "add_message", generator=True),
            d(14, [[SETTINGS_BTN, "click"]], [HEADER_STATE], [HEADER_STATE],
              "toggle_settings_header_1"),
            d(CLEAR_HISTORY, [[CLEAR_BTN, "click"]], [STATE], [CHATBOT, STATE],
              "clear_conversation_history"),
            d(16, [[SUGGESTION, "select"]], [SENDER], [SENDER], "select_suggestion"),
        ]  # fmt: skip

    def parameter_names(self, fn: int) -> Sequence[str]:
        names = {
            ADD_MESSAGE: (
                "input_value",
                "settings_form_value",
                "thinking_btn_state_value",
                "state_value",
            ),
            TOGGLE_THINKING: ("thinking_btn_state_value",),
        }
        return names.get(fn, ())  # fmt: skip

    # --- the functions -------------------------------------------------------

    def run(self, fn: int, data: list[Any], state: SessionState) -> list[Any]:
        session = _state(state)
        if fn == TOGGLE_THINKING:
            session.thinking = not session.thinking
            return [None]  # a State output is never sent
        if fn == NEW_CHAT:
            session.thinking, session.conversation_id, session.messages = True, "", []
            chatbot = update(value=[])
            return [
                update(active_key=""),
                chatbot,
                update(value=dict(DEFAULT_SETTINGS)),
                None,
                None,
            ]
        if fn == CLEAR_HISTORY:
            session.messages = []
            return [update(value=[]), None]
        return super().run(fn, data, state)

    def chat(self, data: list[Any], state: SessionState) -> Chat:
        session = _state(state)
        query = data[0] if isinstance(data[0], str) else ""
        settings = data[1] if isinstance(data[1], Mapping) else None
        if not session.conversation_id:
            session.conversation_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{id(session)}"))
            session.label = query
        # The State inputs sent are ignored: Gradio fills them from the session.
        turns = sum(1 for m in session.messages if m["role"] == "assistant")
        model = settings.get("model") if settings else None
        turn = _Turn(session, model, query)
        refusal = _check(settings) if settings is not None else ""
        thinking = session.thinking
        chat = Chat(
            query=query,
            turns=turns,
            system=str(settings.get("sys_prompt") or "") if settings else "",
            n_outputs=len(_SUBMIT_OUTPUTS),
            chatbot_output=_CHATBOT_OUTPUT,
            render=lambda text: _rendered(turn, text),
            answer_path=["value", len(turn.earlier) + 1, "content", 0, "content"],
            model=model if isinstance(model, str) else None,
            thinking=thinking,
            # A form without a budget is taken as 1 (the app's default).
            thinking_budget=settings.get("thinking_budget", 1) if settings else None,
            finish=lambda text: [turn.done(), turn.free()],
            fail=lambda text: [turn.error(text), turn.free()],
            hides_errors=True,
        )

        def frames(answer: Sequence[str], reasoning: Sequence[str]) -> Frames:
            yield turn.busy()
            if refusal == "":  # no settings: the app fails before the turn shows
                chat.failed = ""
                return
            yield turn.pending()
            if refusal is not None:
                chat.failed = refusal
                return
            yield from _stream(turn, answer, reasoning)
            yield turn.done()
            yield turn.free()

        chat.frames = frames
        return chat


def _stream(turn: _Turn, answer: Sequence[str], reasoning: Sequence[str]) -> Iterator[list[Any]]:
    text = ""
    for chunk in reasoning:
        text += chunk
        yield turn.think(text)
    text = ""
    for chunk in answer:
        text += chunk
        yield turn.say(text)


def _rendered(turn: _Turn, text: str) -> list[Any]:
    """Benchmark mode: the turn shown with this much of the answer, no reasoning."""
    turn.shown = True
    return turn.say(text)
