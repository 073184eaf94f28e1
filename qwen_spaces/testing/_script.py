"""What a run of a fake Space's chat function sends, message by message, as Gradio would.

Pure: no asyncio, no aiohttp. ``MessageScript`` knows the answer options and
the layout; the app (``_app``) decides when each message goes out.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Optional, Union, overload

from ._gradio import diff, encode
from ._layout import AnswerFn, Chat, FooterFn, Layout, RecordedChat, Script, footer

__all__ = ["DURATION", "MessageScript"]

DURATION = 0.05  # reported run times: constant, so equal runs give equal bytes
_HUGE_PIECE = 1 << 20


class MessageScript:
    """The answer a fake Space streams and the Gradio messages that carry it.

    ``answer``, ``reasoning``, ``chunk_size``, ``footer``, ``tokens`` and
    ``token_text`` are FakeSpace's arguments of the same names; ``layout``
    picks the Gradio generation whose messages are built.
    """

    def __init__(
        self,
        layout: Layout,
        answer: Union[Script, AnswerFn],
        *,
        chunk_size: int,
        footer: Union[bool, FooterFn],
        tokens: Optional[int],
        token_text: str,
        reasoning: Union[Script, AnswerFn, None] = None,
    ) -> None:
        self.layout = layout
        self.answer = answer
        self.reasoning = reasoning
        self.chunk_size = chunk_size
        self.footer: Optional[FooterFn] = (
            (footer if callable(footer) else _footer_text) if footer else None
        )
        self.tokens = tokens
        self.token_text = token_text

    # --- the answer ----------------------------------------------------------------

    def chunks(self, chat: Chat) -> Sequence[str]:
        """What the answer streams in: scripted chunks, or chunk_size pieces."""
        if self.tokens is not None:
            return _Repeated(self.token_text, self.tokens)
        return self._split(self._play(self.answer, chat)) or [""]

    def reasoning_chunks(self, chat: Chat) -> Sequence[str]:
        """What the reasoning streams in (none when the run does not think)."""
        if not chat.thinking or self.reasoning is None or self.tokens is not None:
            return []
        return self._split(self._play(self.reasoning, chat))

    def _play(self, script: Union[Script, AnswerFn], chat: Chat) -> Script:
        if not callable(script):
            return script
        if _takes_record(script):
            record = RecordedChat(
                "",
                chat.query,
                chat.turns,
                chat.system,
                chat.model,
                chat.thinking,
                chat.thinking_budget,
            )
            return script(chat.query, chat.turns, chat.system, record)
        return script(chat.query, chat.turns, chat.system)

    def _split(self, script: Script) -> list[str]:
        if isinstance(script, str):
            size = self.chunk_size
            return [script[i : i + size] for i in range(0, len(script), size)]
        return list(script)

    def texts(self, chunks: Sequence[str]) -> Iterator[str]:
        """The successive texts the chatbot shows, lazily (a benchmark's can be long)."""
        if self.layout.placeholder is not None:
            yield self.layout.placeholder
        elif self.tokens is not None:
            yield ""  # benchmark mode: the first full value carries no words yet
        text, total = "", len(chunks)
        for step, chunk in enumerate(chunks, 1):
            text += chunk
            yield text + self.footer(step, total) if self.footer else text

    # --- messages, per Gradio generation -------------------------------------------

    def estimation(self, event_id: str, rank: int, eta: Optional[float]) -> dict[str, Any]:
        """The queue position message."""
        return {
            "msg": "estimation",
            "event_id": event_id,
            "rank": rank,
            "queue_size": rank + 1,
            "rank_eta": eta,
        }

    def output(self, data: list[Any], *, generating: bool = True) -> dict[str, Any]:
        """The ``output`` of a generating or completed message."""
        output: dict[str, Any] = {
            "data": data,
            "is_generating": generating,
            "duration": DURATION,
            "average_duration": DURATION,
            "render_config": None,
            "changed_state_ids": [],
        }
        if self.layout.gradio >= 6:
            output["used_cache"] = None
        return output

    def generating(self, event_id: str, data: list[Any]) -> dict[str, Any]:
        """A ``process_generating`` update carrying ``data`` (full values or diffs)."""
        message: dict[str, Any] = {
            "msg": "process_generating",
            "event_id": event_id,
            "output": self.output(data),
            "success": True,
        }
        if self.layout.gradio >= 5:
            message["time_limit"] = None
        return message

    def error_output(self, text: Optional[str]) -> dict[str, Any]:
        """What a failed run carries: ``{"error": null}`` for a hidden exception,
        else gr.Error's payload (Gradio 4 sends the message's repr)."""
        if text is None:
            return {"error": None}
        if self.layout.gradio == 4:
            return {"error": repr(text), "duration": 10, "visible": True}
        return {"error": text, "duration": 10, "visible": True, "title": "Error"}

    def completed(
        self, event_id: str, output: dict[str, Any], success: bool, *, sent: int = 0
    ) -> dict[str, Any]:
        """The ``process_completed`` message; ``sent`` counts the updates before it."""
        message: dict[str, Any] = {
            "msg": "process_completed",
            "event_id": event_id,
            "output": output,
            "success": success,
        }
        if self.layout.gradio >= 5:
            # Gradio titles a failure of the first call, not of a later generator step.
            message["title"] = "Error" if not success and sent == 0 else None
        if self.layout.gradio >= 6:
            timing = DURATION if success else None
            message.update({"used_cache": None, "cache_duration": timing, "avg_time": timing})
        return message

    # --- byte generators -------------------------------------------------------------

    def huge(self, event_id: str, chat: Chat, size: int) -> Iterator[bytes]:
        """One append of ``size`` bytes, written in 1 MiB chunks."""
        data: list[Any] = [[] for _ in range(chat.n_outputs)]
        data[chat.chatbot_output] = [["append", chat.answer_path, "\x00"]]
        head, tail = encode(self.generating(event_id, data)).split(b"\\u0000")
        yield head
        full, rest = divmod(size, _HUGE_PIECE)
        piece = b"x" * _HUGE_PIECE
        for _ in range(full):
            yield piece
        yield b"x" * rest + tail

    def fast_tokens(
        self, chat: Chat, event_id: str, answer: str
    ) -> list[Union[bytes, Iterable[bytes]]]:
        """Benchmark mode: the same bytes as the general path, but every append
        encoded once up front. Each item is one write (an iterable: one HTTP
        chunk per element); the last is the completion."""
        n, token = self.tokens or 0, self.token_text
        texts = self.texts(_Repeated(token, n))
        first_text = next(texts)

        def message(op: str, value: str) -> bytes:
            data: list[Any] = [[] for _ in range(chat.n_outputs)]
            data[chat.chatbot_output] = [[op, chat.answer_path, value]]
            return encode(self.generating(event_id, data))

        def replayed() -> Iterator[bytes]:
            # A changing footer: each text diffed against the last (O(n) each, as Gradio).
            previous = first_text
            for text in texts:
                if text.startswith(previous):
                    yield message("append", text[len(previous) :])
                else:
                    yield message("replace", text)
                previous = text

        chunks: Iterable[bytes]
        if self.footer:
            chunks = replayed()
        elif first_text == "":
            chunks = itertools.repeat(message("append", token), n)
        else:  # the first words replace the 1M placeholder
            head = [message("replace", token)] if n else []
            chunks = itertools.chain(head, itertools.repeat(message("append", token), n - 1))
        if n == 0:
            last = first_text
        else:
            last = answer + self.footer(n, n) if self.footer else answer
        items: list[Union[bytes, Iterable[bytes]]] = [
            encode(self.generating(event_id, chat.render(first_text))),
            chunks,
        ]
        if chat.trailer:
            items.append(encode(self.generating(event_id, [[] for _ in range(chat.n_outputs)])))
        values = chat.render(last)
        for after in chat.finish(last):  # Qwen3: the turn marked done, the input freed
            items.append(encode(self.generating(event_id, _diffs(values, after))))
            values = after
        final = self.output(values, generating=False)
        items.append(encode(self.completed(event_id, final, True)))
        return items


class _Repeated(Sequence[str]):
    """``[text] * n`` without the list: a benchmark's 100,000 chunks cost nothing."""

    def __init__(self, text: str, n: int) -> None:
        self._text, self._n = text, n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: Union[int, slice]) -> Union[str, Sequence[str]]:
        if isinstance(index, slice):
            return [self._text] * len(range(*index.indices(self._n)))
        if not -self._n <= index < self._n:
            raise IndexError(index)
        return self._text

    def __iter__(self) -> Iterator[str]:
        return itertools.repeat(self._text, self._n)


def _diffs(old: list[Any], new: list[Any]) -> list[Any]:
    return [diff(a, b) for a, b in zip(old, new, strict=True)]


def _takes_record(fn: AnswerFn) -> bool:
    """Whether a scripted answer takes a fourth argument, the RecordedChat."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 4 or any(p.kind is p.VAR_POSITIONAL for p in positional)


def _footer_text(step: int, total: int) -> str:
    return footer(step, total)
