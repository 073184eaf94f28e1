"""The first AsyncClient call never stalls the event loop (issue #13).

asyncio's debug mode logs every callback that holds the loop longer than
``slow_callback_duration``: set to 50 ms, it must log nothing over a fresh
process's first call, ``qs.AsyncClient`` touched for the first time inside the
running loop, over HTTPS (a loopback TLS front to a FakeSpace, its certificate
trusted through ``SSL_CERT_FILE`` for the default context, or ``verify=`` a
bundle) and plain HTTP. Importing aiohttp (which builds its SSL contexts) and
building ours would take 0.2-0.4 s on the loop.

A 50 ms limit on a 2-core machine holds only with nothing else running beside
it (no other test, no replica Space starting): ``timing`` makes ``make test``
run this file in a run of its own, with the ``slow`` test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qwen_spaces.testing import FakeSpace

pytestmark = pytest.mark.timing

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


def run_child(
    url: str, verify: str = "default", stall: bool = False, cert_file: str | None = None
) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("QWEN_SPACES_LOG", None)
    if cert_file is not None:
        # The CA bundle variables are read in order (docs/guides/transports.rst): the first set wins.
        env.pop("REQUESTS_CA_BUNDLE", None)
        env.pop("CURL_CA_BUNDLE", None)
        env["SSL_CERT_FILE"] = cert_file
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, verify, "stall" if stall else "-"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


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
