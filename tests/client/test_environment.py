"""The library reads ``$HF_TOKEN``, ``$QWEN_SPACES_MODEL`` and ``$QWEN_SPACES_BASE_URL``
when the arguments are not given (not only the CLI), says so at debug, and a
bad value's error names the variable. Through both clients, on MockSpace.
"""

from __future__ import annotations

import logging

import pytest
import responses
from aioresponses import aioresponses

import qwen_spaces as qs
from qwen_spaces.testing import MockSpace

VARIABLES = ("HF_TOKEN", "QWEN_SPACES_MODEL", "QWEN_SPACES_BASE_URL")
TOKEN = "hf_FromTheEnvironment123"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _async_chat(space: MockSpace, **options: object) -> tuple[str, list[str]]:
    with aioresponses() as mock:
        space.register(mock)
        async with qs.AsyncClient(max_retries=0, **options) as client:  # type: ignore[arg-type]
            text = (await client.chat("hi")).text
        auth = [
            str((kw.get("headers") or {}).get("Authorization"))
            for calls in mock.requests.values()
            for kw in (call.kwargs for call in calls)
        ]
    return text, auth


def chat(mode: str, space: MockSpace, **options: object) -> tuple[str, list[str]]:
    """The answer, and the Authorization header of each request sent."""
    if mode == "sync":
        with responses.RequestsMock() as mock:
            space.register(mock)
            with qs.Client(max_retries=0, **options) as client:  # type: ignore[arg-type]
                text = client.chat("hi").text
            auth = [str(call.request.headers.get("Authorization")) for call in mock.calls]
        return text, auth
    import asyncio

    return asyncio.run(_async_chat(space, **options))


def test_the_environment_names_model_space_and_token(
    mode: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="qwen_spaces")
    monkeypatch.setenv("QWEN_SPACES_MODEL", "qwen-2.5-1m")
    monkeypatch.setenv("QWEN_SPACES_BASE_URL", "https://my-duplicate.hf.space/")
    monkeypatch.setenv("HF_TOKEN", f"  {TOKEN}\n")
    space = MockSpace(
        "1m", answer="From the environment.", base_url="https://my-duplicate.hf.space"
    )
    text, auth = chat(mode, space)
    assert text == "From the environment."
    assert "/run/predict" in [path for _, path in space.requests]  # the 1M layout: the model
    assert auth and set(auth) == {f"Bearer {TOKEN}"}
    said = [r.getMessage() for r in caplog.records]
    for argument, variable in (
        ("model", "QWEN_SPACES_MODEL"),
        ("base_url", "QWEN_SPACES_BASE_URL"),
        ("hf_token", "HF_TOKEN"),
    ):
        assert f"{argument} not given: using ${variable}" in said
    assert all(TOKEN not in line for line in said)


def test_arguments_win_over_the_environment(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_SPACES_MODEL", "qwen-2.5-1m")
    monkeypatch.setenv("QWEN_SPACES_BASE_URL", "https://elsewhere.hf.space")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    space = MockSpace("max", answer="From the arguments.", base_url="https://mine.hf.space")
    text, auth = chat(
        mode, space, model="qwen-2.5-max", base_url="https://mine.hf.space", hf_token=""
    )
    assert text == "From the arguments."
    assert set(auth) == {"None"}  # hf_token="" is no token, whatever $HF_TOKEN says


@pytest.mark.parametrize("cls", [qs.Client, qs.AsyncClient])
@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("QWEN_SPACES_MODEL", "gpt-5", "unknown model 'gpt-5'"),
        ("QWEN_SPACES_BASE_URL", "ftp://x.hf.space", "must be an http"),
        ("QWEN_SPACES_BASE_URL", "https://huggingface.co/spaces/Qwen/x", "OWNER-NAME.hf.space"),
        ("HF_TOKEN", "hf_abc def", "whitespace inside it"),
    ],
)
def test_a_bad_value_s_error_names_the_variable(
    cls: type, variable: str, value: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=rf"^\${variable}\b.*{says}") as info:
        cls()
    assert "hf_abc" not in str(info.value)
