"""A replica of the Qwen3 demo Space (PROTOCOL.md section 4) on Gradio 5.27 + modelscope_studio 1.x.

Built from the Space's public layout: ``ms.Application``/``antdx.XProvider``,
a conversations column, a ``pro.Chatbot``, an ``antdx.Sender`` whose header
holds the settings ``antd.Form`` (model, sys_prompt, thinking_budget) and
whose prefix holds the thinking button with its ``gr.State({"enable_thinking":
True})``, and the conversation ``gr.State`` (id 1). Fillers put the
components the wire uses on the Space's ids (sender 33, form 38, thinking
state 60, chatbot 29, ...) and ``add_message`` on fn_index 13;
``shift_ids=True`` creates extra components and one extra event first, so
every id and fn_index moves.

The model is ``fake_qwen3``, called as the Space's ``app.py`` calls DashScope:
with ``format_history``'s messages (the session's turns only: the form's
system prompt never reaches the model), the thinking switch the session
stored at ``add_message``, and the budget times 1024. It streams a reasoning
block (thinking on) then an answer, both naming what reached it; every call
is kept whole in ``UPSTREAM_CALLS``. A prompt containing
``fake_qwen3.ERROR_MARKER`` fails after a few answer chunks
(``ERROR_EARLY_MARKER``: before the first chunk) the way the Space does: an HTML-wrapped text part, the turn marked done, a plain exception
(served with ``show_error=False``, so the event says ``{"error": null}``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import gradio as gr
import modelscope_studio.components.antd as antd
import modelscope_studio.components.antdx as antdx
import modelscope_studio.components.base as ms
import modelscope_studio.components.pro as pro
from gradio.context import Context

try:  # imported as tests.support.replicas.qwen3_app, or as a script's sibling
    from . import fake_qwen3
except ImportError:  # pragma: no cover
    import fake_qwen3  # type: ignore[no-redef]

DELAY = float(os.environ.get("REPLICA_TOKEN_DELAY", "0.005"))

DEFAULT_SETTINGS = {
    "model": fake_qwen3.DEFAULT_MODEL,
    "sys_prompt": fake_qwen3.DEFAULT_SYSTEM,
    "thinking_budget": fake_qwen3.DEFAULT_BUDGET,
}
MODEL_OPTIONS = [{"label": label, "value": value} for value, label in fake_qwen3.MODELS.items()]

# The Space's component ids (from its /config) and the fn_index of add_message.
SPACE_IDS = {
    "add_conversation_btn": 15,
    "conversations": 20,
    "conversation_delete_menu_item": 22,
    "chatbot": 29,
    "sender": 33,
    "settings_form": 38,
    "clear_btn": 56,
    "thinking_state": 60,
}
SHIFT = 7  # extra components created first by the shifted layout


def user_config(disabled_actions: list[str] | None = None) -> dict[str, Any]:
    """The chatbot's user-message config (the Space resends it around each turn)."""
    return {"actions": ["copy", "edit", "delete"], "disabled_actions": disabled_actions}


def bot_config(disabled_actions: list[str] | None = None) -> dict[str, Any]:
    """The chatbot's bot-message config; its actions are disabled while a turn streams."""
    return {
        "header": "Qwen3",
        "actions": ["copy", "retry", "edit", "delete"],
        "disabled_actions": disabled_actions,
    }


class UpstreamError(Exception):
    """What the real Space's OpenAI-compatible upstream raises (a plain exception)."""


def _pad_to(target: int, lead: int = 0) -> None:
    """Create invisible fillers until the next component gets id ``target``.

    ``lead``: ids the next component takes for itself before its own (a
    modelscope_studio data component such as pro.Chatbot, antdx.Sender or
    antd.Form creates one hidden block first).
    """
    target -= lead
    if Context.id > target:
        raise RuntimeError(f"layout drifted: next id {Context.id} is past {target}")
    while Context.id < target:
        ms.Div(visible=False)


