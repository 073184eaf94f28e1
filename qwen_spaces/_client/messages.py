"""The messages a user gives, checked before anything is sent.

``normalize_messages`` turns what ``chat()``/``stream()`` (and ``serve``, the
CLI, the providers) take into OpenAI-style messages with ``str`` content, or a
ValueError/TypeError in the words of the argument; ``check_utf8`` refuses text
that cannot be sent as UTF-8.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

from .._patterns import LazyPattern

__all__ = [
    "EXPECTED_ROLES",
    "Messages",
    "check_utf8",
    "normalize_history",
    "normalize_messages",
]


Messages = Union[str, Sequence[Mapping[str, Any]]]


def normalize_messages(messages: Messages) -> list[dict[str, str]]:
    """Check user input and return OpenAI-style messages with str content.

    A str is one user message. Content may be a str or a list of text parts
    (``{"type": "text", "text": ...}`` or plain str). The last message other
    than a system message must come from the user.

    OpenAI variants: ``developer`` is a system message (as OpenAI treats it),
    an assistant message without content (``None`` or missing) is skipped,
    ``name`` is ignored. Tool and function calls and image, audio or file
    parts are a ValueError: the Spaces take text chat only.
    """
    out = _checked(messages)
    turns = [m for m in out if m["role"] != "system"]
    if not turns or turns[-1]["role"] != "user":
        raise ValueError("the last message must be a user message (after any system messages)")
    if not turns[-1]["content"].strip():
        raise ValueError("the last user message is empty")
    return out


def normalize_history(messages: Messages) -> list[dict[str, str]]:
    """Like :func:`normalize_messages`, for earlier turns: any message may come last.

    For a conversation's starting history, which may end with an assistant
    answer. A str is not accepted here (it would be a lone user message).
    """
    if isinstance(messages, str):
        raise TypeError("messages must be a list of {'role': ..., 'content': ...} dicts")
    return _checked(messages)


_ROLE_OF = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
EXPECTED_ROLES = "'system', 'developer', 'user' or 'assistant'"
_UNSUPPORTED_ROLES = {"tool": "tool results", "function": "function results"}


def check_utf8(text: str, what: str) -> str:
    """``text`` if UTF-8 can carry it, else a ValueError naming ``what`` holds it.

    A lone surrogate (``"\\ud800"``, or a byte os.fsdecode could not decode) has
    no UTF-8 form: the request body could not be encoded.
    """
    if (found := _SURROGATE.search(text)) is not None:
        raise ValueError(
            f"{what} holds text that cannot be encoded as UTF-8: a lone surrogate "
            f"{found.group()!r} at index {found.start()}"
        )
    return text


_SURROGATE = LazyPattern("[\ud800-\udfff]")


def _checked(messages: Messages) -> list[dict[str, str]]:
    if isinstance(messages, str):
        if not messages.strip():
            raise ValueError("the prompt is empty: expected a non-empty str or list of messages")
        return [{"role": "user", "content": check_utf8(messages, "the prompt")}]
    if isinstance(messages, (bytes, bytearray)) or not isinstance(messages, Sequence):
        raise TypeError(
            "messages must be a str or a list of {'role': ..., 'content': ...} dicts, "
            f"got {type(messages).__name__}"
        )
    if not messages:
        raise ValueError("messages is empty: expected at least one user message")
    out: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TypeError(f"messages[{i}] must be a dict, got {type(message).__name__}")
        role = message.get("role")
        if role in _UNSUPPORTED_ROLES:
            raise ValueError(
                f"messages[{i}] has role {role!r}: {_UNSUPPORTED_ROLES[role]} are not supported, "
                f"the Spaces take text chat only; expected {EXPECTED_ROLES}"
            )
        if not isinstance(role, str) or role not in _ROLE_OF:
            raise ValueError(f"messages[{i}] has role {role!r:.40}; expected {EXPECTED_ROLES}")
        for key in ("tool_calls", "function_call"):
            if message.get(key):
                raise ValueError(
                    f"messages[{i}] has {key}: tool and function calls are not supported, "
                    "the Spaces take text chat only; expected text content"
                )
        content = message.get("content")
        if content is None and role == "assistant":
            continue  # OpenAI allows it (e.g. beside a refusal); there is no text to send
        text = check_utf8(_text_of(content, i), f"messages[{i}] content")
        out.append({"role": _ROLE_OF[role], "content": text})
    return out


# Part types a Space cannot take: named so the error says "not supported", not "malformed".
_MEDIA_PARTS = ("image_url", "image", "input_image", "input_audio", "audio", "file", "input_file")


def _text_of(content: Any, i: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
                continue
            part_type = part.get("type", "text") if isinstance(part, Mapping) else None
            if part_type in _MEDIA_PARTS:
                raise ValueError(
                    f"messages[{i}] content has a {part_type!r} part: images, audio and files "
                    "are not supported; expected text parts ({'type': 'text', 'text': ...})"
                )
            text = part.get("text") if isinstance(part, Mapping) else None
            if part_type == "text" and isinstance(text, str):
                parts.append(text)
            elif isinstance(part_type, str) and part_type != "text":
                raise ValueError(
                    f"messages[{i}] content has a part of type {part_type!r:.40}; "
                    "expected text parts ({'type': 'text', 'text': ...})"
                )
            else:
                raise TypeError(
                    f"messages[{i}] content has a part that is not text ({part!r:.60}); "
                    "expected a str or {'type': 'text', 'text': str}"
                )
        return "".join(parts)
    raise TypeError(
        f"messages[{i}] content must be a str or a list of text parts, got {type(content).__name__}"
    )
