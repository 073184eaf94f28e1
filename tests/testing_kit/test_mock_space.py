"""``MockSpace``: a scripted Space on ``responses`` (Client) and ``aioresponses`` (AsyncClient).

What a user's own tests do: no server, no network. Every request of each
client goes through the mock (an unregistered one would fail the test), both
layouts, a conversation, and the discovery cache stays in pytest's temporary
directory (qwen_spaces' pytest plugin), never the user's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import responses
from aioresponses import aioresponses

import qwen_spaces as qs
from qwen_spaces.testing import MockSpace

ANSWER = "Paris — naïve café ☕ 你好."
LAYOUTS = [("max", "qwen-2.5-max"), ("1m", "qwen-2.5-1m")]


def paths(space: MockSpace) -> list[str]:
    return [path for _, path in space.requests]


@pytest.mark.parametrize(("layout", "model"), LAYOUTS)
def test_responses_intercepts_every_request_of_client(layout: str, model: str) -> None:
    with responses.RequestsMock() as mock:
        space = MockSpace(layout, answer=ANSWER).register(mock)
        with qs.Client(model=model, max_retries=0) as client:
            stream = client.stream("Capital of France?")
            texts = list(stream.text_stream)
            assert stream.reply.text == ANSWER and "".join(texts) == ANSWER
        # Each request the client sent is one the mock answered, at the real Space's URL.
        assert [call.request.url.split("?")[0] for call in mock.calls] == [
            space.base_url + path for path in paths(space)
        ]
        assert mock.calls[0].request.url.startswith(qs.Client(model=model).base_url)
    assert paths(space)[0] == "/config" and paths(space)[-1].endswith("/queue/data")
    if layout == "1m":
        assert "/run/predict" in paths(space)


@pytest.mark.parametrize(("layout", "model"), LAYOUTS)
async def test_aioresponses_intercepts_every_request_of_async_client(
    layout: str, model: str
) -> None:
    with aioresponses() as mock:
        space = MockSpace(layout, answer=ANSWER).register(mock)
        async with qs.AsyncClient(model=model, max_retries=0) as client:
            reply = await client.chat("Capital of France?")
        sent = [(method, str(url).split("?")[0]) for method, url in mock.requests]
    assert reply.text == ANSWER
    assert sorted(sent) == sorted((m, space.base_url + p) for m, p in space.requests)
    assert paths(space)[0] == "/config"


def test_a_conversation_on_the_mock_keeps_its_turns() -> None:
    def answer(query: str, turns: int, system: str) -> str:
        return f"turn {turns}: {query}"

    with responses.RequestsMock() as mock:
        MockSpace("1m", answer=answer).register(mock)
        with qs.Client(model="qwen-2.5-1m", max_retries=0) as client:
            conversation = client.conversation()
            assert conversation.send("one").text == "turn 0: one"
            assert conversation.send("two").text == "turn 1: two"


def test_a_request_the_mock_does_not_know_fails_loudly() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        MockSpace("max", base_url="https://other.hf.space").register(mock)
        with qs.Client(max_retries=0) as client, pytest.raises(qs.SpaceConnectionError):
            client.chat("hi")  # to qwen-2.5-max's own URL: not registered, never sent


def test_register_refuses_what_is_not_a_mock() -> None:
    with pytest.raises(TypeError, match=r"responses\.RequestsMock or an aioresponses"):
        MockSpace().register(object())


def test_the_discovery_cache_is_in_pytest_s_temporary_directory(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    where = Path(os.environ["QWEN_SPACES_CACHE_DIR"])
    assert where.is_relative_to(tmp_path_factory.getbasetemp())
    with responses.RequestsMock() as mock:
        space = MockSpace(answer=ANSWER).register(mock)
        with qs.Client(max_retries=0) as client:
            assert client.chat("hi").text == ANSWER
    assert paths(space)[0] == "/config"
    assert any(where.iterdir()), "the ids found in /config were cached there"


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_starts_with_an_empty_cache(run: int) -> None:
    # The second run reads /config again: nothing left by the first.
    with responses.RequestsMock() as mock:
        space = MockSpace(answer=ANSWER).register(mock)
        with qs.Client(max_retries=0) as client:
            assert client.chat("hi").text == ANSWER
    assert paths(space)[0] == "/config"


@pytest.mark.parametrize("layout", ["qwen3", "qwen2.5", "nope"])
def test_a_layout_the_mock_does_not_play_is_refused_naming_the_ones_it_does(layout: str) -> None:
    with pytest.raises(ValueError, match=r"MockSpace plays the 'max' and '1m' layouts.*FakeSpace"):
        MockSpace(layout)
