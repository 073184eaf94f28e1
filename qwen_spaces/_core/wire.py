"""A chat call's requests as data, their time limits, and the reading of whole answers.

``Wire`` builds each ``Request`` a driver sends (URLs under the Space's api
prefix, headers, limits that never outlast the call's total) and returns
data only; the readers here turn a plain answer (``/config``, ``/app_id``,
an upload, a queue join) into what the call needs, or the error it stands for.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable
from typing import Any, ClassVar, Optional
from urllib.parse import urlencode

from .._errors import ProtocolError, SpaceError, SpaceNotFoundError, SpaceTimeoutError
from .._events import new_completion_id
from .._files import Upload
from .._gradio.endpoints import Endpoints
from .._gradio.gradio import parse_json, raise_for_queue_message, raise_if_not_running, read_config
from .._gradio.payloads import UPLOAD_FIELD
from .._spaces.adapters import CHAT, Step
from .._spaces.spaces import SpaceSpec, resolve_endpoints
from .._value import Frozen
from .policy import Timeouts

__all__ = [
    "CANCEL_TIMEOUT",
    "UPLOAD_FIELD",
    "Deadline",
    "FailureKind",
    "Request",
    "TransportError",
    "Uploads",
    "Wire",
    "app_id_in",
    "check_body_size",
    "config_answer",
    "describe_cause",
    "endpoints_in",
    "joined_event_id",
    "predicted_outputs",
    "uploaded_paths",
]

log = logging.getLogger("qwen_spaces")

#: Seconds a cancel request may take: it is best effort, never waited on long.
CANCEL_TIMEOUT = 2.0

# After the answer, Gradio sends close_stream and ends the body; reading to that
# end lets the connection go back to the pool. Bounded, so a Space that keeps
# the stream open costs at most this long (then the connection is closed).
DRAIN_SECONDS = 1.0
DRAIN_BYTES = 1 << 20
_JSON_HEADERS = {"Content-Type": "application/json"}
_STREAM_HEADERS = {"Accept": "text/event-stream"}


class Request(Frozen):
    """An HTTP request for a driver to send, with its time limits in seconds.

    ``connect``: to open a connection; ``read``: the longest silence; ``total``:
    the whole exchange (headers, body, stream), after which the driver stops.
    ``files``: a multipart body of these files, each in the field
    ``UPLOAD_FIELD`` (UPLOAD only); ``progress`` is told the byte count of
    each read of them as they are sent.
    """

    __match_args__: ClassVar[tuple[str, ...]] = (
        "method",
        "url",
        "step",
        "connect",
        "read",
        "total",
        "json",
        "headers",
        "files",
        "progress",
    )
    __slots__ = __match_args__
    method: str
    url: str
    step: Step
    connect: float
    read: float
    total: float
    json: Any
    headers: Optional[dict[str, str]]
    files: tuple[Upload, ...]
    progress: Optional[Callable[[int], None]]

    def __init__(
        self,
        method: str,
        url: str,
        step: Step,
        connect: float,
        read: float,
        total: float,
        json: Any = None,
        headers: Optional[dict[str, str]] = None,
        files: tuple[Upload, ...] = (),
        progress: Optional[Callable[[int], None]] = None,
    ) -> None:
        fields = (method, url, step, connect, read, total, json, headers, files, progress)
        for name, value in zip(self.__match_args__, fields, strict=True):
            self._set(name, value)

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # json and headers are mutable

    def __repr__(self) -> str:
        # Not the body nor the headers: a transport of the user's gets them merged
        # with the client's, which may carry a token.
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__match_args__[:6])
        return f"Request({shown})"

    @property
    def body(self) -> Optional[bytes]:
        """``json`` as sent (its Content-Type is in ``headers``), or None.

        UTF-8 with non-ASCII text as is: a prompt in Cyrillic or Chinese takes
        a third of the bytes its ``\\u`` escapes would.
        """
        if self.json is None:
            return None
        return json.dumps(self.json, ensure_ascii=False).encode()


class FailureKind(enum.Enum):
    """Why moving bytes failed."""

    CONNECT_TIMEOUT = "connect timeout"  # no connection within the connect limit
    READ_TIMEOUT = "read timeout"  # silence longer than the read limit
    DEADLINE = "deadline"  # the request's total budget ran out
    CONNECTION = "connection"  # refused, reset, broken, malformed HTTP


class TransportError(Exception):
    """A transport failure of ``kind``; ``cause`` is the library's own exception."""

    def __init__(self, kind: FailureKind, cause: BaseException) -> None:
        super().__init__(kind.value)
        self.kind = kind
        self.cause = cause


