"""Whether the Space still holds a conversation's session, and what to do when it does not.

A chat call continues a conversation in a Space session (the Space keeps the
history there, or the call sends it whole). ``CallSession`` decides, for
``call.ChatCall``, which session a turn runs in and whether the Space forgot
it: a new ``app_id`` (the Space restarted) or an empty first answer
(``held_turns``) means the turn moves to a fresh session with the whole
history, or ends in SessionLostError when that cannot be rebuilt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Optional

from .._errors import SessionLostError
from .._events import ConversationState, SpaceSession
from .._files import Upload
from .._gradio import payloads
from .._gradio.dedup import AnswerTracker
from .._spaces.adapters import CHAT, CallInput
from .._spaces.spaces import SpaceSpec
from .wire import Wire

__all__ = ["CallSession"]

log = logging.getLogger("qwen_spaces")


class CallSession:
    """The conversation a call continues, and the Space session it runs in.

    Decides whether the Space still holds that session: a new ``app_id``
    (the Space restarted) or an empty first answer (``held_turns``) means it
    forgot, and the turn moves to a fresh session with the whole history.
    """

    __slots__ = ("app_id", "continues", "files", "input", "known", "messages", "seen", "spec")

    spec: SpaceSpec
    messages: list[dict[str, str]]
    files: tuple[Upload, ...]
    known: Optional[int]
    seen: Optional[Callable[[int], None]]
    continues: bool
    input: CallInput

    def __init__(
        self,
        spec: SpaceSpec,
        messages: list[dict[str, str]],
        state: ConversationState,
        files: tuple[Upload, ...],
        thinking: Optional[bool],
        thinking_budget: Optional[int],
    ) -> None:
        self.spec, self.messages, self.files = spec, messages, files
        if thinking is None:
            thinking = state.thinking
        session = state.session
        self.input = CallInput(
            messages, session, spec.model_id, thinking, thinking_budget, len(files)
        )
        # The Space's app_id, learnt from /config or /app_id during this call.
        self.app_id: Optional[int] = None
        self.known: Optional[int] = None
        self.seen: Optional[Callable[[int], None]] = None
        self.continues = False
        if (
            spec.adapter.keeps_history
            and session.holds
            and not session.knows_all_but_last(messages)
        ):
            # The session holds other turns than these: a fresh one, with the
            # whole history in its first message.
            self.move_to_fresh()

    def watch_app_id(
        self, known: Optional[int], seen: Optional[Callable[[int], None]], continues: bool
    ) -> None:
        """Follow the Space's app_id: ``known`` is the client's last one (it stands in for
        a call that asks nothing), ``seen`` is told each new one; ``continues``: a turn of a
        conversation, whose session takes follow-ups."""
        self.known, self.seen, self.continues = known, seen, continues

    def move_to_fresh(self) -> None:
        """Run the call in a new Space session, with the thinking switch kept.

        The whole conversation goes in its first message (see the adapters'
        ``join_data``); a switch the old session had is set again in the new one.
        """
        old = self.input
        thinking = old.thinking if old.thinking is not None else old.session.thinking
        self.input = CallInput(
            old.messages,
            SpaceSession.fresh(),
            old.model_id,
            thinking,
            old.thinking_budget,
            old.files,
        )

    def asks_app_id(self) -> bool:
        """Whether a try begins with ``GET /app_id``.

        Where the Space's outputs never show what its session holds, a restart
        is seen only in its app_id: asked before a follow-up, so a session that
        is gone is never sent the new message alone; and before the first turn
        of a conversation (or one with documents) when the client knows none,
        so that its follow-ups have one to compare with.
        """
        adapter = self.spec.adapter
        if not adapter.keeps_history or adapter.shows_session or self.app_id is not None:
            return False
        if self.input.session.continued:
            return True
        return (self.continues and self.known is None) or bool(self.files)

    def learn_app_id(self, app_id: Any) -> Optional[SessionLostError]:
        """Keep the Space's app_id now; the loss it shows (a restart), or None."""
        if isinstance(app_id, bool) or not isinstance(app_id, int):
            log.debug("the Space gave no usable app_id: a restart cannot be seen")
            return None
        self.app_id = app_id
        if self.seen is not None:
            self.seen(app_id)
        session = self.input.session
        # A bare hash carries no app_id: the client's last one stands in (the
        # Space restarted since this client last saw it: the session is older).
        held_by = session.app_id
        if held_by is None and session.unseen:
            held_by = self.known
        if session.continued and held_by is not None and held_by != app_id:
            return SessionLostError("restart", "the Space restarted")
        return None

    def check_held_turns(self, chatbot: Any) -> None:
        """Raise SessionLostError when the chatbot's first value shows an empty session."""
        if self.spec.adapter.held_turns(chatbot) == 0:
            raise SessionLostError("empty session", "the Space's session was empty")

    def lost(self, lost: SessionLostError) -> None:
        """Go on in a fresh session with the whole history; raise when it cannot be rebuilt."""
        session = self.input.session
        if session.unseen:
            raise lost
        if session.documents:
            raise SessionLostError(lost.cause, lost.detail, "documents")
        log.info(
            "%s: the Space no longer holds this conversation's session (%s): sending its "
            "%d earlier messages again in a new session",
            self.spec.model,
            lost.cause,
            len(self.messages) - 1,
        )
        self.move_to_fresh()

    def function_body(
        self, fn: str, wire: Wire, done: Mapping[str, Any]
    ) -> tuple[dict[str, Any], Optional[AnswerTracker]]:
        """The JSON body that calls the Space's function ``fn`` (and the chat's answer tracker)."""
        adapter, ids, tracker = self.spec.adapter, wire.ids, None
        if fn == CHAT:
            data, first = adapter.join_data(ids, self.input, done)
            tracker = adapter.tracker(ids, first)
        else:
            data = adapter.side_data(fn, ids, self.input, done)
        body = payloads.function_body(wire.function_ids(fn), data, self.input.session.hash)
        return body, tracker

    def session_after(self, done: Mapping[str, Any], messages: int) -> SpaceSession:
        """The session once the answer is in, stamped with the app_id it is held under."""
        session = self.spec.adapter.session_after(self.input, done, messages)
        app_id = self.app_id if self.app_id is not None else self.known
        return session.replace(
            app_id=app_id if app_id is not None else session.app_id,
            documents=session.documents or bool(self.files),
        )
