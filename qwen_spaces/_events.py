"""The public event and result types a stream yields and a call returns.

Events are plain slotted classes that behave as dataclasses do (``repr``,
``==``, ``__match_args__``; see ``_value``), to be treated as read-only; not
frozen, because a frozen class costs more to create and a stream makes one per
token. Not dataclasses: a cold ``qwen-spaces ask`` would import them for these.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Optional, Union

from ._value import Frozen, Value

__all__ = [
    "ConversationState",
    "Event",
    "QueueStatus",
    "Reasoning",
    "Reply",
    "SpaceSession",
    "TextDelta",
    "new_completion_id",
    "new_session_hash",
]


def new_completion_id() -> str:
    """A unique OpenAI-style completion id: ``chatcmpl-`` and 32 random hex digits.

    Random, not a timestamp: concurrent replies must never share an id.
    """
    return f"chatcmpl-{os.urandom(16).hex()}"  # as random as uuid4, without its import


def new_session_hash() -> str:
    """12 hex characters, as the Spaces' own web pages and gpt4free use."""
    return os.urandom(6).hex()


class TextDelta(Value):
    """New answer text.

    ``backtrack`` is almost always 0, and then concatenating every ``text``
    gives ``Reply.text``. When a Space rewrites text it had already sent
    (rather than extending it), ``backtrack`` says how many characters of what
    came before to drop before appending ``text``. ``text_stream``,
    ``openai_chunks()`` and the providers pass only ``text`` on: a consumer
    that must mirror such rewrites exactly reads the events.
    """

    __match_args__: ClassVar[tuple[str, ...]] = ("text", "backtrack")
    __slots__ = __match_args__

    def __init__(self, text: str, backtrack: int = 0) -> None:
        self.text: str = text
        self.backtrack: int = backtrack


class Reasoning(Value):
    """New thinking or status text from the Space: never answer text.

    On the Qwen3 demo these are the model's reasoning as it streams (all of
    them joined are ``Reply.reasoning``); on the 1M demo, its status
    "Qwen is thinking...".
    """

    __match_args__: ClassVar[tuple[str, ...]] = ("text",)
    __slots__ = __match_args__

    def __init__(self, text: str) -> None:
        self.text: str = text


class QueueStatus(Value):
    """Where the request stands in the Space's queue.

    ``rank`` is the number of requests ahead (0 = next), ``eta`` the Space's
    estimate in seconds; either may be None when the Space does not say.
    ``queue_size`` is the length of the whole queue, if the Space says.
    ``started`` is True once generation has begun.
    """

    __match_args__: ClassVar[tuple[str, ...]] = ("rank", "queue_size", "eta", "started")
    __slots__ = __match_args__

    def __init__(
        self,
        rank: Optional[int] = None,
        queue_size: Optional[int] = None,
        eta: Optional[float] = None,
        started: bool = False,
    ) -> None:
        self.rank: Optional[int] = rank
        self.queue_size: Optional[int] = queue_size
        self.eta: Optional[float] = eta
        self.started: bool = started


Event = Union[TextDelta, Reasoning, QueueStatus]


class SpaceSession(Frozen):
    """The Space-side session of a conversation: the one owner of what it holds.

    ``hash`` is the Gradio session hash; ``holds`` how many of the
    conversation's messages the Space's session already has (Spaces that
    keep history server-side need only newer ones); ``thinking`` the
    session's thinking switch where the Space has one (None: never set, the
    Space's default). ``app_id`` is the Space's ``app_id`` when the session
    last took a turn: Gradio draws a new one at each start, so a different
    one means the Space restarted and the session is gone. ``unseen`` marks a
    session resumed from a bare hash: it holds turns this side never saw, so
    they cannot be sent again if the session is lost; so does ``documents``
    (files sent with earlier turns, which are not kept on this side). A
    value: every change makes a new one.
    """

    __match_args__: ClassVar[tuple[str, ...]] = (
        "hash",
        "holds",
        "thinking",
        "app_id",
        "unseen",
        "documents",
    )
    __slots__ = __match_args__
    hash: str
    holds: int
    thinking: Optional[bool]
    app_id: Optional[int]
    unseen: bool
    documents: bool  # it holds files sent with earlier turns (not kept here)

    def __init__(
        self,
        hash: str,
        holds: int = 0,
        thinking: Optional[bool] = None,
        app_id: Optional[int] = None,
        unseen: bool = False,
        documents: bool = False,
    ) -> None:
        self._set("hash", hash)
        self._set("holds", holds)
        self._set("thinking", thinking)
        self._set("app_id", app_id)
        self._set("unseen", unseen)
        self._set("documents", documents)

    @classmethod
    def fresh(cls) -> SpaceSession:
        """A new session on the Space: it holds nothing yet."""
        return cls(new_session_hash())

    @property
    def continued(self) -> bool:
        """Whether the Space should already hold turns of this conversation."""
        return bool(self.holds) or self.unseen

    def knows_all_but_last(self, messages: list[dict[str, str]]) -> bool:
        """Whether the session holds every message but the last (send only that one)."""
        return bool(self.holds) and self.holds == len(messages) - 1

    def after_turn(self, holds: int, thinking: Optional[bool]) -> SpaceSession:
        """The session after a finished turn: it holds ``holds`` messages."""
        return self.replace(holds=holds, thinking=thinking)

    def after_failure(self, touched: bool) -> SpaceSession:
        """The session to go on with after a turn that did not finish.

        A call that sent anything may have left part of the turn in the
        Space's session (a user message, a flipped switch): start a fresh one.
        """
        return SpaceSession.fresh() if touched else self


