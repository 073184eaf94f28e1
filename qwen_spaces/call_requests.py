"""The sending half of a chat call: its state, and the request it sends next.

``protocol.ChatCall`` adds the reading of the answers; together they are one
sans-I/O state machine (see ``protocol``'s docstring for the driver's loop).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Optional
from urllib.parse import urlencode

from . import payloads
from .adapters import CallInput
from .attempt import Attempt
from .endpoints import Endpoints
from .errors import SessionLostError, SpaceError, SpaceTimeoutError
from .events import ConversationState, SpaceSession, new_completion_id
from .files import Upload
from .plan import CHAT, Phase, Plan, Request, Stage, Step
from .policy import RetryPolicy, RetryState, Timeouts
from .spaces import SpaceSpec
from .sse import DEFAULT_MAX_EVENT_BYTES

__all__ = ["CANCEL_TIMEOUT", "CallRequests"]

log = logging.getLogger("qwen_spaces")

CANCEL_TIMEOUT = 2.0
_STREAM_HEADERS = {"Accept": "text/event-stream"}
_JSON_HEADERS = {"Content-Type": "application/json"}


class _Deadline:
    """The limit that ends the call next: queue while waiting, else total."""

    __slots__ = ("at", "limit", "seconds")

    def __init__(self, at: float, limit: str, seconds: float) -> None:
        self.at, self.limit, self.seconds = at, limit, seconds

    def error(self, partial_text: str) -> SpaceTimeoutError:
        return SpaceTimeoutError(self.limit, self.seconds, partial_text=partial_text)


class CallRequests:
    """The state of one chat call and the requests it sends; see ``protocol.ChatCall``.

    Nothing here does I/O or sleeps.
    ``thinking``/``thinking_budget`` (in the Space's units) are for a Space
    with a thinking mode, checked by the client before the call is made.
    """

    def __init__(
        self,
        spec: SpaceSpec,
        base_url: str,
        messages: list[dict[str, str]],
        state: ConversationState,
        *,
        endpoints: Optional[Endpoints] = None,
        timeouts: Optional[Timeouts] = None,
        retry: Optional[RetryPolicy] = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        redact: Callable[[str], str] = str,
        on_endpoints: Optional[Callable[[Endpoints], None]] = None,
        files: tuple[Upload, ...] = (),
        on_upload: Optional[Callable[[int, int], None]] = None,
        endpoints_cached: bool = False,
        clock: Callable[[], float] = time.monotonic,
        thinking: Optional[bool] = None,
        thinking_budget: Optional[int] = None,
        known_app_id: Optional[int] = None,
        on_app_id: Optional[Callable[[int], None]] = None,
        continues: bool = False,
    ) -> None:
        self.spec = spec
        self.base_url = base_url
        self.messages = messages
        self.state = state
        self.input = CallInput(
            messages,
            state.session,
            spec.model_id,
            thinking if thinking is not None else state.thinking,
            thinking_budget,
            len(files),
        )
        session = state.session
        if (
            spec.adapter.keeps_history
            and session.holds
            and not session.knows_all_but_last(messages)
        ):
            # The Space's session holds other turns than these: a fresh one,
            # with the whole history in its first message.
            self.input = self._in_fresh_session()
        self.endpoints = endpoints
        self.timeouts = timeouts = timeouts or Timeouts()
        self.body_limit = max_event_bytes  # the largest plain answer read whole
        self._retry = RetryState(retry or RetryPolicy())
        self._redact = redact
        self._on_endpoints = on_endpoints
        # Ids from the discovery cache may be stale: the first answer that
        # says so sends the call back to /config, once.
        self._cached_ids = endpoints is not None and endpoints_cached
        self.config_refetched = False
        self._clock = clock
        self._started_at = clock()
        self._total_at = self._started_at + timeouts.total
        self.files = files
        self._upload_size = sum(upload.size for upload in files)
        self._on_upload = on_upload
        # What the plan's finished stages gave (uploaded files, side calls):
        # kept across attempts, so a retry does not repeat them.
        self._done: dict[str, Any] = {}
        self.touched_session = False  # something was sent that may change the Space's session
        # The Space's app_id, learnt from /config or /app_id during this call;
        # the client's last one, which a call that asks nothing stamps on its session.
        self.app_id: Optional[int] = None
        self._known_app_id = known_app_id
        self._app_id_seen = on_app_id
        # A turn of a conversation (the session will take follow-ups).
        self._continues = continues
        self._pending_cancel: Optional[Request] = None  # a job to stop before going on
        self._cancelling = False
        self.timings: dict[str, float] = {}
        self.completion_id = new_completion_id()  # the Reply's id, known while it streams
        self._attempt = self._new_attempt()

    def _new_attempt(self) -> Attempt:
        adapter = self.spec.adapter
        if self.endpoints is None:
            first: Plan = (Stage(Step.CONFIG),)  # its answer holds the app_id too
        elif self._asks_app_id():
            first = (Stage(Step.APP_ID),)
        else:
            first = ()
        attempt = Attempt((*first, *adapter.plan(self.input, self._done)), self.body_limit)
        if adapter.shows_session and self.input.session.continued:
            attempt.check_first = self._check_held_turns
        return attempt

    def _asks_app_id(self) -> bool:
        """Whether this try begins with ``GET /app_id``.

        Where the Space's outputs never show what its session holds, a restart
        is seen only in its app_id: asked before a follow-up, so a session that
        is gone is never sent the new message alone; and before the first turn
        of a conversation (or one with documents) when the client knows none,
        so that its follow-ups have one to compare with.
        """
        adapter = self.spec.adapter
        if not adapter.keeps_history or adapter.shows_session or self.app_id is not None:
            return False
        if self.input.session.continued:
            return True
        return (self._continues and self._known_app_id is None) or bool(self.files)

    def _in_fresh_session(self) -> CallInput:
        """The call's input moved to a new Space session, with the thinking switch kept.

        The whole conversation goes in its first message (see the adapters'
        ``join_data``); a switch the old session had is set again in the new one.
        """
        old = self.input
        thinking = old.thinking if old.thinking is not None else old.session.thinking
        return replace(old, session=SpaceSession.fresh(), thinking=thinking)

    # --- a session the Space no longer holds ------------------------------

    def learn_app_id(self, app_id: Any) -> None:
        """The Space's app_id now; a different one than the session's means a restart.

        Raises SessionLostError when the session is gone and its turns
        cannot be sent again; otherwise a lost session moves the call to a
        fresh one.
        """
        if isinstance(app_id, bool) or not isinstance(app_id, int):
            log.debug("the Space gave no usable app_id: a restart cannot be seen")
            return
        self.app_id = app_id
        if self._app_id_seen is not None:
            self._app_id_seen(app_id)
        session = self.input.session
        # A bare hash carries no app_id: the client's last one stands in (the
        # Space restarted since this client last saw it: the session is older).
        held_by = session.app_id
        if held_by is None and session.unseen:
            held_by = self._known_app_id
        if session.continued and held_by is not None and held_by != app_id:
            self._session_lost(SessionLostError("restart", "the Space restarted"))

    def _check_held_turns(self, outputs: Any) -> None:
        # The chat's first outputs, before any of their text is read.
        index = self._ids.chatbot_output
        value = outputs[index] if isinstance(outputs, list) and len(outputs) > index else None
        held = self.spec.adapter.held_turns(value)
        if held == 0:
            raise SessionLostError("empty session", "the Space's session was empty")

    def _session_lost(self, lost: SessionLostError) -> None:
        """Go on in a fresh session with the whole history; raise when it cannot be rebuilt."""
        session = self.input.session
        if session.unseen:
            raise lost
        if session.documents:
            raise SessionLostError(lost.cause, lost.detail, "documents")
        log.info(
            "%s: the Space no longer holds this conversation's session (%s): sending its "
            "%d earlier messages again in a new session",
            self.spec.model,
            lost.cause,
            len(self.messages) - 1,
        )
        self.input = self._in_fresh_session()
        self._done = {}  # what the old session was given (a switch, a user turn) is gone
        self._attempt = self._new_attempt()

    @property
    def phase(self) -> Phase:
        """Where the current attempt stands."""
        return self._attempt.phase

    @property
    def finished(self) -> bool:
        """No more events will come: the driver stops reading the stream."""
        return self._attempt.finished

    @property
    def event_id(self) -> Optional[str]:
        return self._attempt.event_id

    @property
    def session_hash(self) -> str:
        return self.input.session.hash

    @property
    def partial_text(self) -> str:
        """The answer text received so far."""
        tracker = self._attempt.tracker
        return tracker.text if tracker is not None else ""

    @property
    def _deadline(self) -> _Deadline:
        queue_at = self._attempt.queue_at
        if queue_at is not None and queue_at < self._total_at:
            return _Deadline(queue_at, "queue", self.timeouts.queue)
        return _Deadline(self._total_at, "total", self.timeouts.total)

    # --- what to send ----------------------------------------------------

    def next_request(self) -> Optional[Request]:
        """The request to send now, or None when the call has nothing more to send.

        Leaves the call waiting for that request's answer (``on_headers``).
        """
        if self._pending_cancel is not None:
            # The job left running on a lost session: stopped before going on.
            request, self._pending_cancel = self._pending_cancel, None
            self._cancelling = True
            return request
        attempt = self._attempt
        if attempt.phase is not Phase.READY:
            return None
        stage = attempt.stage
        step = stage.step
        if step is Step.CONFIG:
            # /config is always at the root, whatever the api prefix.
            request = self._request("GET", f"{self.base_url}/config", step)
        elif step is Step.APP_ID:
            request = self._request("GET", self._url("/app_id"), step)
        elif step is Step.UPLOAD:
            attempt.uploaded = 0
            request = self._request(
                "POST",
                self._url("/upload", upload_id=new_completion_id()[-12:]),
                step,
                read=self.timeouts.upload_seconds(self._upload_size),
                files=self.files,
                progress=self._upload_progress,
            )
        elif attempt.event_id is not None:  # joined: now its events
            url = self._url("/queue/data", session_hash=self.session_hash)
            request = self._request("GET", url, Step.DATA, headers=_STREAM_HEADERS)
        else:
            path = "/run/predict" if step is Step.PREDICT else "/queue/join"
            request = self._request("POST", self._url(path), step, json=self._body(stage))
            self.touched_session = True
        attempt.sent = request
        attempt.move(Phase.WAITING)
        return request

    @property
    def _ids(self) -> Endpoints:
        endpoints = self.endpoints
        assert endpoints is not None, "the endpoints are known after the CONFIG step"
        return endpoints

    def _url(self, path: str, **query: str) -> str:
        url = f"{self.base_url}{self._ids.api_prefix}{path}"
        return f"{url}?{urlencode(query)}" if query else url

    def _request(
        self, method: str, url: str, step: Step, read: Optional[float] = None, **fields: Any
    ) -> Request:
        left = max(self._total_at - self._clock(), 0.001)
        timeouts = self.timeouts
        if fields.get("json") is not None:
            fields["headers"] = _JSON_HEADERS
        return Request(
            method,
            url,
            step,
            connect=min(timeouts.connect, left),
            read=min(timeouts.read if read is None else read, left),
            total=left,
            **fields,
        )

    def _upload_progress(self, count: int) -> None:
        self._attempt.uploaded += count
        if self._on_upload is not None:
            self._on_upload(self._attempt.uploaded, self._upload_size)

    def _body(self, stage: Stage) -> dict[str, Any]:
        """The JSON body that calls ``stage``'s function."""
        endpoints, adapter = self._ids, self.spec.adapter
        if stage.fn == CHAT:
            data, first = adapter.join_data(endpoints, self.input, self._done)
            self._attempt.tracker = adapter.tracker(endpoints, first)
            ids: tuple[int, Optional[int]] = (endpoints.fn_index, endpoints.trigger_id)
        else:
            data = adapter.side_data(stage.fn, endpoints, self.input, self._done)
            try:
                ids = endpoints.ids(stage.fn)
            except LookupError:
                raise SpaceError(
                    f"cannot run the Space's {stage.fn!r} function: its /config could not be "
                    "read, and the known defaults do not include it"
                ) from None
        return payloads.function_body(ids, data, self.session_hash)

    def cancel_request(self) -> Optional[Request]:
        """The request that stops this call on the Space, once, if it is running.

        None when there is nothing to stop (finished, or not yet in the queue).
        Leaves the call finished: it asks only once.
        """
        if self._pending_cancel is not None:
            pending, self._pending_cancel = self._pending_cancel, None
            return pending
        attempt = self._attempt
        if attempt.event_id is None or attempt.finished or self.endpoints is None:
            return None
        attempt.move(Phase.CANCELLED)
        return self._cancel_of(attempt)

    def _cancel_of(self, attempt: Attempt) -> Request:
        """The request that stops ``attempt``'s queued job on the Space."""
        assert self.endpoints is not None and attempt.event_id is not None
        fn = attempt.stage.fn
        fn_index = self.endpoints.fn_index if fn == CHAT else self.endpoints.ids(fn)[0]
        body = {
            "session_hash": self.session_hash,
            "fn_index": fn_index,
            "event_id": attempt.event_id,
        }
        return Request(
            "POST",
            self._url("/cancel"),
            Step.CANCEL,
            connect=CANCEL_TIMEOUT,
            read=CANCEL_TIMEOUT,
            total=CANCEL_TIMEOUT,
            json=body,
            headers=_JSON_HEADERS,
        )
