"""The fault-injection suite: each misbehaviour of a Space, against both clients."""

from __future__ import annotations

import logging
import socket
import tracemalloc

import pytest

import qwen_spaces as qs
from qwen_spaces.testing import FakeSpace, Fault
from tests.support.fault_runs import call, record

pytestmark = pytest.mark.timeout(60)

ANSWER = "ha ha ha — naïve café ☕ 你好 ✓ ha ha ha, the end."


def space(*faults: Fault, **options: object) -> FakeSpace:
    options.setdefault("answer", ANSWER)
    return FakeSpace(faults=list(faults), **options)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_01_connection_refused(mode: str) -> None:
    out = call(mode, f"http://127.0.0.1:{free_port()}", max_retries=1)
    record("1. connection refused", mode, out)
    assert isinstance(out.error, qs.SpaceConnectionError)
    assert "cannot reach the Space" in str(out.error)


def test_02_connection_reset_before_join_answers_is_retried(mode: str) -> None:
    with space(Fault.reset_before_join()) as s:
        out = call(mode, s.url)
        joins = s.stats()["joins"]
    record("2. reset before the join answers", mode, out)
    assert out.reply is not None and out.reply.text == ANSWER
    assert joins == 2


def test_03_queue_full_twice_then_success(mode: str) -> None:
    with space(Fault.queue_full(times=2)) as s:
        out = call(mode, s.url, max_retries=2)
        joins = s.stats()["joins"]
    record("3. 503 queue full twice, then OK", mode, out)
    assert out.reply is not None and out.reply.text == ANSWER and out.text == ANSWER
    assert joins == 3


def test_03b_queue_full_beyond_retries_is_queue_full_error(mode: str) -> None:
    with space(Fault.queue_full(times=5)) as s:
        out = call(mode, s.url, max_retries=1)
    assert isinstance(out.error, qs.QueueFullError)
    assert "queue is full" in str(out.error).lower()


def test_04_rate_limited_waits_for_retry_after(mode: str) -> None:
    with space(Fault.rate_limited(retry_after=1)) as s:
        out = call(mode, s.url)
    record("4. 429 with Retry-After: 1", mode, out)
    assert out.reply is not None and out.reply.text == ANSWER
    assert out.seconds >= 1.0


def test_05_html_502_is_an_http_error_with_an_excerpt(mode: str) -> None:
    with space(Fault.bad_gateway()) as s:
        out = call(mode, s.url, max_retries=0)
    record("5. HTML 502 page on join", mode, out)
    assert isinstance(out.error, qs.SpaceHTTPError)
    assert out.error.status_code == 502
    assert "<html" not in out.error.body_excerpt.lower() or len(out.error.body_excerpt) <= 300
    assert len(str(out.error)) < 500


def test_05b_html_502_once_is_retried(mode: str) -> None:
    with space(Fault.bad_gateway()) as s:
        out = call(mode, s.url, max_retries=1)
    assert out.reply is not None and out.reply.text == ANSWER


def test_06_stream_drops_mid_answer_keeps_partial_text(mode: str) -> None:
    with space(Fault.drop_after(updates=3)) as s:
        out = call(mode, s.url)
        joins = s.stats()["joins"]
    record("6. stream drops mid-answer", mode, out)
    assert isinstance(out.error, qs.SpaceConnectionError)
    assert out.error.partial_text and ANSWER.startswith(out.error.partial_text)
    assert out.error.partial_text == out.text
    assert joins == 1  # never silently restarted after text arrived


def test_07_stall_past_read_timeout(mode: str) -> None:
    with space(Fault.stall_after(updates=2, seconds=5)) as s:
        out = call(mode, s.url, timeout=qs.Timeouts(read=1))
    record("7. stall past the read timeout (read=1 s)", mode, out)
    assert isinstance(out.error, qs.SpaceTimeoutError) and isinstance(out.error, TimeoutError)
    assert out.error.limit == "read" and out.error.seconds == 1
    assert out.error.partial_text and ANSWER.startswith(out.error.partial_text)
    assert out.seconds < 4


def test_07b_except_timeout_error_catches_a_space_timeout() -> None:
    # As huggingface_hub's InferenceTimeoutError: code written for the standard
    # exception catches ours, on both clients.
    import asyncio

    with space(Fault.heartbeats_only(times=2), heartbeat_interval=0.2) as s:
        with qs.Client(base_url=s.url, timeout=qs.Timeouts(queue=0.5)) as client:
            with pytest.raises(TimeoutError) as sync_info:
                client.chat("hi")

        async def chat() -> None:
            async with qs.AsyncClient(base_url=s.url, timeout=qs.Timeouts(queue=0.5)) as client:
                await client.chat("hi")

        with pytest.raises(TimeoutError) as async_info:
            asyncio.run(chat())
    for info in (sync_info, async_info):
        assert isinstance(info.value, qs.SpaceTimeoutError) and info.value.limit == "queue"
        assert isinstance(info.value, qs.QwenSpacesError) and str(info.value).startswith("queue")


