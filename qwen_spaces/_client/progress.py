"""The bars of ``chat(progress=True)``: the upload of large files, then the queue position.

tqdm.auto, so notebooks get a widget; tqdm is imported only when a bar is made.
On a stderr that is no terminal (a log file, a CI job's output) a bar writes
one plain line each time it changes, instead of tqdm's ``\\r`` frames.
"""

from __future__ import annotations

import sys
import threading
import warnings
from typing import Any, Optional, TextIO

from .._events import QueueStatus
from .._patterns import LazyPattern

__all__ = ["ChatProgress", "LineWriter", "bar_file"]

# Smaller uploads are over before a bar would say anything.
UPLOAD_BAR_BYTES = 4 << 20
# In a log, an upload bar writes a line at most this often (seconds).
LOG_INTERVAL = 1.0

_UPLOAD_LOG = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]"

# What tqdm writes to redraw in place: carriage returns, newlines to reach a
# bar's row, and the escape that moves the cursor back up.
_REDRAW = LazyPattern(r"\r|\n|\x1b\[A")


class LineWriter:
    """A file for tqdm that turns its redrawn frames into one line per change.

    Each frame tqdm draws becomes a line of its own (trailing padding cut); an
    empty frame (a bar cleared when it closes) or one the same as the last is
    not written.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._last = ""

    @property
    def encoding(self) -> str:
        return getattr(self._out, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        for frame in _REDRAW.split(text):
            # tqdm's set_description() ends a description with ": ".
            frame = frame.rstrip().removesuffix(":")
            if frame and frame != self._last:
                self._last = frame
                self._out.write(frame + "\n")
        return len(text)

    def flush(self) -> None:
        self._out.flush()


def bar_file(out: TextIO, log_format: Optional[str] = None) -> Optional[dict[str, Any]]:
    """tqdm options that draw on ``out`` a line per change, or None: ``out`` redraws in place.

    ``log_format`` is the bar's ``bar_format`` in a log (a bar drawn in
    characters says nothing there).

    None for a terminal, and in Jupyter (its output shows ``\\r`` frames in
    place, and tqdm.auto draws a widget there anyway).
    """
    if _isatty(out) or type(out).__module__.startswith("ipykernel"):
        return None
    options: dict[str, Any] = {"file": LineWriter(out), "mininterval": LOG_INTERVAL}
    if log_format is not None:
        options["bar_format"] = log_format
    return options


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _tqdm(log_format: str, **options: Any) -> Any:
    from tqdm.auto import tqdm
    from tqdm.autonotebook import tqdm as chosen
    from tqdm.std import tqdm as text

    if chosen is text:  # not a notebook's widget
        options.update(bar_file(sys.stderr, log_format) or {})
    with warnings.catch_warnings():
        # In a notebook without ipywidgets tqdm warns, then falls back to text.
        warnings.simplefilter("ignore")
        return tqdm(leave=False, **options)


class ChatProgress:
    """Progress of one call, shared by both clients' ``chat(progress=True)``.

    ``upload(sent, total)`` may be called from another thread (aiohttp reads
    files in an executor), so the upload bar is guarded by a lock.
    """

    def __init__(self) -> None:
        self._bar = _tqdm("{desc}", total=1, desc="queue", bar_format="{desc} {bar}")
        self._top = 0
        self._upload: Optional[Any] = None
        self._lock = threading.Lock()

    def upload(self, sent: int, total: int) -> None:
        """Bytes of the files sent so far, of ``total``."""
        if total < UPLOAD_BAR_BYTES:
            return
        with self._lock:
            bar = self._upload
            if bar is None:
                bar = self._upload = _tqdm(
                    _UPLOAD_LOG,
                    total=total,
                    desc="upload",
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                )
            if sent < bar.n:  # a retried upload starts over
                bar.reset(total=total)
            bar.update(sent - bar.n)
            if sent >= total:  # the last frame, whatever tqdm's rate limit says
                bar.refresh()

    def update(self, status: QueueStatus) -> None:
        """A queue status: the position while waiting, then "generating"."""
        bar = self._bar
        if status.started:
            bar.set_description("generating")
            bar.n = bar.total or 0
        elif status.rank is not None:
            self._top = max(self._top, status.rank + 1)
            bar.total = self._top
            bar.n = self._top - (status.rank + 1)
            eta = f", eta {status.eta:.0f} s" if status.eta is not None else ""
            bar.set_description(f"queue: {status.rank} ahead{eta}")
        bar.refresh()

    def close(self) -> None:
        with self._lock:
            if self._upload is not None:
                self._upload.close()
        self._bar.close()
