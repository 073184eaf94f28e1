"""Pure: checked messages -> request bodies for each Space (Gradio's wire forms)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Optional

from .._value import Frozen
from .endpoints import ChatbotFormat

if TYPE_CHECKING:
    from .._files import Upload

__all__ = [
    "UPLOAD_FIELD",
    "Prompt",
    "chatbot_value",
    "file_data",
    "flatten",
    "function_body",
    "split_messages",
]

#: The multipart field of ``POST /upload`` that Gradio reads the files from.
UPLOAD_FIELD = "files"


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
