"""The bars of ``chat(progress=True)``: the upload of large files, then the queue position.

tqdm.auto, so notebooks get a widget; tqdm is imported only when a bar is made.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, Optional

from .events import QueueStatus

__all__ = ["ChatProgress"]

# Smaller uploads are over before a bar would say anything.
UPLOAD_BAR_BYTES = 4 << 20


def _tqdm(**options: Any) -> Any:
    from tqdm.auto import tqdm

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
        self._bar = _tqdm(total=1, desc="queue", bar_format="{desc} {bar}")
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
                    total=total, desc="upload", unit="B", unit_scale=True, unit_divisor=1024
                )
            if sent < bar.n:  # a retried upload starts over
                bar.reset(total=total)
            bar.update(sent - bar.n)

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
