"""Real Gradio bytes, split anywhere: every replica Space behind a one-byte-per-write proxy.

Each response (``/config``, 1M ``/run/predict``, the join, the event stream) goes
out one byte per write, so every body takes many reads and every multi-byte
character, chunk-size line and SSE line arrives split. Both clients must still
give the exact answer, and must have read the whole ``/config`` (on the
shifted-ids replica, falling back to the known ids would send the wrong ones).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

import pytest

import qwen_spaces as qs
from tests.integration.test_replicas import QUERY, check_exact, check_onem, max_answer, onem_answer
from tests.support.netproxy import ByteProxy, Shape
from tests.support.replicas.launcher import Replica

ONE_BYTE = Shape(write_size=1, per_write=0.0002, pause_every=8)
REPLICAS = ["max_g4", "max_g5", "max_g6", "max_g5_shifted", "onem_g4", "onem_g4_footer"]
TIMEOUT = qs.Timeouts(total=150, read=60)
GUARD = 170.0


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def stream_all(
    mode: str, url: str, model: str, prompt: str, stop_at_text: bool = False
) -> tuple[list[Any], Optional[qs.Reply], Optional[BaseException]]:
    """Stream one call; stop after the first text if told (the stream is then cancelled)."""
    events: list[Any] = []
    if mode == "sync":
        try:
            with qs.Client(model=model, base_url=url, timeout=TIMEOUT, max_retries=0) as client:
                with client.stream(prompt) as stream:
                    for event in stream:
                        events.append(event)
                        if stop_at_text and isinstance(event, qs.TextDelta):
                            return events, None, None
                    return events, stream.reply, None
        except qs.QwenSpacesError as error:
            return events, None, error

    async def run() -> Optional[qs.Reply]:
        async with qs.AsyncClient(
            model=model, base_url=url, timeout=TIMEOUT, max_retries=0
        ) as client:
            async with client.stream(prompt) as stream:
                async for event in stream:
                    events.append(event)
                    if stop_at_text and isinstance(event, qs.TextDelta):
                        return None
                return await stream.get_reply()

    try:
        return events, asyncio.run(asyncio.wait_for(run(), GUARD)), None
    except (qs.QwenSpacesError, asyncio.TimeoutError) as error:
        return events, None, error


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", REPLICAS)
def test_every_response_one_byte_per_write(
    mode: str, name: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="qwen_spaces")
    replica: Replica = request.getfixturevalue(name)
    onem = replica.kind == "onem"
    model = "qwen-2.5-1m" if onem else "qwen-2.5-max"
    with ByteProxy(replica.url, ONE_BYTE, max_seconds=200) as proxy:
        events, reply, error = stream_all(mode, proxy.url, model, QUERY)
        paths = [t.split(" ")[1].split("?")[0] for t in proxy.targets]
    assert error is None, f"{type(error).__name__}: {error}"
    assert reply is not None
    # The whole /config was read: no fallback to the known ids (on the shifted
    # replica those are wrong: the join would fail with HTTP 422 or a wrong trigger).
    fallback = [r.getMessage() for r in caplog.records if "/config" in r.getMessage()]
    assert not fallback, fallback
    assert "/config" in paths
    if onem:
        assert "/run/predict" in paths
        check_onem(events, reply, onem_answer(QUERY, 0))
    else:
        check_exact(events, reply, max_answer(QUERY, 0))


@pytest.mark.timeout(240)
def test_onem_300kb_prompt_through_the_proxy(mode: str, onem_g4: Replica) -> None:
    """add_text answers the chatbot holding the 300 KB prompt: a body of many
    reads. The call must get past it (and the join) to the answer's first words;
    then it is broken off (the answer would echo all 300 KB)."""
    prompt = ("ha ha ☕ 你好 naïve " * 20000)[:300_000]
    pieces = Shape(write_size=1024, per_write=0.0002)
    with ByteProxy(onem_g4.url, pieces, max_seconds=200) as proxy:
        events, _, error = stream_all(mode, proxy.url, "qwen-2.5-1m", prompt, stop_at_text=True)
    assert error is None, f"{type(error).__name__}: {error}"
    text = "".join(e.text for e in events if isinstance(e, qs.TextDelta))
    assert text and onem_answer(prompt, 0).startswith(text)
