"""A replica of the Qwen2.5 demo Space (PROTOCOL.md section 5) on Gradio 4.44 + modelscope_studio 0.5.2.

The public layout: three size radios on top feeding a hidden radio, then the
usual demo (system textbox, set-system button, hidden system state) with a
legacy ``mgr.Chatbot`` whose cells are message dicts with a ``text`` field.
``model_chat(query, history, system, size)`` is fn_index 3 (the textbox's
submit, trigger 25); the send button's copy is fn 4. The fake model answers
with ``fake_model.expected_answer`` under a system prompt labelled with the
size: ``"[72B] <system>"``, so a test sees the size arrive.

Special queries, for error tests: "__fail__" raises before any output,
"__fail_midway__" after 5 chunks (as max_app).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any, Optional

import gradio as gr
import modelscope_studio as mgr

try:  # imported as tests.support.replicas.qwen25_app, or as a script's sibling
    from . import fake_model
except ImportError:  # pragma: no cover
    import fake_model  # type: ignore[no-redef]

DELAY = float(os.environ.get("REPLICA_TOKEN_DELAY", "0.005"))
FAIL_MESSAGE = "replica failure (requested by the query)"
DEFAULT_SYSTEM = fake_model.QWEN25_SYSTEM
SIZES = ["72B", "32B", "14B", "7B", "3B", "1.5B", "0.5B"]
MATH_SIZES = ["Math-72B", "Math-7B", "Math-1.5B"]
CODER_SIZES = ["Coder-7B", "Coder-1.5B"]


def _text(cell: Any) -> str:
    """A chatbot cell's text: a message dict (the wire), an object with .text, or a string."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, dict):
        return str(cell.get("text") or "")
    return str(getattr(cell, "text", "") or "")


def model_chat(
    query: Optional[str], history: Optional[list[Any]], system: str, size: Optional[str]
) -> Iterator[tuple[str, list[list[str]], str]]:
    query = query or ""
    pairs = [[_text(user), _text(bot)] for user, bot in (history or [])]
    if query == "__fail__":
        raise gr.Error(FAIL_MESSAGE)
    answer = fake_model.expected_answer(
        query, len(pairs), fake_model.sized_system(size or "", system)
    )
    text = ""
    for i, token in enumerate(fake_model.tokens(answer)):
        if query == "__fail_midway__" and i == 5:
            raise gr.Error(FAIL_MESSAGE)
        text += token
        time.sleep(DELAY)
        yield "", [*pairs, [query, text]], system


def clear_session() -> tuple[str, list[Any]]:
    return "", []


def modify_system_session(system: str) -> tuple[str, str, list[Any]]:
    system = system or DEFAULT_SYSTEM
    return system, system, []


def update_other_radios(value: str, other1: str, other2: str) -> tuple[str, str, str]:
    if not value:
        return (other1 or other2), other1, other2
    return value, "", ""


def choose_radio(size: str, system: str) -> tuple[Any, Any, str, str, str]:
    system = system or DEFAULT_SYSTEM
    title = gr.update(value=f"<center><font size=8>Qwen2.5-{size}-instruct (replica)</center>")
    return title, gr.update(label=size.lower()), system, system, ""


def build() -> gr.Blocks:
    with gr.Blocks() as demo:
        gr.Markdown(
            "<center><font size=8>Qwen2.5: A Party of Foundation Models! (replica)</center>"
        )
        with gr.Row():
            with gr.Row():
                radio1 = gr.Radio(choices=SIZES, label="Qwen2.5:", value=SIZES[0])
            with gr.Row():
                radio2 = gr.Radio(choices=MATH_SIZES, label="Qwen2.5-Math:")
            with gr.Row():
                radio3 = gr.Radio(choices=CODER_SIZES, label="Qwen2.5-Coder:")
        radio = gr.Radio(value=SIZES[0], visible=False)
        radio1.change(update_other_radios, [radio1, radio2, radio3], [radio, radio2, radio3])
        radio2.change(update_other_radios, [radio2, radio1, radio3], [radio, radio1, radio3])
        radio3.change(update_other_radios, [radio3, radio1, radio2], [radio, radio1, radio2])
        with gr.Row():
            with gr.Accordion():
                title = gr.Markdown("<center><font size=8>Qwen2.5-72B-instruct (replica)</center>")
                with gr.Row():
                    with gr.Column(scale=3):
                        system_input = gr.Textbox(value=DEFAULT_SYSTEM, lines=1, label="System")
                    with gr.Column(scale=1):
                        modify_system = gr.Button("Set system prompt and clear history", scale=2)
                    system_state = gr.Textbox(value=DEFAULT_SYSTEM, visible=False)
                chatbot = mgr.Chatbot(label=SIZES[0].lower())
                textbox = gr.Textbox(lines=1, label="Input")
                with gr.Row():
                    clear_history = gr.Button("Clear history")
                    send = gr.Button("Send")
                inputs = [textbox, chatbot, system_state, radio]
                outputs = [textbox, chatbot, system_input]
                textbox.submit(model_chat, inputs=inputs, outputs=outputs)
                send.click(model_chat, inputs=inputs, outputs=outputs, concurrency_limit=5)
                clear_history.click(fn=clear_session, inputs=[], outputs=[textbox, chatbot])
                modify_system.click(
                    fn=modify_system_session,
                    inputs=[system_input],
                    outputs=[system_state, system_input, chatbot],
                )
        radio.change(
            choose_radio,
            inputs=[radio, system_input],
            outputs=[title, chatbot, system_state, system_input, textbox],
        )
    demo.queue(api_open=False, default_concurrency_limit=40)
    return demo
