"""Pure: a request's thinking fields -> the SDK's ``thinking=``/``thinking_budget=``, or a 400.

Qwen's own OpenAI-compatible API names them ``enable_thinking`` (true/false) and
``thinking_budget`` (tokens), sent by openai-python as ``extra_body``; vLLM and
SGLang take ``chat_template_kwargs: {"enable_thinking": ...}``; OpenAI's reasoning
models take ``reasoning_effort``, mapped here to budgets (:data:`EFFORT_BUDGETS`).

A request says all it wants: one that names no thinking field gets thinking on
at the Space's default budget, whatever an earlier turn of its conversation
asked (the server's continued Space session flips its switch back if need be).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .._spaces.adapters.qwen3 import BUDGET_UNIT, MAX_BUDGET_UNITS, budget_units
from .._spaces.spaces import SPACES, resolve_model
from .errors import APIError, bad_request

__all__ = ["EFFORT_BUDGETS", "MAX_BUDGET", "THINKING_FIELDS", "Thinking", "parse_thinking"]

#: The largest budget in tokens (the Space's slider: 38 units of 1024).
MAX_BUDGET = MAX_BUDGET_UNITS * BUDGET_UNIT

#: ``reasoning_effort`` -> thinking budget in tokens; None: thinking off.
EFFORT_BUDGETS: dict[str, Optional[int]] = {
    "none": None,
    "minimal": BUDGET_UNIT,
    "low": 4 * BUDGET_UNIT,
    "medium": 16 * BUDGET_UNIT,
    "high": MAX_BUDGET,
}

#: The request fields read here, for ``GET /v1/models`` and the messages.
THINKING_FIELDS = (
    "enable_thinking",
    "thinking_budget",
    "reasoning_effort",
    "chat_template_kwargs.enable_thinking",
)


@dataclass(frozen=True)
class Thinking:
    """What a request asks of a thinking model: on or off, and the budget (tokens; None:
    the Space's default). For a model without thinking, both None."""

    enabled: Optional[bool] = None
    budget: Optional[int] = None


def _given(data: Mapping[str, Any]) -> dict[str, Any]:
    """The thinking fields the request sets (null counts as not set), by their names."""
    given = {
        name: data[name]
        for name in ("enable_thinking", "thinking_budget", "reasoning_effort")
        if data.get(name) is not None
    }
    kwargs = data.get("chat_template_kwargs")
    if kwargs is not None:
        if not isinstance(kwargs, Mapping):
            raise bad_request(
                "'chat_template_kwargs' must be an object", param="chat_template_kwargs"
            )
        if kwargs.get("enable_thinking") is not None:
            given["chat_template_kwargs.enable_thinking"] = kwargs["enable_thinking"]
    return given


def parse_thinking(data: Mapping[str, Any], model: str) -> Thinking:
    """The thinking a request for ``model`` (a canonical name) asks for; an APIError (400,
    naming the field) for a wrong type, a budget out of range, a contradiction, or a
    thinking field for a model without thinking."""
    given = _given(data)
    if not resolve_model(model).adapter.thinks:
        if given:
            name = next(iter(given))
            thinkers = ", ".join(s.model for s in SPACES if s.adapter.thinks)
            raise bad_request(
                f"'{name}': model {model} has no thinking mode; thinking fields work with "
                f"{thinkers}",
                param=name,
                code="unsupported_parameter",
            )
        return Thinking()

    enabled: Optional[bool] = None
    for name in ("enable_thinking", "chat_template_kwargs.enable_thinking"):
        if name in given:
            value = given[name]
            if not isinstance(value, bool):
                raise bad_request(f"'{name}' must be true or false, got {value!r}", param=name)
            if enabled is not None and value != enabled:
                raise _conflict(name, "enable_thinking")
            enabled = value

    budget = given.get("thinking_budget")
    if budget is not None and not _in_range(budget):
        raise bad_request(
            f"'thinking_budget' must be a whole number of tokens from 1 to {MAX_BUDGET}, got "
            f"{budget!r} (the Space takes units of {BUDGET_UNIT} tokens: others are rounded up)",
            param="thinking_budget",
        )

    if "reasoning_effort" in given:
        effort = given["reasoning_effort"]
        if not isinstance(effort, str) or effort not in EFFORT_BUDGETS:
            raise bad_request(
                f"'reasoning_effort' must be one of {', '.join(map(repr, EFFORT_BUDGETS))}, "
                f"got {effort!r}",
                param="reasoning_effort",
            )
        if budget is not None:
            raise _conflict("reasoning_effort", "thinking_budget")
        on = EFFORT_BUDGETS[effort] is not None
        if enabled is not None and enabled != on:
            raise _conflict("reasoning_effort", "enable_thinking")
        enabled, budget = on, EFFORT_BUDGETS[effort]
    # Nothing said: thinking on, as the Space starts (and as Qwen's API serves these models).
    return Thinking(True if enabled is None else enabled, budget)


def _conflict(name: str, other: str) -> APIError:
    return bad_request(
        f"'{name}' contradicts '{other}': give one of them (reasoning_effort 'none' is "
        "thinking off, the others thinking on with a budget)",
        param=name,
    )


def _in_range(budget: Any) -> bool:
    """Whether the Qwen3 adapter takes ``budget`` (tokens): the one home of that rule."""
    try:
        budget_units(budget)
    except (TypeError, ValueError):
        return False
    return True
