"""Secrets stay secret: no token or proxy password in logs, reprs, errors or our frames' locals."""

from __future__ import annotations

import logging
import reprlib
import socket
import ssl
from pathlib import Path
from types import TracebackType
from typing import Optional

import pytest

import qwen_spaces as qs
from qwen_spaces.testing import FakeSpace, Fault
from tests.support.fault_runs import call

TOKEN = "hf_SuperSecretToken0123456789"
PROXY_PASSWORD = "pr0xyPa55word"
PACKAGE = str(Path(qs.__file__).parent)


def locals_of_our_frames(tb: Optional[TracebackType]) -> list[str]:
    shown = []
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_filename.startswith(PACKAGE):
            for name, value in frame.f_locals.items():
                # What a traceback printer that shows locals would print.
                shown.append(f"{name}={reprlib.repr(value)} {value!r:.2000}")
        tb = tb.tb_next
    return shown


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text and PROXY_PASSWORD not in text, text[:300]


@pytest.mark.parametrize(
    "fault", [Fault.bad_gateway(times=3), Fault.drop_after(updates=2), Fault.space_error("boom")]
)
def test_token_never_in_logs_errors_reprs_or_locals(
    mode: str, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeSpace(faults=[fault]) as space:
        out = call(mode, space.url, hf_token=TOKEN, max_retries=1)
        assert any(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in space.requests)
    assert out.error is not None
    assert_no_secret(caplog.text, str(out.error), repr(out.error))
    assert_no_secret(*locals_of_our_frames(out.error.__traceback__))


def test_proxy_credentials_never_in_errors_or_logs(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proxy = f"http://user:{PROXY_PASSWORD}@127.0.0.1:{port}"
    out = call(mode, "http://127.0.0.1:9", proxy=proxy, hf_token=TOKEN, max_retries=1)
    assert isinstance(out.error, qs.SpaceConnectionError)
    assert_no_secret(caplog.text, str(out.error), repr(out.error))
    assert_no_secret(*locals_of_our_frames(out.error.__traceback__))


def test_reprs_hide_secrets() -> None:
    proxy = f"http://user:{PROXY_PASSWORD}@127.0.0.1:9"
    sync_client = qs.Client(hf_token=TOKEN, proxy=proxy)
    async_client = qs.AsyncClient(hf_token=TOKEN, proxy=proxy)
    assert_no_secret(repr(sync_client), repr(async_client), repr(vars(sync_client)))
    session, settings = sync_client._transport._ready()
    assert_no_secret(repr(vars(sync_client._core)), repr(vars(sync_client._transport)))
    assert_no_secret(repr(vars(session)), repr(settings), repr(vars(async_client._transport)))
    sync_client.close()


def test_tls_verification_is_on_by_default_and_takes_a_ca_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    with qs.Client() as client:  # requests' own default: certifi's bundle
        assert client._transport._ready()[1]["verify"] is True
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    with qs.Client(verify=str(bundle)) as client:
        assert client._transport._ready()[1]["verify"] == str(bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with qs.Client() as client:
        assert client._transport._ready()[1]["verify"] == str(bundle)
    with qs.Client(trust_env=False) as client:
        assert client._transport._ready()[1]["verify"] is True
    with qs.Client(verify=str(tmp_path)) as client:  # a directory of CAs
        assert client._transport._ready()[1]["verify"] == str(tmp_path)
    with qs.Client(verify=False) as client:
        assert client._transport._ready()[1]["verify"] is False


async def test_async_tls_verification_default_and_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    async with qs.AsyncClient() as client:
        _, context = await client._transport._ready_http()
        # A verifying context of the system's CAs, built off the event loop (#13).
        assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname
    async with qs.AsyncClient(verify=False) as client:
        assert (await client._transport._ready_http())[1] is False


async def test_async_ca_bundle_makes_a_verifying_context(tmp_path: Path) -> None:
    # A real CA bundle: the system's, so the context loads.
    bundle = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    async with qs.AsyncClient(verify=bundle) as client:
        _, context = await client._transport._ready_http()
        assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