def describe_cause(exc: BaseException) -> str:
    """``Type: what happened`` for the innermost deliberate cause of ``exc``."""
    cause = _root_cause(exc)
    return f"{type(cause).__name__}: {_describe(cause)}"


def _root_cause(exc: BaseException) -> BaseException:
    # requests and urllib3 wrap the OS error in two or three layers of
    # "Max retries exceeded ..."; the innermost says what happened. Only
    # deliberate causes are followed: __context__ would lead into a library's
    # own parse errors (e.g. int() of an empty chunk length).
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None) or exc.__cause__
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    # urllib3's "<HTTPConnection object at 0x...>: Failed to ..." prefix says nothing.
    return text.split(">: ", 1)[-1] if text.startswith("<") else text


class Deadline:
    """The limit that ends the call next: ``queue`` while waiting, else ``total``."""

    __slots__ = ("at", "limit", "seconds")

    at: float
    limit: str
    seconds: float

    def __init__(self, at: float, limit: str, seconds: float) -> None:
        self.at, self.limit, self.seconds = at, limit, seconds

    def error(self, partial_text: str) -> SpaceTimeoutError:
        return SpaceTimeoutError(self.limit, self.seconds, partial_text=partial_text)


class Uploads:
    """A call's files, and how many of their bytes were read for sending (told to ``on_upload``)."""

    __slots__ = ("files", "on_upload", "sent", "size")

    files: tuple[Upload, ...]
    on_upload: Optional[Callable[[int, int], None]]
    size: int
    sent: int

    def __init__(
        self, files: tuple[Upload, ...], on_upload: Optional[Callable[[int, int], None]]
    ) -> None:
        self.files, self.on_upload = files, on_upload
        self.size = sum(upload.size for upload in files)
        self.sent = 0

    def progress(self, count: int) -> None:
        self.sent += count
        if self.on_upload is not None:
            self.on_upload(self.sent, self.size)


class Wire:
    """The call's requests as data: URLs under the Space's prefix, and their time limits."""

    __slots__ = ("base_url", "clock", "endpoints", "timeouts", "total_at")

    base_url: str
    endpoints: Optional[Endpoints]
    timeouts: Timeouts
    clock: Callable[[], float]
    total_at: float

    def __init__(
        self,
        base_url: str,
        endpoints: Optional[Endpoints],
        timeouts: Timeouts,
        clock: Callable[[], float],
        total_at: float,
    ) -> None:
        self.base_url, self.endpoints, self.timeouts = base_url, endpoints, timeouts
        self.clock, self.total_at = clock, total_at

    @property
    def ids(self) -> Endpoints:
        endpoints = self.endpoints
        assert endpoints is not None, "the endpoints are known after the CONFIG step"
        return endpoints

    def deadline(self, queue_at: Optional[float]) -> Deadline:
        """The limit that ends the call next: the queue's (while queued) or the total."""
        if queue_at is not None and queue_at < self.total_at:
            return Deadline(queue_at, "queue", self.timeouts.queue)
        return Deadline(self.total_at, "total", self.timeouts.total)

    def drain_budget(self, failed: bool) -> tuple[float, int]:
        """How long and how many bytes to read on after an answer (none after a failure)."""
        if failed:
            return 0.0, 0  # a failed stream is not worth keeping the connection for
        left = self.total_at - self.clock()
        return max(0.0, min(DRAIN_SECONDS, left)), DRAIN_BYTES

    def url(self, path: str, **query: str) -> str:
        url = f"{self.base_url}{self.ids.api_prefix}{path}"
        return f"{url}?{urlencode(query)}" if query else url

    def request(
        self, method: str, url: str, step: Step, read: Optional[float] = None, **fields: Any
    ) -> Request:
        """A request whose limits never outlast the call's total."""
        left = max(self.total_at - self.clock(), 0.001)
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

    def request_for(
        self,
        step: Step,
        event_id: Optional[str],
        session_hash: str,
        body: Optional[dict[str, Any]],
        uploads: Uploads,
    ) -> Request:
        """The request of a plan's ``step``: its function's call, or its events once joined."""
        if step is Step.CONFIG:
            # /config is always at the root, whatever the api prefix.
            return self.request("GET", f"{self.base_url}/config", step)
        if step is Step.APP_ID:
            return self.request("GET", self.url("/app_id"), step)
        if step is Step.UPLOAD:
            url = self.url("/upload", upload_id=new_completion_id()[-12:])
            read = self.timeouts.upload_seconds(uploads.size)
            files, progress = uploads.files, uploads.progress
            return self.request("POST", url, step, read=read, files=files, progress=progress)
        if event_id is not None:  # joined: now its events
            url = self.url("/queue/data", session_hash=session_hash)
            return self.request("GET", url, Step.DATA, headers=_STREAM_HEADERS)
        path = "/run/predict" if step is Step.PREDICT else "/queue/join"
        return self.request("POST", self.url(path), step, json=body)

    def cancel(self, fn: str, event_id: str, session_hash: str) -> Request:
        """The request that stops the queued job ``event_id`` of function ``fn``."""
        ids = self.ids
        body = {
            "session_hash": session_hash,
            "fn_index": ids.fn_index if fn == CHAT else ids.ids(fn)[0],
            "event_id": event_id,
        }
        limit = CANCEL_TIMEOUT
        url = self.url("/cancel")
        return Request("POST", url, Step.CANCEL, limit, limit, limit, body, _JSON_HEADERS)

    def function_ids(self, fn: str) -> tuple[int, Optional[int]]:
        """(fn_index, trigger_id) of the function ``fn`` names."""
        ids = self.ids
        if fn == CHAT:
            return ids.fn_index, ids.trigger_id
        try:
            return ids.ids(fn)
        except LookupError:
            raise SpaceError(
                f"cannot run the Space's {fn!r} function: its /config could not be "
                "read, and the known defaults do not include it"
            ) from None


