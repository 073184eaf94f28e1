"""A Space that is not running: its status page, the typed error, and whether it is retried."""

from __future__ import annotations

import json
from typing import Any

import pytest

import qwen_spaces as qs
from qwen_spaces._core.policy import RetryPolicy
from qwen_spaces._errors import (
    ProtocolError,
    QueueFullError,
    QwenSpacesError,
    SpaceHTTPError,
    SpaceNotRunningError,
)
from qwen_spaces._gradio.gradio import (
    check_response,
    not_running_state,
    parse_json,
    queue_message_error,
    raise_for_queue_message,
    raise_if_not_running,
)
from qwen_spaces.testing._faults import _HTML_502
from tests.support.hf_status_pages import WORDS, page

STATES = sorted(WORDS)
URL = "https://qwen-qwen2-5-max-demo.hf.space/gradio_api/queue/join"


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize(
    "variant",
    [
        {},  # the embedded stage and the words
        {"stage": None},  # words only
        {"words": False},  # stage only
    ],
    ids=["stage+words", "words", "stage"],
)
def test_each_status_page_is_recognised(state: str, variant: dict[str, Any]) -> None:
    body = page(state, **variant)
    assert not_running_state(body) == state
    assert not_running_state(body.encode()) == state
    assert not_running_state("\ufeff\n  " + body) == state


@pytest.mark.parametrize(
    ("stage", "state"),
    [
        ("STOPPED", "paused"),
        ("APP_STARTING", "building"),
        ("BUILD_ERROR", "runtime_error"),
        ("CONFIG_ERROR", "runtime_error"),
        ("NO_APP_FILE", "runtime_error"),
        ("RUNNING", None),
        ("RUNNING_BUILDING", None),  # the app runs while a new version builds
    ],
)
def test_other_hub_stages(stage: str, state: Any) -> None:
    assert not_running_state(page("building", stage=stage, words=False)) == state


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>Sleeping Space</title></head><body></body></html>",
        "<!doctype html><h1>Your Space is currently sleeping</h1>",
        "<html><body><p>this   space\n is SLEEPING</p></body></html>",
        "<html><body><p>This Space has gone to sleep.</p></body></html>",
    ],
)
def test_wording_and_markup_may_vary(html: str) -> None:
    assert not_running_state(html) == "sleeping"


@pytest.mark.parametrize(
    "body",
    [
        _HTML_502,  # a proxy's page while the Space restarts: an HTTP error, not a state
        '{"detail": "Space is sleeping"}',  # JSON is the app's own answer
        "The Space is sleeping",  # not HTML
        "<!doctype html><html><head><title>Gradio</title></head><body><gradio-app></gradio-app>"
        '<script>window.gradio_config = {"version": "5.12.0"};</script></body></html>',
        "<html><body><script>const s = 'this space is sleeping';</script></body></html>",
        b"\xff\xfe<\x00h\x00",
        "",
    ],
)
def test_other_bodies_are_not_a_state(body: Any) -> None:
    assert not_running_state(body) is None


def test_a_running_stage_wins_over_stray_words() -> None:
    body = page("sleeping", stage="RUNNING")
    assert not_running_state(body) is None


@pytest.mark.parametrize(
    ("state", "says"),
    [
        ("sleeping", "the Space is sleeping; it wakes on a visit and may take a minute"),
        ("building", "the Space is building or starting up"),
        ("paused", "the Space is paused by its owner"),
        ("runtime_error", "the Space has a runtime or build error"),
    ],
)
def test_the_error_names_the_state(state: str, says: str) -> None:
    error = SpaceNotRunningError(state, status_code=503, url=URL, retry_after=2.0)
    assert str(error).startswith(says) and URL in str(error)
    assert (error.state, error.status_code, error.retry_after) == (state, 503, 2.0)
    assert isinstance(error, QwenSpacesError) and error.starting == (
        state in ("sleeping", "building")
    )
    assert qs.SpaceNotRunningError is SpaceNotRunningError and "SpaceNotRunningError" in qs.__all__


@pytest.mark.parametrize("status", [404, 503])
@pytest.mark.parametrize("state", STATES)
def test_check_response_turns_a_status_page_into_the_error(status: int, state: str) -> None:
    with pytest.raises(SpaceNotRunningError) as info:
        check_response(status, {"Retry-After": "30"}, page(state).encode(), URL)
    assert (info.value.state, info.value.status_code, info.value.retry_after) == (
        state,
        status,
        30.0,
    )


def test_check_response_keeps_other_errors() -> None:
    with pytest.raises(SpaceHTTPError):
        check_response(502, {}, _HTML_502.encode(), URL)
    with pytest.raises(QueueFullError):
        check_response(503, {}, b'{"detail":"Queue is full. Max size is 1 and size is 1."}', URL)
    # The app's own JSON error that happens to mention an error is not a status page.
    with pytest.raises(SpaceHTTPError):
        check_response(500, {}, b'{"error":"runtime error in the model"}', URL)


@pytest.mark.parametrize("state", STATES)
def test_an_html_200_parsed_as_json_is_the_error(state: str) -> None:
    with pytest.raises(SpaceNotRunningError) as info:
        parse_json(page(state).encode(), "the queue/join answer")
    assert info.value.state == state


def test_other_non_json_is_still_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="the queue/join answer is not JSON"):
        parse_json(_HTML_502.encode(), "the queue/join answer")


def test_raise_if_not_running_returns_on_other_bodies() -> None:
    raise_if_not_running(b'{"event_id": "x"}')
    with pytest.raises(SpaceNotRunningError, match="sleeping"):
        raise_if_not_running(page("sleeping"), status=404)


# --- retries --------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["sleeping", "building"])
def test_a_starting_space_is_retried_after_the_wake_delay(state: str) -> None:
    policy = RetryPolicy(max_retries=2)
    error = SpaceNotRunningError(state)
    assert policy.delay(error, 0) == policy.wake_delay == 15.0
    assert policy.delay(error, 1) == 15.0
    assert policy.delay(error, 2) is None  # retries used up
    assert policy.delay(SpaceNotRunningError(state, retry_after=3.0), 0) == pytest.approx(3.0)
    assert policy.delay(SpaceNotRunningError(state, partial_text="x"), 0) is None


@pytest.mark.parametrize("state", ["paused", "runtime_error"])
def test_a_paused_or_broken_space_is_not_retried(state: str) -> None:
    assert RetryPolicy(max_retries=5).delay(SpaceNotRunningError(state, retry_after=1.0), 0) is None


# --- Gradio 3's queue_full --------------------------------------------------------------


def test_queue_full_message_is_a_queue_full_error() -> None:
    error = queue_message_error({"msg": "queue_full"})
    assert isinstance(error, QueueFullError) and "queue is full" in str(error)
    assert RetryPolicy().delay(error, 0) is not None  # retried like a 503 queue full
    with pytest.raises(QueueFullError):
        raise_for_queue_message(json.loads('{"msg": "queue_full"}'))


@pytest.mark.parametrize(
    "message", [{"msg": "estimation"}, {"event_id": "abc"}, ["queue_full"], "queue_full", None]
)
def test_other_messages_are_not_errors(message: Any) -> None:
    assert queue_message_error(message) is None
    raise_for_queue_message(message)