def test_08_heartbeats_only_hits_the_queue_timeout(mode: str) -> None:
    with space(Fault.heartbeats_only(), heartbeat_interval=0.2) as s:
        out = call(mode, s.url, timeout=qs.Timeouts(queue=1.5))
    record("8. heartbeats only (queue=1.5 s)", mode, out)
    assert isinstance(out.error, qs.SpaceTimeoutError)
    assert out.error.limit == "queue" and "1.5" in str(out.error)
    assert out.seconds < 4


def test_08b_heartbeats_only_hits_the_total_timeout(mode: str) -> None:
    with space(Fault.heartbeats_only(), heartbeat_interval=0.2) as s:
        out = call(mode, s.url, timeout=qs.Timeouts(total=1.5))
    record("8b. heartbeats only (total=1.5 s)", mode, out)
    assert isinstance(out.error, qs.SpaceTimeoutError) and out.error.limit == "total"
    assert out.seconds < 4


def test_09_malformed_json_and_unknown_msg_are_skipped(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="qwen_spaces")
    with space(Fault.malformed_json(updates=2), Fault.unknown_message(updates=3)) as s:
        out = call(mode, s.url)
    record("9. malformed JSON line + unknown msg kind", mode, out)
    assert out.reply is not None and out.reply.text == ANSWER and out.text == ANSWER
    assert "not JSON" in caplog.text


def test_10_space_failure_without_a_reason(mode: str) -> None:
    with space(Fault.space_error()) as s:
        out = call(mode, s.url)
    record("10a. success false, error null", mode, out)
    assert isinstance(out.error, qs.SpaceError)
    assert "did not give a reason" in str(out.error)


def test_10_space_failure_with_a_message(mode: str) -> None:
    with space(Fault.space_error(message="GPU quota exceeded", updates=2)) as s:
        out = call(mode, s.url)
    record("10b. success false, with a message", mode, out)
    assert isinstance(out.error, qs.SpaceError)
    assert "GPU quota exceeded" in str(out.error)
    assert out.error.partial_text and ANSWER.startswith(out.error.partial_text)


def test_11_session_not_found(mode: str) -> None:
    with space(Fault.session_not_found()) as s:
        out = call(mode, s.url)
    record("11. unexpected_error Session not found", mode, out)
    assert isinstance(out.error, qs.SpaceError)
    assert "Session not found" in str(out.error)


def test_12_stream_ends_without_completion_is_an_error(mode: str) -> None:
    with space(Fault.eof_after(updates=3)) as s:
        out = call(mode, s.url)
    record("12. stream ends without process_completed", mode, out)
    assert isinstance(out.error, qs.ProtocolError)
    assert "before the Space said the answer was complete" in str(out.error)
    assert out.error.partial_text and ANSWER.startswith(out.error.partial_text)


def test_13_dribbled_bytes_give_the_exact_answer(mode: str) -> None:
    with space(Fault.dribble(seconds=0)) as s:
        out = call(mode, s.url)
    record("13. bytes dribbled one at a time", mode, out)
    assert out.reply is not None and out.reply.text == ANSWER and out.text == ANSWER


def test_14_huge_event_is_a_protocol_error_with_bounded_memory(mode: str) -> None:
    with space(Fault.huge_event(size=20 * 1024 * 1024)) as s:
        tracemalloc.start()
        try:
            out = call(mode, s.url)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    record(f"14. a 20 MiB event (peak {peak / 2**20:.0f} MiB traced)", mode, out)
    assert isinstance(out.error, qs.ProtocolError)
    assert "exceeds the limit" in str(out.error)
    assert peak < 48 * 1024 * 1024


def test_15_token_is_not_sent_to_another_host_after_redirect(mode: str) -> None:
    token = "hf_faketokenfaketoken1234"
    with space(Fault.redirect_join()) as s:
        out = call(mode, s.url, hf_token=token, max_retries=0)
        first = [r for r in s.requests if "/queue/join" in r.path]
        redirected = list(s.redirected_requests)
    record("15. redirect of the join to another host", mode, out)
    assert first and first[0].headers.get("Authorization") == f"Bearer {token}"
    assert redirected, "the redirect was not followed"
    assert all("Authorization" not in r.headers for r in redirected)
    if out.error is not None:
        assert token not in str(out.error)


def test_16_model_and_space_that_do_not_match_say_so(mode: str) -> None:
    with space() as s:  # a Max Space
        out = call(mode, s.url, messages="hi", model="qwen-2.5-1m")
    record("16. model qwen-2.5-1m pointed at a Max Space", mode, out)
    assert isinstance(out.error, qs.SpaceError)
    assert "is it a qwen-2.5-1m Space" in str(out.error) and "model_chat" in str(out.error)


def test_timeout_messages_say_what_each_limit_means() -> None:
    assert "took longer than 2 s" in str(qs.SpaceTimeoutError("total", 2))
    assert "no data from the Space for 1 s" in str(qs.SpaceTimeoutError("read", 1))
    assert "queue after 3 s" in str(qs.SpaceTimeoutError("queue", 3))
