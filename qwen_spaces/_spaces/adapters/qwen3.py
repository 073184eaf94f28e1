"""The Qwen3 demo's layout: eight models behind one page, with a thinking mode.

Everything this layout knows: ``add_message(input, settings_form, thinking_state,
conversation_state)`` on modelscope_studio's pro chatbot; the thinking toggle,
a queued function of the same session run before the message when the
session's switch is not the one wanted; the settings form (model, system
prompt, thinking budget in units of 1024 tokens); an answer turn whose
``tool`` part is the reasoning and whose ``text`` part is the answer; the
error the Space shows as a red span before it fails. The Space keeps the
history in its session: a follow-up sends only the new message.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ..._events import SpaceSession
from ..._gradio import payloads
from ..._gradio.dedup import AnswerTracker, Path
from ..._gradio.discovery import ConfigView, Dependency
from ..._gradio.endpoints import ChatbotFormat, Endpoints
from ..._patterns import LazyPattern
from .base import CallInput, Plan, SpaceAdapter, Stage, Step

__all__ = [
    "BUDGET_UNIT",
    "MAX_BUDGET_UNITS",
    "THINKING",
    "Qwen3Adapter",
    "budget_units",
]

log = logging.getLogger("qwen_spaces")

#: The side function that flips the session's thinking switch.
THINKING = "thinking"
BUDGET_UNIT = 1024  # tokens: the Space's form takes the budget in these units
MIN_BUDGET_UNITS, MAX_BUDGET_UNITS = 1, 38  # its slider's range
DEFAULT_THINKING = True  # gr.State({"enable_thinking": True})

_ERROR_PART = LazyPattern(r'\s*<span style="color: var\(--color-red-500\)">(.*)</span>\s*', re.S)
_TAG = LazyPattern(r"<[^>]*>")
_SECONDS = LazyPattern(r"\(\s*(\d+(?:\.\d+)?)\s*s\s*\)")


def budget_units(tokens: int) -> tuple[int, bool]:
    """A thinking budget in tokens -> (the Space's units, whether it was rounded up).

    Raises ValueError outside the Space's range (1 to 38 units of 1024 tokens).
    """
    if isinstance(tokens, bool) or not isinstance(tokens, int):
        raise TypeError(f"thinking_budget must be an int (tokens), got {type(tokens).__name__}")
    top = MAX_BUDGET_UNITS * BUDGET_UNIT
    if not 1 <= tokens <= top:
        raise ValueError(
            f"thinking_budget must be from 1 to {top} tokens (the Space takes 1 to "
            f"{MAX_BUDGET_UNITS} units of {BUDGET_UNIT}), got {tokens}"
        )
    units = max(MIN_BUDGET_UNITS, math.ceil(tokens / BUDGET_UNIT))
    return units, units * BUDGET_UNIT != tokens


def _turns(value: Any) -> Optional[list[Any]]:
    # The chatbot output is an update dict ({"__type__": "update", "value": [...]}).
    if isinstance(value, dict):
        value = value.get("value")
    return value if isinstance(value, list) else None


def _answer_turn(value: Any) -> Optional[tuple[Path, list[Any]]]:
    """The path to the content parts of the turn that answers the last user turn."""
    turns = _turns(value)
    if turns is None:
        return None
    prefix: Path = ["value"] if isinstance(value, dict) else []
    for i in range(len(turns) - 1, -1, -1):
        turn = turns[i]
        if not isinstance(turn, dict):
            continue
        if turn.get("role") == "user":
            return None  # the answer comes after our message
        content = turn.get("content")
        if turn.get("role") == "assistant" and isinstance(content, list):
            return [*prefix, i, "content"], content
    return None


def _part(value: Any, part_type: str) -> Optional[Path]:
    found = _answer_turn(value)
    if found is None:
        return None
    path, parts = found
    for k, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("type") != part_type:
            continue
        content = part.get("content")
        if isinstance(content, str) and not (
            part_type == "text" and _ERROR_PART.fullmatch(content)
        ):
            return [*path, k, "content"]
    return None


def locate_text(value: Any, first: int) -> Optional[Path]:
    """The answer: the turn's first ``text`` part that is not the error span."""
    return _part(value, "text")


def locate_reasoning(value: Any, first: int) -> Optional[Path]:
    """The reasoning: the turn's ``tool`` part."""
    return _part(value, "tool")


class Qwen3Adapter(SpaceAdapter):
    """The Qwen3 demo (``add_message``): one Space, several models, a thinking switch."""

    thinks = True
    keeps_history = True
    shows_session = True  # add_message's first value is the session's whole history
    sides = (THINKING,)

    def __init__(self, default_system: str = "You are a helpful and harmless assistant.") -> None:
        super().__init__(default_system)

    def budget_units(self, thinking_budget: int) -> int:
        units, rounded = budget_units(thinking_budget)
        if rounded:
            log.info(
                "thinking_budget=%d rounded up to %d tokens: the Space takes units of %d",
                thinking_budget,
                units * BUDGET_UNIT,
                BUDGET_UNIT,
            )
        return units

    # --- discovery ----------------------------------------------------------

    def accepts(self, inputs: Sequence[Any], config: ConfigView) -> bool:
        # input, settings form, thinking state, conversation state
        return (
            len(inputs) == 4
            and "form" in config.type_of(inputs[1])
            and config.type_of(inputs[2]) == "state"
        )

    def chatbot_format(self, declared: Optional[str], gradio_major: Optional[int]) -> ChatbotFormat:
        return "ms_pro"

    def find_side(self, name: str, config: ConfigView, chat: Dependency) -> Optional[Dependency]:
        named = config.named(("toggle_thinking",))
        if named is not None:
            return named
        # The toggle reads and writes the thinking state, the chat's third input.
        inputs = chat[1].get("inputs") or []
        state = inputs[2] if len(inputs) > 2 else None
        for position, dep in enumerate(config.deps):
            if dep.get("inputs") == [state] and dep.get("outputs") == [state]:
                return position, dep
        return None

    # --- the plan -------------------------------------------------------------

    @staticmethod
    def _session_thinking(session: SpaceSession) -> bool:
        return DEFAULT_THINKING if session.thinking is None else session.thinking

    def plan(self, call: CallInput, done: Mapping[str, Any]) -> Plan:
        flip = (
            call.thinking is not None
            and call.thinking != self._session_thinking(call.session)
            and THINKING not in done
        )
        return (*((Stage(Step.JOIN, THINKING),) if flip else ()), Stage(Step.JOIN))

    def side_data(
        self, name: str, endpoints: Endpoints, call: CallInput, done: Mapping[str, Any]
    ) -> list[Any]:
        return [None]  # a State input: Gradio takes the session's value

    def read_side(self, name: str, outputs: Any) -> Any:
        # A State's new value stays on the server (the output is null): the
        # toggle completed, so the switch is now the other way.
        return True

    def join_data(
        self, endpoints: Endpoints, call: CallInput, done: Mapping[str, Any]
    ) -> tuple[list[Any], int]:
        messages = call.messages
        system = next((m["content"] for m in messages if m["role"] == "system"), None)
        turns = [m for m in messages if m["role"] != "system"]
        if call.session.knows_all_but_last(messages):
            prompt = turns[-1]["content"]
        elif system is not None and system != self.default_system:
            # The page builds the model's messages from the session's turns
            # alone (its form's system prompt never reaches the model): the
            # first prompt of a session carries it, as a flattened history
            # does. The page's own default is left as the page leaves it.
            prompt = payloads.flatten(messages)
        else:
            # A history the session has not seen goes in the first prompt.
            prompt = payloads.flatten(turns)
        settings: dict[str, Any] = {
            "model": call.model_id,
            "sys_prompt": system if system is not None else self.default_system,
            "thinking_budget": call.thinking_budget or MAX_BUDGET_UNITS,
        }
        # The State inputs are filled by Gradio from the session.
        return [prompt, settings, None, None], 0

    def session_after(self, call: CallInput, done: Mapping[str, Any], holds: int) -> SpaceSession:
        thinking = self._session_thinking(call.session)
        if THINKING in done:
            thinking = not thinking
        return call.session.after_turn(holds, thinking)

    # --- the answer -----------------------------------------------------------

    def tracker(self, endpoints: Endpoints, first: int) -> AnswerTracker:
        return AnswerTracker(
            endpoints.chatbot_format,
            endpoints.chatbot_output,
            first,
            locate=locate_text,
            locate_reasoning=locate_reasoning,
        )

    def held_turns(self, value: Any) -> Optional[int]:
        # The session's turns, then our user turn and the pending answer.
        turns = _turns(value)
        if turns is None:
            return None
        users = [i for i, t in enumerate(turns) if isinstance(t, dict) and t.get("role") == "user"]
        return users[-1] if users else None

    def failure_text(self, tracker: AnswerTracker) -> Optional[str]:
        found = _answer_turn(tracker.value)
        for part in found[1] if found else ():
            content = part.get("content") if isinstance(part, dict) else None
            match = _ERROR_PART.fullmatch(content) if isinstance(content, str) else None
            if match:
                import html  # only for a failure: kept off the CLI's start-up

                return html.unescape(_TAG.sub("", match.group(1))).strip() or None
        return None

    def thinking_seconds(self, tracker: AnswerTracker) -> Optional[float]:
        found = _answer_turn(tracker.value)
        for part in found[1] if found else ():
            if isinstance(part, dict) and part.get("type") == "tool":
                options = part.get("options")
                title = options.get("title") if isinstance(options, dict) else None
                match = _SECONDS.search(title) if isinstance(title, str) else None
                if match:
                    return float(match.group(1))
        return None