def app_id_in(status: int, body: bytes) -> Any:
    """The app_id in an ``/app_id`` answer; None from a Space too old to say (404)."""
    try:
        answer = parse_json(body, "/app_id") if status == 200 else None
    except ProtocolError:
        answer = None
    return answer.get("app_id") if isinstance(answer, dict) else None


def check_body_size(body: bytes, limit: int) -> bytes:
    """A plain answer read with one byte to spare: more than ``limit`` is an error."""
    if len(body) > limit:
        raise ProtocolError(f"an answer of more than {limit} bytes", payload=body[:200])
    return body


def config_answer(
    spec: SpaceSpec, base_url: str, status: int, body: bytes
) -> Optional[tuple[Endpoints, Any]]:
    """The model's function ids and the app_id in a ``/config`` answer.

    None for an unreadable config (the call goes on with the known defaults).
    Raises SpaceNotRunningError for Hugging Face's page of a sleeping or paused
    Space, SpaceNotFoundError where no app answers, SpaceError for the wrong Space.
    """
    raise_if_not_running(body, status=status)  # Hugging Face's page: sleeping, paused...
    if status == 404:  # no app here: the known defaults would only 404 as well
        raise SpaceNotFoundError(base_url, f"{base_url}/config")
    try:
        if status != 200:
            raise ProtocolError(f"/config answered HTTP {status}")
        config = read_config(parse_json(body, "/config"))
    except ProtocolError as exc:
        log.warning("cannot use the Space's /config (%s); using known defaults", exc)
        return None
    endpoints = endpoints_in(spec, base_url, config)
    log.debug("found %s in /config: %s", spec.api_names[0], endpoints)
    return endpoints, config.get("app_id")


def uploaded_paths(body: bytes, count: int) -> list[str]:
    """The Space's paths of ``count`` uploaded files, from ``/upload``'s answer."""
    paths = parse_json(body, "the upload answer")
    if not (
        isinstance(paths, list)
        and len(paths) == count
        and all(isinstance(path, str) for path in paths)
    ):
        raise ProtocolError("the upload answer is not a list of paths", payload=paths)
    return paths


def predicted_outputs(body: bytes, fn: str) -> Any:
    """The outputs in ``/run/predict``'s answer for the function ``fn`` (None if absent)."""
    answer = parse_json(body, f"the {fn} answer")
    return answer.get("data") if isinstance(answer, dict) else None


def joined_event_id(body: bytes) -> str:
    """The event id in ``/queue/join``'s answer; raises QueueFullError for a full queue."""
    answer = parse_json(body, "the queue/join answer")
    raise_for_queue_message(answer)  # Gradio 3: {"msg": "queue_full"}
    event_id = answer.get("event_id") if isinstance(answer, dict) else None
    if not isinstance(event_id, str):
        raise ProtocolError("queue/join did not return an event_id", payload=answer)
    return event_id


def endpoints_in(spec: SpaceSpec, base_url: str, config: dict[str, Any]) -> Endpoints:
    """The model's function ids in a readable ``/config``.

    Raises SpaceError for a config without the model's function: the wrong
    Space for this model (guessing its layout would only end in a 404).
    """
    try:
        return resolve_endpoints(spec, config)
    except LookupError:
        names = sorted(
            str(d["api_name"]).lstrip("/")
            for d in config["dependencies"]
            if isinstance(d, dict) and d.get("api_name")
        )
        raise SpaceError(
            f"the Space at {base_url} has no {spec.api_names[0]!r} function: "
            f"is it a {spec.model} Space? Check model= and base_url= "
            f"(its functions: {', '.join(names) or 'none'})"
        ) from None
