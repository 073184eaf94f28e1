"""Serve Qwen-Agent's own WebUI (the 1M demo's page) against a model server; run in .venvs/qwenagent.

    python webui_app.py --port 7860 --model-server http://127.0.0.1:PORT/v1 [--mount]

This is the real package (``qwen-agent`` 0.0.16, ``qwen_agent/gui/web_ui.py``), not a
replica: ``WebUI(Assistant(llm=...)).run(...)``. The Assistant reads documents
through Qwen-Agent's RAG (``qwen-agent[rag]``), which writes a ``workspace/``
into the working directory: start it in a temporary one (webui_launcher does).
``--mount`` serves the same Blocks with uvicorn instead of ``launch()``, for a
sandbox where ``launch()`` refuses to start (PROTOCOL.md section 7).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from qwen_agent.agents import Assistant
from qwen_agent.gui import WebUI

MODEL = "qwen2.5-14b-instruct-1m"


def _mount_instead_of_launch(port: int) -> None:
    """Make ``Blocks.launch`` mount the app on FastAPI and serve it with uvicorn."""
    import uvicorn
    from fastapi import FastAPI

    def launch(self: gr.Blocks, *args: object, **kwargs: object) -> None:
        app = gr.mount_gradio_app(FastAPI(), self, path="")
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")

    gr.Blocks.launch = launch  # type: ignore[method-assign,assignment]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model-server", required=True)
    parser.add_argument("--mount", action="store_true")
    args = parser.parse_args()
    if args.mount:
        _mount_instead_of_launch(args.port)
    llm = {
        "model": MODEL,
        "model_server": args.model_server,
        "api_key": "EMPTY",
        "generate_cfg": {"max_retries": 0},
    }
    WebUI(Assistant(llm=llm, name="Qwen2.5-1M")).run(server_name="127.0.0.1", server_port=args.port)


if __name__ == "__main__":
    main()
