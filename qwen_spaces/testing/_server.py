"""FakeSpace: a small aiohttp server that speaks Gradio's queue protocol like the Qwen Spaces.

It runs on 127.0.0.1 in a thread of its own with its own event loop
(``_thread``), so sync tests, asyncio tests and other processes can all talk
to it over real sockets. This module is its face: options and observations;
``_app`` handles the requests, the layout modules say what each Space shows
and ``_script`` builds the messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Optional, Union

from ._app import RecordedRequest, SpaceApp
from ._faults import Fault
from ._layout import AnswerFn, FooterFn, Layout, RecordedChat, Script, default_answer
from ._layouts import make_layout
from ._qwen3 import default_reasoning
from ._script import MessageScript
from ._thread import ThreadServer

__all__ = ["FakeSpace", "RecordedRequest"]

log = logging.getLogger("qwen_spaces.testing")


class FakeSpace:
    """A fake Qwen Space on 127.0.0.1 that plays scripted answers over Gradio's queue protocol.

    No Gradio needed: ``/config``, ``queue/join``, ``queue/data`` (SSE, with
    heartbeats), ``run/predict`` and ``cancel`` behave as on the real Spaces,
    and ``faults`` make it misbehave on purpose. ``layout`` is ``"max"`` (the
    Qwen2.5-Max demo; on ``gradio=4`` also the Qwen2-72B one), ``"1m"`` (the
    Qwen2.5-1M demo), ``"qwen3"`` (the Qwen3 demo: eight models, thinking,
    history kept in the session) or ``"qwen2.5"`` (the Qwen2.5 demo: a size
    radio, dict cells); ``gradio`` picks the generation (4: no ``/gradio_api``
    prefix; 5; 6: messages chatbot), by default the one the real Space runs
    (5 for Max, 4 for 1M and Qwen2.5, which exists on 4 only; 5.27 for Qwen3,
    on 5 only).

    ``answer`` is a str or ``answer(query, turns, system) -> str`` where turns
    counts the earlier exchanges the Space was given (system is "" on 1M); it
    streams ``chunk_size`` characters per update, ``delay`` seconds apart. An
    answer given as a list of str streams exactly those chunks. A callable that
    takes a fourth argument gets the ``RecordedChat`` (Qwen3's model, thinking
    state and budget). ``reasoning`` (Qwen3 only) is scripted the same way and
    streams first, in the turn's "Thinking..." part, while the session's
    thinking is on; by default it names the query, the model and the budget.
    Qwen3's timings are constant: "End of Thought (1.23s)", footer "2.34s".
    ``shift_ids=True`` moves every component id and fn_index of ``/config`` by
    one (a new block on top), for code that must find them by name.
    ``chats`` records what reached each run (the model id, the system prompt,
    the thinking state and budget, the prompt). ``footer``
    (1M) adds a ``"\\n<summary>chunk i/n</summary>"`` block that changes at every
    update, so Gradio sends ``replace`` ops; a callable ``footer(i, n)`` makes
    your own. ``tokens=N`` is the benchmark mode: exactly N diffs of
    ``token_text`` as fast as possible (no delay, every message encoded once,
    one HTTP chunk each); on Max the first full value has an empty answer and
    all N are appends, on 1M the first replaces the placeholder. Streams end
    by ``max_stream_seconds`` whatever happens; an idle stream sends Gradio's
    heartbeat every ``heartbeat_interval`` seconds. ``port`` is the port to
    listen on, 0 (the default) for a free one (``space.url`` says which).

    Example::

        from qwen_spaces.testing import FakeSpace, Fault

        with FakeSpace(answer="Hello there", faults=[Fault.queue_full(times=1)]) as space:
            client = Client(base_url=space.url)        # your code under test
            ...
            assert space.connections_opened == 1
    """

    def __init__(
        self,
        layout: str = "max",
        gradio: Optional[int] = None,
        answer: Union[Script, AnswerFn] = default_answer,
        chunk_size: int = 3,
        delay: float = 0.0,
        footer: Union[bool, FooterFn] = False,
        tokens: Optional[int] = None,
        token_text: str = "ha ",
        heartbeat_interval: float = 15.0,
        faults: Sequence[Fault] = (),
        max_stream_seconds: float = 30.0,
        port: int = 0,
        reasoning: Union[Script, AnswerFn, None] = None,
        shift_ids: bool = False,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if tokens is not None and tokens < 0:
            raise ValueError("tokens must not be negative")
        if delay < 0 or heartbeat_interval <= 0 or max_stream_seconds <= 0:
            raise ValueError("delay must be >= 0; heartbeat_interval and max_stream_seconds > 0")
        the_layout = make_layout(layout, gradio, shift_ids=shift_ids)
        if reasoning is not None and not the_layout.thinks:
            raise ValueError(f"reasoning is only streamed by the 'qwen3' layout, not {layout!r}")
        if reasoning is None and the_layout.thinks:
            reasoning = default_reasoning
        script = MessageScript(
            the_layout,
            answer,
            chunk_size=chunk_size,
            footer=footer,
            tokens=tokens,
            token_text=token_text,
            reasoning=reasoning,
        )
        self._app = SpaceApp(
            the_layout,
            script,
            delay=delay,
            heartbeat_interval=heartbeat_interval,
            max_stream_seconds=max_stream_seconds,
            faults=faults,
        )
        self._server = ThreadServer(self._app, port)

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeSpace:
        """Start serving in a background thread; returns once ``url`` accepts connections."""
        self._server.start()
        log.debug(
            "fake %s Space (Gradio %s) at %s", self.layout.name, self.layout.version, self.url
        )
        return self

    def stop(self) -> None:
        """Close every connection, stop the thread, delete the uploads. Safe to call twice."""
        self._server.stop()
        self._app.remove_uploads()

    def restart(self) -> None:
        """Act as a Space that restarted: every session is forgotten, ``app_id`` changes.

        Call it between calls. A follow-up then finds its session empty, as
        after a real Space's crash, rebuild or wake from sleep.
        """
        self._app.restart()

    @property
    def app_id(self) -> int:
        """The ``app_id`` the Space gives in ``/config`` and at ``/app_id``."""
        return self._app.app_id

    def __enter__(self) -> FakeSpace:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeSpace:
        # The server keeps its own thread and loop even here, so a test that
        # blocks its own loop cannot starve the Space.
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        return self._app.describe()

    # --- configuration ---------------------------------------------------------

    @property
    def layout(self) -> Layout:
        """The Space's layout: which demo, which Gradio generation."""
        return self._app.layout

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The faults given, in order."""
        return self._app.faults

    @property
    def chunk_size(self) -> int:
        """Characters of a str answer per update."""
        return self._app.script.chunk_size

    @property
    def delay(self) -> float:
        """Seconds between updates."""
        return self._app.delay

    @property
    def tokens(self) -> Optional[int]:
        """Benchmark mode's number of diffs, or None."""
        return self._app.script.tokens

    @property
    def token_text(self) -> str:
        """Benchmark mode's text of one diff."""
        return self._app.script.token_text

    @property
    def heartbeat_interval(self) -> float:
        """Seconds of silence before a stream sends a heartbeat."""
        return self._app.heartbeat_interval

    @property
    def max_stream_seconds(self) -> float:
        """How long a stream may last, whatever happens."""
        return self._app.max_stream_seconds

    # --- observability ---------------------------------------------------------

    @property
    def url(self) -> str:
        """Where the Space serves, once started (``""`` before)."""
        return self._app.url

    @property
    def other_url(self) -> str:
        """Where ``Fault.redirect_join`` sends the join: another host name."""
        return self._app.other_url

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received (but ``/_fake/*``), oldest first."""
        return list(self._app.requests)

    @property
    def redirected_requests(self) -> list[RecordedRequest]:
        """Requests that reached the other host of ``Fault.redirect_join``."""
        return list(self._app.redirected)

    @property
    def chats(self) -> list[RecordedChat]:
        """Every chat run the Space started, oldest first: what reached the model."""
        return list(self._app.chats)

    @property
    def cancels(self) -> list[str]:
        """Event ids POSTed to ``cancel``."""
        return list(self._app.cancels)

    @property
    def connections_opened(self) -> int:
        """TCP connections that carried at least one Space request (``/_fake/*`` ones
        don't count, so polling the stats does not disturb a keep-alive check)."""
        return self._app.connections_opened

    @property
    def open_connections(self) -> int:
        """Of those, how many are open now."""
        return len(self._app.live)

    def stats(self) -> dict[str, Any]:
        """The counters, as ``GET /_fake/stats`` returns them."""
        return self._app.stats()
