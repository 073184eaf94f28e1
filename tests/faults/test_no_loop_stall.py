"""The first AsyncClient call never stalls the event loop (issue #13).

asyncio's debug mode logs every callback that holds the loop longer than
``slow_callback_duration``: set to 50 ms, it must log nothing over a fresh
process's first call, ``qs.AsyncClient`` touched for the first time inside the
running loop, over HTTPS (a loopback TLS front to a FakeSpace, its certificate
trusted through ``SSL_CERT_FILE`` for the default context, or ``verify=`` a
bundle) and plain HTTP. Importing aiohttp (which builds its SSL contexts) and
building ours would take 0.2-0.4 s on the loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_spaces.testing import FakeSpace

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import asyncio, json, logging, sys, time

slow = []

class Capture(logging.Handler):
    def emit(self, record):
        slow.append(record.getMessage()[:300])

asyncio_log = logging.getLogger("asyncio")
asyncio_log.addHandler(Capture())
asyncio_log.setLevel(logging.WARNING)

import qwen_spaces as qs  # AsyncClient (and aiohttp) not loaded yet

url, verify, stall = sys.argv[1], sys.argv[2], sys.argv[3] == "stall"

async def main():
    loop = asyncio.get_running_loop()
    loop.slow_callback_duration = 0.05
    before = "aiohttp" in sys.modules
    if stall:
        time.sleep(0.1)  # the control: a stall the capture must see
    kwargs = {} if verify == "default" else {"verify": verify}
    async with qs.AsyncClient(model="qwen-2.5-max", base_url=url, timeout=30, **kwargs) as client:
        reply = await client.chat("hi")
    return before, reply.text

before, text = asyncio.run(main(), debug=True)
print(json.dumps({"aiohttp_before": before, "aiohttp_after": "aiohttp" in sys.modules,
                  "text": text, "slow": [m for m in slow if "Executing" in m]}))
"""


def run_child(url: str, verify: str = "default", stall: bool = False,
              cert_file: str | None = None) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("QWEN_SPACES_LOG", None)
    if cert_file is not None:
        env["SSL_CERT_FILE"] = cert_file
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, verify, "stall" if stall else "-"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


class TLSFront:
    """TLS on 127.0.0.1 in front of a plain HTTP server: bytes piped both ways."""

    def __init__(self, target_port: int, context: ssl.SSLContext) -> None:
        self._target, self._context = target_port, context
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def __enter__(self) -> TLSFront:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._context)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.run_until_complete(server.wait_closed())
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a loopback certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    yield cert, key


@pytest.fixture(scope="module")
def https_space(certificate: tuple[Path, Path]) -> Iterator[str]:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FakeSpace(layout="max", answer="Paris.") as space:
        port = int(space.url.rsplit(":", 1)[1])
        with TLSFront(port, context) as front:
            yield f"https://127.0.0.1:{front.port}"


def test_the_capture_sees_a_stall(https_space: str, certificate: tuple[Path, Path]) -> None:
    result = run_child(https_space, stall=True, cert_file=str(certificate[0]))
    assert result["text"] == "Paris."
    assert result["slow"], "asyncio debug mode reported no slow callback: the check is blind"


def test_first_https_call_default_context_does_not_stall(
    https_space: str, certificate: tuple[Path, Path]
) -> None:
    result = run_child(https_space, cert_file=str(certificate[0]))
    assert result["text"] == "Paris."
    assert result["aiohttp_before"] is False and result["aiohttp_after"] is True
    assert result["slow"] == []


def test_first_https_call_with_a_ca_bundle_does_not_stall(
    https_space: str, certificate: tuple[Path, Path]
) -> None:
    result = run_child(https_space, verify=str(certificate[0]))
    assert result["text"] == "Paris."
    assert result["slow"] == []


def test_first_http_call_does_not_stall() -> None:
    with FakeSpace(layout="max", answer="Paris.") as space:
        result = run_child(space.url)
    assert result["text"] == "Paris."
    assert result["slow"] == []
