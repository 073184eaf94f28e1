"""Faults a FakeSpace can inject: each a small frozen value built by a named constructor."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Optional

__all__ = ["JOIN_FAULTS", "STREAM_FAULTS", "Fault", "FaultBook", "FaultKind"]

FaultKind = Literal[
    # on POST {P}/queue/join
    "reset_before_join",
    "join_error",
    "redirect_join",
    # on GET {P}/queue/data
    "session_not_found",
    # on an event's stream
    "queue_wait",
    "heartbeats_only",
    "drop_after",
    "stall_after",
    "eof_after",
    "malformed_json",
    "unknown_message",
    "space_error",
    "dribble",
    "huge_event",
    # on GET /config
    "config_answer",
    # on POST {P}/run/predict
    "predict_diff",
    # on POST {P}/upload
    "upload_error",
    "upload_drop",
    # at the start of GET {P}/queue/data
    "stream_prefix",
]

JOIN_FAULTS: frozenset[str] = frozenset({"reset_before_join", "join_error", "redirect_join"})
STREAM_FAULTS: frozenset[str] = frozenset(
    {
        "queue_wait",
        "heartbeats_only",
        "drop_after",
        "stall_after",
        "eof_after",
        "malformed_json",
        "unknown_message",
        "space_error",
        "dribble",
        "huge_event",
    }
)

_HTML_502 = (
    "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n"
    "<body>\n<center><h1>502 Bad Gateway</h1></center>\n"
    "<p>The Space is restarting or unreachable. Please retry in a moment.</p>\n"
    "</body>\n</html>\n"
)


@dataclass(frozen=True)
class Fault:
    """One way for the fake Space to misbehave, for ``times`` occurrences.

    ``times`` counts the requests (join faults, ``session_not_found``) or the
    events (stream faults) it applies to; ``None`` means every one. Join faults
    are consumed in list order, so ``[Fault.queue_full(times=2),
    Fault.rate_limited()]`` answers 503, 503, 429, then OK. Stream faults all
    apply to the same event. ``updates`` counts the ``process_generating``
    messages (text updates; the first, full-value one included) that go out
    before a stream fault fires: 0 fires before any text.

    The other fields belong to particular kinds, and the class methods set
    them: ``kind`` names the fault, ``seconds`` a wait or stall, ``status``,
    ``body``, ``content_type`` and ``headers`` an HTTP answer, ``message`` a
    Space's error text and ``size`` a count (the requests ahead in the queue,
    the bytes of an oversized event, the bytes read before an upload drops).

    Build them with the class methods::

        FakeSpace(faults=[Fault.queue_full(times=2), Fault.drop_after(updates=3)])
    """

    kind: FaultKind
    times: Optional[int] = 1
    updates: int = 0
    seconds: float = 0.0
    status: int = 0
    body: str = ""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    message: Optional[str] = None
    size: int = 0

    def __post_init__(self) -> None:
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1, or None for every time")
        if self.updates < 0 or self.seconds < 0 or self.size < 0:
            raise ValueError("updates, seconds and size must not be negative")

    # --- the join -----------------------------------------------------------

    @classmethod
    def reset_before_join(cls, times: Optional[int] = 1) -> Fault:
        """The join's TCP connection is reset (RST) before any answer."""
        return cls("reset_before_join", times=times)

    @classmethod
    def join_error(
        cls,
        status: int,
        body: str,
        *,
        content_type: str = "application/json",
        headers: tuple[tuple[str, str], ...] = (),
        times: Optional[int] = 1,
    ) -> Fault:
        """The join answers ``status`` with this body (any HTTP error)."""
        return cls(
            "join_error",
            times=times,
            status=status,
            body=body,
            content_type=content_type,
            headers=headers,
        )

    @classmethod
    def queue_full(cls, times: Optional[int] = 2) -> Fault:
        """503 ``{"detail": "Queue is full. Max size is 1 and size is 1."}``, as Gradio says it."""
        return cls.join_error(
            503, '{"detail":"Queue is full. Max size is 1 and size is 1."}', times=times
        )

    @classmethod
    def queue_stopped(cls, times: Optional[int] = 1) -> Fault:
        """503 ``{"detail": "Queue is stopped."}``."""
        return cls.join_error(503, '{"detail":"Queue is stopped."}', times=times)

    @classmethod
    def rate_limited(cls, times: Optional[int] = 1, retry_after: int = 1) -> Fault:
        """429 with ``Retry-After: <retry_after>``."""
        return cls.join_error(
            429,
            '{"error":"Too Many Requests"}',
            headers=(("Retry-After", str(retry_after)),),
            times=times,
        )

    @classmethod
    def bad_gateway(cls, times: Optional[int] = 1) -> Fault:
        """An HTML 502 page, as a proxy in front of a restarting Space answers."""
        return cls.join_error(502, _HTML_502, content_type="text/html", times=times)

    @classmethod
    def redirect_join(cls, times: Optional[int] = 1, status: int = 307) -> Fault:
        """The join answers a redirect to another host (``localhost`` on a second port).

        That listener serves the same Space and records what reached it in
        ``FakeSpace.redirected_requests`` (was an Authorization header sent?).
        """
        return cls("redirect_join", times=times, status=status)

    # --- the session stream -------------------------------------------------

    @classmethod
    def session_not_found(cls, times: Optional[int] = 1) -> Fault:
        """``{"msg": "unexpected_error", "message": "404: Session not found."}``, then the
        connection breaks, as Gradio does for a session it does not know."""
        return cls("session_not_found", times=times)

    # --- one event on the stream ----------------------------------------------

    @classmethod
    def queue_wait(cls, ahead: int = 3, seconds: float = 0.1, times: Optional[int] = 1) -> Fault:
        """Queue a while first: ``estimation`` with rank ``ahead`` down to 0, ``seconds`` apart."""
        return cls("queue_wait", times=times, size=ahead, seconds=seconds)

    @classmethod
    def heartbeats_only(cls, times: Optional[int] = 1) -> Fault:
        """After the ``estimation``, only heartbeats (at the Space's heartbeat_interval)
        until the stream's ``max_stream_seconds`` bound ends it."""
        return cls("heartbeats_only", times=times)

    @classmethod
    def drop_after(cls, updates: int = 3, times: Optional[int] = 1) -> Fault:
        """The connection is aborted mid-stream, after ``updates`` text updates."""
        return cls("drop_after", times=times, updates=updates)

    @classmethod
    def stall_after(cls, updates: int = 3, seconds: float = 5.0, times: Optional[int] = 1) -> Fault:
        """Not a byte (no heartbeat either) for ``seconds``, then the stream goes on."""
        return cls("stall_after", times=times, updates=updates, seconds=seconds)

    @classmethod
    def eof_after(cls, updates: int = 3, times: Optional[int] = 1) -> Fault:
        """The stream ends cleanly (EOF) with neither ``process_completed`` nor ``close_stream``."""
        return cls("eof_after", times=times, updates=updates)

    @classmethod
    def malformed_json(cls, updates: int = 1, times: Optional[int] = 1) -> Fault:
        """A ``data:`` line that is not JSON, then the stream goes on."""
        return cls("malformed_json", times=times, updates=updates)

    @classmethod
    def unknown_message(cls, updates: int = 1, times: Optional[int] = 1) -> Fault:
        """A message of an unknown ``msg`` kind, then the stream goes on."""
        return cls("unknown_message", times=times, updates=updates)

    @classmethod
    def space_error(
        cls, message: Optional[str] = None, updates: int = 0, times: Optional[int] = 1
    ) -> Fault:
        """``process_completed`` with ``success: false``: ``{"error": null}`` without a
        message (an exception the Space hides), else the message as ``gr.Error`` sends it."""
        return cls("space_error", times=times, updates=updates, message=message)

    @classmethod
    def dribble(cls, seconds: float = 0.0005, times: Optional[int] = 1) -> Fault:
        """The event's bytes are written one at a time, ``seconds`` apart, so
        multi-byte UTF-8 characters arrive split across reads."""
        return cls("dribble", times=times, seconds=seconds)

    @classmethod
    def huge_event(
        cls, size: int = 20 * 1024 * 1024, updates: int = 1, times: Optional[int] = 1
    ) -> Fault:
        """One ``process_generating`` message carrying an append of ``size`` bytes."""
        return cls("huge_event", times=times, updates=updates, size=size)

    # --- /upload ----------------------------------------------------------------

    @classmethod
    def upload_error(
        cls,
        status: int = 413,
        body: str = '{"detail":"Request Entity Too Large"}',
        times: Optional[int] = 1,
    ) -> Fault:
        """``POST {P}/upload`` answers ``status`` (413 too large, 5xx...) without storing."""
        return cls("upload_error", times=times, status=status, body=body)

    @classmethod
    def upload_drop(cls, after_bytes: int = 65536, times: Optional[int] = 1) -> Fault:
        """The upload's connection is cut after ``after_bytes`` of its body have arrived."""
        return cls("upload_drop", times=times, size=after_bytes)

    # --- /run/predict -----------------------------------------------------------

    @classmethod
    def predict_diff(cls, times: Optional[int] = 1) -> Fault:
        """A generator's predict answers, in place of its outputs, their diff against the
        session's previous predict answer, as Gradio 4 does when CPython gives the new
        generator the address of the one the previous call freed (see ``gradio.is_diff``).
        The session's first predict has nothing to diff against and is not counted."""
        return cls("predict_diff", times=times)

    # --- /config ----------------------------------------------------------------

    @classmethod
    def config_answer(
        cls,
        body: str,
        *,
        status: int = 200,
        content_type: str = "application/json",
        times: Optional[int] = None,
    ) -> Fault:
        """``GET /config`` answers ``status`` with this body instead of the layout's config
        (a config of an unexpected shape, an HTML page of a sleeping Space...)."""
        return cls(
            "config_answer", times=times, status=status, body=body, content_type=content_type
        )

    @classmethod
    def stream_bom(cls, split: bool = True, times: Optional[int] = 1) -> Fault:
        """The session stream opens with a UTF-8 byte-order mark; ``split`` writes it in
        two HTTP chunks (its first byte, a pause, the rest) so it arrives cut."""
        return cls("stream_prefix", times=times, body="\ufeff", seconds=0.05 if split else 0.0)

    @classmethod
    def stream_message(cls, message: Mapping[str, Any], times: Optional[int] = 1) -> Fault:
        """The session stream opens with this message (then goes on as usual), e.g.
        Gradio 3's ``{"msg": "queue_full"}``."""
        body = f"data: {json.dumps(message)}\n\n"
        return cls("stream_prefix", times=times, body=body)


class FaultBook:
    """The faults a Space was given and how many uses each has left."""

    def __init__(self, faults: tuple[Fault, ...]) -> None:
        self.faults = faults
        self._left: list[Optional[int]] = [f.times for f in faults]

    def take(self, kinds: frozenset[str]) -> list[Fault]:
        """Consume the faults of these kinds that have uses left."""
        taken: list[Fault] = []
        for i, fault in enumerate(self.faults):
            left = self._left[i]
            if fault.kind not in kinds or left == 0:
                continue
            if left is not None:
                self._left[i] = left - 1
            taken.append(fault)
        return taken

    def take_join(self, *, other_host: bool) -> Optional[Fault]:
        """The next join fault with uses left: they play one per request, in list order."""
        skip = frozenset({"redirect_join"}) if other_host else frozenset()
        for i, fault in enumerate(self.faults):
            left = self._left[i]
            if fault.kind in JOIN_FAULTS and fault.kind not in skip and left != 0:
                if left is not None:
                    self._left[i] = left - 1
                return fault
        return None
