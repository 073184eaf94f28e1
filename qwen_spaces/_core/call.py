"""One chat call as a sans-I/O state machine that runs its Space's plan.

Rule: every decision about a call lives here — what to send next and with
which headers and time limits, what an answer means, whether the deadline has
passed, whether a failure is retried and after what delay, how to stop, and
whether the Space still holds the conversation's session. The Space's adapter
gives the plan; the call runs any plan, one request at a time, and keeps where
it stands in one ``state.Attempt``, made afresh for each try, whose phase only
``Attempt.process`` moves. ``ChatCall`` owns its parts: the conversation
(``CallSession``: which session, and whether the Space forgot it), the wire
(``Wire``: requests as data, with their time limits) and the attempt. A
driver only moves bytes::

    while (request := call.next_request()) is not None:
        try:
            with transport.open(request) as response:
                if call.on_headers(request, response.status):
                    for chunk in response.chunks():
                        for event in call.feed(chunk):
                            yield event
                        if call.finished:
                            response.drain(*call.drain_budget())
                            break
                    call.end_of_stream()
                else:
                    body = response.read(call.body_limit)
                    call.on_response(request, response.status, response.headers, body)
        except (QwenSpacesError, TransportError) as error:
            sleep(call.next_attempt(error))
    reply = call.reply()

and, when the consumer stops early, sends ``call.cancel_request()``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Optional, Union

from .._errors import (
    ProtocolError,
    QueueFullError,
    QwenSpacesError,
    SessionLostError,
    SpaceConnectionError,
    SpaceError,
    SpaceHTTPError,
    SpaceTimeoutError,
)
from .._events import ConversationState, Event, Reply, new_completion_id
from .._files import Upload
from .._gradio.dedup import AnswerTracker
from .._gradio.endpoints import Endpoints
from .._gradio.gradio import check_response
from .._gradio.payloads import file_data
from .._gradio.sse import DEFAULT_MAX_EVENT_BYTES
from .._patterns import LazyPattern
from .._spaces.adapters import CHAT, UPLOADED, Plan, Stage, Step
from .._spaces.spaces import SpaceSpec
from .policy import RetryPolicy, RetryState, Timeouts
from .session import CallSession
from .state import Attempt, Cause, Phase
from .wire import (
    FailureKind,
    Request,
    TransportError,
    Uploads,
    Wire,
    app_id_in,
    check_body_size,
    config_answer,
    describe_cause,
    joined_event_id,
    predicted_outputs,
    uploaded_paths,
)

__all__ = ["ChatCall"]

log = logging.getLogger("qwen_spaces")

# Timers may fire a hair before the instant they were set for.
_SLACK = 0.01
_COMPLETED = Phase.COMPLETED  # read at every chunk: a global is cheaper than the enum's hook


class ChatCall:
    """The requests and the reading of one chat call, retries included.

    Build it through a client (``ClientCore.new_call``, which checks
    ``thinking``/``thinking_budget``); a driver then follows the loop in this
    module's docstring. Nothing here does I/O or sleeps: ``clock`` is the caller's.
    """

    def __init__(
        self,
        spec: SpaceSpec,
        base_url: str,
        messages: list[dict[str, str]],
        state: ConversationState,
        *,
        clock: Callable[[], float],
        endpoints: Optional[Endpoints] = None,
        timeouts: Optional[Timeouts] = None,
        retry: Optional[RetryPolicy] = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        redact: Callable[[str], str] = str,
        on_endpoints: Optional[Callable[[Endpoints], None]] = None,
        files: tuple[Upload, ...] = (),
        on_upload: Optional[Callable[[int, int], None]] = None,
        endpoints_cached: bool = False,
        thinking: Optional[bool] = None,
        thinking_budget: Optional[int] = None,
        known_app_id: Optional[int] = None,
        on_app_id: Optional[Callable[[int], None]] = None,
        continues: bool = False,
    ) -> None:
        self.spec: SpaceSpec = spec
        self.state: ConversationState = state
        self.files: tuple[Upload, ...] = files
        self.session: CallSession = CallSession(
            spec, messages, state, files, thinking, thinking_budget
        )
        self.session.watch_app_id(known_app_id, on_app_id, continues)
        self.timeouts: Timeouts = (timeouts := timeouts or Timeouts())
        self._started_at = started = clock()
        self.wire: Wire = Wire(base_url, endpoints, timeouts, clock, started + timeouts.total)
        self.body_limit = max_event_bytes  # the largest plain answer read whole
        self._failures = _Failures(RetryState(retry or RetryPolicy()), redact, self.wire)
        self._on_endpoints = on_endpoints
        self.uploads: Uploads = Uploads(files, on_upload)
        self._failures.cached_ids = endpoints is not None and endpoints_cached
        self.config_refetched: bool = False
        # The finished stages' results (uploads, side calls), kept so a retry does not repeat them.
        self.done: dict[str, Any] = {}
        self.touched_session: bool = False  # something was sent that may change the Space's session
        self._pending_cancel: Optional[Request] = None  # a job to stop before going on
        self._cancelling = False
        self.timings: dict[str, float] = {}
        self.completion_id: str = new_completion_id()  # the Reply's id, known while it streams
        self._attempt = self._new_attempt()

    def _new_attempt(self) -> Attempt:
        """A fresh try: /config (or /app_id) first where needed, then the adapter's plan."""
        session = self.session
        first: Plan = ()
        if self.wire.endpoints is None:
            first = (Stage(Step.CONFIG),)  # its answer holds the app_id too
        elif session.asks_app_id():
            first = (Stage(Step.APP_ID),)
        adapter = self.spec.adapter
        attempt = Attempt((*first, *adapter.plan(session.input, self.done)), self.body_limit)
        if adapter.shows_session and session.input.session.continued:
            attempt.check_first = self._check_first
        return attempt

    def _check_first(self, outputs: Any) -> None:
        # The chat's first outputs, before any of their text is read.
        index = self.wire.ids.chatbot_output
        held = outputs[index] if isinstance(outputs, list) and len(outputs) > index else None
        self.session.check_held_turns(held)

    def _learn_app_id(self, app_id: Any) -> None:
        if (lost := self.session.learn_app_id(app_id)) is not None:
            self._session_lost(lost)

    def _session_lost(self, lost: SessionLostError) -> None:
        self.session.lost(lost)  # raises when the session cannot be rebuilt
        self.done = {}  # what the old session was given (a switch, a user turn) is gone
        self._attempt = self._new_attempt()

    # --- where it stands ---------------------------------------------------

    @property
    def phase(self) -> Phase:
        """Where the current attempt stands."""
        return self._attempt.phase

    @property
    def finished(self) -> bool:
        """No more events will come: the driver stops reading the stream."""
        return self._attempt.finished

    @property
    def session_hash(self) -> str:
        return self.session.input.session.hash

    @property
    def partial_text(self) -> str:
        """The answer text received so far."""
        return tracker.text if (tracker := self._attempt.tracker) is not None else ""

    # --- what to send ------------------------------------------------------

    def next_request(self) -> Optional[Request]:
        """The request to send now, or None when the call has nothing more to send.

        Leaves the call waiting for that request's answer (``on_headers``).
        """
        if self._pending_cancel is not None:
            # The job left running on a lost session: stopped before going on.
            request, self._pending_cancel = self._pending_cancel, None
            self._cancelling = True
            return request
        attempt, wire = self._attempt, self.wire
        if attempt.phase is not Phase.READY:
            return None
        stage = attempt.stage
        body: Optional[dict[str, Any]] = None
        if stage.step is Step.UPLOAD:
            self.uploads.sent = 0
        elif stage.step is not Step.CONFIG and stage.step is not Step.APP_ID:
            if attempt.event_id is None:  # not yet joined: the function's call
                body, tracker = self.session.function_body(stage.fn, wire, self.done)
                attempt.tracker = tracker or attempt.tracker
                self.touched_session = True
        request = wire.request_for(
            stage.step, attempt.event_id, self.session_hash, body, self.uploads
        )
        attempt.sent = request
        attempt.process(Cause.SENT)
        return request

    def cancel_request(self) -> Optional[Request]:
        """The request that stops this call on the Space, once, if it is running.

        None when there is nothing to stop (finished, or not yet in the queue).
        Leaves the call finished: it asks only once.
        """
        if self._pending_cancel is not None:
            pending, self._pending_cancel = self._pending_cancel, None
            return pending
        attempt = self._attempt
        if attempt.event_id is None or attempt.finished or self.wire.endpoints is None:
            return None
        attempt.process(Cause.CANCEL)
        return self.wire.cancel(attempt.stage.fn, attempt.event_id, self.session_hash)

    # --- what came back ----------------------------------------------------

    def on_headers(self, request: Request, status: int) -> bool:
        """Whether to read this answer as an event stream (``feed``).

        False: read the body whole (up to ``body_limit`` bytes, one more to
        tell) and hand it to ``on_response``.
        """
        streaming = request.step is Step.DATA and status == 200
        if streaming:
            self._attempt.process(Cause.STREAM)
        return streaming

    def on_response(
        self, request: Request, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        """A whole answer to ``request``; moves the call to its next step.

        Raises the error the answer stands for (HTTP errors, unreadable JSON,
        a Space without the model's function, a body over ``body_limit``).
        """
        step, attempt = request.step, self._attempt
        if step is Step.CANCEL:  # best effort: whatever it answers, go on
            self._cancelling = False
            log.debug("cancel of the lost session's job: HTTP %s", status)
            return
        check_body_size(body, self.body_limit)
        if step is Step.CONFIG:
            attempt.process(Cause.ANSWERED)
            self._on_config(status, body)
            return
        if step is Step.APP_ID:
            attempt.process(Cause.ANSWERED)
            self._learn_app_id(app_id_in(status, body))
            return
        check_response(status, headers, body, request.url)
        if step is Step.UPLOAD:
            paths = uploaded_paths(body, len(self.files))
            self.done[UPLOADED] = [file_data(u, p) for u, p in zip(self.files, paths, strict=True)]
            attempt.process(Cause.ANSWERED)
        elif step is Step.PREDICT:
            fn = attempt.stage.fn
            self.done[fn] = self.spec.adapter.read_side(fn, predicted_outputs(body, fn))
            attempt.process(Cause.ANSWERED)
        elif step is Step.JOIN:
            event_id = joined_event_id(body)
            now = self.wire.clock()
            self.timings.setdefault("joined", now - self._started_at)
            attempt.joined(event_id, now + self.timeouts.queue)
        else:
            raise ProtocolError(f"the event stream answered HTTP {status} without a stream")

    def _on_config(self, status: int, body: bytes) -> None:
        found = config_answer(self.spec, self.wire.base_url, status, body)
        if found is None:  # unreadable: the known defaults
            self.wire.endpoints = self.spec.fallback
            return
        self.wire.endpoints, app_id = found
        if self._on_endpoints is not None:
            self._on_endpoints(found[0])
        self._learn_app_id(app_id)

    # --- the event stream --------------------------------------------------

    def feed(self, chunk: bytes) -> list[Event]:
        """Bytes of the event stream -> public events; ``finished`` at the end.

        Raises SpaceTimeoutError when the queue or total limit passed before
        this chunk came. A failure in the stream finishes the call after the
        events before it, which are returned; ``end_of_stream`` raises it.
        """
        out: list[Event] = []
        attempt = self._attempt
        if attempt.finished:
            return out
        # The limit that ends the call next, without building it per chunk.
        now, queue_at, total_at = self.wire.clock(), attempt.queue_at, self.wire.total_at
        if now >= total_at or (queue_at is not None and now >= queue_at):
            raise self.wire.deadline(queue_at).error(self.partial_text)
        try:
            attempt.read(chunk, out, self._start)
        except QwenSpacesError as failure:
            attempt.failure = failure
            attempt.process(Cause.FAILED)
        if attempt.phase is _COMPLETED and attempt.stage.fn == CHAT:
            self.timings["completed"] = self.wire.clock() - self._started_at
        return out

    def _start(self) -> None:
        if self._attempt.stage.fn == CHAT and self._attempt.phase is Phase.QUEUED:
            self.timings["started"] = self.wire.clock() - self._started_at
        self._attempt.start()

    def end_of_stream(self) -> None:
        """The event stream ended, or the driver stopped reading it after ``finished``.

        Raises the failure the stream brought (for ``next_attempt``). After the
        answer's stream the call is done; after a side call's, the plan goes on.
        """
        self._attempt.end_of_stream(self.done, self.spec.adapter)

    def drain_budget(self) -> tuple[float, int]:
        """How long and how many bytes to read on after the answer, to reuse the connection."""
        return self.wire.drain_budget(failed=self._attempt.phase is Phase.FAILED)

    # --- failures and the end ----------------------------------------------

    def next_attempt(self, error: Union[QwenSpacesError, TransportError]) -> float:
        """After ``error`` broke a request: the seconds to wait before trying again.

        Raises the error the user sees (a transport failure becomes a
        SpaceTimeoutError or SpaceConnectionError) when it is not retried (see
        ``_Failures.delay``). Otherwise starts a fresh attempt (the queue limit
        restarts, the total keeps running; finished stages are not sent twice).
        Cached ids the Space refuses, or a session it lost, go on at once: 0.
        """
        attempt = self._attempt
        if self._cancelling:  # the lost session's job: stopping it was best effort
            self._cancelling = False
            return 0.0
        if isinstance(error, SessionLostError) and attempt.event_id is not None:
            # Seen in the answer's first value: its job runs on an empty
            # session. Stop it, then (or instead of raising) go on afresh.
            cancel = self.wire.cancel(attempt.stage.fn, attempt.event_id, self.session_hash)
            self._pending_cancel = cancel
            self._session_lost(error)
            return 0.0
        if self._failures.stale_ids(error, attempt):
            self.config_refetched = True
            self.wire.endpoints = None
            self._attempt = self._new_attempt()
            return 0.0
        failure = self._failures.user_error(error, attempt)
        delay = self._failures.delay(failure)  # raises the failure when it is not retried
        self._attempt = self._new_attempt()
        return delay

    def reply(self) -> Reply:
        """The finished answer.

        Raises ProtocolError for a stream that ended before the answer was
        complete, SpaceError for an answer without text.
        """
        tracker = self._attempt.tracker
        if tracker is None or not tracker.completed or self._attempt.stage.fn != CHAT:
            incomplete = "the stream ended before the Space said the answer was complete"
            raise self._failures.user_error(ProtocolError(incomplete), self._attempt)
        return _reply(self, tracker)


class _Failures:
    """What a failure becomes: the user's error, and whether (and after how long) to retry."""

    __slots__ = ("cached_ids", "redact", "retry", "wire")

    def __init__(self, retry: RetryState, redact: Callable[[str], str], wire: Wire) -> None:
        self.retry, self.redact, self.wire = retry, redact, wire
        # Ids from the discovery cache may be stale: the first answer that
        # says so sends the call back to /config, once.
        self.cached_ids = False

    def stale_ids(self, error: Union[QwenSpacesError, TransportError], attempt: Attempt) -> bool:
        """Whether ``error`` says the cached ids are stale (once: then /config is read)."""
        tracker = attempt.tracker
        if not self.cached_ids or (tracker is not None and tracker.text):
            return False
        if not cached_ids_refused(error, attempt.sent):
            return False
        log.info("the Space's ids changed since they were cached: reading /config again")
        self.cached_ids = False
        return True

    def user_error(
        self, error: Union[QwenSpacesError, TransportError], attempt: Attempt
    ) -> QwenSpacesError:
        """The user's error for ``error``: the one place partial text is attached."""
        tracker = attempt.tracker
        partial = tracker.text if tracker is not None else ""
        if isinstance(error, TransportError):
            error = self._transport_error(error, attempt, partial)
        if not error.partial_text:
            error.partial_text = partial
        if tracker is not None and not error.partial_reasoning:
            error.partial_reasoning = tracker.reasoning
        return error

    def _transport_error(
        self, error: TransportError, attempt: Attempt, partial: str
    ) -> QwenSpacesError:
        wire, kind = self.wire, error.kind
        timeouts, deadline = wire.timeouts, wire.deadline(attempt.queue_at)
        if kind is FailureKind.DEADLINE:  # a request's budget is the rest of the total
            return SpaceTimeoutError("total", timeouts.total)
        if kind is not FailureKind.CONNECTION and wire.clock() + _SLACK >= deadline.at:
            return deadline.error(partial)
        sent = attempt.sent
        if kind is FailureKind.READ_TIMEOUT:
            return SpaceTimeoutError("read", sent.read if sent else timeouts.read)
        if kind is FailureKind.CONNECT_TIMEOUT:
            return SpaceTimeoutError("connect", sent.connect if sent else timeouts.connect)
        detail = self.redact(describe_cause(error.cause))[:300]
        where = (
            "the connection to the Space broke while streaming"
            if attempt.phase in (Phase.QUEUED, Phase.RUNNING)
            else f"cannot reach the Space at {wire.base_url}"
        )
        return SpaceConnectionError(f"{where} ({detail})")

    def delay(self, failure: QwenSpacesError) -> float:
        """The seconds before the next try; raises ``failure`` when it is not retried."""
        retry = self.retry.increment(failure)
        if retry is None or retry[0] >= self.wire.total_at - self.wire.clock():
            raise failure from None
        delay, self.retry = retry
        count, most = self.retry.attempt, self.retry.policy.max_retries
        log.warning(
            "retry %d of %d in %.1f s after: %s",
            count,
            most,
            delay,
            self.redact(str(failure)),
            # For a status line (the CLI's): (retry number, of how many, seconds to wait).
            extra={"qwen_spaces_retry": (count, most, delay)},
        )
        return delay


def _reply(call: ChatCall, tracker: AnswerTracker) -> Reply:
    """The Reply of ``call``, whose answer ``tracker`` read whole; SpaceError if it has no text."""
    text = tracker.text
    if not tracker.located or not text:
        error = SpaceError("the Space finished without an answer", partial_text=text)
        error.partial_reasoning = tracker.reasoning
        raise error
    timings, spec = call.timings, call.spec
    log.debug(
        "answer complete: %d characters; joined %.3f s, started %.3f s, done %.3f s",
        len(text),
        timings.get("joined", 0.0),
        timings.get("started", 0.0),
        timings.get("completed", 0.0),
    )
    # What the Space says of the turn first (its thinking time, its session), then the values.
    thinking_seconds = spec.adapter.thinking_seconds(tracker)
    messages = [*call.session.messages, {"role": "assistant", "content": text}]
    session = call.session.session_after(call.done, len(messages))
    state = ConversationState(
        spec.model, messages=messages, session=session, thinking=call.state.thinking
    )
    return Reply(
        text=text,
        model=spec.model,
        reasoning=tracker.reasoning,
        conversation=state,
        timings=dict(timings),
        id=call.completion_id,
        thinking_seconds=thinking_seconds,
    )


# How Gradio answers ids that are not (or no longer) the function's: a moved
# api prefix is a 404, a body its schema rejects a 422 (400 without fn_index),
# an unknown fn_index a bare 500 (a KeyError on 4.x and 5.x, for /queue/join
# and /run/predict alike). A shifted trigger_id is not checked at all.
_STALE_STATUS = frozenset({400, 404, 405, 422, 500})
# ... and an fn_index that now names another function fails on the stream,
# before it runs, with an error naming its inputs.
_STALE_FAILURE = LazyPattern(
    r"input values|needed: \d+, got: \d+|validation error|input should be|fn_index",
    re.IGNORECASE,
)


def cached_ids_refused(
    error: Union[QwenSpacesError, TransportError], sent: Optional[Request]
) -> bool:
    """Whether ``error`` says cached ids are wrong, and a refetch is safe.

    Safe: nothing started (the join or predict was refused, or the function
    failed on its inputs before any text).
    """
    if sent is None:
        return False
    if sent.step is Step.UPLOAD:  # the files' route moves with the api prefix
        return isinstance(error, SpaceHTTPError) and error.status_code in (404, 405)
    if sent.step is Step.PREDICT or sent.step is Step.JOIN:
        return (
            isinstance(error, SpaceHTTPError)
            and not isinstance(error, QueueFullError)
            and error.status_code in _STALE_STATUS
        )
    if sent.step is Step.DATA and type(error) is SpaceError:
        return _STALE_FAILURE.search(error.message) is not None
    return False
