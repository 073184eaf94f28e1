"""Per-layout adapters: how each kind of Space takes a chat call and gives its answer.

One module per layout, each holding everything that layout knows: its plan
(the stages one call needs), its inputs, how to read its answer. The registry
(``spaces.py``) gives each Space its adapter; the call (``_core/call.py``) runs
the adapter's plan and never branches on which Space it talks to. A new Space
is an adapter module, a registry entry, a fake layout and a replica.
"""

from __future__ import annotations

from .agent import AgentChatAdapter
from .base import CHAT, UPLOADED, CallInput, Plan, SpaceAdapter, Stage, Step
from .qwen3 import Qwen3Adapter
from .usual import UsualChatAdapter

__all__ = [
    "CHAT",
    "UPLOADED",
    "AgentChatAdapter",
    "CallInput",
    "Plan",
    "Qwen3Adapter",
    "SpaceAdapter",
    "Stage",
    "Step",
    "UsualChatAdapter",
]
