"""HTTPS on 127.0.0.1 for tests: a loopback certificate and a FakeSpace behind TLS.

The fixtures are registered for every test by ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_spaces.testing import FakeSpace


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


def self_signed(where: Path, name: str, ip: bool = False) -> tuple[Path, Path]:
    """A throwaway certificate and key ``{name}-cert.pem``/``{name}-key.pem`` in ``where``.

    ``ip``: valid for the server at 127.0.0.1 (its subjectAltName). No openssl fails the test:
    a test that needs TLS never passes without it.
    """
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a loopback certificate")
    cert, key = where / f"{name}-cert.pem", where / f"{name}-key.pem"
    san = ["-addext", "subjectAltName=IP:127.0.0.1"] if ip else []
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1" if ip else f"/CN={name}",
            *san,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The loopback server's certificate and key (valid for 127.0.0.1)."""
    return self_signed(tmp_path_factory.mktemp("tls"), "server", ip=True)


@pytest.fixture(scope="module")
def https_space(certificate: tuple[Path, Path]) -> Iterator[str]:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FakeSpace(layout="max", answer="Paris.") as space:
        port = int(space.url.rsplit(":", 1)[1])
        with TLSFront(port, context) as front:
            yield f"https://127.0.0.1:{front.port}"
