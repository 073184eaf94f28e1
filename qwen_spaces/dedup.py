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

from .endpoints import ChatbotFormat
from .errors import ProtocolError
from .events import Event, Reasoning, TextDelta
from .gradio import apply_diff, is_diff

__all__ = [
    "THINKING",
    "AnswerCleaner",
    "AnswerTracker",
    "FooterCleaner",
    "clean_onem",
    "locate_answer",
]

log = logging.getLogger("qwen_spaces")

THINKING = "Qwen is thinking..."
_SUMMARY = "<summary>"
_SUMMARY_END = "</summary>"

Path = list[Any]


def locate_answer(value: Any, fmt: ChatbotFormat, first: int) -> Optional[Path]:
    """The path to the answer string in a chatbot value, or None if none yet.

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


def clean_onem(raw: str, final: bool) -> tuple[str, str]:
    """The 1M demo's text -> (answer, status).

    "Qwen is thinking..." is a status, not answer text. A trailing
    ``<summary>...</summary>`` block is the Space's footer; while streaming, a
    tail that may be the start of one is held back until it is clear.
    """
    status = ""
    if raw.startswith(THINKING):
        status, raw = THINKING, raw[len(THINKING) :].lstrip()
    start = raw.rfind(_SUMMARY)
    if start != -1:
        end = raw.find(_SUMMARY_END, start)
        if end == -1 or not raw[end + len(_SUMMARY_END) :].strip():
            return _drop_newline(raw[:start]), status
    if not final:
        for prefix in ("\n" + _SUMMARY, _SUMMARY):
            for n in range(min(len(prefix), len(raw)), 1, -1):
                if raw.endswith(prefix[:n]):
                    return _drop_newline(raw[:-n]), status
    return raw, status


def _drop_newline(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


class AnswerCleaner(Protocol):
    """What a Space wraps around its answer, and how to take it off."""

    def clean(self, raw: str, final: bool) -> tuple[str, str]:
        """The raw answer string -> (answer text, status text)."""

    def plain(self, piece: str) -> bool:
        """Whether an appended piece is answer text as it stands."""


class FooterCleaner:
    """The 1M demo's answer: a "thinking" status, then text, then a summary footer."""

    @staticmethod
    def clean(raw: str, final: bool) -> tuple[str, str]:
        return clean_onem(raw, final)

    @staticmethod
    def plain(piece: str) -> bool:
        return "<" not in piece  # a piece with "<" may open the footer


class AnswerTracker:
    """Follows one run's chatbot output and emits answer deltas."""

    __slots__ = (
        "_chunks",
        "_clean",
        "_first",
        "_fmt",
        "_in_sync",
        "_output",
        "_path",
        "_plain",
        "_stale",
        "located",
        "reasoning",
        "value",
    )

    def __init__(
        self,
        fmt: ChatbotFormat,
        output: int,
        first: int,
        cleaner: Optional[AnswerCleaner] = None,
    ) -> None:
        self._fmt: ChatbotFormat = fmt
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
        self.reasoning = ""
        self.located = False

    @property
    def text(self) -> str:
        chunks = self._chunks
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
            if (
                self._in_sync
                and type(op) is list
                and len(op) == 3
                and op[0] == "append"
                and op[1] == path
                and type(op[2]) is str
                and (plain is None or plain(op[2]))
            ):
                piece = op[2]
                if piece:
                    chunks.append(piece)
                    self._stale = True
                    out.append(TextDelta(piece))
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
        path = locate_answer(self.value, self._fmt, self._first)
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
                self.reasoning = status
                out.append(Reasoning(status))
        self._update(answer, out)
        self._in_sync = answer is raw or answer == raw

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
