"""One chat call as a sans-I/O state machine.

A driver asks :meth:`ChatCall.next_request` what to send, sends it, and hands
back what came: :meth:`on_response` for a plain answer, :meth:`feed` for the
bytes of the event stream. The call decides everything else: which Space
function, which body, how to read the stream, when it is done, what failed.

    call = ChatCall(...)
    while (request := call.next_request()) is not None:
        if request.stream:
            for chunk in http_stream(request):
                for event in call.feed(chunk):
                    handle(event)
                if call.finished:
                    break
            call.end_of_stream()
        else:
            call.on_response(request, *http(request))
    reply = call.reply()
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from . import payloads
from .dedup import AnswerTracker
from .errors import ProtocolError, QwenSpacesError, SpaceError, SpaceTimeoutError
from .events import ConversationState, Event, QueueStatus, Reply
from .gradio import JSON_ERRORS, check_response, failure_message, loads, parse_json, read_config
from .policy import Timeouts
from .spaces import Endpoints, SpaceSpec, resolve_endpoints
from .sse import DEFAULT_MAX_EVENT_BYTES, SSEDecoder

__all__ = ["ChatCall", "Request"]

log = logging.getLogger("qwen_spaces")


@dataclass(frozen=True)
class Request:
    """An HTTP request a driver should send. ``purpose`` names the step."""

    method: str
    url: str
    purpose: str
    json: Any = None
    params: Optional[dict[str, str]] = None
    stream: bool = False


class ChatCall:
    """The requests and the reading of one chat call (one attempt, retries restart it)."""

    def __init__(
        self,
        spec: SpaceSpec,
        base_url: str,
        messages: list[dict[str, str]],
        state: ConversationState,
        *,
        endpoints: Optional[Endpoints] = None,
        timeouts: Optional[Timeouts] = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.base_url = base_url
        self.messages = messages
        self.state = state
        self.endpoints = endpoints
        self.timeouts = timeouts = timeouts or Timeouts()
        self._max_event_bytes = max_event_bytes
        self._clock = clock
        self._started_at = clock()
        self._deadline_at = self._started_at + timeouts.total
        self._deadline_limit = "total"
        self._deadline_seconds = timeouts.total
        self._chatbot: Any = None  # the 1M demo's chatbot returned by add_text
        self._predicted = False
        self._step = "config" if endpoints is None else self._first_step()
        self.event_id: Optional[str] = None
        self.finished = False
        self.started = False
        self._failure: Optional[QwenSpacesError] = None
        self._completed = False
        self._decoder = SSEDecoder(max_event_bytes)
        self.tracker: Optional[AnswerTracker] = None
        self.timings: dict[str, float] = {}

    # --- what to send ----------------------------------------------------

    def _first_step(self) -> str:
        return "predict" if self.spec.kind == "1m" and not self._predicted else "join"

    def _url(self, path: str) -> str:
        assert self.endpoints is not None
        return f"{self.base_url}{self.endpoints.api_prefix}{path}"

    def next_request(self) -> Optional[Request]:
        step = self._step
        if step == "config":
            # /config is always at the root, whatever the api prefix.
            return Request("GET", f"{self.base_url}/config", "config")
        if step == "predict":
            assert self.endpoints is not None
            body = payloads.predict_body(self.endpoints, self._onem_text(), self.session_hash)
            return Request("POST", self._url("/run/predict"), "predict", json=body)
        if step == "join":
            return Request("POST", self._url("/queue/join"), "join", json=self._join_body())
        if step == "data":
            return Request(
                "GET",
                self._url("/queue/data"),
                "data",
                params={"session_hash": self.session_hash},
                stream=True,
            )
        return None

    @property
    def session_hash(self) -> str:
        return self.state.session_hash

    def _onem_text(self) -> str:
        # A session that already holds the earlier turns needs only the new one.
        known = self.state.synced
        if known and known == len(self.messages) - 1:
            return self.messages[-1]["content"]
        return payloads.flatten(self.messages)

    def _join_body(self) -> dict[str, Any]:
        endpoints = self.endpoints
        assert endpoints is not None
        if self.spec.kind == "1m":
            data = payloads.onem_data(self._chatbot, self._onem_text())
            first = len(data[0]) - 1
        else:
            prompt = payloads.split_messages(self.messages)
            data = payloads.max_data(prompt, endpoints, self.spec.default_system)
            first = len(prompt.history)
            if endpoints.chatbot_format != "tuples":
                first *= 2  # message chatbots hold two entries a turn
        self.tracker = AnswerTracker(endpoints.chatbot_format, endpoints.chatbot_output, first)
        return payloads.join_body(endpoints, data, self.session_hash)

    def restart(self) -> None:
        """Begin again after a retryable failure that came before any text.

        The total limit keeps running; a 1M ``add_text`` that succeeded is not
        sent twice, since it appends the user turn to the Space's session.
        """
        self._step = "config" if self.endpoints is None else self._first_step()
        self.event_id = None
        self.finished = self.started = self._completed = False
        self._failure = None
        self._decoder = SSEDecoder(self._max_event_bytes)
        self.tracker = None
        self._set_deadline("total", self.timeouts.total, self._started_at)

    def cancel_request(self) -> Optional[Request]:
        """The request that asks the Space to stop this call, if it is running."""
        if self.event_id is None or self.finished or self.endpoints is None:
            return None
        body = {
            "session_hash": self.session_hash,
            "fn_index": self.endpoints.fn_index,
            "event_id": self.event_id,
        }
        return Request("POST", self._url("/cancel"), "cancel", json=body)

    # --- what came back --------------------------------------------------

    def on_response(
        self, request: Request, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        step = request.purpose
        if step == "config":
            self._on_config(status, body)
            return
        check_response(status, headers, body, request.url)
        if step == "predict":
            answer = parse_json(body, "the add_text answer")
            data = answer.get("data") if isinstance(answer, dict) else None
            self._chatbot = data[1] if isinstance(data, list) and len(data) > 1 else None
            self._predicted = True
            self._step = "join"
        elif step == "join":
            answer = parse_json(body, "the queue/join answer")
            event_id = answer.get("event_id") if isinstance(answer, dict) else None
            if not isinstance(event_id, str):
                raise ProtocolError("queue/join did not return an event_id", payload=answer)
            self.event_id = event_id
            self._step = "data"
            now = self._clock()
            self.timings["joined"] = now - self._started_at
            self._set_deadline("queue", self.timeouts.queue, now)

    def _on_config(self, status: int, body: bytes) -> None:
        try:
            if status != 200:
                raise ProtocolError(f"/config answered HTTP {status}")
            config = read_config(parse_json(body, "/config"))
        except ProtocolError as exc:
            self.config_unavailable(str(exc))
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
        self._step = self._first_step()

    def config_unavailable(self, reason: str) -> None:
        """/config could not be read: use the Space's known layout."""
        log.warning("cannot use the Space's /config (%s); using known defaults", reason)
        self.endpoints = self.spec.fallback
        self._step = self._first_step()

    def _set_deadline(self, limit: str, seconds: float, now: float) -> None:
        total_at = self._started_at + self.timeouts.total
        at = now + seconds
        if at < total_at:
            self._deadline_at, self._deadline_limit, self._deadline_seconds = at, limit, seconds
        else:
            self._deadline_at = total_at
            self._deadline_limit, self._deadline_seconds = "total", self.timeouts.total

    def seconds_left(self, now: Optional[float] = None) -> float:
        """Seconds before the queue or total limit; raises once it has passed."""
        left = self._deadline_at - (self._clock() if now is None else now)
        if left <= 0:
            raise SpaceTimeoutError(
                self._deadline_limit, self._deadline_seconds, partial_text=self.partial_text
            )
        return left

    @property
    def deadline(self) -> tuple[str, float]:
        """The limit that ends this call next, and its value in seconds."""
        return self._deadline_limit, self._deadline_seconds

    # --- the event stream ------------------------------------------------

    def feed(self, chunk: bytes) -> list[Event]:
        """Bytes of the event stream -> public events. Sets ``finished`` at the end."""
        out: list[Event] = []
        if self.finished:
            return out
        tracker = self.tracker
        assert tracker is not None
        own = self.event_id
        for payload in self._decoder.feed(chunk):
            try:
                message = loads(payload)
                kind = message["msg"]
            except JSON_ERRORS:
                log.warning("skipped a line of the stream that is not JSON: %.80r", payload)
                continue
            except (TypeError, KeyError, IndexError):
                log.warning("skipped a message without 'msg': %.80r", payload)
                continue
            event_id = message.get("event_id")
            if event_id is not None and event_id != own:
                continue  # another event of this session
            if kind == "process_generating":
                output = message.get("output")
                if not message.get("success", True) or not isinstance(output, dict):
                    self._fail(SpaceError(failure_message(message), partial_text=tracker.text))
                    break
                data = output.get("data")
                if tracker.value is None:
                    self._start()
                    tracker.full(data, out)
                else:
                    tracker.diff(data, out)
            elif kind == "heartbeat":
                continue
            elif kind == "process_completed":
                self._on_completed(message, out)
                break
            elif kind == "estimation":
                out.append(
                    QueueStatus(
                        rank=_int(message.get("rank")),
                        queue_size=_int(message.get("queue_size")),
                        eta=_float(message.get("rank_eta")),
                    )
                )
            elif kind == "process_starts":
                self._start()
                out.append(QueueStatus(rank=0, eta=_float(message.get("eta")), started=True))
            elif kind == "close_stream":
                self.finished = True
                break
            elif kind == "unexpected_error":
                self._fail(SpaceError(failure_message(message), partial_text=tracker.text))
                break
            elif kind in ("progress", "log"):
                detail = message.get("log") or message.get("progress_data")
                log.debug("Space %s: %.200r", kind, detail)
            else:
                log.debug("ignored a message of unknown kind %r", kind)
        return out

    def _start(self) -> None:
        if not self.started:
            self.started = True
            now = self._clock()
            self.timings["started"] = now - self._started_at
            # Queue time is over; only the total limit remains.
            self._set_deadline("total", self.timeouts.total, self._started_at)

    def _on_completed(self, message: Mapping[str, Any], out: list[Event]) -> None:
        tracker = self.tracker
        assert tracker is not None
        self.finished = True
        output = message.get("output")
        if not message.get("success", True) or not isinstance(output, dict):
            self._fail(SpaceError(failure_message(message), partial_text=tracker.text))
            return
        if output.get("error"):
            self._fail(SpaceError(failure_message(message), partial_text=tracker.text))
            return
        tracker.full(output.get("data"), out, final=True)
        self._completed = True
        self.timings["completed"] = self._clock() - self._started_at
        log.debug(
            "answer complete: %d characters; joined %.3f s, started %.3f s, done %.3f s",
            len(tracker.text),
            self.timings.get("joined", 0.0),
            self.timings.get("started", 0.0),
            self.timings["completed"],
        )

    def _fail(self, error: QwenSpacesError) -> None:
        self.finished = True
        self._failure = error

    def end_of_stream(self) -> None:
        """The HTTP stream ended (or the driver stopped reading after ``finished``)."""
        self._step = "done"
        self.finished = True

    @property
    def partial_text(self) -> str:
        return self.tracker.text if self.tracker is not None else ""

    def reply(self) -> Reply:
        """The finished answer; raises the error the call ended with."""
        if self._failure is not None:
            raise self._failure
        tracker = self.tracker
        if not self._completed or tracker is None:
            raise ProtocolError(
                "the stream ended before the Space said the answer was complete",
                partial_text=self.partial_text,
            )
        text = tracker.text
        if not tracker.located or not text:
            raise SpaceError("the Space finished without an answer", partial_text=text)
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
        )


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> Optional[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None
