"""Pure: a ``POST /v1/chat/completions`` body -> a checked :class:`ChatRequest`, or an APIError.

Message validation is the SDK's own (``payloads.normalize_messages``); only
what is specific to OpenAI's API is checked here: tools and tool calls,
``n``, streaming options, and ``file`` content parts, which become uploads.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..payloads import normalize_messages
from ..spaces import resolve_model
from .errors import APIError, bad_request, unsupported

__all__ = ["IGNORED_PARAMETERS", "ChatRequest", "parse_chat_request", "parse_json"]

#: Common request fields the Spaces have no knob for: accepted and ignored (as is any
#: field not named anywhere here).
IGNORED_PARAMETERS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
    "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
    "response_format", "user", "metadata", "store", "service_tier", "reasoning_effort",
    "parallel_tool_calls",
)

#: What gets a 400 because the Spaces cannot carry it.
UNSUPPORTED = ("tools", "functions", "tool_choice", "function_call", "n > 1",
               "tool and function messages", "assistant tool_calls", "image and audio parts",
               "file parts by file_id")


@dataclass(frozen=True)
class ChatRequest:
    """A checked chat request: the canonical model and the normalized messages."""

    model: str
    messages: list[dict[str, str]]
    stream: bool = False
    include_usage: bool = False
    #: The documents of the last user message (``file`` parts): (filename, bytes).
    files: tuple[tuple[str, bytes], ...] = ()


def parse_json(body: bytes) -> Any:
    """The JSON of a request body; a 400 if it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"the request body is not valid JSON ({exc})", code="invalid_json") \
            from None


def _absent(value: Any) -> bool:
    return value is None or value == [] or value == {}


def parse_chat_request(data: Any, served: Mapping[str, Any]) -> ChatRequest:
    """Check a chat-completion request against the models in ``served``."""
    if not isinstance(data, Mapping):
        raise bad_request("the request body must be a JSON object")
    model = data.get("model")
    if model is None:
        raise bad_request("missing required field 'model'", param="model")
    if not isinstance(model, str):
        raise bad_request("'model' must be a string", param="model")
    try:
        canonical = resolve_model(model).model
    except ValueError:
        canonical = ""
    if canonical not in served:
        raise APIError(
            404, f"the model {model!r} is not served here; models: {', '.join(served)}",
            param="model", code="model_not_found",
        )

    for name in ("tools", "functions"):
        if not _absent(data.get(name)):
            raise unsupported(f"'{name}' (tool and function calling)", name)
    for name in ("tool_choice", "function_call"):
        if data.get(name) not in (None, "none"):
            raise unsupported(f"'{name}' (tool and function calling)", name)
    n = data.get("n")
    if n is not None and n != 1:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise bad_request("'n' must be a positive integer", param="n")
        raise unsupported("'n' > 1 (several choices per request)", "n")

    stream = data.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad_request("'stream' must be true or false", param="stream")
    options = data.get("stream_options")
    include_usage = False
    if options is not None:
        if not isinstance(options, Mapping):
            raise bad_request("'stream_options' must be an object", param="stream_options")
        include_usage = options.get("include_usage") is True

    messages = data.get("messages")
    if messages is None:
        raise bad_request("missing required field 'messages'", param="messages")
    if not isinstance(messages, list):
        raise bad_request("'messages' must be an array of messages", param="messages")
    for i, message in enumerate(messages):
        # OpenAI-specific: tool calls that an assistant message made earlier.
        if isinstance(message, Mapping) and not (
            _absent(message.get("tool_calls")) and _absent(message.get("function_call"))
        ):
            raise unsupported(f"messages[{i}]: assistant tool calls", f"messages[{i}]")
    messages, files = _take_files(messages)
    try:
        normalized = normalize_messages(messages)
    except (ValueError, TypeError) as exc:
        raise bad_request(f"invalid 'messages': {exc}", param="messages") from None
    return ChatRequest(
        canonical, normalized, stream=bool(stream), include_usage=include_usage, files=files
    )


def _take_files(messages: list[Any]) -> tuple[list[Any], tuple[tuple[str, bytes], ...]]:
    """The messages without their ``file`` parts, and the last user message's files.

    A client resends the whole history each time: the files of earlier
    messages went with their own turn, so only the new message's are uploaded.
    """
    last_user = max(
        (i for i, m in enumerate(messages) if isinstance(m, Mapping) and m.get("role") == "user"),
        default=-1,
    )
    out: list[Any] = []
    files: list[tuple[str, bytes]] = []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list) or not any(_is_file(p) for p in content):
            out.append(message)
            continue
        kept = [part for part in content if not _is_file(part)]
        if i == last_user:
            files += [_file(part, f"messages[{i}]") for part in content if _is_file(part)]
        out.append({**message, "content": kept or ""})
    return out, tuple(files)


def _is_file(part: Any) -> bool:
    return isinstance(part, Mapping) and part.get("type") == "file"


def _file(part: Mapping[str, Any], where: str) -> tuple[str, bytes]:
    file = part.get("file")
    if not isinstance(file, Mapping):
        raise bad_request(f"{where}: a file part needs a 'file' object", param=where)
    if file.get("file_id") is not None and file.get("file_data") is None:
        raise unsupported(f"{where}: a file by 'file_id' (send it as 'file_data')", where)
    data, name = file.get("file_data"), file.get("filename")
    if not isinstance(data, str) or not isinstance(name, str) or not name:
        raise bad_request(
            f"{where}: a file part needs 'filename' and 'file_data' "
            "(a data: URI or plain base64)", param=where,
        )
    encoded = data.partition(",")[2] if data.startswith("data:") else data
    try:
        return name, base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"{where}: 'file_data' of {name!r} is not base64", param=where) \
            from None
