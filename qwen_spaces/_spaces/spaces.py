"""The registry: each known model as data, and the Space that serves it.

A model is its names, its Space's URL, the api names of its chat function,
its known ids (used when ``/config`` cannot be read), its context length and
the adapter of its Space's layout (``adapters/``), which knows everything else. One Space may
serve several models (the Qwen3 demo's eight): they share its adapter and its
``space_key``, so one discovery (and one cache entry) serves them all, and the
model is an input of the call (``model_id``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Optional

from .._gradio import discovery
from .._gradio.endpoints import ChatbotFormat, Endpoints, Function
from .._value import Frozen
from .adapters import AgentChatAdapter, Qwen3Adapter, SpaceAdapter, UsualChatAdapter

__all__ = [
    "MODELS",
    "QWEN3",
    "QWEN_1M",
    "QWEN_MAX",
    "SPACES",
    "ChatbotFormat",
    "Endpoints",
    "SpaceSpec",
    "resolve_endpoints",
    "resolve_model",
]

log = logging.getLogger("qwen_spaces")


class SpaceSpec(Frozen):
    """One known model at its Space. ``label`` is the Space's human name (the providers' ``label``).

    ``context_length`` is the model's context in tokens, as its model card
    gives it (its sources are by ``_CONTEXT`` below): what a prompt may hold, at most.

    ``model_id`` is the Space's own id of the model where the Space serves
    several; ``space_key`` names the Space in the discovery cache (the model
    name when it serves one).
    """

    __match_args__: ClassVar[tuple[str, ...]] = (
        "model",
        "aliases",
        "url",
        "label",
        "adapter",
        "api_names",
        "fallback",
        "context_length",
        "model_id",
        "space_key",
    )
    __slots__ = __match_args__
    model: str
    aliases: tuple[str, ...]
    url: str
    label: str
    adapter: SpaceAdapter
    api_names: tuple[str, ...]
    fallback: Endpoints
    context_length: int
    model_id: Optional[str]
    space_key: str

    def __init__(
        self,
        model: str,
        aliases: tuple[str, ...],
        url: str,
        label: str,
        adapter: SpaceAdapter,
        api_names: tuple[str, ...],
        fallback: Endpoints,
        context_length: int,
        model_id: Optional[str] = None,
        space_key: str = "",
    ) -> None:
        self._set("model", model)
        self._set("aliases", aliases)
        self._set("url", url)
        self._set("label", label)
        self._set("adapter", adapter)
        self._set("api_names", api_names)
        self._set("fallback", fallback)
        self._set("context_length", context_length)
        self._set("model_id", model_id)
        self._set("space_key", space_key)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.model, *self.aliases)

    @property
    def key(self) -> str:
        """The Space's name in the discovery cache."""
        return self.space_key or self.model


_USUAL = UsualChatAdapter()

# Context lengths in tokens, from the public model cards (huggingface.co/Qwen/<name>) and
# Qwen's announcements; every Space calls Alibaba's DashScope API, which serves each model
# at its full length. Where a card gives a native length and a longer one with YaRN rope
# scaling, the longer one counts: a prompt the model can take must not be turned away.
_CONTEXT = {
    # Qwen2.5-14B-Instruct-1M's card: "Context Length: Full 1,010,000 tokens".
    "qwen-2.5-1m": 1_010_000,
    # Qwen2.5-Max (DashScope's qwen-max, which its Space calls): 32,768 tokens.
    "qwen-2.5-max": 32_768,
    # Qwen2-72B-Instruct's card: 131,072 tokens (32,768 native, the rest with YaRN). The
    # Space's own cap is not on record; the model's is taken.
    "qwen-2-72b": 131_072,
    # Qwen2.5-72B-Instruct's card (the Space's "72B"): "Full 131,072 tokens", YaRN past 32,768.
    "qwen-2.5": 131_072,
    # Qwen3 cards: 0.6B and 1.7B "Context Length: 32,768"; 4B and up "32,768 natively and
    # 131,072 tokens with YaRN" (8B, 14B, 32B, 30B-A3B, 235B-A22B alike).
    "qwen-3-0.6b": 32_768,
    "qwen-3-1.7b": 32_768,
    **dict.fromkeys(
        ("qwen-3-4b", "qwen-3-8b", "qwen-3-14b", "qwen-3-32b", "qwen-3-30b", "qwen-3-235b"),
        131_072,
    ),
}

QWEN_MAX = SpaceSpec(
    model="qwen-2.5-max",
    aliases=("qwen-2-5-max", "qwen-qwen2-5-max"),
    url="https://qwen-qwen2-5-max-demo.hf.space",
    label="Qwen Qwen-2.5-Max",
    adapter=_USUAL,
    api_names=("model_chat",),
    fallback=Endpoints(
        api_prefix="/gradio_api",
        fn_index=0,
        trigger_id=11,
        chatbot_output=1,
        chatbot_format="tuples",
    ),
    context_length=_CONTEXT["qwen-2.5-max"],
)

