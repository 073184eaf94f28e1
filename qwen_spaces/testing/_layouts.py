"""The fake layouts by name: which module plays which Space, on which Gradio by default.

Each layout lives in a module of its own (``_max``, ``_onem``, ``_qwen3``,
``_qwen25``) holding all it knows; the app (``_app``) is the same for all.
"""

from __future__ import annotations

from typing import Literal, Optional

from ._layout import Layout
from ._max import MaxLayout
from ._onem import OneMLayout
from ._qwen3 import Qwen3Layout
from ._qwen25 import Qwen25Layout

__all__ = ["LAYOUTS", "NATIVE_GRADIO", "LayoutName", "make_layout"]

LayoutName = Literal["max", "1m", "qwen3", "qwen2.5"]
LAYOUTS: dict[str, type[Layout]] = {
    "max": MaxLayout,
    "1m": OneMLayout,
    "qwen3": Qwen3Layout,
    "qwen2.5": Qwen25Layout,
}
# The Space each layout mirrors runs this Gradio generation.
NATIVE_GRADIO: dict[str, int] = {"max": 5, "1m": 4, "qwen3": 5, "qwen2.5": 4}


def make_layout(name: str, gradio: Optional[int], *, shift_ids: bool = False) -> Layout:
    """The layout called ``name`` on Gradio ``gradio`` (None: the real Space's)."""
    if name not in LAYOUTS:
        names = ", ".join(repr(n) for n in LAYOUTS)
        raise ValueError(f"layout must be one of {names}, got {name!r}")
    generation = NATIVE_GRADIO[name] if gradio is None else gradio
    return LAYOUTS[name](generation, shift_ids=shift_ids)
