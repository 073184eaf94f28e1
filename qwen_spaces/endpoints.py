"""Where a Space's chat function is and what shape it takes: plain data, no logic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

__all__ = ["ChatbotFormat", "Endpoints"]

ChatbotFormat = Literal["tuples", "messages", "messages_str", "ms_legacy"]


@dataclass(frozen=True)
class Endpoints:
    """The ids and shapes one call needs.

    Read from ``/config`` when it can be; otherwise the Space's known defaults.
    ``predict_*`` name the un-queued function a layout calls before joining the
    queue (the 1M demo's ``add_text``), if it has one.
    """

    api_prefix: str
    fn_index: int
    trigger_id: Optional[int]
    chatbot_output: int
    chatbot_format: ChatbotFormat
    predict_fn_index: Optional[int] = None
    predict_trigger_id: Optional[int] = None
    from_config: bool = False
