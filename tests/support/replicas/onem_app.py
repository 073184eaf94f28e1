"""A replica of the Qwen2.5-1M demo Space (PROTOCOL.md section 3).

Gradio 4.44 with modelscope_studio 0.5.2.

The Qwen-Agent web UI layout with the legacy ``mgr.Chatbot`` and
``mgr.MultimodalInput``: a history ``gr.State`` (id 1), the chatbot (4), the
multimodal input (5) and an agent dropdown (8). ``fn_index`` 0 is the
dropdown's change (not queued), 1 is ``add_text`` (not queued, appends the
user turn to the session's history), 2 is ``agent_run`` (queued, chained with
``.then``), 3 re-enables the input.

``footer=True`` adds a trailing ``"\\n<summary>...</summary>"`` block that
changes with every chunk, so Gradio streams ``replace`` ops instead of appends.

Special queries, for error tests: "__fail__" (gr.Error before any answer
text) and "__fail_midway__" (gr.Error after a few chunks).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr
import modelscope_studio as mgr

try:  # imported as tests.support.replicas.onem_app, or as a script's sibling
    from . import fake_model
except ImportError:  # pragma: no cover
    import fake_model  # type: ignore[no-redef]

DELAY = float(os.environ.get("REPLICA_TOKEN_DELAY", "0.005"))
FAIL_MESSAGE = "replica failure (requested by the query)"
AGENTS = ["Qwen2.5-1M"]


def _text_of(message: Any) -> str:
    if message is None:
        return ""
    if isinstance(message, str):
        return message
    if isinstance(message, dict):
        return str(message.get("text") or "")
    return str(getattr(message, "text", "") or "")


def change_agent(agent: int) -> tuple[int, str]:
    return agent, f"**{AGENTS[agent or 0]}**"


def add_text(_input: Any, _chatbot: list[Any], _history: list[dict[str, Any]]) -> Iterator[Any]:
    """As Qwen-Agent's web UI: the user turn goes into the server-side history."""
    text = _text_of(_input)
    _history.append({"role": "user", "content": [{"text": text}], "name": "user"})
    # As Qwen-Agent's add_text: each file goes into the user turn for the agent.
    for file in getattr(_input, "files", None) or []:
        _history[-1]["content"].append({"file": file.path})
    _chatbot.append([_input, None])
    yield gr.update(interactive=False, value=None), _chatbot, _history


def build(footer: bool = False) -> gr.Blocks:
    """The 1M demo's Blocks; ``footer`` makes every chunk rewrite a <summary> block."""

    def agent_run(
        _chatbot: list[Any], _history: list[dict[str, Any]], _agent: Any = None
    ) -> Iterator[tuple[list[Any], list[dict[str, Any]], Any]]:
        turns = sum(1 for m in _history if m.get("role") == "assistant")
        users = [m for m in _history if m.get("role") == "user"]
        if users:
            parts = users[-1]["content"]
            query = "".join(part.get("text", "") for part in parts)
            # The agent reads each file from the path it was given.
            facts = []
            for part in parts:
                if "file" in part:
                    with open(part["file"], "rb") as f:
                        facts.append(fake_model.file_fact(os.path.basename(part["file"]), f.read()))
            query = fake_model.with_files(query, facts)
        else:  # no add_text in this session: read the chatbot the client sent
            query = _text_of(_chatbot[-1][0]) if _chatbot else ""
        _chatbot[-1][1] = [None for _ in AGENTS]
        _chatbot[-1][1][0] = fake_model.THINKING
        yield _chatbot, _history, _agent
        if query == "__fail__":
            raise gr.Error(FAIL_MESSAGE)

        answer = fake_model.expected_answer(query, turns, fake_model.ONEM_SYSTEM)
        chunks = fake_model.tokens(answer)
        text = ""
        for i, token in enumerate(chunks):
            if query == "__fail_midway__" and i == 5:
                raise gr.Error(FAIL_MESSAGE)
            text += token
            shown = text + fake_model.footer(i + 1, len(chunks)) if footer else text
            _chatbot[-1][1][0] = shown
            time.sleep(DELAY)
            yield _chatbot, _history, _agent
        _history.append({"role": "assistant", "content": answer, "name": AGENTS[0]})
        yield _chatbot, _history, _agent

    def flushed() -> Any:
        return gr.update(interactive=True)

    with gr.Blocks() as demo:
        history = gr.State([])
        with gr.Row():
            with gr.Column(scale=4):
                chatbot = mgr.Chatbot(height=600, flushing=False, show_copy_button=True)
                user_input = mgr.MultimodalInput(placeholder="Chat with me")
            with gr.Column(scale=1):
                agent_selector = gr.Dropdown(
                    [(name, i) for i, name in enumerate(AGENTS)],
                    label="Agents",
                    value=0,
                    interactive=True,
                )
                agent_info = gr.Markdown(f"**{AGENTS[0]}**")

        agent_selector.change(
            fn=change_agent,
            inputs=[agent_selector],
            outputs=[agent_selector, agent_info],
            queue=False,
        )
        promise = user_input.submit(
            fn=add_text,
            inputs=[user_input, chatbot, history],
            outputs=[user_input, chatbot, history],
            queue=False,
        )
        promise = promise.then(
            agent_run,
            [chatbot, history, agent_selector],
            [chatbot, history, agent_selector],
        )
        promise.then(flushed, None, [user_input])
    demo.queue(default_concurrency_limit=10)
    return demo