QWEN_1M = SpaceSpec(
    model="qwen-2.5-1m",
    aliases=("qwen-2.5-1m-demo",),
    url="https://qwen-qwen2-5-1m-demo.hf.space",
    label="Qwen Qwen-2.5M",
    adapter=AgentChatAdapter(),
    api_names=("agent_run",),
    fallback=Endpoints(
        api_prefix="",
        fn_index=2,
        trigger_id=5,
        chatbot_output=0,
        chatbot_format="ms_legacy",
        side=(Function("add_text", 1, 5),),
    ),
    context_length=_CONTEXT["qwen-2.5-1m"],
)

_QWEN3_URL = "https://qwen-qwen3-demo.hf.space"
_QWEN3_ADAPTER = Qwen3Adapter()
# gpt4free's ids of add_message, used only when /config is unreadable. The
# thinking toggle's are not on record: without /config, thinking stays as it is.
_QWEN3_FALLBACK = Endpoints(
    api_prefix="/gradio_api", fn_index=13, trigger_id=31, chatbot_output=5, chatbot_format="ms_pro"
)


def _qwen3(model: str, model_id: str, *aliases: str) -> SpaceSpec:
    return SpaceSpec(
        model=model,
        aliases=(*aliases, model_id),
        url=_QWEN3_URL,
        label="Qwen Qwen-3",
        adapter=_QWEN3_ADAPTER,
        api_names=("add_message",),
        fallback=_QWEN3_FALLBACK,
        context_length=_CONTEXT[model],
        model_id=model_id,
        space_key="qwen3-demo",
    )


QWEN3 = (
    _qwen3("qwen-3-235b", "qwen3-235b-a22b", "qwen-3-235b-a22b"),  # the Space's default
    _qwen3("qwen-3-32b", "qwen3-32b"),
    _qwen3("qwen-3-30b", "qwen3-30b-a3b", "qwen-3-30b-a3b"),
    _qwen3("qwen-3-14b", "qwen3-14b"),
    _qwen3("qwen-3-8b", "qwen3-8b"),
    _qwen3("qwen-3-4b", "qwen3-4b"),
    _qwen3("qwen-3-1.7b", "qwen3-1.7b"),
    _qwen3("qwen-3-0.6b", "qwen3-0.6b"),
)

QWEN2_72B = SpaceSpec(
    model="qwen-2-72b",
    aliases=("qwen-qwen2-72b-instruct",),
    url="https://qwen-qwen2-72b-instruct.hf.space",
    label="Qwen Qwen-2.72B",
    adapter=_USUAL,
    api_names=("model_chat",),
    fallback=Endpoints(
        api_prefix="", fn_index=0, trigger_id=11, chatbot_output=1, chatbot_format="tuples"
    ),
    context_length=_CONTEXT["qwen-2-72b"],
)

QWEN2_5 = SpaceSpec(
    model="qwen-2.5",
    aliases=("qwen-qwen2-5",),
    url="https://qwen-qwen2-5.hf.space",
    label="Qwen Qwen-2.5",
    # The size radio's value after the system prompt; the page's own default system.
    adapter=UsualChatAdapter(
        "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", extra=("72B",)
    ),
    api_names=("model_chat",),
    fallback=Endpoints(
        api_prefix="", fn_index=3, trigger_id=25, chatbot_output=1, chatbot_format="tuples"
    ),
    context_length=_CONTEXT["qwen-2.5"],
)

SPACES: tuple[SpaceSpec, ...] = (QWEN_MAX, QWEN_1M, *QWEN3, QWEN2_72B, QWEN2_5)
MODELS: tuple[str, ...] = tuple(spec.model for spec in SPACES)
_BY_NAME = {name.lower(): spec for spec in SPACES for name in spec.names}


def resolve_model(model: str) -> SpaceSpec:
    """The Space serving ``model`` (a name or an alias, any case)."""
    if not isinstance(model, str):
        raise TypeError(f"model must be a str such as {MODELS[0]!r}, got {type(model).__name__}")
    spec = _BY_NAME.get(model.strip().lower())
    if spec is None:
        known = ", ".join(name for s in SPACES for name in s.names)
        raise ValueError(f"unknown model {model!r}; known models: {known}")
    return spec


def resolve_endpoints(spec: SpaceSpec, config: Mapping[str, Any]) -> Endpoints:
    """Find ``spec``'s chat function (and its layout's side functions) in a ``/config`` answer.

    Raises LookupError when nothing fits (see ``discovery.resolve_endpoints``).
    """
    return discovery.resolve_endpoints(spec.adapter, spec.api_names, config)
