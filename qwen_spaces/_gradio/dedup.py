"""Pure: successive chatbot values -> answer deltas, with status text kept apart.

The tracker holds the chatbot output of one run. Gradio sends the full value
first, then diffs, then the full value again at completion. The common case,
an ``append`` to the answer string, is handled without touching the rest of
the value or copying the text: the appended piece *is* the delta. Anything
else is applied to the value, the answer is read again and compared with what
was already emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Optional, Protocol

from .._errors import ProtocolError
from .._events import Event, Reasoning, TextDelta
from .endpoints import ChatbotFormat
from .gradio import apply_diff, apply_edit, is_diff

__all__ = ["AnswerCleaner", "AnswerTracker", "Locate", "locate_answer"]

log = logging.getLogger("qwen_spaces")

Path = list[Any]


def locate_answer(value: Any, fmt: ChatbotFormat, first: int) -> Optional[Path]:
    """The path to the answer string in a Gradio chatbot value, or None if none yet.

    Gradio's own formats and modelscope_studio's legacy cells (pairs whose bot
    side is a dict or a list of dicts with ``text``); a layout with another
    chatbot gives its own ``Locate`` to the tracker.

    ``first`` is the index of the turn holding our query (in pairs for tuple
    chatbots, in messages for message chatbots): earlier turns are history and
    never the answer.
    """
    if not isinstance(value, list):
        return None
    if fmt in ("tuples", "ms_legacy"):
        for i in range(len(value) - 1, max(first, 0) - 1, -1):
            pair = value[i]
            if not isinstance(pair, list) or len(pair) < 2 or pair[1] is None:
                continue
            bot = pair[1]
            if isinstance(bot, str):
                return [i, 1]
            if isinstance(bot, dict) and isinstance(bot.get("text"), str):
                return [i, 1, "text"]
            if isinstance(bot, list):
                for k, slot in enumerate(bot):
                    if isinstance(slot, dict) and isinstance(slot.get("text"), str):
                        return [i, 1, k, "text"]
                    if isinstance(slot, str):
                        return [i, 1, k]
        return None
    for i in range(len(value) - 1, max(first, 0) - 1, -1):
        message = value[i]
        if not isinstance(message, dict):
            continue
        if message.get("role") == "user":
            return None  # the answer comes after our query
        if message.get("role") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return [i, "content"]
        if isinstance(content, list):
            for k, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    return [i, "content", k, "text"]
                if isinstance(part, str):
                    return [i, "content", k]
    return None


def _get(value: Any, path: Path) -> Any:
    for key in path:
        value = value[key]
    return value


def _set(value: Any, path: Path, new: Any) -> None:
    for key in path[:-1]:
        value = value[key]
    value[path[-1]] = new


class AnswerCleaner(Protocol):
    """What a Space wraps around its answer, and how to take it off."""

    def clean(self, raw: str, final: bool) -> tuple[str, str]:
        """The raw answer string -> (answer text, status text)."""

    def plain(self, piece: str) -> bool:
        """Whether an appended piece is answer text as it stands."""


#: Where a layout keeps something in its chatbot value: (value, first turn) -> path or None.
Locate = Callable[[Any, int], Optional[Path]]


class AnswerTracker:
    """Follows one run's chatbot output and emits answer deltas."""

    __slots__ = (
        "_chunks",
        "_clean",
        "_first",
        "_in_sync",
        "_locate",
        "_locate_reasoning",
        "_output",
        "_path",
        "_plain",
        "_reasoning_chunks",
        "_reasoning_path",
        "_stale",
        "completed",
        "located",
        "value",
    )

    def __init__(
        self,
        fmt: ChatbotFormat,
        output: int,
        first: int,
        cleaner: Optional[AnswerCleaner] = None,
        *,
        locate: Optional[Locate] = None,
        locate_reasoning: Optional[Locate] = None,
    ) -> None:
        self._locate: Locate = locate or (lambda value, first: locate_answer(value, fmt, first))
        # A layout that streams its reasoning apart (in its own string) says where.
        self._locate_reasoning = locate_reasoning
        self._reasoning_path: Optional[Path] = None
        self._reasoning_chunks: list[str] = []
        self._output = output
        self._first = first
        self._clean: Optional[Callable[[str, bool], tuple[str, str]]] = (
            cleaner.clean if cleaner is not None else None
        )
        # An appended piece is answer text as is unless the cleaner says otherwise.
        self._plain: Optional[Callable[[str], bool]] = (
            cleaner.plain if cleaner is not None else None
        )
        self.value: Any = None
        self._path: Optional[Path] = None
        self._chunks: list[str] = []
        # The value's string at _path equals the emitted text (no status or
        # footer around it), so an append to it is a delta as it stands.
        self._in_sync = False
        # Fast appends went to _chunks only; the value's string lags behind.
        self._stale = False
        self.located: bool = False
        self.completed: bool = False  # the final full value arrived

    @property
    def text(self) -> str:
        chunks = self._chunks
        if len(chunks) > 1:
            chunks[:] = ["".join(chunks)]
        return chunks[0] if chunks else ""

    @property
    def reasoning(self) -> str:
        """The reasoning or status text so far (every Reasoning event joined)."""
        chunks = self._reasoning_chunks
        if len(chunks) > 1:
            chunks[:] = ["".join(chunks)]
        return chunks[0] if chunks else ""

    def full(self, data: Any, out: list[Event], final: bool = False) -> None:
        """A full value of every output (the first message, and the last).

        Gradio 4 sometimes sends diffs where a full value belongs: it keys its
        diff state by the id() of the run's iterator, so a new run that reuses a
        finished one's address starts with ``[["replace", [], value]]``.
        """
        try:
            value = data[self._output]
        except (TypeError, IndexError, KeyError):
            raise ProtocolError("a message has no chatbot output", payload=data) from None
        if is_diff(value):
            if self._stale and self._path is not None:
                _set(self.value, self._path, self.text)
            value = apply_diff(self.value, value)
        self.value = value
        self._stale = False
        self._reread(out, final)
        self.completed = final

    def diff(self, data: Any, out: list[Event]) -> None:
        """Diff ops for every output; only the chatbot's matter."""
        try:
            ops = data[self._output]
        except (TypeError, IndexError, KeyError):
            raise ProtocolError("a diff has no chatbot output", payload=data) from None
        if not ops:
            return
        if self.value is None:
            raise ProtocolError("a diff arrived before any full value", payload=ops)
        path = self._path
        plain = self._plain
        chunks = self._chunks
        for i, op in enumerate(ops):
            if type(op) is list and len(op) == 3:
                action, where, piece = op  # unpacked once: this runs for every message
                if action == "append" and type(piece) is str:
                    if self._in_sync and where == path and (plain is None or plain(piece)):
                        if piece:
                            chunks.append(piece)
                            self._stale = True
                            out.append(TextDelta(piece))
                        continue
                    if where == self._reasoning_path and self._reasoning_path is not None:
                        # Reasoning streams apart: applied as it comes, its piece is the delta.
                        apply_edit(self.value, where, "append", piece)
                        if piece:
                            self._reasoning_chunks.append(piece)
                            out.append(Reasoning(piece))
                        continue
            # Anything else: bring the value up to date, apply the rest, reread.
            if self._stale and path is not None:
                _set(self.value, path, self.text)
                self._stale = False
            if not isinstance(ops, list):
                raise ProtocolError("a diff is not a list of ops", payload=ops)
            self.value = apply_diff(self.value, ops[i:])
            self._reread(out, final=False)
            return

    def _reread(self, out: list[Event], final: bool) -> None:
        if self._locate_reasoning is not None:
            self._reread_reasoning(out)
        path = self._locate(self.value, self._first)
        self._path = path
        if path is None:
            self._in_sync = False
            return
        raw = _get(self.value, path)
        self.located = True
        if self._clean is None:
            answer, status = raw, ""
        else:
            answer, status = self._clean(raw, final)
            if status and status != self.reasoning:
                self._reasoning_chunks[:] = [status]
                out.append(Reasoning(status))
        self._update(answer, out)
        self._in_sync = answer is raw or answer == raw

    def _reread_reasoning(self, out: list[Event]) -> None:
        assert self._locate_reasoning is not None
        path = self._locate_reasoning(self.value, self._first)
        self._reasoning_path = path
        if path is None:
            return
        new, old = _get(self.value, path), self.reasoning
        if not isinstance(new, str) or new == old:
            return
        # Reasoning events only add: a rewrite (rare) sends the new tail.
        keep = len(old) if new.startswith(old) else _common_prefix(old, new)
        if new[keep:]:
            out.append(Reasoning(new[keep:]))
        self._reasoning_chunks[:] = [new]

    def _update(self, new: str, out: list[Event]) -> None:
        old = self.text
        if new == old:
            return
        if new.startswith(old):
            out.append(TextDelta(new[len(old) :]))
        else:
            keep = _common_prefix(old, new)
            log.debug("the Space rewrote its answer: %d characters taken back", len(old) - keep)
            out.append(TextDelta(new[keep:], backtrack=len(old) - keep))
        self._chunks[:] = [new]


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    lo, hi = 0, n
    while lo < hi:  # binary search on slice equality: C-speed comparisons
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo
