"""Space sessions, found again from the history a stateless client resends.

The 1M and Qwen3 Spaces keep each conversation's history in its own session. An OpenAI
client resends the whole history on every call, so the server remembers, for
each answer it gave, which Space session holds that history: keyed on a hash
of the model and the normalized messages up to and including the answer. A
request whose messages before its last one hash to a known key continues that
session with the new message alone. (Max takes the whole history every call;
continuing its session changes nothing it is sent.)

A session serves one request at a time: :meth:`SessionCache.take` removes the
entry, so a second request extending the same history (a fork, or a retry of
a turn) gets a fresh session; the entry comes back, one turn longer, only
when an answer completes. Only the key and the :class:`SpaceSession` are
stored (the messages come with each request), in an LRU bounded in entries and
in age. The SpaceSession carries the session's thinking switch (Qwen3): a
follow-up flips it only when it asks for the other mode.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Optional

from .._events import ConversationState, SpaceSession

__all__ = ["SessionCache", "history_key"]


def history_key(model: str, messages: Sequence[dict[str, str]]) -> str:
    """A hash of the model and the normalized messages (role and content of each)."""
    pairs = [[m["role"], m["content"]] for m in messages]
    text = json.dumps([model, pairs], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class SessionCache:
    """An LRU of known histories -> their Space sessions.

    ``max_entries`` bounds the memory (about 200 bytes an entry); an entry
    older than ``max_age`` seconds is not used, since the Space may have
    dropped the session by then.
    """

    def __init__(
        self,
        max_entries: int = 4096,
        max_age: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 0 or max_age <= 0:
            raise ValueError("max_entries must be >= 0 and max_age > 0")
        self.max_entries = max_entries
        self.max_age = max_age
        self._clock = clock
        self._entries: OrderedDict[str, tuple[SpaceSession, float]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, model: str, messages: Sequence[dict[str, str]]) -> Optional[ConversationState]:
        """The conversation ending just before ``messages[-1]``, removed from the cache; or None.

        The state returned holds ``messages[:-1]`` as already in the session
        (and the session's thinking switch as that turn left it), so a call
        with it sends only the last message.
        """
        if len(messages) < 2:
            return None
        history = list(messages[:-1])
        found = self._entries.pop(history_key(model, history), None)
        if found is None or self._clock() - found[1] > self.max_age:
            self.misses += 1
            return None
        self.hits += 1
        # put() stored it holding exactly these messages.
        return ConversationState(model, messages=history, session=found[0])

    def put(self, state: ConversationState) -> None:
        """Remember a finished turn: ``state.messages`` (ending with the answer) are in
        the Space session ``state.session``."""
        if self.max_entries == 0 or state.session.holds != len(state.messages):
            return
        key = history_key(state.model, state.messages)
        self._entries[key] = (state.session, self._clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
