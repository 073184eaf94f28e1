"""The fault tier's runner: one call with the sync or the async client, and what happened.

Every fault test runs twice (mode = "sync" | "async"); ``record`` collects the
outcomes into ``OUTCOMES`` (fault -> mode -> summary), which
``tests/faults/conftest.py`` writes as a table where QWEN_SPACES_FAULT_TABLE points.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import qwen_spaces as qs

OUTCOMES: dict[str, dict[str, str]] = {}


@dataclass
class Outcome:
    reply: Optional[qs.Reply] = None
    error: Optional[qs.QwenSpacesError] = None
    events: list[Any] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, qs.TextDelta))

    def summary(self) -> str:
        took = f" in {self.seconds:.1f} s"
        if self.error is not None:
            partial = (
                f", partial_text {len(self.error.partial_text)} chars"
                if self.error.partial_text
                else ""
            )
            return f"{type(self.error).__name__}: {self.error.message[:70]}{partial}{took}"
        assert self.reply is not None
        return f"complete answer, {len(self.reply.text)} chars{took}"


def call(
    mode: str, url: str, messages: Any = "hi", guard: Optional[float] = None, **options: Any
) -> Outcome:
    """One streamed call; errors are caught and returned, never swallowed silently.

    ``guard``: an async call still running after so many seconds is stopped and
    reported as such (a sync one is bounded by its server closing).
    """
    started = time.monotonic()
    outcome = Outcome()
    if mode == "sync":
        with qs.Client(base_url=url, **options) as client:
            stream = client.stream(messages)
            try:
                for event in stream:
                    outcome.events.append(event)
                outcome.reply = stream.reply
            except qs.QwenSpacesError as error:
                outcome.error = error
    else:

        async def run() -> None:
            async with qs.AsyncClient(base_url=url, **options) as client:
                stream = client.stream(messages)
                try:
                    async for event in stream:
                        outcome.events.append(event)
                    outcome.reply = await stream.get_reply()
                except qs.QwenSpacesError as error:
                    outcome.error = error

        async def guarded() -> None:
            try:
                await asyncio.wait_for(run(), guard)
            except asyncio.TimeoutError:
                message = f"test guard: the call was still running after {guard:g} s"
                outcome.error = qs.QwenSpacesError(message, partial_text=outcome.text)

        asyncio.run(guarded())
    outcome.seconds = time.monotonic() - started
    return outcome


def record(fault: str, mode: str, outcome: Outcome) -> None:
    OUTCOMES.setdefault(fault, {})[mode] = outcome.summary()
