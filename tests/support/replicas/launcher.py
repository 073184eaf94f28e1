"""Start a replica Space as a subprocess on a free loopback port (stdlib only, no gradio import).

>>> with start_replica("max", gradio=5) as replica:      # doctest: +SKIP
...     print(replica.url)                                 # http://127.0.0.1:PORT

``mount_path="/chat"`` mounts the app under that path (``replica.url`` ends
with it; ``replica.origin`` is the host's root, where no Gradio app answers).

Each Gradio generation lives in its own venv; the venv's Python comes from
``QWEN_SPACES_GRADIO{N}_PYTHON`` (the Makefile exports it) or else from
``.venvs/gradio{N}/bin/python`` at the repository root.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

__all__ = [
    "Replica",
    "ReplicaError",
    "gradio_python",
    "launch_replica",
    "spawn_server",
    "start_replica",
]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SERVE = HERE / "serve.py"
KINDS = ("max", "onem", "qwen3", "qwen2", "qwen25")

_live: list[Replica] = []


class ReplicaError(RuntimeError):
    """A replica Space could not be started."""


def gradio_python(gradio: int) -> str:
    """The Python of the venv holding Gradio ``gradio`` (4, 5, 6 or 527 for 5.27)."""
    configured = os.environ.get(f"QWEN_SPACES_GRADIO{gradio}_PYTHON")
    if configured:
        return configured
    return str(REPO / ".venvs" / f"gradio{gradio}" / "bin" / "python")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Replica:
    """A running replica Space; a context manager that stops it on exit."""

    def __init__(
        self,
        kind: str,
        gradio: int,
        port: int,
        process: subprocess.Popen[bytes],
        log_path: Path,
        cmd: list[str],
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        mount_path: str = "",
    ) -> None:
        self.kind = kind
        self.gradio = gradio
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.mount_path = mount_path
        self.url = self.origin + mount_path
        self.process = process
        self.log_path = log_path
        self.cmd = cmd
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.started = time.monotonic()
        self.config: dict[str, Any] = {}
        self.startup_seconds = 0.0
        self.restarts = 0

    def wait_ready(self, timeout: float = 90) -> Replica:
        """Wait until GET /config answers; on failure stop the server and raise ReplicaError."""
        if self.config:
            return self
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                self._fail(f"exited with code {self.process.returncode} before answering /config")
            config = _get_config(self.url, timeout=2)
            if config is not None:
                self.config = config
                self.startup_seconds = time.monotonic() - self.started
                return self
            if time.monotonic() > deadline:
                self._fail(f"did not answer GET /config within {timeout:.0f}s")
            time.sleep(0.2)

    def restart(self, timeout: float = 90) -> Replica:
        """Stop the server process and start a new one on the same port: a Space restart.

        Every session the old process held is gone, and Gradio draws a new
        ``app_id``. Waits for GET /config (``startup_seconds`` is the new start's).
        """
        self._terminate()
        self.process = _spawn(self.cmd, self.env, self.cwd, self.log_path, append=True)
        if self not in _live:
            _live.append(self)
        self.started = time.monotonic()
        self.config = {}
        self.restarts += 1
        return self.wait_ready(timeout)

    @property
    def app_id(self) -> Any:
        """The ``app_id`` of the running process, from its /config."""
        return self.config.get("app_id")

    def _fail(self, what: str) -> None:
        tail = self.log_tail()
        self.stop()
        raise ReplicaError(
            f"replica {self.kind} (Gradio {self.gradio}) {what}; command: {' '.join(self.cmd)}"
            f"\n--- server output (tail) ---\n{tail}"
        )

    @property
    def version(self) -> str:
        """The Gradio version the server reports in /config."""
        return str(self.config.get("version", ""))

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL); idempotent."""
        self._terminate(timeout)
        if self in _live:
            _live.remove(self)
        try:
            self.log_path.unlink()
        except OSError:
            pass

    def _terminate(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=timeout)

    def __enter__(self) -> Replica:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Replica {self.kind} gradio={self.gradio} {self.url}>"


def _mount_path(path: str) -> str:
    """``path`` as Gradio's mount_gradio_app takes it: "" or "/a/b", no trailing slash."""
    path = path.strip("/")
    return f"/{path}" if path else ""


def _get_config(url: str, timeout: float) -> Optional[dict[str, Any]]:
    try:
        with urllib.request.urlopen(url + "/config", timeout=timeout) as resp:
            if resp.status != 200:
                return None
            return dict(json.loads(resp.read().decode("utf-8")))
    except (OSError, ValueError, urllib.error.URLError):
        return None


def start_replica(
    kind: str,
    gradio: int,
    shift_ids: bool = False,
    footer: bool = False,
    timeout: float = 90,
    env: Optional[Mapping[str, str]] = None,
    mount_path: str = "",
) -> Replica:
    """Start ``serve.py kind`` with Gradio ``gradio``'s Python and wait for GET /config.

    ``kind`` is "max", "onem", "qwen3" (needs ``gradio=527``), "qwen2" or "qwen25" (4). ``env`` adds environment variables (for
    example ``REPLICA_TOKEN_DELAY``); ``mount_path`` mounts the app under that
    path (``replica.url`` includes it). Raises ReplicaError, with the tail of
    the server's output, when the server exits or does not answer in time.
    """
    replica = launch_replica(
        kind, gradio, shift_ids=shift_ids, footer=footer, env=env, mount_path=mount_path
    )
    return replica.wait_ready(timeout)


def launch_replica(
    kind: str,
    gradio: int,
    shift_ids: bool = False,
    footer: bool = False,
    env: Optional[Mapping[str, str]] = None,
    mount_path: str = "",
) -> Replica:
    """Start the server without waiting; call ``.wait_ready()`` before use.

    Lets a test session start several replicas at once.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    python = gradio_python(gradio)
    if not Path(python).exists():
        raise ReplicaError(
            f"no Python for Gradio {gradio} at {python} "
            f"(run `make venvs`, or set QWEN_SPACES_GRADIO{gradio}_PYTHON)"
        )
    port = _free_port()
    cmd = [python, str(SERVE), kind, "--port", str(port)]
    if shift_ids:
        cmd.append("--shift-ids")
    if footer:
        cmd.append("--footer")
    mount_path = _mount_path(mount_path)
    if mount_path:
        cmd += ["--mount-path", mount_path]
    return spawn_server(kind, gradio, port, cmd, env, mount_path=mount_path)


def spawn_server(
    kind: str,
    gradio: int,
    port: int,
    cmd: list[str],
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    mount_path: str = "",
) -> Replica:
    """Start ``cmd`` (a server that will listen on ``port``) as a tracked Replica."""
    fd, log_name = tempfile.mkstemp(prefix=f"replica-{kind}-g{gradio}-", suffix=".log")
    os.close(fd)
    log_path = Path(log_name)
    process = _spawn(cmd, env, cwd, log_path, append=False)
    replica = Replica(
        kind, gradio, port, process, log_path, cmd, env=env, cwd=cwd, mount_path=mount_path
    )
    _live.append(replica)
    return replica


def _spawn(
    cmd: list[str],
    env: Optional[Mapping[str, str]],
    cwd: Optional[str],
    log_path: Path,
    append: bool,
) -> subprocess.Popen[bytes]:
    child_env = dict(os.environ)
    child_env.update({"PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False"})
    if env:
        child_env.update(env)
    with open(log_path, "ab" if append else "wb") as log:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=cwd or str(HERE),
            start_new_session=True,  # its own process group: stop() ends it and its children
        )


@atexit.register
def _stop_all() -> None:
    for replica in list(_live):
        replica.stop(timeout=5)


if __name__ == "__main__":  # python launcher.py max 5 [--shift-ids] [--footer] [--mount=/chat]
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(
            "usage: launcher.py max|onem|qwen2|qwen25 4|5|6, or qwen3 527"
            " [--shift-ids] [--footer] [--mount=/PATH]"
        )
    mount = next((a.split("=", 1)[1] for a in args if a.startswith("--mount=")), "")
    with start_replica(
        args[0],
        int(args[1]),
        shift_ids="--shift-ids" in args,
        footer="--footer" in args,
        mount_path=mount,
    ) as running:
        print(f"{running.url} (Gradio {running.version}, up in {running.startup_seconds:.1f}s)")
        try:
            while running.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