class ConversationState:
    """What a conversation needs to continue: its messages and the Space session.

    ``model`` is the canonical model name, ``messages`` the history
    (OpenAI-style), ``session_hash`` the Space's session and ``synced`` how
    many of the messages that session already holds (both used only when no
    ``session`` is given).
    ``session`` (the Space session: its hash, the turns it holds and its
    thinking switch, an immutable value) is reused across turns so that
    Spaces that keep history on the server (the 1M and Qwen3 demos) see one
    session; ``session_hash`` and ``synced`` read it. ``thinking`` is the
    conversation's own choice of thinking mode (None: the session's, at
    first the Space's default).
    """

    __slots__ = ("messages", "model", "session", "thinking")

    def __init__(
        self,
        model: str,
        session_hash: Optional[str] = None,
        messages: Optional[list[dict[str, str]]] = None,
        synced: int = 0,
        *,
        session: Optional[SpaceSession] = None,
        thinking: Optional[bool] = None,
    ) -> None:
        self.model: str = model
        self.messages: list[dict[str, str]] = messages if messages is not None else []
        if session is None:
            if session_hash:
                # A bare hash names a session that holds turns not given here.
                bare = not synced and all(m["role"] == "system" for m in self.messages)
                session = SpaceSession(session_hash, unseen=bare)
            else:
                session = SpaceSession.fresh()
            if synced:
                session = session.after_turn(synced, None)
        self.session: SpaceSession = session
        self.thinking: Optional[bool] = thinking

    @classmethod
    def resumed(
        cls,
        model: str,
        session_hash: str,
        messages: list[dict[str, str]],
        *,
        app_id: Optional[int] = None,
    ) -> ConversationState:
        """A conversation whose Space session ``session_hash`` already holds ``messages``.

        With ``messages`` the client can send them again if the Space lost the
        session; ``app_id`` (the Space's when the session last took a turn)
        lets it notice a restart. Without any turn in ``messages`` the session
        is a bare hash (see :class:`~qwen_spaces.SessionLostError`).
        """
        bare = all(m["role"] == "system" for m in messages)
        session = SpaceSession(session_hash, len(messages), app_id=app_id, unseen=bare)
        return cls(model, messages=messages, session=session)

    @property
    def session_hash(self) -> str:
        return self.session.hash

    @property
    def synced(self) -> int:
        """How many of ``messages`` the Space's session holds."""
        return self.session.holds

    @property
    def system(self) -> Optional[str]:
        for message in self.messages:
            if message["role"] == "system":
                return message["content"]
        return None

    def after_failure(self, touched: bool) -> ConversationState:
        """The state to go on with after a turn that did not finish (see SpaceSession)."""
        session = self.session.after_failure(touched)
        if session is self.session:
            return self
        return ConversationState(
            self.model, messages=self.messages, session=session, thinking=self.thinking
        )

    def restarted(self) -> ConversationState:
        """The system prompt only, in a new Space session."""
        system = [m for m in self.messages if m["role"] == "system"]
        return ConversationState(
            self.model, messages=system, session=SpaceSession.fresh(), thinking=self.thinking
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConversationState):
            return NotImplemented
        return (self.model, self.messages, self.session, self.thinking) == (
            other.model,
            other.messages,
            other.session,
            other.thinking,
        )

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # mutable, like the dataclass it was

    def __repr__(self) -> str:
        return (
            f"ConversationState(model={self.model!r}, session_hash={self.session_hash!r}, "
            f"messages={self.messages!r}, synced={self.synced}, thinking={self.thinking!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for saving a conversation (see from_dict)."""
        data: dict[str, Any] = {
            "model": self.model,
            "session_hash": self.session_hash,
            "messages": [dict(m) for m in self.messages],
            "synced": self.synced,
        }
        if self.session.thinking is not None:
            data["session_thinking"] = self.session.thinking
        if self.session.app_id is not None:
            data["app_id"] = self.session.app_id
        if self.session.unseen:
            data["unseen"] = True
        if self.session.documents:
            data["documents"] = True
        if self.thinking is not None:
            data["thinking"] = self.thinking
        return data

    @classmethod
    def from_dict(cls, data: Any) -> ConversationState:
        """A state saved with to_dict(), checked: a clear ValueError if it is not one."""
        if not isinstance(data, dict):
            raise ValueError("a saved conversation is a JSON object")
        model, session_hash = data.get("model"), data.get("session_hash")
        messages, synced = data.get("messages", []), data.get("synced", 0)
        if not isinstance(model, str) or not isinstance(session_hash, str) or not session_hash:
            raise ValueError("a saved conversation needs a 'model' and a 'session_hash'")
        turns = saved_messages(messages)
        if turns is None:
            raise ValueError("'messages' must be a list of {'role': ..., 'content': str}")
        if not isinstance(synced, int) or not 0 <= synced <= len(messages):
            synced = 0  # unknown: resend the history rather than trust it
        flags = []
        for key in ("session_thinking", "thinking"):
            flag = data.get(key)
            if flag is not None and not isinstance(flag, bool):
                raise ValueError(f"{key!r} must be true, false or absent")
            flags.append(flag)
        app_id = data.get("app_id")
        if app_id is not None and (isinstance(app_id, bool) or not isinstance(app_id, int)):
            raise ValueError("'app_id' must be an int or absent")
        marks = []
        for key in ("unseen", "documents"):
            mark = data.get(key, False)
            if not isinstance(mark, bool):
                raise ValueError(f"{key!r} must be true, false or absent")
            marks.append(mark)
        return cls(
            model,
            messages=turns,
            session=SpaceSession(session_hash, synced, flags[0], app_id, *marks),
            thinking=flags[1],
        )


def saved_messages(value: Any) -> Optional[list[dict[str, str]]]:
    """Messages as a saved conversation holds them (role and content), copied; None if not that.

    A JSON list of ``{"role": "system"|"user"|"assistant", "content": str}``: what
    ``ConversationState.to_dict`` and the providers' conversation objects carry.
    """
    if not isinstance(value, list) or not all(
        isinstance(m, Mapping)
        and m.get("role") in ("system", "user", "assistant")
        and isinstance(m.get("content"), str)
        for m in value
    ):
        return None
    return [{"role": m["role"], "content": m["content"]} for m in value]


class Reply(Value):
    """A finished answer.

    ``text`` is the answer, ``reasoning`` any status/thinking text (the
    whole reasoning of a thinking model), ``thinking_seconds`` how long the
    model thought as the Space reports it (None where it does not),
    ``model`` the canonical model name, ``conversation`` the state to continue
    from (it includes this answer). ``id`` is unique to this reply and is the
    ``id`` of :meth:`to_openai` (and of its stream's ``openai_chunks()``).
    ``created`` is when the reply was made (Unix time), ``timings`` the
    seconds from the start of the call to ``joined`` (the queue took it),
    ``started`` (generation began) and ``completed``.
    """

    __match_args__: ClassVar[tuple[str, ...]] = (
        "text",
        "model",
        "reasoning",
        "conversation",
        "created",
        "timings",
        "id",
        "thinking_seconds",
    )
    __slots__ = __match_args__

    def __init__(
        self,
        text: str,
        model: str,
        reasoning: str = "",
        conversation: Optional[ConversationState] = None,
        created: Optional[float] = None,
        timings: Optional[dict[str, float]] = None,
        id: Optional[str] = None,
        thinking_seconds: Optional[float] = None,
    ) -> None:
        self.text: str = text
        self.model: str = model
        self.reasoning: str = reasoning
        self.conversation: Optional[ConversationState] = conversation
        self.created: float = time.time() if created is None else created
        self.timings: dict[str, float] = {} if timings is None else timings
        self.id: str = new_completion_id() if id is None else id
        self.thinking_seconds: Optional[float] = thinking_seconds

    def __str__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:  # rendered by Jupyter: the reasoning folded apart
        if not self.reasoning:
            return self.text
        took = f" ({self.thinking_seconds:.1f} s)" if self.thinking_seconds is not None else ""
        return (
            f"<details><summary>Thinking{took}</summary>\n\n{self.reasoning}\n\n</details>\n\n"
            f"{self.text}"
        )

    def to_openai(self) -> dict[str, Any]:
        """The reply as an OpenAI chat-completion dict."""
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": int(self.created),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": self.text,
                        **({"reasoning_content": self.reasoning} if self.reasoning else {}),
                    },
                    "finish_reason": "stop",
                }
            ],
        }
