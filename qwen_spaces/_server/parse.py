"""Pure: a ``POST /v1/chat/completions`` body -> a checked :class:`ChatRequest`, or an APIError.

Message validation is the SDK's own (``_client/messages.normalize_messages``); only
what is specific to OpenAI's API is checked here: tools and tool calls,
``n``, streaming options, ``file`` content parts, which become uploads, and the
thinking fields (:mod:`qwen_spaces._server.thinking`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from .._client.messages import normalize_messages
from .._spaces.spaces import SPACES, resolve_model
from .errors import APIError, bad_request, unsupported
from .thinking import Thinking, parse_thinking

__all__ = [
    "BODY_BYTES_PER_CHAR",
    "BODY_ROOM",
    "CHARS_PER_TOKEN",
    "DEFAULT_MAX_MESSAGES",
    "IGNORED_PARAMETERS",
    "ChatRequest",
    "Limits",
    "parse_chat_request",
    "parse_json",
]

#: Default of ``serve --max-messages``: a long chat fits (500 turns), a request built to
#: exhaust the server's memory does not.
DEFAULT_MAX_MESSAGES = 1000

#: Characters of text a token is taken to be (OpenAI's rule of thumb): each model's default
#: ``--max-chars`` is its context in characters, and usage estimates count tokens so.
CHARS_PER_TOKEN = 4

#: Default ``--max-body``: this many bytes for each character of the largest ``--max-chars``
#: served, plus ``BODY_ROOM`` for the JSON around the text. A body's bytes per character
#: depend on the client's JSON: 1 for ASCII, 3 for CJK in raw UTF-8, 6 for CJK and 12 for an
#: emoji where it escapes non-ASCII (json.dumps' default). Per token of context that is 4 to
#: 5 bytes for English, about 9 for escaped CJK (1.5 characters a token): 4 bytes a
#: character (16 a token) admits any prompt that fits the model's context, however sent.
BODY_BYTES_PER_CHAR = 4
BODY_ROOM = 1 << 20

#: Common request fields the Spaces have no knob for: accepted and ignored (as is any
#: field not named anywhere here).
IGNORED_PARAMETERS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "user",
    "metadata",
    "store",
    "service_tier",
    "parallel_tool_calls",
)

#: What gets a 400 because the Spaces cannot carry it.
UNSUPPORTED = (
    "tools",
    "functions",
    "tool_choice",
    "function_call",
    "n > 1",
    "tool and function messages",
    "assistant tool_calls",
    "image and audio parts",
    "file parts by file_id",
)


@dataclass(frozen=True)
class ChatRequest:
    """A checked chat request: the canonical model and the normalized messages."""

    model: str
    messages: list[dict[str, str]]
    stream: bool = False
    include_usage: bool = False
    #: The documents of the last user message (``file`` parts): (filename, bytes).
    files: tuple[tuple[str, bytes], ...] = ()
    #: Thinking on or off and its budget in tokens (None, None for a model without thinking).
    thinking: Thinking = field(default_factory=Thinking)


@dataclass(frozen=True)
class Limits:
    """What one request may hold: ``messages`` messages, ``chars`` characters of text in all
    (None: each model's context, at ``CHARS_PER_TOKEN`` characters a token)."""

    messages: int = DEFAULT_MAX_MESSAGES
    chars: Optional[int] = None

    def chars_for(self, model: str) -> int:
        """The most characters of text a request to ``model`` may hold."""
        if self.chars is not None:
            return self.chars
        return resolve_model(model).context_length * CHARS_PER_TOKEN

    def body_for(self, models: Iterable[str]) -> int:
        """The default body limit, in bytes, of a server of ``models``: room for the
        largest prompt one of them takes (see ``BODY_BYTES_PER_CHAR``)."""
        return max(self.chars_for(m) for m in models) * BODY_BYTES_PER_CHAR + BODY_ROOM

    def chars_error(self, model: str, chars: int) -> APIError:
        """The 400 for ``chars`` characters of text, past the limit for ``model``."""
        if self.chars is not None:
            why = f"this server's limit of {self.chars:,} (serve --max-chars)"
        else:
            tokens = resolve_model(model).context_length
            why = (
                f"the limit of {self.chars_for(model):,} for {model}: its context of "
                f"{tokens:,} tokens at about {CHARS_PER_TOKEN} characters a token "
                "(serve --max-chars sets another)"
            )
        return bad_request(
            f"the messages hold {chars:,} characters of text, over {why}",
            param="messages",
            code="too_many_characters",
        )


# A JSON string escape of a UTF-16 surrogate: the only way one reaches a decoded str (raw
# bytes must be UTF-8). Paired ones decode to one character; a lone one stays a surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json(body: bytes) -> Any:
    """The JSON of a request body; a 400 if it is not JSON, is nested too deeply for the
    parser, or holds a string that is not valid Unicode (a lone surrogate)."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise bad_request(
            "the request body is nested too deeply (arrays or objects inside each other, "
            "hundreds of levels down); a chat request needs a few levels",
            code="invalid_json",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(
            f"the request body is not valid JSON ({exc})", code="invalid_json"
        ) from None
    if _SURROGATE_ESCAPE.search(body):
        where = _lone_surrogate(data)
        if where is not None:
            what, path, char = where
            raise bad_request(
                f"{what} holds a lone UTF-16 surrogate (\\u{ord(char):04x}), which is not "
                "valid Unicode text",
                param=path or None,
                code="invalid_unicode",
            )
    return data


def _lone_surrogate(data: Any) -> Optional[tuple[str, str, str]]:
    """Where the first string holding a lone surrogate is (in words, and as a path such
    as ``messages[0].content``), and that surrogate; walked without recursion."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            bad = _surrogate_in(value)
            if bad is not None:
                return path or "the request body", path, bad
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, dict):
            items = []
            for key, v in value.items():
                bad = _surrogate_in(key)
                if bad is not None:
                    return f"a key of {path or 'the request body'}", path, bad
                items.append((f"{path}.{key}" if path else key, v))
            stack.extend(reversed(items))
    return None


