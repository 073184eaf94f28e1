"""The sending half of a chat call: its state, and the request it sends next.

``protocol.ChatCall`` adds the reading of the answers; together they are one
sans-I/O state machine (see ``protocol``'s docstring for the driver's loop).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Optional
from urllib.parse import urlencode

from . import payloads
from .adapters import CallInput
from .attempt import Attempt
from .endpoints import Endpoints
from .errors import SpaceError, SpaceTimeoutError
from .events import ConversationState, SpaceSession, new_completion_id
from .files import Upload
from .plan import CHAT, Phase, Plan, Request, Stage, Step
from .policy import RetryPolicy, RetryState, Timeouts
from .spaces import SpaceSpec
from .sse import DEFAULT_MAX_EVENT_BYTES

__all__ = ["CANCEL_TIMEOUT", "CallRequests"]

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
    ) -> None:
        self.spec = spec
        self.base_url = base_url
        self.messages = messages
        self.state = state
        session = state.session
        if (
            spec.adapter.keeps_history
            and session.holds
            and not session.knows_all_but_last(messages)
        ):
            # The Space's session holds other turns than these: a fresh one,
            # with the whole history in its first message.
            session = SpaceSession.fresh()
        self.input = CallInput(
            messages,
            session,
            spec.model_id,
            thinking if thinking is not None else state.thinking,
            thinking_budget,
            len(files),
        )
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
        self.timings: dict[str, float] = {}
        self.completion_id = new_completion_id()  # the Reply's id, known while it streams
        self._attempt = self._new_attempt()

    def _new_attempt(self) -> Attempt:
        discover: Plan = (Stage(Step.CONFIG),) if self.endpoints is None else ()
        plan = (*discover, *self.spec.adapter.plan(self.input, self._done))
        return Attempt(plan, self.body_limit)

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
        attempt = self._attempt
        if attempt.phase is not Phase.READY:
            return None
        stage = attempt.stage
        step = stage.step
        if step is Step.CONFIG:
            # /config is always at the root, whatever the api prefix.
            request = self._request("GET", f"{self.base_url}/config", step)
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
        attempt = self._attempt
        if attempt.event_id is None or attempt.finished or self.endpoints is None:
            return None
        fn = attempt.stage.fn
        fn_index = self.endpoints.fn_index if fn == CHAT else self.endpoints.ids(fn)[0]
        attempt.move(Phase.CANCELLED)
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
