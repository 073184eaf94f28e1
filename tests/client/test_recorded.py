"""Recorded real-Gradio transcripts replayed through both clients.

The sync client meets them over real HTTP (a local ReplayServer) and under
``responses``; the async client under ``aioresponses``. No compatibility shim:
the test extra pins the aioresponses/aiohttp pair that works (setup.cfg).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import responses
from aioresponses import aioresponses

import qwen_spaces as qs
from tests.support.transcript_replay import (
    BASE,
    ReplayServer,
    joined,
    load,
    messages_of,
    model_of,
    names,
    options_of,
    turns,
)

NAMES = names()
pytestmark = pytest.mark.skipif(not NAMES, reason="no transcripts recorded yet")


def _exchanges(turn: dict[str, Any]) -> list[dict[str, Any]]:
    return list(turn["exchanges"])


def register_async(mock: aioresponses, turn: dict[str, Any], with_config: bool) -> None:
    for ex in _exchanges(turn):
        if ex["path"] == "/config" and not with_config:
            continue
        pattern = re.compile("^" + re.escape(BASE + ex["path"]) + r"(\?.*)?$")
        mock.add(
            pattern,
            method=ex["method"],
            body=ex["body"].encode("utf-8"),
            status=ex["status"],
            content_type=ex.get("content_type") or "application/json",
        )


def register_sync(mock: responses.RequestsMock, turn: dict[str, Any], with_config: bool) -> None:
    for ex in _exchanges(turn):
        if ex["path"] == "/config" and not with_config:
            continue
        pattern = re.compile("^" + re.escape(BASE + ex["path"]) + r"(\?.*)?$")
        mock.add(
            ex["method"],
            pattern,
            body=ex["body"].encode("utf-8"),
            status=ex["status"],
            content_type=ex.get("content_type") or "application/json",
        )


@pytest.mark.parametrize("name", NAMES)
def test_sync_client_replays_transcript(name: str) -> None:
    transcript = load(name)
    with (
        ReplayServer() as server,
        qs.Client(model=model_of(transcript), base_url=server.url, max_retries=0) as client,
    ):
        conversation = client.conversation()
        for i, turn in enumerate(turns(transcript)):
            server.add_turn(turn, with_config=i == 0)
            if i == 0:
                stream = client.stream(messages_of(turn), **options_of(turn))
                events = list(stream)
                reply = stream.reply
                conversation.commit(reply)
            else:
                stream = conversation.stream(turn["request"]["query"], **options_of(turn))
                events = list(stream)
                reply = stream.reply
            assert server.unanswered == []  # every recorded exchange was asked for
            assert reply.text == turn["expected_answer"]
            assert joined(events) == reply.text
            assert any(path.endswith("/queue/join") for _, path in server.requests)


@pytest.mark.parametrize("name", NAMES)
def test_sync_client_replays_transcript_under_responses(name: str) -> None:
    transcript = load(name)
    with qs.Client(model=model_of(transcript), base_url=BASE, max_retries=0) as client:
        conversation = client.conversation()
        for i, turn in enumerate(turns(transcript)):
            # assert_all_requests_are_fired: every recorded exchange was asked for;
            # and responses refuses any request not registered.
            with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
                register_sync(mock, turn, with_config=i == 0)
                if i == 0:
                    stream = client.stream(messages_of(turn), **options_of(turn))
                else:
                    stream = conversation.stream(turn["request"]["query"], **options_of(turn))
                events = list(stream)
                reply = stream.reply
                if i == 0:
                    conversation.commit(reply)
                sent = [call.request.url for call in mock.calls]
            assert reply.text == turn["expected_answer"]
            assert joined(events) == reply.text
            assert any("/queue/join" in url for url in sent)


@pytest.mark.parametrize("name", NAMES)
async def test_async_client_replays_transcript(name: str) -> None:
    transcript = load(name)
    async with qs.AsyncClient(model=model_of(transcript), base_url=BASE, max_retries=0) as client:
        conversation = client.conversation()
        for i, turn in enumerate(turns(transcript)):
            with aioresponses() as mock:
                register_async(mock, turn, with_config=i == 0)
                if i == 0:
                    stream = client.stream(messages_of(turn), **options_of(turn))
                else:
                    stream = conversation.stream(turn["request"]["query"], **options_of(turn))
                events = [e async for e in stream]
                reply = await stream.get_reply()
                if i == 0:
                    conversation.commit(reply)
            assert reply.text == turn["expected_answer"]
            assert joined(events) == reply.text


@pytest.mark.parametrize("status", [502, 404])
def test_sync_data_stream_http_error_is_a_space_http_error(status: int) -> None:
    transcript = load("max-g5")
    turn = turns(transcript)[0]
    with ReplayServer() as server:
        for ex in _exchanges(turn):
            if ex["path"].endswith("/queue/data"):
                server.add("GET", ex["path"], b"<html>upstream down</html>", status, "text/html")
            else:
                server.add_turn({"exchanges": [ex]}, with_config=True)
        with qs.Client(base_url=server.url, max_retries=0) as client:
            with pytest.raises(qs.SpaceHTTPError) as info:
                client.chat("hi")
    assert info.value.status_code == status and "upstream down" in str(info.value)


@pytest.mark.parametrize("status", [502, 404])
async def test_async_data_stream_http_error_is_a_space_http_error(status: int) -> None:
    transcript = load("max-g5")
    turn = turns(transcript)[0]
    with aioresponses() as mock:
        for ex in _exchanges(turn):
            if ex["path"].endswith("/queue/data"):
                mock.get(
                    re.compile(re.escape(BASE + ex["path"]) + r"(\?.*)?$"),
                    body="<html>upstream down</html>",
                    status=status,
                )
            else:
                register_async(mock, {"exchanges": [ex]}, with_config=True)
        async with qs.AsyncClient(base_url=BASE, max_retries=0) as client:
            with pytest.raises(qs.SpaceHTTPError) as info:
                await client.chat("hi")
    assert info.value.status_code == status and "upstream down" in str(info.value)
