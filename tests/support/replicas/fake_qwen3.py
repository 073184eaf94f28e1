"""The Qwen3 replica's fake model: deterministic reasoning and answer, and how they stream.

Pure and stdlib-only (like ``fake_model``), so the replica (in the Gradio 5.27
venv) and the tests (in the dev venv) compute the very same texts. The replica
calls it the way the Space's ``app.py`` calls DashScope: with the messages its
``format_history`` built from the session's turns, the session's thinking
switch and the budget in tokens. Both texts name what reached the model (the
last user message, the model id, the budget, thinking on/off, any system
message, how many earlier answers the messages hold), so a test that compares
them exactly sees each one arrive; ``model_view`` reads them off the messages.
The replica also keeps every call whole (``GET /replica/upstream``).
"""

from __future__ import annotations

from typing import Any

try:  # imported as tests.support.replicas.fake_qwen3, or as a script's sibling
    from .fake_model import tokens
except ImportError:  # pragma: no cover
    from fake_model import tokens  # type: ignore[no-redef]

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_MODEL",
    "DEFAULT_SYSTEM",
    "ERROR_AFTER_ANSWER_CHUNKS",
    "ERROR_EARLY_MARKER",
    "ERROR_MARKER",
    "ERROR_MESSAGE",
    "MAX_BUDGET",
    "MIN_BUDGET",
    "MODELS",
    "NO_SYSTEM",
    "expected_answer",
    "expected_reasoning",
    "model_view",
    "partial_error_texts",
    "tokens",
]

#: The Space's model ids and the labels its chatbot shows as each turn's header.
MODELS: dict[str, str] = {
    "qwen3-235b-a22b": "Qwen3-235B-A22B",
    "qwen3-32b": "Qwen3-32B",
    "qwen3-30b-a3b": "Qwen3-30B-A3B",
    "qwen3-14b": "Qwen3-14B",
    "qwen3-8b": "Qwen3-8B",
    "qwen3-4b": "Qwen3-4B",
    "qwen3-1.7b": "Qwen3-1.7B",
    "qwen3-0.6b": "Qwen3-0.6B",
}
DEFAULT_MODEL = "qwen3-235b-a22b"
#: gpt4free's default system prompt for this Space (the form's default here too).
DEFAULT_SYSTEM = "You are a helpful and harmless assistant."
#: What the model sees of the settings form's system prompt: nothing. The Space's
#: ``format_history(history, sys_prompt)`` builds the messages from the session's
#: turns only (its system message is commented out), so ``sys_prompt`` never
#: reaches the model; a system prompt reaches it only inside a user message.
NO_SYSTEM = ""
#: The settings slider, in units of 1024 tokens.
MIN_BUDGET = 1
MAX_BUDGET = 38
DEFAULT_BUDGET = 38

#: A prompt containing this makes the upstream call fail mid-answer.
ERROR_MARKER = "[[error]]"
ERROR_MESSAGE = "Upstream error 429: the fake model is overloaded (requested by the prompt)"
#: A prompt containing this makes the upstream call fail before its first chunk.
ERROR_EARLY_MARKER = "[[error-early]]"
#: How many answer chunks stream before the failure.
ERROR_AFTER_ANSWER_CHUNKS = 5


def expected_reasoning(prompt: str, model: str, budget: int, system: str, turns: int) -> str:
    """The reasoning block (the tool part) for a turn with thinking on.

    Repeated words and non-ASCII text, as in ``fake_model.expected_answer``.
    """
    return (
        f"({model}, budget {budget}x1024) turn {turns}: the user said «{prompt}» "
        f"under «{system}». hmm hmm — réfléchir… 思考 ✓ hmm hmm"
    )


def expected_answer(
    prompt: str, model: str, budget: int, thinking: bool, system: str, turns: int
) -> str:
    """The answer text (the text part) after ``turns`` earlier exchanges of the session."""
    mode = "on" if thinking else "off"
    return (
        f"[{model} thinking {mode} budget {budget}] [{system}] turn {turns}: "
        f"you said «{prompt}». ha ha ha — naïve café ☕ 你好 ✓ ha ha ha"
    )


def partial_error_texts(
    prompt: str, model: str, budget: int, thinking: bool, system: str, turns: int
) -> tuple[str, str]:
    """(reasoning, answer) streamed before an error turn fails: all the reasoning, a few chunks.

    Nothing at all for a prompt with ``ERROR_EARLY_MARKER``.
    """
    if ERROR_EARLY_MARKER in prompt:
        return "", ""
    reasoning = expected_reasoning(prompt, model, budget, system, turns) if thinking else ""
    answer = expected_answer(prompt, model, budget, thinking, system, turns)
    return reasoning, "".join(tokens(answer)[:ERROR_AFTER_ANSWER_CHUNKS])


def model_view(messages: list[dict[str, Any]], thinking_budget: int) -> tuple[str, str, int, int]:
    """(prompt, system, turns, budget) of an upstream call, as the answer names them.

    ``prompt`` is the last user message, ``system`` any system messages joined
    (``NO_SYSTEM`` from the Space), ``turns`` the assistant messages before it,
    ``budget`` the thinking budget back in the form's units of 1024 tokens.
    """
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    systems = [str(m.get("content") or "") for m in messages if m.get("role") == "system"]
    turns = sum(1 for m in messages if m.get("role") == "assistant")
    return (users[-1] if users else "", "\n".join(systems), turns, thinking_budget // 1024)
