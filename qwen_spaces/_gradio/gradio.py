"""Gradio's queue protocol, pure: diffs, HTTP answers and queue messages.

No I/O here. The drivers hand in status codes, headers and bodies; these
functions say what they mean or raise the matching error.
"""

from __future__ import annotations

import enum
import json
import json.scanner
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Optional

from .._errors import (
    ProtocolError,
    QueueFullError,
    SpaceError,
    SpaceHTTPError,
    SpaceNotRunningError,
)
from .._events import QueueStatus
from .._patterns import LazyPattern

__all__ = [
    "Msg",
    "apply_diff",
    "apply_edit",
    "check_response",
    "failure_message",
    "not_running_state",
    "parse_json",
    "parse_retry_after",
    "queue_message_error",
    "raise_for_queue_message",
    "raise_if_not_running",
    "read_config",
    "read_message",
]

log = logging.getLogger("qwen_spaces")

# The scanner that json.loads ends in (``scan_once(text, 0) -> (value, end)``);
# typeshed types make_scanner's argument as a scanner, not the decoder it takes.
_scan_once: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]
)


def _json_loads(text: str | bytes) -> Any:
    # json.loads minus its Python layers (bytes sniffing, two whitespace
    # regexes, raw_decode's frame): about a third of the cost of each
    # streamed message. The same errors as raw_decode's.
    if type(text) is not str:
        return json.loads(text)
    try:
        value, end = _scan_once(text, 0)
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None
    if end != len(text) and text[end:].strip():
        raise json.JSONDecodeError("Extra data", text, end)
    return value


loads: Callable[[str | bytes], Any]
JSON_ERRORS: tuple[type[Exception], ...]
try:  # orjson is an optional extra ("fast"); the default install is pure Python.
    import orjson as _orjson

    loads = _orjson.loads
    JSON_ERRORS = (ValueError, _orjson.JSONDecodeError)
except ImportError:  # pragma: no cover - depends on the environment
    loads = _json_loads
    JSON_ERRORS = (ValueError,)

_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
EXCERPT = 300


def _unescape(text: str) -> str:
    import html  # only for Hugging Face's status pages: kept off the import path

    return html.unescape(text)


def parse_json(body: bytes | str, what: str) -> Any:
    """Decode a JSON body, or raise ProtocolError naming what it was.

    A Hugging Face status page instead (the Space is sleeping, building...)
    is a SpaceNotRunningError: it comes with status 200 too.
    """
    try:
        return loads(body)
    except JSON_ERRORS:
        raise_if_not_running(body)
        raise ProtocolError(f"{what} is not JSON", payload=_excerpt(body)) from None


_TAG = LazyPattern(r"<(script|style)\b.*?</\1>|<[^>]*>", re.S | re.I)