#: Every upstream call, whole, oldest first (served at GET /replica/upstream).
UPSTREAM_CALLS: list[dict[str, Any]] = []


def format_history(history: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The model's messages, built as the Space builds them: the session's turns only.

    No system message (the Space's ``format_history`` ignores ``sys_prompt``);
    an assistant turn goes back as its first text part (reasoning dropped).
    """
    messages = []
    for item in history:
        if item["role"] == "user":
            messages.append({"role": "user", "content": item["content"]})
        elif item["role"] == "assistant":
            texts = [part["content"] for part in item["content"] if part["type"] == "text"]
            messages.append({"role": "assistant", "content": texts[0] if texts else ""})
    return messages


def _stream_upstream(
    model: str, messages: list[dict[str, str]], enable_thinking: bool, thinking_budget: int
) -> Iterator[tuple[str, str]]:
    """The fake upstream, called as the Space calls DashScope: ("reasoning"|"content", delta)."""
    UPSTREAM_CALLS.append(
        {
            "model": model,
            "messages": [dict(m) for m in messages],
            "enable_thinking": enable_thinking,
            "thinking_budget": thinking_budget,
        }
    )
    prompt, system, turns, budget = fake_qwen3.model_view(messages, thinking_budget)
    if fake_qwen3.ERROR_EARLY_MARKER in prompt:
        raise UpstreamError(fake_qwen3.ERROR_MESSAGE)
    if enable_thinking:
        reasoning = fake_qwen3.expected_reasoning(prompt, model, budget, system, turns)
        for chunk in fake_qwen3.tokens(reasoning):
            time.sleep(DELAY)
            yield "reasoning", chunk
    answer = fake_qwen3.expected_answer(prompt, model, budget, enable_thinking, system, turns)
    for i, chunk in enumerate(fake_qwen3.tokens(answer)):
        if fake_qwen3.ERROR_MARKER in prompt and i == fake_qwen3.ERROR_AFTER_ANSWER_CHUNKS:
            raise UpstreamError(fake_qwen3.ERROR_MESSAGE)
        time.sleep(DELAY)
        yield "content", chunk


def build(shift_ids: bool = False) -> gr.Blocks:
    """The Qwen3 demo's Blocks; ``shift_ids`` moves every component id and fn_index."""
    c: dict[str, Any] = {}  # the components the handlers name

    def context(state_value: dict[str, Any]) -> dict[str, Any]:
        return dict(state_value["conversation_contexts"][state_value["conversation_id"]])

    def preprocess(state_value: dict[str, Any]) -> dict[Any, Any]:
        history = context(state_value)["history"]
        items = [
            {**item, "disabled": item["key"] != state_value["conversation_id"]}
            for item in state_value["conversations"]
        ]
        return {
            c["sender"]: gr.update(value=None, loading=True),
            c["conversations"]: gr.update(active_key=state_value["conversation_id"], items=items),
            c["add_conversation_btn"]: gr.update(disabled=True),
            c["clear_btn"]: gr.update(disabled=True),
            c["conversation_delete_menu_item"]: gr.update(disabled=True),
            c["chatbot"]: gr.update(
                value=history,
                bot_config=bot_config(disabled_actions=["edit", "retry", "delete"]),
                user_config=user_config(disabled_actions=["edit", "delete"]),
            ),
            c["state"]: gr.update(value=state_value),
        }

    def postprocess(state_value: dict[str, Any]) -> dict[Any, Any]:
        history = context(state_value)["history"]
        return {
            c["sender"]: gr.update(loading=False),
            c["conversation_delete_menu_item"]: gr.update(disabled=False),
            c["clear_btn"]: gr.update(disabled=False),
            c["conversations"]: gr.update(items=state_value["conversations"]),
            c["add_conversation_btn"]: gr.update(disabled=False),
            c["chatbot"]: gr.update(
                value=history, bot_config=bot_config(), user_config=user_config()
            ),
            c["state"]: gr.update(value=state_value),
        }

    def submit(state_value: dict[str, Any]) -> Iterator[dict[Any, Any]]:
        ctx = context(state_value)
        history, settings = ctx["history"], ctx["settings"]
        model = settings.get("model")
        messages = format_history(history)  # before the pending turn, as the Space
        history.append(
            {
                "role": "assistant",
                "content": [],
                "key": str(uuid.uuid4()),
                "header": fake_qwen3.MODELS.get(str(model)),
                "loading": True,
                "status": "pending",
            }
        )
        yield {c["chatbot"]: gr.update(value=history), c["state"]: gr.update(value=state_value)}
        start = time.time()
        tool: dict[str, Any] | None = None
        text: dict[str, Any] | None = None
        try:
            upstream = _stream_upstream(
                str(model or fake_qwen3.DEFAULT_MODEL),
                messages,
                ctx["enable_thinking"],
                settings.get("thinking_budget", 1) * 1024,
            )
            for kind, delta in upstream:
                if kind == "reasoning":
                    if tool is None:
                        tool = {
                            "type": "tool",
                            "content": "",
                            "options": {"title": "Thinking...", "status": "pending"},
                            "copyable": False,
                            "editable": False,
                        }
                    tool["content"] += delta
                else:
                    if text is None:
                        if tool is not None:
                            tool["options"]["title"] = (
                                f"End of Thought ({time.time() - start:.2f}s)"
                            )
                            tool["options"]["status"] = "done"
                        text = {"type": "text", "content": ""}
                    text["content"] += delta
                history[-1]["content"] = [part for part in (tool, text) if part is not None]
                history[-1]["loading"] = False
                yield {
                    c["chatbot"]: gr.update(value=history),
                    c["state"]: gr.update(value=state_value),
                }
            history[-1]["status"] = "done"
            history[-1]["footer"] = f"{time.time() - start:.2f}s"
            yield {c["chatbot"]: gr.update(value=history), c["state"]: gr.update(value=state_value)}
        except Exception as exc:
            history[-1]["loading"] = False
            history[-1]["status"] = "done"
            history[-1]["content"] += [
                {
                    "type": "text",
                    "content": f'<span style="color: var(--color-red-500)">{exc}</span>',
                }
            ]
            yield {c["chatbot"]: gr.update(value=history), c["state"]: gr.update(value=state_value)}
            raise

    def add_message(
        input_value: str,
        settings_form_value: dict[str, Any],
        thinking_btn_state_value: dict[str, Any],
        state_value: dict[str, Any],
    ) -> Iterator[dict[Any, Any]]:
        if not state_value["conversation_id"]:
            new_id = str(uuid.uuid4())
            state_value["conversation_id"] = new_id
            state_value["conversation_contexts"][new_id] = {"history": []}
            state_value["conversations"].append({"label": input_value, "key": new_id})
        history = context(state_value)["history"]
        state_value["conversation_contexts"][state_value["conversation_id"]] = {
            "history": history,
            "settings": settings_form_value,
            "enable_thinking": thinking_btn_state_value["enable_thinking"],
        }
        history.append({"role": "user", "content": input_value, "key": str(uuid.uuid4())})
        yield preprocess(state_value)
        try:
            yield from submit(state_value)
        finally:  # as the Space: the inputs are re-enabled even when the turn failed
            yield postprocess(state_value)

    def toggle_thinking(state_value: dict[str, Any]) -> Any:
        state_value["enable_thinking"] = not state_value["enable_thinking"]
        return gr.update(value=state_value)

    def apply_thinking_state(state_value: dict[str, Any]) -> Any:
        return gr.update(variant="solid" if state_value["enable_thinking"] else "")

    def toggle_settings_header(header_state: dict[str, Any]) -> Any:
        header_state["open"] = not header_state["open"]
        return gr.update(value=header_state)

    def apply_header_state(header_state: dict[str, Any]) -> Any:
        return gr.update(open=header_state["open"])

    def new_chat(thinking_state: dict[str, Any], state_value: dict[str, Any]) -> Any:
        if not state_value["conversation_id"]:
            return gr.skip()
        state_value["conversation_id"] = ""
        thinking_state["enable_thinking"] = True
        return (
            gr.update(active_key=""),
            gr.update(value=None),
            gr.update(value=DEFAULT_SETTINGS),
            gr.update(value=thinking_state),
            gr.update(value=state_value),
        )

    def clear_history(state_value: dict[str, Any]) -> Any:
        if not state_value["conversation_id"]:
            return gr.skip()
        context(state_value)["history"].clear()
        return gr.update(value=None), gr.update(value=state_value)

    def no_op(*_args: Any) -> Any:
        return gr.skip()

    with gr.Blocks(fill_width=True, title="Qwen3 Demo (replica)") as demo:
        if shift_ids:  # extra components and one extra event before everything else
            with gr.Row():
                notice = gr.Markdown("Extra components that shift every id.")
                for _ in range(SHIFT - 3):
                    gr.Markdown("")
                extra = gr.Button("extra")
            extra.click(fn=no_op, inputs=None, outputs=[notice])
        state = gr.State({"conversation_contexts": {}, "conversations": [], "conversation_id": ""})
        c["state"] = state
        # The Space's ids, moved by whatever was created before the state (id 1 there).
        ids = {k: v + state._id - 1 for k, v in SPACE_IDS.items()}
        with ms.Application(), antdx.XProvider(), ms.AutoLoading():
            with antd.Row(gutter=[20, 20], wrap=False, elem_id="chatbot"):
                with antd.Col(md=dict(flex="0 0 260px", span=24, order=0), span=0, order=1):
                    with ms.Div(elem_classes="chatbot-conversations"):
                        with antd.Flex(vertical=True, gap="small"):
                            with ms.Div():  # the logo
                                ms.Text("Qwen3 (replica)")
                            _pad_to(ids["add_conversation_btn"])
                            with antd.Button(
                                value=None, color="primary", variant="filled", block=True
                            ) as add_conversation_btn:
                                ms.Text("New Conversation")
                                with ms.Slot("icon"):
                                    antd.Icon("PlusOutlined")
                            _pad_to(ids["conversations"])
                            with antdx.Conversations(
                                elem_classes="chatbot-conversations-list"
                            ) as conversations:
                                with ms.Slot("menu.items"):
                                    with antd.Menu.Item(
                                        label="Delete", key="delete", danger=True
                                    ) as conversation_delete_menu_item:
                                        with ms.Slot("icon"):
                                            antd.Icon("DeleteOutlined")
                with antd.Col(flex=1):
                    with antd.Flex(vertical=True, gap="small", elem_classes="chatbot-chat"):
                        _pad_to(ids["chatbot"], lead=1)
                        chatbot = pro.Chatbot(
                            elem_classes="chatbot-chat-messages",
                            height=0,
                            user_config=user_config(),
                            bot_config=bot_config(),
                        )
                        with antdx.Suggestion(items=[]) as suggestion:
                            with ms.Slot("children"):
                                _pad_to(ids["sender"], lead=1)
                                with antdx.Sender(
                                    placeholder='Enter "/" to get suggestions'
                                ) as sender:
                                    with ms.Slot("header"):
                                        header_state = gr.State({"open": True})
                                        with antdx.Sender.Header(
                                            title="Settings", open=True
                                        ) as settings_header:
                                            _pad_to(ids["settings_form"], lead=1)
                                            with antd.Form(value=DEFAULT_SETTINGS) as settings_form:
                                                with antd.Form.Item(
                                                    form_name="model", label="Chat Model"
                                                ):
                                                    antd.Select(options=MODEL_OPTIONS)
                                                with antd.Form.Item(
                                                    form_name="sys_prompt", label="System Prompt"
                                                ):
                                                    antd.Input.Textarea(auto_size=dict(minRows=3))
                                                with antd.Form.Item(
                                                    form_name="thinking_budget",
                                                    label="Thinking Budget",
                                                ):
                                                    antd.Slider(
                                                        min=fake_qwen3.MIN_BUDGET,
                                                        max=fake_qwen3.MAX_BUDGET,
                                                    )
                                    with ms.Slot("prefix"):
                                        with antd.Flex(gap=4, wrap=True):
                                            with antd.Button(
                                                value=None, type="text"
                                            ) as setting_btn:
                                                with ms.Slot("icon"):
                                                    antd.Icon("SettingOutlined")
                                            _pad_to(ids["clear_btn"])
                                            with antd.Button(value=None, type="text") as clear_btn:
                                                with ms.Slot("icon"):
                                                    antd.Icon("ClearOutlined")
                                            _pad_to(ids["thinking_state"])
                                            thinking_state = gr.State({"enable_thinking": True})
                                            with antd.Button(
                                                "Thinking",
                                                shape="round",
                                                color="primary",
                                                variant="solid",
                                            ) as thinking_btn:
                                                with ms.Slot("icon"):
                                                    antd.Icon("SunOutlined")
        c.update(
            sender=sender,
            conversations=conversations,
            add_conversation_btn=add_conversation_btn,
            clear_btn=clear_btn,
            conversation_delete_menu_item=conversation_delete_menu_item,
            chatbot=chatbot,
        )
        named = {**c, "settings_form": settings_form, "thinking_state": thinking_state}
        for name, want in ids.items():  # the wire depends on these; fail loudly if they drift
            got = named[name]._id
            if got != want:
                raise RuntimeError(f"{name} has id {got}, expected {want}")

        # Events in the Space's order: the settings header's two, the thinking button's two
        # (toggle_thinking is fn 3 unshifted), then the page's; add_message is fn 13.
        header_state.change(fn=apply_header_state, inputs=[header_state], outputs=[settings_header])
        settings_header.open_change(
            fn=toggle_settings_header, inputs=[header_state], outputs=[header_state]
        )
        thinking_state.change(
            fn=apply_thinking_state, inputs=[thinking_state], outputs=[thinking_btn]
        )
        thinking_btn.click(fn=toggle_thinking, inputs=[thinking_state], outputs=[thinking_state])
        state.change(fn=no_op, inputs=[state], outputs=None)  # the Space saves to BrowserState
        demo.load(fn=no_op, inputs=[state], outputs=[conversations, state])
        add_conversation_btn.click(
            fn=new_chat,
            inputs=[thinking_state, state],
            outputs=[conversations, chatbot, settings_form, thinking_state, state],
        )
        conversations.active_change(
            fn=no_op, inputs=[thinking_state, state], outputs=[conversations, chatbot, state]
        )
        conversations.menu_click(fn=no_op, inputs=[state], outputs=[conversations, chatbot, state])
        chatbot.welcome_prompt_select(fn=no_op, outputs=[sender])
        chatbot.delete(fn=no_op, inputs=[state], outputs=[state])
        chatbot.edit(fn=no_op, inputs=[state, chatbot], outputs=[state])
        chatbot.retry(fn=no_op, inputs=[settings_form, thinking_state, state], outputs=[state])
        outputs = [
            sender,
            clear_btn,
            conversation_delete_menu_item,
            add_conversation_btn,
            conversations,
            chatbot,
            state,
        ]
        sender.submit(
            fn=add_message,
            inputs=[sender, settings_form, thinking_state, state],
            outputs=outputs,
            api_name="add_message",
        )
        setting_btn.click(fn=toggle_settings_header, inputs=[header_state], outputs=[header_state])
        clear_btn.click(fn=clear_history, inputs=[state], outputs=[chatbot, state])
        suggestion.select(fn=no_op, inputs=[sender], outputs=[sender])
    demo.queue(default_concurrency_limit=100, max_size=100)
    return demo
