"""One queued event of a fake Space: its messages, in order, with the faults due.

``EventRunner.run`` is the life of one ``queue/join``: estimation, start, the
layout's chat run (or its other function), each update diffed against the
last, the completion; the stream faults fire between updates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Optional

from ._faults import STREAM_FAULTS, Fault, FaultBook
from ._gradio import InputError, diff, encode
from ._layout import Chat, Layout, RecordedChat
from ._script import MessageScript
from ._stream import Abort, Eof, Send, Session, Stall

__all__ = ["EventRunner"]

log = logging.getLogger("qwen_spaces.testing")

_FIRED_ELSEWHERE = frozenset({"queue_wait", "heartbeats_only", "dribble"})


class _Run:
    """What one event has sent so far."""

    def __init__(self, session: Session, event_id: str, dribble: Optional[float]) -> None:
        self.session = session
        self.event_id = event_id
        self.dribble = dribble
        self.sent = 0  # process_generating messages
        self.previous: Optional[list[Any]] = None  # the output values last shown

    def send(self, message: Mapping[str, Any], done: bool = False) -> None:
        item = Send(encode(message), self.dribble, self.event_id if done else None)
        self.session.outbox.put_nowait(item)


class EventRunner:
    """Plays the events of one Space; ``record`` receives each chat run it starts."""

    def __init__(
        self,
        layout: Layout,
        script: MessageScript,
        faults: FaultBook,
        *,
        delay: float,
        record: Callable[[RecordedChat], None],
    ) -> None:
        self.layout = layout
        self.script = script
        self.faults = faults
        self.delay = delay
        self.record = record

    async def run(
        self, session_hash: str, session: Session, event_id: str, fn: int, data: Any
    ) -> None:
        """The whole event, from its estimation to its completion."""
        script, layout = self.script, self.layout
        # Stream faults are for the chat's runs: a queued call beside them (Qwen3's
        # thinking toggle before its add_message) neither takes nor plays them.
        faults = self.faults.take(STREAM_FAULTS) if fn in layout.chat_fns else []
        by_kind = _by_kind(faults)
        dribble = by_kind["dribble"][0].seconds if "dribble" in by_kind else None
        run = _Run(session, event_id, dribble)

        for fault in by_kind.get("queue_wait", []):
            for rank in range(fault.size, 0, -1):
                run.send(script.estimation(event_id, rank, rank * fault.seconds))
                await asyncio.sleep(fault.seconds)
        run.send(script.estimation(event_id, 0, None))
        if "heartbeats_only" in by_kind:
            return  # the event stays pending: the stream sends heartbeats until bounded
        run.send({"msg": "process_starts", "event_id": event_id, "eta": None})

        chat: Optional[Chat] = None
        try:
            layout.check_inputs(fn, data)
            if fn in layout.chat_fns:
                chat = layout.chat(list(data), session.state)
            else:
                outputs = layout.run(fn, list(data), session.state)
        except InputError as exc:
            # A Space that hides errors hides Gradio's own too (but titles them).
            error = None if layout.shows_errors is False else str(exc)
            run.send(script.completed(event_id, {"error": error}, False, sent=0), done=True)
            return
        if chat is None:  # a function that is not a chat: one unremarkable answer
            output = script.output(outputs, generating=False)
            run.send(script.completed(event_id, output, success=True), done=True)
            return
        self.record(
            RecordedChat(
                session_hash,
                chat.query,
                chat.turns,
                chat.system,
                chat.model,
                chat.thinking,
                chat.thinking_budget,
            )
        )
        try:
            chunks, reasoning = script.chunks(chat), script.reasoning_chunks(chat)
        except Exception:
            # A broken scripted answer fails like a Space's hidden exception.
            log.exception("the answer function raised")
            run.send(script.completed(event_id, script.error_output(None), False), done=True)
            return
        answer = "".join(chunks)
        if script.tokens is not None and not faults:
            # Benchmark mode: every message encoded up front, one write each.
            *writes, completion = script.fast_tokens(chat, event_id, answer)
            for write in writes:
                session.outbox.put_nowait(Send(write))
            session.outbox.put_nowait(Send(completion, done=event_id))
            chat.on_complete(answer)
            return
        await self._play(run, chat, faults, self._frames(chat, chunks, reasoning), answer)

    def _frames(
        self, chat: Chat, chunks: Sequence[str], reasoning: Sequence[str]
    ) -> Iterator[list[Any]]:
        """Every output value the run shows, in order."""
        if chat.frames is not None:
            return chat.frames(chunks, reasoning)
        return (chat.render(text) for text in self.script.texts(chunks))

    async def _play(
        self,
        run: _Run,
        chat: Chat,
        faults: list[Fault],
        frames: Iterable[list[Any]],
        answer: str,
    ) -> None:
        script = self.script
        values_shown = iter(frames)
        # The faults due fire before the next value is even made: a layout's
        # frames change its turn as they go (what Qwen3's error turn shows).
        while True:
            if self._fire(faults, run, chat):
                return
            values = next(values_shown, None)
            if values is None:
                break
            self._show(run, values)
            if self.delay:
                await asyncio.sleep(self.delay)
        # A fault placed past the end still fires, before the completion.
        if self._fire(faults, run, chat, at_end=True):
            return
        assert run.previous is not None  # a run shows at least one value
        if chat.failed is not None:  # the run ended in the Space's error turn
            self._complete_failed(run, chat, chat.failed or None)
            return
        if chat.trailer:
            run.send(script.generating(run.event_id, [[] for _ in run.previous]))
        final = script.output(run.previous, generating=False)
        run.send(script.completed(run.event_id, final, True), done=True)
        chat.on_complete(answer)

    def _show(self, run: _Run, values: list[Any]) -> None:
        """One process_generating: full values first, then diffs against the last."""
        if run.previous is None:
            out = values
        else:
            out = [diff(p, v) for p, v in zip(run.previous, values, strict=True)]
        run.send(self.script.generating(run.event_id, out))
        run.previous = values
        run.sent += 1

    def _complete_failed(self, run: _Run, chat: Chat, message: Optional[str]) -> None:
        """A failed completion; a layout that shows failures in its chatbot shows it first."""
        if message is not None:
            for values in chat.fail(message):
                self._show(run, values)
        hidden = chat.hides_errors or message is None
        output = self.script.error_output(None if hidden else message)
        run.send(self.script.completed(run.event_id, output, False, sent=run.sent), done=True)

    def _fire(self, faults: list[Fault], run: _Run, chat: Chat, *, at_end: bool = False) -> bool:
        """Play the faults due after ``run.sent`` updates (at the end: all still due).

        True when the event ends here.
        """
        put, sent = run.session.outbox.put_nowait, run.sent
        due = [
            f
            for f in faults
            if f.kind not in _FIRED_ELSEWHERE
            and (f.updates == sent or (at_end and f.updates > sent))
        ]
        for fault in due:
            log.info("fault after %s updates: %s", sent, fault.kind)
            match fault.kind:
                case "drop_after":
                    put(Abort())
                    return True
                case "eof_after":
                    put(Eof())
                    return True
                case "stall_after":
                    put(Stall(fault.seconds))
                case "malformed_json":
                    put(Send(b'data: {"msg":"process_generating","output":{"data":[[],[["app\n\n'))
                case "unknown_message":
                    message = {
                        "msg": "process_paused",
                        "event_id": run.event_id,
                        "reason": "unknown kind",
                    }
                    put(Send(encode(message), run.dribble))
                case "huge_event":
                    put(Send(self.script.huge(run.event_id, chat, fault.size)))
                case "space_error":
                    self._complete_failed(run, chat, fault.message)
                    return True
        return False


def _by_kind(faults: Iterable[Fault]) -> dict[str, list[Fault]]:
    """The faults grouped by kind, each group in list order."""
    grouped: dict[str, list[Fault]] = {}
    for fault in faults:
        grouped.setdefault(fault.kind, []).append(fault)
    return grouped
