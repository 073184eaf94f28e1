"""Start Qwen-Agent's real WebUI (the 1M demo's page) as a subprocess (stdlib only).

>>> with FakeOpenAI() as model, start_webui(model.url) as webui:   # doctest: +SKIP
...     webui.url              # http://127.0.0.1:PORT, Gradio 5.1 from qwen-agent[gui]
...     webui.restart()        # a Space restart: same port, every session gone

The venv's Python comes from ``QWEN_SPACES_QWENAGENT_PYTHON`` (the Makefile
exports it) or else ``.venvs/qwenagent/bin/python`` at the repository root.
Each server runs in a temporary working directory of its own (Qwen-Agent's RAG
writes a ``workspace/`` there), kept across restarts and removed on stop.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional

try:  # imported as tests.support.replicas.webui_launcher, or run as a script
    from .launcher import REPO, Replica, ReplicaError, _free_port, spawn_server
except ImportError:  # pragma: no cover
    from launcher import REPO, Replica, ReplicaError, _free_port, spawn_server  # type: ignore[no-redef]

__all__ = ["APP", "launch_webui", "qwenagent_python", "start_webui"]

APP = Path(__file__).resolve().parent / "webui_app.py"
#: Replica.gradio for the WebUI: the Gradio its ``gui`` extra pins (5.1.0).
GRADIO = 51


def qwenagent_python() -> str:
    """The Python of the venv holding ``qwen-agent[gui,rag]==0.0.16``."""
    configured = os.environ.get("QWEN_SPACES_QWENAGENT_PYTHON")
    if configured:
        return configured
    return str(REPO / ".venvs" / "qwenagent" / "bin" / "python")


def launch_webui(model_server: str, mount: bool = False) -> Replica:
    """Start the WebUI against ``model_server`` (an OpenAI-compatible ``.../v1``) without waiting.

    Call ``.wait_ready()`` before use. ``mount``: serve with uvicorn instead of
    ``launch()`` (for a sandbox where launch refuses).
    """
    python = qwenagent_python()
    if not Path(python).exists():
        raise ReplicaError(
            f"no Python for Qwen-Agent at {python} "
            "(run `make venvs`, or set QWEN_SPACES_QWENAGENT_PYTHON)"
        )
    port = _free_port()
    cmd = [python, str(APP), "--port", str(port), "--model-server", model_server]
    if mount:
        cmd.append("--mount")
    workdir = tempfile.mkdtemp(prefix="qwen-agent-webui-")
    env = {"HF_HUB_OFFLINE": "1", "GRADIO_SSR_MODE": "False", "NO_PROXY": "127.0.0.1,localhost"}
    replica = spawn_server("webui", GRADIO, port, cmd, env=env, cwd=workdir)
    _remove_on_stop(replica, workdir)
    return replica


def start_webui(model_server: str, mount: bool = False, timeout: float = 120) -> Replica:
    """Start the WebUI and wait for GET /config (ReplicaError with its output if it fails)."""
    return launch_webui(model_server, mount=mount).wait_ready(timeout)


def _remove_on_stop(replica: Replica, workdir: str) -> None:
    stop = replica.stop

    def stop_and_clean(timeout: float = 10.0) -> None:
        stop(timeout)
        shutil.rmtree(workdir, ignore_errors=True)

    replica.stop = stop_and_clean  # type: ignore[method-assign]


def _main(argv: list[str]) -> Optional[str]:  # pragma: no cover - by hand
    if len(argv) != 1:
        return "usage: webui_launcher.py http://127.0.0.1:PORT/v1"
    with start_webui(argv[0]) as webui:
        print(f"{webui.url} (Gradio {webui.version}, up in {webui.startup_seconds:.1f}s)")
        try:
            webui.process.wait()
        except KeyboardInterrupt:
            pass
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1:]))
