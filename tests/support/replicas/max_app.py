"""A replica of the Qwen2.5-Max demo Space (PROTOCOL.md section 2) on Gradio 4, 5 or 6.

The same layout as the real Space (the usual Qwen demo app), so component ids
and fn_index values match it on Gradio 5; the model is ``fake_model``.

Special queries, for error tests:
    "__fail__"         raises gr.Error before any output
    "__fail_midway__"  streams a few chunks, then raises gr.Error
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any, Optional

import gradio as gr

try:  # imported as tests.support.replicas.max_app, or as a script's sibling
    from . import fake_model
except ImportError:  # pragma: no cover
    import fake_model  # type: ignore[no-redef]

GRADIO_MAJOR = int(gr.__version__.split(".")[0])
DELAY = float(os.environ.get("REPLICA_TOKEN_DELAY", "0.005"))
FAIL_MESSAGE = "replica failure (requested by the query)"
#: The same layout served as the Qwen2-72B-Instruct demo (PROTOCOL.md section 5).
QWEN2_TITLE = "Qwen2-72B-Instruct"


def _turns(history: list[Any]) -> int:
    """Earlier user/assistant pairs in the chatbot value the client sent."""
    if GRADIO_MAJOR >= 6:  # messages: count the assistant turns
        return sum(1 for m in history if isinstance(m, dict) and m.get("role") == "assistant")
    return len(history)


def _with_answer(history: list[Any], query: str, answer: str) -> list[Any]:
    if GRADIO_MAJOR >= 6:
        return [
            *history,
            {"role": "user", "content": query},
            {"role": "assistant", "content": answer},
        ]
    return [*(list(pair) for pair in history), [query, answer]]


def model_chat(
    query: Optional[str], history: Optional[list[Any]], system: str
) -> Iterator[tuple[str, list[Any], str]]:
    query = query or ""
    history = history or []
    if query == "__fail__":
        raise gr.Error(FAIL_MESSAGE)
    answer = fake_model.expected_answer(query, _turns(history), system)
    text = ""
    for i, token in enumerate(fake_model.tokens(answer)):
        if query == "__fail_midway__" and i == 5:
            raise gr.Error(FAIL_MESSAGE)
        text += token
        time.sleep(DELAY)
        yield "", _with_answer(history, query, text), system


def clear_session() -> tuple[str, list[Any]]:
    return "", []


def modify_system_session(system: str) -> tuple[str, str, list[Any]]:
    if not system:
        system = fake_model.DEFAULT_SYSTEM
    return system, system, []


def build(shift_ids: bool = False, title: str = "Qwen2.5-Max") -> gr.Blocks:
    """The Max demo's Blocks; ``shift_ids`` adds one component on top.

    ``title`` names the demo (``QWEN2_TITLE`` for the Qwen2-72B-Instruct Space).
    """
    with gr.Blocks() as demo:
        if shift_ids:
            gr.Markdown("An extra component that shifts every id by one.")
        gr.Markdown(f"<center><font size=8>{title} (replica)</center>")
        with gr.Row():
            with gr.Column(scale=3):
                system_input = gr.Textbox(value=fake_model.DEFAULT_SYSTEM, lines=1, label="System")
            with gr.Column(scale=1):
                modify_system = gr.Button("Set system prompt and clear history", scale=2)
            system_state = gr.Textbox(value=fake_model.DEFAULT_SYSTEM, visible=False)
        if GRADIO_MAJOR >= 6:
            chatbot = gr.Chatbot(label=title.lower())  # messages only on 6.x
        else:
            chatbot = gr.Chatbot(label=title.lower(), type="tuples")
        textbox = gr.Textbox(lines=1, label="Input")
        with gr.Row():
            clear_history = gr.Button("Clear history")
            submit = gr.Button("Send")

        textbox.submit(
            model_chat,
            inputs=[textbox, chatbot, system_state],
            outputs=[textbox, chatbot, system_input],
            concurrency_limit=40,
        )
        submit.click(
            model_chat,
            inputs=[textbox, chatbot, system_state],
            outputs=[textbox, chatbot, system_input],
            concurrency_limit=40,
        )
        clear_history.click(fn=clear_session, inputs=[], outputs=[textbox, chatbot])
        modify_system.click(
            fn=modify_system_session,
            inputs=[system_input],
            outputs=[system_state, system_input, chatbot],
        )
    demo.queue(api_open=False)
    return demo
