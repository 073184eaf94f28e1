"""One chat call as a sans-I/O state machine that runs its Space's plan.

Rule: every decision about a call lives here — what to send next and with
which headers and time limits, what an answer means, whether the deadline has
passed, whether a failure is retried and after what delay, how to stop. The
Space's adapter (``adapters/``) gives the plan, the stages one call needs;
the call runs any plan, one request at a time, and keeps where it stands in
one ``Attempt`` (a phase value and the current stage's state), made afresh
for each try. The pure modules help (``gradio`` for the queue protocol,
``dedup`` for the answer, ``policy`` for retries); a driver only moves bytes::

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
from collections.abc import Mapping
from dataclasses import replace
from typing import Union

from .adapters import UPLOADED
from .call_requests import CANCEL_TIMEOUT, CallRequests
from .errors import (
    ProtocolError,
    QwenSpacesError,
    SessionLostError,
    SpaceConnectionError,
    SpaceError,
    SpaceNotFoundError,
    SpaceTimeoutError,
)
from .events import ConversationState, Event, Reply
from .files import file_data
from .gradio import (
    check_body_size,
    check_response,
    parse_json,
    raise_for_queue_message,
    raise_if_not_running,
    read_config,
)
from .plan import CHAT, Phase, Request, Step
from .policy import cached_ids_refused
from .spaces import resolve_endpoints
from .transport import FailureKind, TransportError, describe_cause

__all__ = ["CANCEL_TIMEOUT", "ChatCall", "Request", "Step"]

log = logging.getLogger("qwen_spaces")

_COMPLETED = Phase.COMPLETED  # read at every chunk: a global is cheaper (see attempt.py)

# After the answer, Gradio sends close_stream and ends the body; reading to that
# end lets the connection go back to the pool. Bounded, so a Space that keeps
# the stream open costs at most this long (then the connection is closed).
DRAIN_SECONDS = 1.0
DRAIN_BYTES = 1 << 20
# Timers may fire a hair before the instant they were set for.
_SLACK = 0.01


class ChatCall(CallRequests):
    """The requests and the reading of one chat call, retries included.

    Build it through a client (``ClientCore.new_call``); a driver then follows
    the loop in this module's docstring. Nothing here does I/O or sleeps.
    """

    # --- what came back --------------------------------------------------

    def on_headers(self, request: Request, status: int) -> bool:
        """Whether to read this answer as an event stream (``feed``).

        False: read the body whole (up to ``body_limit`` bytes, one more to
        tell) and hand it to ``on_response``.
        """
        streaming = request.step is Step.DATA and status == 200
        if streaming:
            self._attempt.move(Phase.QUEUED)
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
            attempt.next_stage()
            self._on_config(status, body)
            return
        if step is Step.APP_ID:
            attempt.next_stage()
            self._on_app_id(status, body)
            return
        check_response(status, headers, body, request.url)
        if step is Step.UPLOAD:
            paths = parse_json(body, "the upload answer")
            if not (
                isinstance(paths, list)
                and len(paths) == len(self.files)
                and all(isinstance(path, str) for path in paths)
            ):
                raise ProtocolError("the upload answer is not a list of paths", payload=paths)
            self._done[UPLOADED] = [file_data(u, p) for u, p in zip(self.files, paths, strict=True)]
            attempt.next_stage()
        elif step is Step.PREDICT:
            answer = parse_json(body, f"the {attempt.stage.fn} answer")
            outputs = answer.get("data") if isinstance(answer, dict) else None
            self._done[attempt.stage.fn] = self.spec.adapter.read_side(attempt.stage.fn, outputs)
            attempt.next_stage()
        elif step is Step.JOIN:
            answer = parse_json(body, "the queue/join answer")
            raise_for_queue_message(answer)  # Gradio 3: {"msg": "queue_full"}
            event_id = answer.get("event_id") if isinstance(answer, dict) else None
            if not isinstance(event_id, str):
                raise ProtocolError("queue/join did not return an event_id", payload=answer)
            now = self._clock()
            self.timings.setdefault("joined", now - self._started_at)
            attempt.event_id, attempt.queue_at = event_id, now + self.timeouts.queue
            attempt.move(Phase.READY)  # its events come next
        else:
            raise ProtocolError(f"the event stream answered HTTP {status} without a stream")

    def _on_config(self, status: int, body: bytes) -> None:
        raise_if_not_running(body, status=status)  # Hugging Face's page: sleeping, paused...
        if status == 404:  # no app here: the known defaults would only 404 as well
            raise SpaceNotFoundError(self.base_url, f"{self.base_url}/config")
        try:
            if status != 200:
                raise ProtocolError(f"/config answered HTTP {status}")
            config = read_config(parse_json(body, "/config"))
        except ProtocolError as exc:
            log.warning("cannot use the Space's /config (%s); using known defaults", exc)
            self.endpoints = self.spec.fallback
            return
        try:
            self.endpoints = resolve_endpoints(self.spec, config)
        except LookupError:
            # A readable /config without our function: the wrong Space for this
            # model (guessing its layout would only end in a 404).
            names = sorted(
                str(d["api_name"]).lstrip("/")
                for d in config["dependencies"]
                if isinstance(d, dict) and d.get("api_name")
            )
            raise SpaceError(
                f"the Space at {self.base_url} has no {self.spec.api_names[0]!r} function: "
                f"is it a {self.spec.model} Space? Check model= and base_url= "
                f"(its functions: {', '.join(names) or 'none'})"
            ) from None
        log.debug("found %s in /config: %s", self.spec.api_names[0], self.endpoints)
        if self._on_endpoints is not None:
            self._on_endpoints(self.endpoints)
        self.learn_app_id(config.get("app_id"))

    def _on_app_id(self, status: int, body: bytes) -> None:
        # {"app_id": N}; a Space too old to say (404) just cannot be checked.
        try:
            answer = parse_json(body, "/app_id") if status == 200 else None
        except ProtocolError:
            answer = None
        self.learn_app_id(answer.get("app_id") if isinstance(answer, dict) else None)

    # --- the event stream ------------------------------------------------

    def feed(self, chunk: bytes) -> list[Event]:
        """Bytes of the event stream -> public events; ``finished`` at the end.

        Raises SpaceTimeoutError when the queue or total limit passed before
        this chunk came (its bytes are not read). A failure in the stream (the
        Space's SpaceError or QueueFullError, a ProtocolError for an answer it
        cannot follow) finishes the call after the events before it, which are
        returned; ``end_of_stream`` raises it.
        """
        out: list[Event] = []
        attempt = self._attempt
        if attempt.finished:
            return out
        # The limit that ends the call next (``_deadline``), without building it per chunk.
        now, queue_at = self._clock(), attempt.queue_at
        if now >= self._total_at or (queue_at is not None and now >= queue_at):
            raise self._deadline.error(self.partial_text)
        try:
            attempt.read(chunk, out, self._start)
        except QwenSpacesError as failure:
            attempt.failure = self._shown_failure(failure)
            attempt.move(Phase.FAILED)
        if attempt.phase is _COMPLETED and attempt.stage.fn == CHAT:
            self.timings["completed"] = self._clock() - self._started_at
        return out

    def _start(self) -> None:
        if self._attempt.stage.fn == CHAT and self._attempt.phase is Phase.QUEUED:
            self.timings["started"] = self._clock() - self._started_at
        self._attempt.start()

    def _shown_failure(self, failure: QwenSpacesError) -> QwenSpacesError:
        # A Space that shows its error in the chatbot and then fails without a
        # reason: its own words are the message.
        tracker = self._attempt.tracker
        if type(failure) is SpaceError and tracker is not None:
            shown = self.spec.adapter.failure_text(tracker)
            if shown:
                return SpaceError(f"the Space reported an error: {shown}")
        return failure

    def end_of_stream(self) -> None:
        """The event stream ended, or the driver stopped reading it after ``finished``.

        Raises the failure the stream brought, if any (the driver hands it to
        ``next_attempt``). After the answer's stream the call is done:
        ``next_request()`` returns None, ``reply()`` answers; after a side
        call's, the plan goes on.
        """
        attempt = self._attempt
        if attempt.phase is Phase.FAILED:
            attempt.move(Phase.DONE)
            failure, attempt.failure = attempt.failure, None
            assert failure is not None
            raise failure
        side = attempt.stage.fn != CHAT
        if attempt.phase is Phase.COMPLETED and side:
            self._done[attempt.stage.fn] = self.spec.adapter.read_side(
                attempt.stage.fn, attempt.side_result
            )
            attempt.next_stage()
            return
        if attempt.phase in (Phase.QUEUED, Phase.RUNNING):
            attempt.move(Phase.CLOSED)
        if attempt.phase is not Phase.DONE:
            attempt.move(Phase.DONE)
        if side:
            raise ProtocolError(
                f"the stream ended before the Space's {attempt.stage.fn!r} completed"
            )

    def drain_budget(self) -> tuple[float, int]:
        """How long and how many bytes to read on after the answer, to reuse the connection."""
        if self._attempt.phase is Phase.FAILED:
            return 0.0, 0  # a failed stream is not worth keeping the connection for
        left = self._total_at - self._clock()
        return max(0.0, min(DRAIN_SECONDS, left)), DRAIN_BYTES

    # --- failures and the end --------------------------------------------

    def next_attempt(self, error: Union[QwenSpacesError, TransportError]) -> float:
        """After ``error`` broke a request: the seconds to wait before trying again.

        Raises the error the user sees (a transport failure becomes a
        SpaceTimeoutError or SpaceConnectionError) when it is not retried: text
        has arrived, retries are used up, it is not retryable, or waiting would
        outlast the total limit. Otherwise starts a fresh attempt (the queue
        limit restarts; the total limit keeps running; finished stages, such
        as a predict or a thinking toggle, are not sent twice).

        Ids from the discovery cache that the Space refuses (see
        ``policy.cached_ids_refused``) send the call back to ``/config`` at once, one time,
        without using a retry: 0.
        """
        if self._cancelling:  # the lost session's job: stopping it was best effort
            self._cancelling = False
            return 0.0
        if isinstance(error, SessionLostError) and self._attempt.event_id is not None:
            # Seen in the answer's first value: its job runs on an empty
            # session. Stop it, then (or instead of raising) go on afresh.
            self._pending_cancel = self._cancel_of(self._attempt)
            self._session_lost(error)
            return 0.0
        if (
            self._cached_ids
            and not self.partial_text
            and cached_ids_refused(error, self._attempt.sent)
        ):
            log.info("the Space's ids changed since they were cached: reading /config again")
            self._cached_ids = False
            self.config_refetched = True
            self.endpoints = None
            self._attempt = self._new_attempt()
            return 0.0
        failure = self._error(error)
        retry = self._retry.increment(failure)
        if retry is None or retry[0] >= self._total_at - self._clock():
            raise failure from None
        delay, self._retry = retry
        log.warning(
            "retry %d of %d in %.1f s after: %s",
            self._retry.attempt,
            self._retry.policy.max_retries,
            delay,
            self._redact(str(failure)),
            # For a status line (the CLI's): (retry number, of how many, seconds to wait).
            extra={
                "qwen_spaces_retry": (self._retry.attempt, self._retry.policy.max_retries, delay)
            },
        )
        self._attempt = self._new_attempt()
        return delay

    def _error(self, error: Union[QwenSpacesError, TransportError]) -> QwenSpacesError:
        """The user's error for ``error``: the one place partial text is attached."""
        failure = self._transport_error(error) if isinstance(error, TransportError) else error
        if not failure.partial_text:
            failure.partial_text = self.partial_text
        tracker = self._attempt.tracker
        if tracker is not None and not failure.partial_reasoning:
            failure.partial_reasoning = tracker.reasoning
        return failure

    def _transport_error(self, error: TransportError) -> QwenSpacesError:
        kind, now, deadline = error.kind, self._clock(), self._deadline
        if kind is FailureKind.DEADLINE:  # a request's budget is the rest of the total
            return SpaceTimeoutError("total", self.timeouts.total)
        if kind is not FailureKind.CONNECTION and now + _SLACK >= deadline.at:
            return deadline.error(self.partial_text)
        sent = self._attempt.sent
        if kind is FailureKind.READ_TIMEOUT:
            return SpaceTimeoutError("read", sent.read if sent else self.timeouts.read)
        if kind is FailureKind.CONNECT_TIMEOUT:
            return SpaceTimeoutError("connect", sent.connect if sent else self.timeouts.connect)
        detail = self._redact(describe_cause(error.cause))[:300]
        where = (
            "the connection to the Space broke while streaming"
            if self._attempt.phase in (Phase.QUEUED, Phase.RUNNING)
            else f"cannot reach the Space at {self.base_url}"
        )
        return SpaceConnectionError(f"{where} ({detail})")

    def reply(self) -> Reply:
        """The finished answer.

        Raises ProtocolError for a stream that ended before the answer was
        complete, SpaceError for an answer without text.
        """
        tracker = self._attempt.tracker
        if tracker is None or not tracker.completed or self._attempt.stage.fn != CHAT:
            raise self._error(
                ProtocolError("the stream ended before the Space said the answer was complete")
            )
        text = tracker.text
        if not tracker.located or not text:
            error = SpaceError("the Space finished without an answer", partial_text=text)
            error.partial_reasoning = tracker.reasoning
            raise error
        log.debug(
            "answer complete: %d characters; joined %.3f s, started %.3f s, done %.3f s",
            len(text),
            self.timings.get("joined", 0.0),
            self.timings.get("started", 0.0),
            self.timings.get("completed", 0.0),
        )
        adapter = self.spec.adapter
        messages = [*self.messages, {"role": "assistant", "content": text}]
        session = adapter.session_after(self.input, self._done, len(messages))
        app_id = self.app_id if self.app_id is not None else self._known_app_id
        session = replace(
            session,
            app_id=app_id if app_id is not None else session.app_id,
            documents=session.documents or bool(self.files),
        )
        state = ConversationState(
            self.spec.model,
            messages=messages,
            session=session,
            thinking=self.state.thinking,
        )
        return Reply(
            text=text,
            model=self.spec.model,
            reasoning=tracker.reasoning,
            conversation=state,
            timings=dict(self.timings),
            id=self.completion_id,
            thinking_seconds=adapter.thinking_seconds(tracker),
        )
