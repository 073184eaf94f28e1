"""The queue-position bar of ``chat(progress=True)``: tqdm.auto, so notebooks get a widget.

tqdm is imported only when a bar is made.
"""

from __future__ import annotations

from .events import QueueStatus

__all__ = ["QueueProgress"]


class QueueProgress:
    """A progress bar of the queue position while waiting (tqdm.auto: notebook-aware).

    Shared by both clients' ``chat(progress=True)``.
    """

    def __init__(self) -> None:
        import warnings

        from tqdm.auto import tqdm

        with warnings.catch_warnings():
            # In a notebook without ipywidgets tqdm warns, then falls back to text.
            warnings.simplefilter("ignore")
            self._bar = tqdm(total=1, desc="queue", leave=False, bar_format="{desc} {bar}")
        self._top = 0

    def update(self, status: QueueStatus) -> None:
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
        self._bar.close()