def _surrogate_in(text: str) -> Optional[str]:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return text[exc.start]
    return None


def _absent(value: Any) -> bool:
    return value is None or value == [] or value == {}


def parse_chat_request(
    data: Any, served: Mapping[str, Any], limits: Limits = Limits()
) -> ChatRequest:
    """Check a chat-completion request against the models in ``served`` and ``limits``."""
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
            404,
            f"the model {model!r} is not served here; models: {', '.join(served)}",
            param="model",
            code="model_not_found",
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

    thinking = parse_thinking(data, canonical)

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
    if len(messages) > limits.messages:
        raise bad_request(
            f"'messages' holds {len(messages)} messages, over this server's limit of "
            f"{limits.messages} (serve --max-messages)",
            param="messages",
            code="too_many_messages",
        )
    for i, message in enumerate(messages):
        # OpenAI-specific: tool calls that an assistant message made earlier.
        if isinstance(message, Mapping) and not (
            _absent(message.get("tool_calls")) and _absent(message.get("function_call"))
        ):
            raise unsupported(f"messages[{i}]: assistant tool calls", f"messages[{i}]")
    messages, files = _take_files(messages, canonical)
    try:
        normalized = normalize_messages(messages)
    except (ValueError, TypeError) as exc:
        if str(exc) == "the last user message is empty":  # the SDK's words: say which one
            where = f"messages[{_last_user(messages)}].content"
            raise bad_request(
                f"{where} is empty: the last user message needs text", param=where
            ) from None
        raise bad_request(f"invalid 'messages': {exc}", param="messages") from None
    chars = sum(len(m["content"]) for m in normalized)
    if chars > limits.chars_for(canonical):
        raise limits.chars_error(canonical, chars)
    return ChatRequest(
        canonical,
        normalized,
        stream=bool(stream),
        include_usage=include_usage,
        files=files,
        thinking=thinking,
    )


def _last_user(messages: list[Any]) -> int:
    return max(
        (i for i, m in enumerate(messages) if isinstance(m, Mapping) and m.get("role") == "user"),
        default=-1,
    )


def _take_files(messages: list[Any], model: str) -> tuple[list[Any], tuple[tuple[str, bytes], ...]]:
    """The messages without their ``file`` parts, and the last user message's files.

    A client resends the whole history each time: the files of earlier
    messages went with their own turn, so only the new message's are uploaded.
    A file part for a model whose Space reads no documents is a 400 wherever it is.
    """
    last_user = _last_user(messages)
    out: list[Any] = []
    files: list[tuple[str, bytes]] = []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list) or not any(_is_file(p) for p in content):
            out.append(message)
            continue
        if not resolve_model(model).adapter.takes_files:
            j = next(j for j, part in enumerate(content) if _is_file(part))
            readers = " or ".join(s.model for s in SPACES if s.adapter.takes_files)
            raise bad_request(
                f"messages[{i}].content[{j}]: file parts work only with model {readers}; "
                f"{model} reads text only",
                param=f"messages[{i}].content[{j}]",
            )
        kept = [part for part in content if not _is_file(part)]
        if i == last_user:
            files += [_file(part, f"messages[{i}]") for part in content if _is_file(part)]
            if all(_blank_text(part) for part in kept):
                raise bad_request(
                    f"messages[{i}].content has file parts but no text: add a text part "
                    "saying what to do with the files",
                    param=f"messages[{i}].content",
                )
        out.append({**message, "content": kept or ""})
    return out, tuple(files)


def _blank_text(part: Any) -> bool:
    """A text part (or plain str) with nothing but white space in it."""
    if isinstance(part, Mapping) and part.get("type") == "text":
        part = part.get("text")
    return isinstance(part, str) and not part.strip()


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
            f"{where}: a file part needs 'filename' and 'file_data' (a data: URI or plain base64)",
            param=where,
        )
    encoded = data.partition(",")[2] if data.startswith("data:") else data
    try:
        return name, base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"{where}: 'file_data' of {name!r} is not base64", param=where) from None
