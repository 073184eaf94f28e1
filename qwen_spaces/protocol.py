"""One chat call as a sans-I/O state machine.

Rule: every decision about a call lives here — what to send next and with
which headers and time limits, what an answer means, whether the deadline has
passed, whether a failure is retried and after what delay, how to stop. The
pure modules help (``adapters`` per Space, ``gradio`` for the queue protocol,
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

import enum
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union
from urllib.parse import urlencode

from . import payloads
from .dedup import AnswerTracker
from .endpoints import Endpoints
from .errors import (
    ProtocolError,
    QueueFullError,
    QwenSpacesError,
    SpaceConnectionError,
    SpaceError,
    SpaceHTTPError,
    SpaceTimeoutError,
)
from .events import ConversationState, Event, Reply, new_completion_id
from .files import Upload, file_data
from .gradio import (
    Msg,
    check_body_size,
    check_response,
    parse_json,
    raise_for_queue_message,
    raise_if_not_running,
    read_config,
    read_message,
)
from .policy import RetryPolicy, RetryState, Timeouts
from .spaces import SpaceSpec, resolve_endpoints
from .sse import DEFAULT_MAX_EVENT_BYTES, SSEDecoder
from .transport import FailureKind, TransportError, describe_cause

__all__ = ["CANCEL_TIMEOUT", "ChatCall", "Request", "Step"]

log = logging.getLogger("qwen_spaces")

CANCEL_TIMEOUT = 2.0
# After the answer, Gradio sends close_stream and ends the body; reading to that
# end lets the connection go back to the pool. Bounded, so a Space that keeps
# the stream open costs at most this long (then the connection is closed).
DRAIN_SECONDS = 1.0
DRAIN_BYTES = 1 << 20
# Timers may fire a hair before the instant they were set for.
_SLACK = 0.01
# How Gradio answers ids that are not (or no longer) the function's: a moved
# api prefix is a 404, a body its schema rejects a 422 (400 without fn_index),
# an unknown fn_index a bare 500 (a KeyError on 4.x and 5.x, for /queue/join
# and /run/predict alike). A shifted trigger_id is not checked at all.
_STALE_STATUS = frozenset({400, 404, 405, 422, 500})
# ... and an fn_index that now names another function fails on the stream,
# before it runs, with an error naming its inputs.
_STALE_FAILURE = re.compile(
    r"input values|needed: \d+, got: \d+|validation error|input should be|fn_index",
    re.IGNORECASE,
)


class Step(enum.Enum):
    """Where a call stands: the request it sends next."""

    CONFIG = "config"  # GET /config: find the functions
    UPLOAD = "upload"  # POST /upload: the call's files, multipart
    PREDICT = "predict"  # POST /run/predict: a layout's un-queued first function
    JOIN = "join"  # POST /queue/join
    DATA = "data"  # GET /queue/data: the event stream
    CANCEL = "cancel"  # POST /cancel: only from cancel_request()
    DONE = "done"


_STREAM_HEADERS = {"Accept": "text/event-stream"}
_JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Request:
    """An HTTP request for a driver to send, with its time limits in seconds.

    ``connect``: to open a connection; ``read``: the longest silence; ``total``:
    the whole exchange (headers, body, stream), after which the driver stops.
    """

    method: str
    url: str
    step: Step
    connect: float
    read: float
    total: float
    json: Any = None
    headers: Optional[dict[str, str]] = None
    #: A multipart body of these files, in the field ``files`` (UPLOAD only).
    files: tuple[Upload, ...] = ()
    #: Told the byte count of each read of the files, as they are sent.
    progress: Optional[Callable[[int], None]] = None

    @property
    def stream(self) -> bool:
        """Whether the answer is an event stream (read it as it arrives)."""
        return self.step is Step.DATA

    @property
    def body(self) -> Optional[bytes]:
        """``json`` as sent (its Content-Type is in ``headers``), or None.

        UTF-8 with non-ASCII text as is: a prompt in Cyrillic or Chinese takes
        a third of the bytes its ``\\u`` escapes would.
        """
        if self.json is None:
            return None
        return json.dumps(self.json, ensure_ascii=False).encode()


class _Deadline:
    """The limit that ends the call next: queue while waiting, else total."""

    __slots__ = ("at", "limit", "seconds")

    def __init__(self, at: float, limit: str, seconds: float) -> None:
        self.at, self.limit, self.seconds = at, limit, seconds

    def error(self, partial_text: str) -> SpaceTimeoutError:
        return SpaceTimeoutError(self.limit, self.seconds, partial_text=partial_text)


class ChatCall:
    """The requests and the reading of one chat call, retries included.

    Build it through a client (``ClientCore.new_call``); a driver then follows
    the loop in this module's docstring. Nothing here does I/O or sleeps.
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
    ) -> None:
        self.spec = spec
        self.base_url = base_url
        self.messages = messages
        self.state = state
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
        self._deadline = _Deadline(self._total_at, "total", timeouts.total)
        self.files = files
        self._upload_size = sum(upload.size for upload in files)
        self._file_data: Optional[list[dict[str, Any]]] = None  # once uploaded
        self._on_upload = on_upload
        self._uploaded = 0  # bytes of the files read for sending, this attempt
        self._predicted: Any = None  # what the layout's predict call gave the join
        self._predict_done = False
        self._step = Step.CONFIG
        self._sent: Optional[Request] = None
        self._streaming = False
        self._completed = False
        self._failure: Optional[QwenSpacesError] = None  # from the stream, for end_of_stream
        self._decoder = SSEDecoder(max_event_bytes)
        self.event_id: Optional[str] = None
        self.finished = False  # no more events will come: stop reading the stream
        self.started = False  # the Space started generating
        self.touched_session = False  # something was sent that may change the Space's session
        self.tracker: Optional[AnswerTracker] = None
        self.timings: dict[str, float] = {}
        self.completion_id = new_completion_id()  # the Reply's id, known while it streams
        self._begin()

    @property
    def session_hash(self) -> str:
        return self.state.session_hash

    @property
    def partial_text(self) -> str:
        """The answer text received so far."""
        return self.tracker.text if self.tracker is not None else ""

    # --- what to send ----------------------------------------------------

    def _begin(self) -> None:
        if self.endpoints is None:
            self._step = Step.CONFIG
        elif self.files and self._file_data is None:
            self._step = Step.UPLOAD
        elif self.spec.adapter.predicts and not self._predict_done:
            self._step = Step.PREDICT
        else:
            self._step = Step.JOIN

    def next_request(self) -> Optional[Request]:
        """The request to send now, or None when the call has nothing more to send.

        Leaves the call waiting for that request's answer (``on_headers``).
        """
        step = self._step
        if step is Step.DONE:
            return None
        if step is Step.CONFIG:
            # /config is always at the root, whatever the api prefix.
            request = self._request("GET", f"{self.base_url}/config", step)
        elif step is Step.UPLOAD:
            self._uploaded = 0
            request = self._request(
                "POST",
                self._url("/upload", upload_id=new_completion_id()[-12:]),
                step,
                read=self.timeouts.upload_seconds(self._upload_size),
                files=self.files,
                progress=self._upload_progress,
            )
        elif step is Step.PREDICT:
            body = self.spec.adapter.predict_body(
                self._ids, self.messages, self.state, self._file_data or []
            )
            request = self._request("POST", self._url("/run/predict"), step, json=body)
        elif step is Step.JOIN:
            request = self._request("POST", self._url("/queue/join"), step, json=self._join_body())
        else:
            url = self._url("/queue/data", session_hash=self.session_hash)
            request = self._request("GET", url, step, headers=_STREAM_HEADERS)
        if step is Step.PREDICT or step is Step.JOIN:
            self.touched_session = True
        self._sent = request
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
        self._uploaded += count
        if self._on_upload is not None:
            self._on_upload(self._uploaded, self._upload_size)

    def _join_body(self) -> dict[str, Any]:
        endpoints = self._ids
        adapter = self.spec.adapter
        data, first = adapter.join_data(
            self.spec, endpoints, self.messages, self.state, self._predicted
        )
        self.tracker = AnswerTracker(
            endpoints.chatbot_format, endpoints.chatbot_output, first, adapter.cleaner
        )
        return payloads.join_body(endpoints, data, self.session_hash)

    def cancel_request(self) -> Optional[Request]:
        """The request that stops this call on the Space, once, if it is running.

        None when there is nothing to stop (finished, or not yet in the queue).
        Leaves the call finished: it asks only once.
        """
        if self.event_id is None or self.finished or self.endpoints is None:
            return None
        self.finished = True
        body = {
            "session_hash": self.session_hash,
            "fn_index": self.endpoints.fn_index,
            "event_id": self.event_id,
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

    # --- what came back --------------------------------------------------

    def on_headers(self, request: Request, status: int) -> bool:
        """Whether to read this answer as an event stream (``feed``).

        False: read the body whole (up to ``body_limit`` bytes, one more to
        tell) and hand it to ``on_response``.
        """
        self._streaming = request.step is Step.DATA and status == 200
        return self._streaming

    def on_response(
        self, request: Request, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        """A whole answer to ``request``; moves the call to its next step.

        Raises the error the answer stands for (HTTP errors, unreadable JSON,
        a Space without the model's function, a body over ``body_limit``).
        """
        check_body_size(body, self.body_limit)
        step = request.step
        if step is Step.CONFIG:
            self._on_config(status, body)
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
            self._file_data = [file_data(u, p) for u, p in zip(self.files, paths, strict=True)]
            self._begin()
        elif step is Step.PREDICT:
            answer = parse_json(body, "the add_text answer")
            self._predicted = self.spec.adapter.read_predict(answer)
            self._predict_done = True
            self._step = Step.JOIN
        elif step is Step.JOIN:
            answer = parse_json(body, "the queue/join answer")
            raise_for_queue_message(answer)  # Gradio 3: {"msg": "queue_full"}
            event_id = answer.get("event_id") if isinstance(answer, dict) else None
            if not isinstance(event_id, str):
                raise ProtocolError("queue/join did not return an event_id", payload=answer)
            self.event_id = event_id
            self._step = Step.DATA
            now = self._clock()
            self.timings["joined"] = now - self._started_at
            queue_at = now + self.timeouts.queue
            if queue_at < self._total_at:
                self._deadline = _Deadline(queue_at, "queue", self.timeouts.queue)
        else:
            raise ProtocolError(f"the event stream answered HTTP {status} without a stream")

    def _on_config(self, status: int, body: bytes) -> None:
        raise_if_not_running(body, status=status)  # Hugging Face's page: sleeping, paused...
        try:
            if status != 200:
                raise ProtocolError(f"/config answered HTTP {status}")
            config = read_config(parse_json(body, "/config"))
        except ProtocolError as exc:
            log.warning("cannot use the Space's /config (%s); using known defaults", exc)
            self.endpoints = self.spec.fallback
            self._begin()
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
        self._begin()

    # --- the event stream ------------------------------------------------

    def feed(self, chunk: bytes) -> list[Event]:
        """Bytes of the event stream -> public events; sets ``finished`` at the end.

        Raises SpaceTimeoutError when the queue or total limit passed before
        this chunk came (its bytes are not read). A failure in the stream (the
        Space's SpaceError or QueueFullError, a ProtocolError for an answer it
        cannot follow) finishes the call after the events before it, which are
        returned; ``end_of_stream`` raises it.
        """
        out: list[Event] = []
        if self.finished:
            return out
        if self._clock() >= self._deadline.at:
            raise self._deadline.error(self.partial_text)
        try:
            self._read(chunk, out)
        except QwenSpacesError as failure:
            self.finished = True
            self._failure = failure
        return out

    def _read(self, chunk: bytes, out: list[Event]) -> None:
        tracker = self.tracker
        assert tracker is not None, "the join comes before the stream"
        own = self.event_id
        for payload in self._decoder.feed(chunk):
            kind, value = read_message(payload, own)
            if kind is Msg.OUTPUT:
                if tracker.value is None:
                    self._start()
                    tracker.full(value, out)
                else:
                    tracker.diff(value, out)
            elif kind is Msg.OTHER:
                continue
            elif kind is Msg.STATUS:
                if value.started:
                    self._start()
                out.append(value)
            elif kind is Msg.COMPLETED:
                self.finished = True
                tracker.full(value, out, final=True)
                self._completed = True
                self.timings["completed"] = self._clock() - self._started_at
                break
            elif kind is Msg.FAILED:
                raise value
            else:  # Msg.CLOSED
                self.finished = True
                break

    def _start(self) -> None:
        if not self.started:
            self.started = True
            self.timings["started"] = self._clock() - self._started_at
            # Queue time is over; only the total limit remains.
            self._deadline = _Deadline(self._total_at, "total", self.timeouts.total)

    def end_of_stream(self) -> None:
        """The event stream ended, or the driver stopped reading it after ``finished``.

        Raises the failure the stream brought, if any (the driver hands it to
        ``next_attempt``). Leaves the call done: ``next_request()`` returns
        None, ``reply()`` answers.
        """
        self._step = Step.DONE
        self.finished = True
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def drain_budget(self) -> tuple[float, int]:
        """How long and how many bytes to read on after the answer, to reuse the connection."""
        if self._failure is not None:
            return 0.0, 0  # a failed stream is not worth keeping the connection for
        left = self._total_at - self._clock()
        return max(0.0, min(DRAIN_SECONDS, left)), DRAIN_BYTES

    # --- failures and the end --------------------------------------------

    def next_attempt(self, error: Union[QwenSpacesError, TransportError]) -> float:
        """After ``error`` broke a request: the seconds to wait before trying again.

        Raises the error the user sees (a transport failure becomes a
        SpaceTimeoutError or SpaceConnectionError) when it is not retried: text
        has arrived, retries are used up, it is not retryable, or waiting would
        outlast the total limit. Otherwise leaves the call ready to start again
        (the queue limit restarts; the total limit keeps running; a predict
        that succeeded is not sent twice).

        Ids from the discovery cache that the Space refuses (see
        ``_STALE_STATUS``) send the call back to ``/config`` at once, one time,
        without using a retry: 0.
        """
        if self._stale_ids(error):
            log.info("the Space's ids changed since they were cached: reading /config again")
            self._cached_ids = False
            self.config_refetched = True
            self.endpoints = self._predicted = None
            self._predict_done = False
            self._reset_attempt()
            return 0.0
        failure = self._error(error)
        retry = self._retry.increment(failure)
        if retry is None or retry[0] >= self._total_at - self._clock():
            raise failure from None
        delay, self._retry = retry
        log.warning(
            "retry %d of %d in %.1f s after: %s",
            self._retry.attempt, self._retry.policy.max_retries, delay, self._redact(str(failure)),
        )
        self._reset_attempt()
        return delay

    def _reset_attempt(self) -> None:
        self._decoder = SSEDecoder(self.body_limit)
        self.event_id = self.tracker = self._failure = None
        self.finished = self.started = self._completed = self._streaming = False
        self._deadline = _Deadline(self._total_at, "total", self.timeouts.total)
        self._begin()

    def _stale_ids(self, error: Union[QwenSpacesError, TransportError]) -> bool:
        """Whether ``error`` says the cached ids are wrong, and a refetch is still safe.

        Safe: nothing started (the join or predict was refused, or the
        function failed on its inputs before any text), and only once a call.
        """
        if not self._cached_ids or self.partial_text or self._sent is None:
            return False
        step = self._sent.step
        if step is Step.UPLOAD:  # the files' route moves with the api prefix
            return isinstance(error, SpaceHTTPError) and error.status_code in (404, 405)
        if step is Step.PREDICT or step is Step.JOIN:
            return (
                isinstance(error, SpaceHTTPError)
                and not isinstance(error, QueueFullError)
                and error.status_code in _STALE_STATUS
            )
        if step is Step.DATA and type(error) is SpaceError:
            return _STALE_FAILURE.search(error.message) is not None
        return False

    def _error(self, error: Union[QwenSpacesError, TransportError]) -> QwenSpacesError:
        """The user's error for ``error``: the one place partial text is attached."""
        failure = self._transport_error(error) if isinstance(error, TransportError) else error
        if not failure.partial_text:
            failure.partial_text = self.partial_text
        return failure

    def _transport_error(self, error: TransportError) -> QwenSpacesError:
        kind, now = error.kind, self._clock()
        if kind is FailureKind.DEADLINE:  # a request's budget is the rest of the total
            return SpaceTimeoutError("total", self.timeouts.total)
        if kind is not FailureKind.CONNECTION and now + _SLACK >= self._deadline.at:
            return self._deadline.error(self.partial_text)
        sent = self._sent
        if kind is FailureKind.READ_TIMEOUT:
            return SpaceTimeoutError("read", sent.read if sent else self.timeouts.read)
        if kind is FailureKind.CONNECT_TIMEOUT:
            return SpaceTimeoutError("connect", sent.connect if sent else self.timeouts.connect)
        detail = self._redact(describe_cause(error.cause))[:300]
        where = (
            "the connection to the Space broke while streaming"
            if self._streaming
            else f"cannot reach the Space at {self.base_url}"
        )
        return SpaceConnectionError(f"{where} ({detail})")

    def reply(self) -> Reply:
        """The finished answer.

        Raises ProtocolError for a stream that ended before the answer was
        complete, SpaceError for an answer without text.
        """
        tracker = self.tracker
        if not self._completed or tracker is None:
            raise self._error(
                ProtocolError("the stream ended before the Space said the answer was complete")
            )
        text = tracker.text
        if not tracker.located or not text:
            raise SpaceError("the Space finished without an answer", partial_text=text)
        log.debug(
            "answer complete: %d characters; joined %.3f s, started %.3f s, done %.3f s",
            len(text),
            self.timings.get("joined", 0.0),
            self.timings.get("started", 0.0),
            self.timings.get("completed", 0.0),
        )
        state = ConversationState(
            model=self.spec.model,
            session_hash=self.session_hash,
            messages=[*self.messages, {"role": "assistant", "content": text}],
            synced=len(self.messages) + 1,
        )
        return Reply(
            text=text,
            model=self.spec.model,
            reasoning=tracker.reasoning,
            conversation=state,
            timings=dict(self.timings),
            id=self.completion_id,
        )
