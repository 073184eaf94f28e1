"""The discovery cache against real Gradio servers (issue #13).

What real Gradio 4.44 and 5.12 answer for ids that are no longer right, and
that a client starting from such a cache still answers exactly, reading
``/config`` once more and no more:

- every component id shifted (``max_g5_shifted``): Gradio does not check the
  ``trigger_id``, and the function ids did not move, so the ids cached from
  ``max_g5`` still work: no refetch at all;
- the api prefix moved (ids cached from Gradio 4, served by Gradio 5): the
  join is a 404;
- an ``fn_index`` the Space no longer has: a bare 500, on ``/queue/join``
  (Gradio 5) and on ``/run/predict`` (Gradio 4, the 1M layout).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import qwen_spaces as qs
from qwen_spaces._client import discovery_cache
from qwen_spaces._gradio.endpoints import Function
from qwen_spaces._spaces.adapters import Step
from tests.support.replicas import fake_model
from tests.support.replicas.launcher import Replica

MAX = "qwen-2.5-max"
ONEM = "qwen-2.5-1m"
TIMEOUT = 30.0
QUERY = "Laugh: ha ha — café ☕?"


def record_steps(client: Any) -> list[Step]:
    """The step of every request the client's transport sends from now on."""
    steps: list[Step] = []
    transport = client._transport
    name = "aopen" if hasattr(transport, "aopen") else "open"  # AsyncTransport's, Transport's
    original = getattr(transport, name)

    def open_(request: Any) -> Any:
        steps.append(request.step)
        return original(request)

    setattr(transport, name, open_)
    return steps


def fill_from(replica: Replica, model: str) -> qs.Reply:
    with qs.Client(model=model, base_url=replica.url, timeout=TIMEOUT) as client:
        return client.chat(QUERY)


def cached(replica: Replica, model: str) -> Any:
    ids = discovery_cache.load(replica.url, model)
    assert ids is not None and ids.from_config
    return ids


def ask_sync(url: str, model: str) -> tuple[str, list[Step]]:
    with qs.Client(model=model, base_url=url, timeout=TIMEOUT) as client:
        steps = record_steps(client)
        return client.chat(QUERY).text, steps


async def ask_async(url: str, model: str) -> tuple[str, list[Step]]:
    async with qs.AsyncClient(model=model, base_url=url, timeout=TIMEOUT) as client:
        steps = record_steps(client)
        return (await client.chat(QUERY)).text, steps


async def ask(kind: str, url: str, model: str) -> tuple[str, list[Step]]:
    return ask_sync(url, model) if kind == "sync" else await ask_async(url, model)


MAX_ANSWER = fake_model.expected_answer(QUERY, 0, fake_model.DEFAULT_SYSTEM)
ONEM_ANSWER = fake_model.expected_answer(QUERY, 0, fake_model.ONEM_SYSTEM)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_ids_cached_before_every_component_shifted_still_answer(
    kind: str, max_g5: Replica, max_g5_shifted: Replica
) -> None:
    assert fill_from(max_g5, MAX).text == MAX_ANSWER
    ids = cached(max_g5, MAX)
    assert ids.trigger_id == 11
    # The same key now serves the shifted layout (its trigger is 12).
    discovery_cache.store(max_g5_shifted.url, MAX, ids)
    text, steps = await ask(kind, max_g5_shifted.url, MAX)
    assert text == MAX_ANSWER
    # Gradio routes by fn_index alone (trigger_id is not checked), and the
    # functions did not move: the cached ids are used as they are.
    assert steps == [Step.JOIN, Step.DATA]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_moved_api_prefix_refetches_config_exactly_once(
    kind: str, max_g4: Replica, max_g5_shifted: Replica
) -> None:
    # Ids cached while the Space ran Gradio 4 (no prefix); now it runs 5.
    assert fill_from(max_g4, MAX).text == MAX_ANSWER
    old = cached(max_g4, MAX)
    assert old.api_prefix == ""
    discovery_cache.store(max_g5_shifted.url, MAX, old)
    text, steps = await ask(kind, max_g5_shifted.url, MAX)
    assert text == MAX_ANSWER
    assert steps == [Step.JOIN, Step.CONFIG, Step.JOIN, Step.DATA]
    # The file now holds what /config said.
    fresh = cached(max_g5_shifted, MAX)
    assert (fresh.api_prefix, fresh.trigger_id) == ("/gradio_api", 12)
    # And the next process goes straight to the join.
    text, steps = await ask(kind, max_g5_shifted.url, MAX)
    assert (text, steps) == (MAX_ANSWER, [Step.JOIN, Step.DATA])


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_an_fn_index_the_space_no_longer_has_refetches_config_once(
    kind: str, max_g5: Replica, max_g5_shifted: Replica
) -> None:
    fill_from(max_g5, MAX)
    discovery_cache.store(max_g5_shifted.url, MAX, cached(max_g5, MAX).replace(fn_index=9))
    text, steps = await ask(kind, max_g5_shifted.url, MAX)
    assert text == MAX_ANSWER
    assert steps == [Step.JOIN, Step.CONFIG, Step.JOIN, Step.DATA]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_stale_predict_of_the_1m_layout_refetches_config_once(
    kind: str, onem_g4: Replica
) -> None:
    assert fill_from(onem_g4, ONEM).text == ONEM_ANSWER
    ids = cached(onem_g4, ONEM)
    assert (ids.ids("add_text")[0], ids.fn_index) == (1, 2)
    stale = ids.replace(side=(Function("add_text", 9, ids.ids("add_text")[1]),))
    discovery_cache.store(onem_g4.url, ONEM, stale)
    text, steps = await ask(kind, onem_g4.url, ONEM)
    assert text == ONEM_ANSWER
    assert steps == [Step.PREDICT, Step.CONFIG, Step.PREDICT, Step.JOIN, Step.DATA]


def test_a_corrupt_cache_file_is_ignored_and_rewritten(max_g5: Replica) -> None:
    path = discovery_cache.entry_path(max_g5.url, MAX)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"version": 1, "endpoints": {"fn_index": "zero"')
    text, steps = ask_sync(max_g5.url, MAX)
    assert text == MAX_ANSWER
    assert steps == [Step.CONFIG, Step.JOIN, Step.DATA]
    entry = json.loads(path.read_text())
    assert entry["endpoints"]["fn_index"] == 0 and entry["endpoints"]["trigger_id"] == 11
    assert ask_sync(max_g5.url, MAX) == (MAX_ANSWER, [Step.JOIN, Step.DATA])
