"""gpt4free's types when it is installed, stand-ins when it is not.

The base classes are chosen once, here, so every provider class is written
once. gpt4free is imported by this package only, never by ``import qwen_spaces``.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

from .._events import Reasoning, new_session_hash

log = logging.getLogger("qwen_spaces.providers")


class _Gpt4free(NamedTuple):
    provider: Any  # g4f.providers.base_provider.AsyncGeneratorProvider
    model_mixin: Any  # g4f.providers.base_provider.ProviderModelMixin
    conversation: Any  # g4f.providers.response.JsonConversation
    reasoning: Any  # g4f.providers.response.Reasoning
    model_not_found: Any  # g4f.errors.ModelNotFoundError


def _load_gpt4free() -> Optional[_Gpt4free]:
    """gpt4free's base and response classes, or None when it is not installed."""
    try:
        base = importlib.import_module("g4f.providers.base_provider")
        response = importlib.import_module("g4f.providers.response")
        errors = importlib.import_module("g4f.errors")
    except ImportError as exc:
        log.debug("gpt4free not available (%s): standalone providers", exc)
        return None
    return _Gpt4free(
        base.AsyncGeneratorProvider,
        base.ProviderModelMixin,
        response.JsonConversation,
        response.Reasoning,
        errors.ModelNotFoundError,
    )


G4F = _load_gpt4free()

#: True when the providers are gpt4free providers (the ``g4f`` package is installed).
GPT4FREE = G4F is not None


class _Standalone:
    """Stands in for gpt4free's AsyncGeneratorProvider when it is not installed."""


class _StandaloneModels:
    """Stands in for gpt4free's ProviderModelMixin when it is not installed."""


class _StandaloneResponse:
    """Stands in for gpt4free's response types when it is not installed."""


class _StandaloneError(Exception):
    """Stands in for gpt4free's ModelNotFoundError when it is not installed."""


# The type checker sees the standalone bases (gpt4free has no type hints).
if TYPE_CHECKING:
    ProviderBase = _Standalone
    ModelsBase = _StandaloneModels
    _ConversationBase = _StandaloneResponse
    _ReasoningBase = _StandaloneResponse
    _ModelErrorBase = _StandaloneError
elif G4F is not None:
    ProviderBase = G4F.provider
    ModelsBase = G4F.model_mixin
    _ConversationBase = G4F.conversation
    _ReasoningBase = G4F.reasoning
    _ModelErrorBase = G4F.model_not_found
else:
    ProviderBase = _Standalone
    ModelsBase = _StandaloneModels
    _ConversationBase = _StandaloneResponse
    _ReasoningBase = _StandaloneResponse
    _ModelErrorBase = _StandaloneError


class ModelNotFoundError(ValueError, _ModelErrorBase):
    """A model the provider does not serve.

    A ValueError, and gpt4free's ``ModelNotFoundError`` when it is installed.
    """


def generate_session_hash() -> str:
    """A unique session hash (12 hex characters), as the providers made them."""
    return new_session_hash()


@dataclass
class JsonConversation(_ConversationBase):
    """What ``return_conversation=True`` yields last: the Space session to continue.

    ``session_hash`` is the Gradio session that holds the conversation.
    Pass it back as ``conversation=`` (or its ``get_dict()``, which is what
    gpt4free's client hands out as ``response.conversation``). ``thinking`` is
    the session's thinking switch after the turn (Qwen3 only; None elsewhere),
    so that a follow-up never flips it the wrong way; ``digest`` fingerprints
    the messages the session held after the turn, so that a follow-up whose
    history does not begin with them (gpt4free 8.x's conversation cache may
    hand a provider the session of another chat that began alike) starts a
    fresh session with its own history instead of continuing someone else's;
    ``messages`` and ``app_id`` let a follow-up notice that the Space lost the
    session and send the turns again. JSON-ready throughout. A gpt4free
    ``JsonConversation`` when gpt4free is installed; never answer text.
    """

    session_hash: str
    thinking: Optional[bool] = None
    digest: Optional[str] = None
    #: The messages the session holds, so that a follow-up can send them again
    #: in a new session when the Space lost this one (a restart).
    messages: Optional[list[dict[str, str]]] = None
    #: The Space's app_id when the session took its last turn (1M: how a
    #: restart is seen).
    app_id: Optional[int] = None

    def get_dict(self) -> dict[str, Any]:
        """The conversation as a JSON-ready dict (``{"session_hash": ...}``)."""
        data: dict[str, Any] = {"session_hash": self.session_hash}
        for key in ("thinking", "digest", "app_id"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.messages is not None:
            data["messages"] = [dict(m) for m in self.messages]
        return data

    def __str__(self) -> str:
        return ""


class _GptReasoning(_ReasoningBase, Reasoning):
    # gpt4free's Reasoning (its ``token`` is the text) and still a qwen_spaces
    # Reasoning, for code that checks either.

    def __init__(self, text: str) -> None:
        if G4F is not None:
            G4F.reasoning.__init__(self, token=text)
        Reasoning.__init__(self, text)

    def __repr__(self) -> str:
        return f"Reasoning({self.text!r})"


class StatusReasoning(_GptReasoning):
    """Reasoning for a caller that asked for ``stream=False``: a falsy gpt4free Reasoning.

    Falsy, so that gpt4free's ChatCompletion.create, which joins every truthy
    chunk into one str, leaves it out; gpt4free's clients test for Reasoning
    first and still hand it out as the message's reasoning (IterListProvider
    drops falsy chunks: through it, a non-streamed answer comes without).
    """

    def __bool__(self) -> bool:
        return False


class ThinkingReasoning(_GptReasoning):
    """Reasoning for a streaming caller: a truthy gpt4free Reasoning.

    Every gpt4free streaming entry point hands it out as it comes
    (``reasoning_content`` / ``reasoning`` of the chunk's delta).
    """