def _excerpt(body: bytes | str, limit: int = EXCERPT) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text[: limit * 20]
    if text.lstrip()[:1] == "<":  # an HTML error page: its words, not its markup
        text = _TAG.sub(" ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a ``Retry-After`` header (delta-seconds form only)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date: rare on Spaces, and backoff covers it
    return max(0.0, seconds)


def check_response(status: int, headers: Mapping[str, str], body: bytes, url: str) -> None:
    """Raise the error an HTTP answer stands for; return if it is a success.

    A 503 whose JSON detail says the queue is full becomes QueueFullError.
    """
    if 200 <= status < 300:
        return
    retry_after = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
    detail = _detail(body)
    if status == 503 and detail and "queue is full" in detail.lower():
        raise QueueFullError(
            f"the Space's queue is full ({detail})", retry_after=retry_after, url=url
        )
    if detail is None:
        raise_if_not_running(body, status=status, url=url, retry_after=retry_after)
    raise SpaceHTTPError(status, detail or _excerpt(body), url=url, retry_after=retry_after)


def is_retryable_status(status: int) -> bool:
    return status in _RETRYABLE_STATUS


def _detail(body: bytes) -> Optional[str]:
    """The ``detail``/``error`` text of a JSON error body, if it is one."""
    try:
        data = loads(body)
    except JSON_ERRORS:
        return None
    if isinstance(data, dict):
        for key in ("detail", "error", "message"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return _excerpt(value)
            if value is not None and key == "detail":
                return _excerpt(json.dumps(value))
    return None


# --- a Space that is not running -------------------------------------------
#
# Hugging Face answers for a Space that is not running with an HTML page of its
# own (status 200, 404 or 503): its embedded Space data carries the runtime
# stage, and its text says "This Space is sleeping due to inactivity", "This
# Space has been paused by its owner", "Runtime error" and the like. Matched on
# text, not markup, which changes.

_HTML_START = LazyPattern(
    r"\s*(?:\ufeff\s*)?<(?:!doctype|html|head|body|title|div|p|h\d|center|meta)\b", re.I
)
_STAGE = LazyPattern(r'"stage"\s*:\s*"([a-z_]+)"')
_STAGES = {
    "sleeping": "sleeping",
    "paused": "paused",
    "stopped": "paused",
    "building": "building",
    "app_starting": "building",
    "runtime_error": "runtime_error",
    "build_error": "runtime_error",
    "config_error": "runtime_error",
    "no_app_file": "runtime_error",
}
# "running", "running_building"...: the app runs (a new version may build beside it).
_RUNNING = LazyPattern(r"running(?:_[a-z_]+)?")
_PHRASES: tuple[tuple[str, LazyPattern], ...] = (
    ("paused", LazyPattern(r"\b(?:has been|is|was) paused\b|\bpaused by (?:its|the) owner")),
    (
        "sleeping",
        LazyPattern(
            r"\b(?:is|gone to|went to|fell) (?:currently )?(?:sleeping|asleep|sleep)\b"
            r"|\bsleeping due to inactivity\b|\bsleeping space\b"
        ),
    ),
    (
        "runtime_error",
        LazyPattern(r"\b(?:runtime|build|configuration) error\b|\bspace is in error\b"),
    ),
    (
        "building",
        LazyPattern(
            r"\b(?:is|space) (?:currently )?(?:building|being built|starting up)\b"
            r"|\b(?:building|preparing|starting) (?:the |this |your )?space\b"
        ),
    ),
)
_HEADING = LazyPattern(r"<(title|h1|h2)\b[^>]*>(.*?)</\1>", re.S | re.I)
_SCAN = 256 * 1024  # status pages are small, and HF's Space data is near the top


def not_running_state(body: bytes | str) -> Optional[str]:
    """The state of a Space that Hugging Face's HTML status page reports, or None.

    One of ``"sleeping"``, ``"building"``, ``"paused"``, ``"runtime_error"``;
    None for any other body (JSON, an app's own page, a proxy's 502 page...).
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text[:_SCAN]
    if not _HTML_START.match(text):
        return None
    # The runtime stage in the page's embedded Space data, when it has it.
    for stage in _STAGE.findall(_unescape(text).lower()):
        if stage in _STAGES:
            return _STAGES[stage]
        if _RUNNING.fullmatch(stage):
            return None
    # Else the words: the title and headings first, as they name the state best.
    headings = " ".join(m.group(2) for m in _HEADING.finditer(text))
    for part in (headings, text):
        words = " ".join(_unescape(_TAG.sub(" ", part)).lower().split())
        for state, phrase in _PHRASES:
            if phrase.search(words):
                return state
    return None


def raise_if_not_running(
    body: bytes | str,
    *,
    status: Optional[int] = None,
    url: str = "",
    retry_after: Optional[float] = None,
) -> None:
    """Raise SpaceNotRunningError if ``body`` is Hugging Face's page for a Space
    that is not running (see :func:`not_running_state`); else return."""
    state = not_running_state(body)
    if state is not None:
        raise SpaceNotRunningError(state, status_code=status, url=url, retry_after=retry_after)


def queue_message_error(message: Any) -> Optional[QueueFullError]:
    """The error a queue message means beyond those the stream reader knows, or None.

    Gradio 3 says ``{"msg": "queue_full"}`` (as the join answer or on the
    stream) where later versions answer 503 "Queue is full".
    """
    if isinstance(message, Mapping) and message.get("msg") == "queue_full":
        return QueueFullError("the Space's queue is full (it said queue_full)")
    return None


def raise_for_queue_message(message: Any) -> None:
    """Raise :func:`queue_message_error`'s error for ``message``, if it has one."""
    error = queue_message_error(message)
    if error is not None:
        raise error


def failure_message(message: Mapping[str, Any]) -> str:
    """What a failed ``process_completed`` or ``unexpected_error`` says."""
    text = message.get("message")
    output = message.get("output")
    if not text and isinstance(output, Mapping):
        text = output.get("error")
        title = output.get("title")
        if text and isinstance(title, str) and title and title != "Error":
            text = f"{title}: {text}"
    if not text:
        return "the Space reported a failure and did not give a reason"
    return f"the Space reported an error: {_excerpt(str(text), 1000)}"


# --- messages of the event stream -------------------------------------------


class Msg(enum.Enum):
    """What one message of the event stream means to a call."""

    OUTPUT = "output"  # answer data: ``value`` is the outputs (full values or diffs)
    COMPLETED = "completed"  # the final full outputs: ``value`` is the outputs
    STATUS = "status"  # queue position or start: ``value`` is a QueueStatus
    FAILED = "failed"  # ``value`` is the error the call ends with
    CLOSED = "closed"  # the Space closes the stream
    OTHER = "other"  # heartbeats, logs, progress, another event's messages, noise


_OTHER = (Msg.OTHER, None)
_CLOSED = (Msg.CLOSED, None)
# Read for every message, so module globals: on Python 3.11 ``Msg.OUTPUT`` goes
# through EnumType.__getattr__'s hook, about ten times the cost of a global.
_OUTPUT, _COMPLETED = Msg.OUTPUT, Msg.COMPLETED


def read_message(payload: str, event_id: Optional[str]) -> tuple[Msg, Any]:
    """One SSE payload of ``/queue/data`` -> what it means for event ``event_id``.

    Never raises: a line that is not a message is logged and counts as OTHER,
    and a failure reported by the Space comes back as ``(FAILED, error)``.
    """
    try:
        message = loads(payload)
        name = message["msg"]
    except JSON_ERRORS:
        log.warning("skipped a line of the stream that is not JSON: %.80r", payload)
        return _OTHER
    except (TypeError, KeyError, IndexError):
        log.warning("skipped a message without 'msg': %.80r", payload)
        return _OTHER
    own = message.get("event_id")
    if own is not None and own != event_id:
        return _OTHER  # another event of this session
    if name == "process_generating" or name == "process_completed":
        output = message.get("output")
        if not message.get("success", True) or not isinstance(output, dict) or output.get("error"):
            return Msg.FAILED, SpaceError(failure_message(message))
        if "data" not in output:
            return Msg.FAILED, ProtocolError("an answer message has no data", payload=message)
        return (_OUTPUT if name == "process_generating" else _COMPLETED), output["data"]
    if name == "heartbeat":
        return _OTHER
    if name == "estimation":
        status = QueueStatus(
            rank=_int(message.get("rank")),
            queue_size=_int(message.get("queue_size")),
            eta=_float(message.get("rank_eta")),
        )
        return Msg.STATUS, status
    if name == "process_starts":
        return Msg.STATUS, QueueStatus(rank=0, eta=_float(message.get("eta")), started=True)
    if name == "close_stream":
        return _CLOSED
    if name == "unexpected_error":
        return Msg.FAILED, SpaceError(failure_message(message))
    if (full := queue_message_error(message)) is not None:  # Gradio 3
        return Msg.FAILED, full
    if name in ("progress", "log"):
        detail = message.get("log") or message.get("progress_data")
        log.debug("Space %s: %.200r", name, detail)
    else:
        log.debug("ignored a message of unknown kind %r", name)
    return _OTHER


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> Optional[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


# --- streaming diffs -------------------------------------------------------

_DIFF_ACTIONS = frozenset({"replace", "append", "add", "delete"})


def is_diff(value: Any) -> bool:
    """Whether ``value`` is a non-empty list of diff ops ``[action, path, value]``.

    No chatbot value has this shape (its items are 2-item pairs or dicts), so
    it tells a diff from the full value Gradio sometimes sends it in place of:
    Gradio 4 keys a session's streams by ``id()`` of the generator, and CPython
    reuses the address of one that an earlier run freed. A new run then starts
    with a diff (``[["replace", [], value]]`` on a stream), and a generator's
    ``/run/predict`` can answer with a diff against an earlier call.
    """
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(op, list)
            and len(op) == 3
            and op[0] in _DIFF_ACTIONS
            and isinstance(op[1], list)
            for op in value
        )
    )


def apply_diff(value: Any, diff: list[Any]) -> Any:
    """Apply a list of Gradio diff ops ``[action, path, value]`` to ``value``.

    Mutates containers in place and returns the new value (a ``replace`` or
    ``append`` at the root returns a new object). Consecutive list deletes
    under one parent are applied highest index first: Gradio before 5.29.1
    sent them with unshifted indices.
    """
    try:
        i = 0
        n = len(diff)
        while i < n:
            action, path, new = diff[i]
            if action == "delete" and path and isinstance(path[-1], int):
                j = i + 1
                while j < n and _same_parent_delete(diff[j], path):
                    j += 1
                if j - i > 1:
                    for op in sorted(diff[i:j], key=lambda op: op[1][-1], reverse=True):
                        value = apply_edit(value, op[1], "delete", None)
                    i = j
                    continue
            value = apply_edit(value, path, action, new)
            i += 1
    except ProtocolError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ProtocolError(f"cannot apply a diff: {exc!r}", payload=diff[:20]) from None
    return value


def _same_parent_delete(op: Any, path: list[Any]) -> bool:
    return (
        op[0] == "delete"
        and len(op[1]) == len(path)
        and op[1][:-1] == path[:-1]
        and isinstance(op[1][-1], int)
    )


def apply_edit(target: Any, path: list[Any], action: str, value: Any) -> Any:
    if not path:
        if action == "replace":
            return value
        if action == "append":
            return target + value
        raise ProtocolError(f"diff action {action!r} at the root", payload=[action, path])
    parent = target
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if action == "replace":
        parent[key] = value
    elif action == "append":
        parent[key] += value
    elif action == "add":
        if isinstance(parent, list):
            parent.insert(key, value)
        else:
            parent[key] = value
    elif action == "delete":
        del parent[key]
    else:
        raise ProtocolError(f"unknown diff action {action!r}", payload=[action, path])
    return target


# --- /config ----------------------------------------------------------------


def read_config(data: Any) -> dict[str, Any]:
    """Check and sanitize a ``/config`` answer: the shape the endpoint lookup relies on.

    Returns a new dict whose ``components`` are dicts with an int ``id`` and
    whose ``dependencies`` are dicts with an int ``id`` (Gradio's fn_index;
    the position when absent), ``inputs``/``outputs`` lists of int component
    ids and ``targets`` lists of ``[component id or None, ...]``; ``version``
    and ``api_prefix`` are kept only if they are plausible strings. Entries
    that are not dicts at all are dropped (they can't be a function we call);
    a dict whose ids have the wrong type is a ProtocolError, so the caller
    falls back to the Space's known ids instead of trusting half a config.
    """
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        raise ProtocolError("/config has no list of dependencies", payload=_excerpt(str(data)))
    if not isinstance(data.get("components"), list):
        raise ProtocolError("/config has no list of components", payload=_excerpt(str(data)))
    out = dict(data)
    version = data.get("version")
    if not (isinstance(version, str) and _VERSION.fullmatch(version)):
        out.pop("version", None)  # e.g. "²": only its use in messages and format guesses is lost
    prefix = data.get("api_prefix")
    if prefix is not None and not (isinstance(prefix, str) and _PREFIX.fullmatch(prefix)):
        # It is joined to the Space's URL: anything but a plain path could send requests elsewhere.
        raise _malformed("api_prefix", "it is not a URL path", prefix)
    components: list[dict[str, Any]] = []
    for i, component in enumerate(data["components"]):
        if not isinstance(component, dict):
            continue
        if not _is_id(component.get("id")):
            raise _malformed(f"components[{i}]", "its id is not an int", component)
        components.append(component)
    out["components"] = components
    out["dependencies"] = [
        _read_dependency(position, dep)
        for position, dep in enumerate(data["dependencies"])
        if isinstance(dep, dict)
    ]
    return out


_VERSION = LazyPattern(r"[0-9A-Za-z.+_-]{1,40}")
_PREFIX = LazyPattern(r"(/[A-Za-z0-9._~-]+)*/?")


def _is_id(value: Any) -> bool:
    # JSON true is a Python int: not an id.
    return type(value) is int and value >= 0


def _malformed(where: str, why: str, value: Any) -> ProtocolError:
    return ProtocolError(f"/config {where} is malformed: {why}", payload=_excerpt(repr(value)))


def _read_dependency(position: int, dep: dict[str, Any]) -> dict[str, Any]:
    where = f"dependencies[{position}]"
    out = dict(dep)
    dep_id = dep.get("id")
    if dep_id is None:
        out["id"] = position  # Gradio 3 gives none: the fn_index is the position
    elif not _is_id(dep_id):
        raise _malformed(where, "its id is not an int", dep_id)
    for key in ("inputs", "outputs"):
        ids = dep.get(key)
        if ids is None:
            out[key] = []
        elif not isinstance(ids, list) or not all(_is_id(i) for i in ids):
            raise _malformed(where, f"{key} is not a list of component ids", ids)
    targets = dep.get("targets")
    # [[component id or None (a ".then" chain), event name], ...]; others mean nothing to us.
    out["targets"] = [
        t
        for t in (targets if isinstance(targets, list) else [])
        if isinstance(t, list) and t and (t[0] is None or _is_id(t[0]))
    ]
    if "trigger_after" in dep and not _is_id(dep["trigger_after"]):
        out["trigger_after"] = None
    return out
