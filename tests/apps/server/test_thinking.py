"""The server's thinking fields, pure: Qwen's names and reasoning_effort -> the SDK's
``thinking=``/``thinking_budget=``, the 400s, the session cache keeping the thinking
switch, and the documented effort map (``serve --help``, the serve guide) being the one used."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, Optional

import pytest

from qwen_spaces._events import ConversationState, SpaceSession
from qwen_spaces._server import command
from qwen_spaces._server.app import ServerConfig
from qwen_spaces._server.errors import APIError
from qwen_spaces._server.parse import IGNORED_PARAMETERS, parse_chat_request
from qwen_spaces._server.sessions import SessionCache
from qwen_spaces._server.thinking import EFFORT_BUDGETS, MAX_BUDGET, Thinking
from qwen_spaces._spaces.spaces import SPACES

ROOT = Path(__file__).resolve().parents[3]
SERVED = {spec.model: None for spec in SPACES}
HI = [{"role": "user", "content": "hi"}]


def thinking_of(model: str = "qwen-3-32b", **body: Any) -> Thinking:
    return parse_chat_request({"model": model, "messages": HI, **body}, SERVED).thinking


@pytest.mark.parametrize(
    ("body", "enabled", "budget"),
    [
        ({}, True, None),  # nothing said: on, at the Space's default budget
        ({"enable_thinking": False}, False, None),
        ({"enable_thinking": True, "thinking_budget": 3000}, True, 3000),
        ({"thinking_budget": 1}, True, 1),
        ({"thinking_budget": MAX_BUDGET}, True, MAX_BUDGET),
        ({"enable_thinking": False, "thinking_budget": 2048}, False, 2048),
        ({"chat_template_kwargs": {"enable_thinking": False}}, False, None),
        ({"chat_template_kwargs": {"enable_thinking": True}, "enable_thinking": True}, True, None),
        ({"chat_template_kwargs": {}}, True, None),
        ({"reasoning_effort": "none"}, False, None),
        ({"reasoning_effort": "minimal"}, True, 1024),
        ({"reasoning_effort": "low"}, True, 4096),
        ({"reasoning_effort": "medium"}, True, 16384),
        ({"reasoning_effort": "high"}, True, 38912),
        ({"reasoning_effort": "low", "enable_thinking": True}, True, 4096),
        ({"reasoning_effort": "none", "enable_thinking": False}, False, None),
        ({"enable_thinking": None, "thinking_budget": None, "reasoning_effort": None}, True, None),
    ],
)
def test_thinking_fields_become_the_sdks_thinking_and_budget(
    body: dict[str, Any], enabled: bool, budget: Optional[int]
) -> None:
    assert thinking_of(**body) == Thinking(enabled, budget)


@pytest.mark.parametrize(
    ("model", "body", "param", "words"),
    [
        ("qwen-3-8b", {"enable_thinking": "false"}, "enable_thinking", "must be true or false"),
        ("qwen-3-8b", {"enable_thinking": 0}, "enable_thinking", "must be true or false"),
        ("qwen-3-8b", {"thinking_budget": 0}, "thinking_budget", "from 1 to 38912"),
        ("qwen-3-8b", {"thinking_budget": 38913}, "thinking_budget", "from 1 to 38912"),
        ("qwen-3-8b", {"thinking_budget": -5}, "thinking_budget", "from 1 to 38912"),
        ("qwen-3-8b", {"thinking_budget": 4096.0}, "thinking_budget", "whole number"),
        ("qwen-3-8b", {"thinking_budget": True}, "thinking_budget", "whole number"),
        ("qwen-3-8b", {"thinking_budget": "4096"}, "thinking_budget", "whole number"),
        ("qwen-3-8b", {"reasoning_effort": "max"}, "reasoning_effort", "must be one of"),
        ("qwen-3-8b", {"reasoning_effort": 2}, "reasoning_effort", "must be one of"),
        (
            "qwen-3-8b",
            {"reasoning_effort": "low", "thinking_budget": 2048},
            "reasoning_effort",
            "contradicts 'thinking_budget'",
        ),
        (
            "qwen-3-8b",
            {"reasoning_effort": "none", "enable_thinking": True},
            "reasoning_effort",
            "contradicts 'enable_thinking'",
        ),
        (
            "qwen-3-8b",
            {"reasoning_effort": "high", "enable_thinking": False},
            "reasoning_effort",
            "contradicts 'enable_thinking'",
        ),
        (
            "qwen-3-8b",
            {"enable_thinking": True, "chat_template_kwargs": {"enable_thinking": False}},
            "chat_template_kwargs.enable_thinking",
            "contradicts",
        ),
        ("qwen-3-8b", {"chat_template_kwargs": ["x"]}, "chat_template_kwargs", "an object"),
        ("qwen-2.5-max", {"enable_thinking": False}, "enable_thinking", "no thinking mode"),
        ("qwen-2.5-1m", {"thinking_budget": 1024}, "thinking_budget", "no thinking mode"),
        ("qwen-2-72b", {"reasoning_effort": "none"}, "reasoning_effort", "no thinking mode"),
        (
            "qwen-2.5",
            {"chat_template_kwargs": {"enable_thinking": True}},
            "chat_template_kwargs.enable_thinking",
            "no thinking mode",
        ),
    ],
)
def test_a_bad_thinking_field_is_a_400_naming_it(
    model: str, body: dict[str, Any], param: str, words: str
) -> None:
    with pytest.raises(APIError) as caught:
        thinking_of(model, **body)
    error = caught.value
    assert (error.status, error.param) == (400, param)
    assert f"'{param}'" in str(error.body()["error"]["message"])
    assert words in str(error.body()["error"]["message"])


def test_a_model_without_thinking_asks_for_none() -> None:
    for model in ("qwen-2.5-max", "qwen-2.5-1m", "qwen-2-72b", "qwen-2.5"):
        assert thinking_of(model) == Thinking(None, None)
    assert "reasoning_effort" not in IGNORED_PARAMETERS  # read, no longer ignored


def test_the_session_cache_gives_back_the_thinking_switch_the_turn_left() -> None:
    cache = SessionCache()
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    done = ConversationState(
        "qwen-3-8b", messages=history, session=SpaceSession("abc", holds=2, thinking=False)
    )
    cache.put(done)
    taken = cache.take("qwen-3-8b", [*history, {"role": "user", "content": "next"}])
    assert taken is not None
    assert taken.session == SpaceSession("abc", 2, False)
    assert taken.messages == history
    # Taken once: a second request on the same history starts afresh.
    assert cache.take("qwen-3-8b", [*history, {"role": "user", "content": "next"}]) is None


def test_a_turn_the_session_does_not_hold_whole_is_not_remembered() -> None:
    cache = SessionCache()
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    cache.put(ConversationState("qwen-3-8b", messages=history, session=SpaceSession("abc", 1)))
    assert len(cache) == 0


def test_the_server_serves_all_twelve_models_by_default() -> None:
    assert sorted(ServerConfig().spaces) == sorted(spec.model for spec in SPACES)
    assert len(SPACES) == 12


def effort_map_in(text: str) -> dict[str, Optional[int]]:
    """``name = thinking off`` / ``name N`` pairs of a help text or the serve guide's table."""
    found: dict[str, Optional[int]] = {}
    for name in EFFORT_BUDGETS:
        budget = re.search(rf"``{name}``\s+([\d,]+) tokens|\b{name} ([\d,]+)\b", text)
        off = re.search(rf"``{name}``\s+thinking off|\b{name} = thinking off", text)
        if budget:
            found[name] = int((budget.group(1) or budget.group(2)).replace(",", ""))
        elif off:
            found[name] = None
    return found


def test_serve_help_documents_the_effort_map_the_server_uses() -> None:
    parser = argparse.ArgumentParser(prog="qwen-spaces")
    subparsers = parser.add_subparsers()
    command.add_parser(subparsers)
    text = " ".join(subparsers.choices["serve"].format_help().split())
    assert effort_map_in(text) == EFFORT_BUDGETS
    for field in ("enable_thinking", "thinking_budget", "reasoning_effort", "reasoning_content"):
        assert field in text


def test_the_serve_guide_documents_the_effort_map_the_server_uses() -> None:
    guide = (ROOT / "docs" / "guides" / "serve.rst").read_text(encoding="utf-8")
    assert effort_map_in(guide) == EFFORT_BUDGETS
