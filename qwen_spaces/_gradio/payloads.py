"""Pure: user input -> validated messages -> request bodies for each Space."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Union

from .._patterns import LazyPattern
from .._value import Frozen
from .endpoints import ChatbotFormat

if TYPE_CHECKING:
    from .._files import Upload

__all__ = [
    "Messages",
    "Prompt",
    "chatbot_value",
    "check_utf8",
    "file_data",
    "flatten",
    "function_body",
    "normalize_history",
    "normalize_messages",
    "split_messages",
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


class Prompt(Frozen):
    """Messages split the way a chat Space takes them."""

    __match_args__: ClassVar[tuple[str, ...]] = ("system", "history", "query")
    __slots__ = __match_args__
    system: Optional[str]
    history: list[tuple[str, str]]
    query: str

    def __init__(self, system: Optional[str], history: list[tuple[str, str]], query: str) -> None:
        self._set("system", system)
        self._set("history", history)
        self._set("query", query)


def split_messages(messages: list[dict[str, str]]) -> Prompt:
    """System text, (user, assistant) pairs, and the final user query.

    Consecutive messages of one role are joined with a blank line, since a
    chatbot holds one user and one assistant cell per turn.
    """
    systems = [m["content"] for m in messages if m["role"] == "system"]
    history: list[tuple[str, str]] = []
    user: Optional[str] = None
    assistant: Optional[str] = None
    for message in messages:
        role, content = message["role"], message["content"]
        if role == "user":
            if assistant is not None:
                history.append((user or "", assistant))
                user, assistant = None, None
            user = content if user is None else f"{user}\n\n{content}"
        elif role == "assistant":
            assistant = content if assistant is None else f"{assistant}\n\n{content}"
    # normalize_messages guarantees the conversation ends with a user turn.
    return Prompt(
        system="\n\n".join(systems) if systems else None, history=history, query=user or ""
    )


def flatten(messages: list[dict[str, str]]) -> str:
    """The conversation as one prompt, for a Space that takes a single text.

    A lone user message is sent as it is.
    """
    if len(messages) == 1:
        return messages[0]["content"]
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    return "\n".join(f"{names[m['role']]}: {m['content']}" for m in messages)


def chatbot_value(history: list[tuple[str, str]], fmt: ChatbotFormat) -> list[Any]:
    """History in the shape the Space's chatbot component expects."""
    if fmt == "tuples":
        return [[user, assistant] for user, assistant in history]
    out: list[Any] = []
    for user, assistant in history:
        for role, text in (("user", user), ("assistant", assistant)):
            if fmt == "messages":  # Gradio 6 rejects a plain str content
                out.append({"role": role, "content": [{"type": "text", "text": text}]})
            else:
                out.append({"role": role, "content": text})
    return out


def function_body(
    ids: tuple[int, Optional[int]], data: list[Any], session_hash: str
) -> dict[str, Any]:
    """The body that runs a function (``/queue/join`` or ``/run/predict``) in a session.

    ``ids`` are its ``(fn_index, trigger_id)``.
    """
    return {
        "data": data,
        "event_data": None,
        "fn_index": ids[0],
        "trigger_id": ids[1],
        "session_hash": session_hash,
    }


def file_data(upload: Upload, path: str) -> dict[str, Any]:
    """Gradio's FileData for ``upload`` stored at ``path`` on the Space."""
    return {
        "path": path,
        "orig_name": upload.name,
        "size": upload.size,
        "mime_type": upload.mime_type,
        "meta": {"_type": "gradio.FileData"},
    }
