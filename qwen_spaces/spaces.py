"""The registry: each known Space as data, and how to find its functions in ``/config``.

A Space is its names, its URL, the api names of its functions, its known ids
(used when ``/config`` cannot be read) and the adapter of its layout
(``adapters.py``), which knows everything else about it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Optional

from .adapters import AgentChatAdapter, MaxChatAdapter, SpaceAdapter
from .endpoints import ChatbotFormat, Endpoints

__all__ = [
    "MODELS",
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



@dataclass(frozen=True)
class SpaceSpec:
    """One known Space. ``label`` is its human name (the providers' ``label``)."""

    model: str
    aliases: tuple[str, ...]
    url: str
    label: str
    adapter: SpaceAdapter
    api_names: tuple[str, ...]
    fallback: Endpoints
    predict_api_names: tuple[str, ...] = ()
    default_system: str = "You are a helpful assistant."

    @property
    def names(self) -> tuple[str, ...]:
        return (self.model, *self.aliases)


QWEN_MAX = SpaceSpec(
    model="qwen-2.5-max",
    aliases=("qwen-2-5-max", "qwen-qwen2-5-max"),
    url="https://qwen-qwen2-5-max-demo.hf.space",
    label="Qwen Qwen-2.5-Max",
    adapter=MaxChatAdapter(),
    api_names=("model_chat",),
    fallback=Endpoints(
        api_prefix="/gradio_api",
        fn_index=0,
        trigger_id=11,
        chatbot_output=1,
        chatbot_format="tuples",
    ),
)

QWEN_1M = SpaceSpec(
    model="qwen-2.5-1m",
    aliases=("qwen-2.5-1m-demo",),
    url="https://qwen-qwen2-5-1m-demo.hf.space",
    label="Qwen Qwen-2.5M",
    adapter=AgentChatAdapter(),
    api_names=("agent_run",),
    predict_api_names=("add_text",),
    fallback=Endpoints(
        api_prefix="",
        fn_index=2,
        trigger_id=5,
        chatbot_output=0,
        chatbot_format="ms_legacy",
        predict_fn_index=1,
        predict_trigger_id=5,
    ),
)

SPACES: tuple[SpaceSpec, ...] = (QWEN_MAX, QWEN_1M)
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


# --- reading /config --------------------------------------------------------


def resolve_endpoints(spec: SpaceSpec, config: Mapping[str, Any]) -> Endpoints:
    """Find the Space's chat function in a ``/config`` answer.

    By api_name first, then by layout (a queued function with a chatbot among
    its inputs and outputs), so ids that shift between deployments don't
    matter. Raises LookupError when nothing fits.
    """
    version = config.get("version") if isinstance(config.get("version"), str) else None
    prefix = config.get("api_prefix") or ""
    if not isinstance(prefix, str):
        prefix = ""
    prefix = prefix.rstrip("/")
    components = {
        c.get("id"): c for c in config.get("components", []) if isinstance(c, Mapping)
    }
    deps = [d for d in config.get("dependencies", []) if isinstance(d, Mapping)]

    def type_of(component_id: Any) -> str:
        component = components.get(component_id) or {}
        kind = component.get("type")
        return kind.lower() if isinstance(kind, str) else ""

    def is_chatbot(component_id: Any) -> bool:
        return "chatbot" in type_of(component_id)

    def fn_index(position: int, dep: Mapping[str, Any]) -> int:
        dep_id = dep.get("id")
        return dep_id if isinstance(dep_id, int) else position

    def named(names: tuple[str, ...]) -> Optional[tuple[int, Mapping[str, Any]]]:
        for position, dep in enumerate(deps):
            api_name = dep.get("api_name")
            if isinstance(api_name, str) and api_name.lstrip("/") in names:
                return position, dep
        return None

    def chat_by_layout() -> Optional[tuple[int, Mapping[str, Any]]]:
        for position, dep in enumerate(deps):
            inputs, outputs = dep.get("inputs") or [], dep.get("outputs") or []
            if dep.get("queue") is False or not any(is_chatbot(i) for i in inputs):
                continue
            if not any(is_chatbot(o) for o in outputs):
                continue
            if not spec.adapter.accepts(inputs, is_chatbot):
                continue
            return position, dep
        return None

    found = named(spec.api_names) or chat_by_layout()
    if found is None:
        raise LookupError(f"no function like {spec.api_names[0]!r} in the Space's /config")
    position, dep = found
    outputs = list(dep.get("outputs") or [])
    chatbot_ids = [o for o in outputs if is_chatbot(o)]
    if not chatbot_ids:
        raise LookupError(f"{spec.api_names[0]!r} has no chatbot output")
    chatbot_id = chatbot_ids[0]
    endpoints = Endpoints(
        api_prefix=prefix,
        fn_index=fn_index(position, dep),
        trigger_id=_trigger(dep),
        chatbot_output=outputs.index(chatbot_id),
        chatbot_format=_chatbot_format(spec, components.get(chatbot_id) or {}, version),
        from_config=True,
    )
    if spec.adapter.predicts:
        predict = named(spec.predict_api_names) or _predecessor(deps, dep)
        if predict is None:
            raise LookupError(f"no function like {spec.predict_api_names[0]!r} in /config")
        p_position, p_dep = predict
        p_trigger = _trigger(p_dep)
        endpoints = replace(
            endpoints,
            predict_fn_index=fn_index(p_position, p_dep),
            predict_trigger_id=p_trigger,
            # A chained ".then" function has no trigger of its own: Gradio
            # reports the event that started the chain.
            trigger_id=endpoints.trigger_id if endpoints.trigger_id is not None else p_trigger,
        )
    return endpoints


def _trigger(dep: Mapping[str, Any]) -> Optional[int]:
    targets = dep.get("targets")
    if isinstance(targets, list):
        for target in targets:
            if isinstance(target, (list, tuple)) and target and isinstance(target[0], int):
                return target[0]
    return None


def _predecessor(
    deps: list[Mapping[str, Any]], dep: Mapping[str, Any]
) -> Optional[tuple[int, Mapping[str, Any]]]:
    after = dep.get("trigger_after")
    if isinstance(after, int):
        for position, candidate in enumerate(deps):
            if candidate.get("id", position) == after:
                return position, candidate
    return None


def _chatbot_format(
    spec: SpaceSpec, component: Mapping[str, Any], version: Optional[str]
) -> ChatbotFormat:
    props = component.get("props") or {}
    declared = props.get("type") if isinstance(props, Mapping) else None
    return spec.adapter.chatbot_format(
        declared if isinstance(declared, str) else None, _major(version)
    )


def _major(version: Optional[str]) -> Optional[int]:
    if not version:
        return None
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None
