"""Pure: a Space's ``/config`` -> the Endpoints of its chat function and side functions.

What is true of every Gradio Space lives here (dependencies, components,
api names, triggers); what a layout's functions look like is asked of its
adapter (``accepts``, ``find_side``, ``chatbot_format``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional, Protocol

from .endpoints import ChatbotFormat, Endpoints, Function

__all__ = ["ConfigView", "Dependency", "Layout", "resolve_endpoints"]

#: A dependency of /config, with its position in the list.
Dependency = tuple[int, Mapping[str, Any]]


class Layout(Protocol):
    """What discovery asks of a layout's adapter (``adapters.SpaceAdapter``)."""

    sides: tuple[str, ...]

    def accepts(self, inputs: Sequence[Any], config: ConfigView) -> bool: ...

    def chatbot_format(
        self, declared: Optional[str], gradio_major: Optional[int]
    ) -> ChatbotFormat: ...

    def find_side(
        self, name: str, config: ConfigView, chat: Dependency
    ) -> Optional[Dependency]: ...


class ConfigView:
    """Questions about one ``/config`` answer that every layout may ask."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        version = config.get("version")
        self.version: Optional[str] = version if isinstance(version, str) else None
        prefix = config.get("api_prefix") or ""
        self.api_prefix: str = prefix.rstrip("/") if isinstance(prefix, str) else ""
        self.components: dict[Any, Mapping[str, Any]] = {
            c.get("id"): c for c in config.get("components", []) if isinstance(c, Mapping)
        }
        self.deps: list[Mapping[str, Any]] = [
            d for d in config.get("dependencies", []) if isinstance(d, Mapping)
        ]

    def type_of(self, component_id: Any) -> str:
        component = self.components.get(component_id) or {}
        kind = component.get("type")
        return kind.lower() if isinstance(kind, str) else ""

    def is_chatbot(self, component_id: Any) -> bool:
        return "chatbot" in self.type_of(component_id)

    def named(self, names: tuple[str, ...]) -> Optional[Dependency]:
        """The first function whose api_name is one of ``names``."""
        for position, dep in enumerate(self.deps):
            api_name = dep.get("api_name")
            if isinstance(api_name, str) and api_name.lstrip("/") in names:
                return position, dep
        return None

    def predecessor(self, dep: Mapping[str, Any]) -> Optional[Dependency]:
        """The function that ``dep`` runs after (``.then``), if any."""
        after = dep.get("trigger_after")
        if isinstance(after, int):
            for position, candidate in enumerate(self.deps):
                if candidate.get("id", position) == after:
                    return position, candidate
        return None

    def api_names(self) -> list[str]:
        return sorted(str(d["api_name"]).lstrip("/") for d in self.deps if d.get("api_name"))

    @property
    def gradio_major(self) -> Optional[int]:
        head = (self.version or "").split(".", 1)[0]
        return int(head) if head.isdigit() else None


def fn_index(found: Dependency) -> int:
    position, dep = found
    dep_id = dep.get("id")
    return dep_id if isinstance(dep_id, int) else position


def trigger(dep: Mapping[str, Any]) -> Optional[int]:
    """The component whose event runs ``dep`` (the first target)."""
    targets = dep.get("targets")
    if isinstance(targets, list):
        for target in targets:
            if isinstance(target, (list, tuple)) and target and isinstance(target[0], int):
                return target[0]
    return None


def resolve_endpoints(
    adapter: Layout, api_names: tuple[str, ...], config: Mapping[str, Any]
) -> Endpoints:
    """Find the chat function (and the layout's side functions) in a ``/config`` answer.

    By api_name first, then by layout (a queued function with a chatbot among
    its outputs that the adapter accepts), so ids that shift between
    deployments don't matter. Raises LookupError when nothing fits.
    """
    view = ConfigView(config)

    def chat_by_layout() -> Optional[Dependency]:
        for position, dep in enumerate(view.deps):
            inputs, outputs = dep.get("inputs") or [], dep.get("outputs") or []
            if dep.get("queue") is False or not any(view.is_chatbot(o) for o in outputs):
                continue
            if adapter.accepts(inputs, view):
                return position, dep
        return None

    found = view.named(api_names) or chat_by_layout()
    if found is None:
        raise LookupError(f"no function like {api_names[0]!r} in the Space's /config")
    dep = found[1]
    outputs = list(dep.get("outputs") or [])
    chatbot_ids = [o for o in outputs if view.is_chatbot(o)]
    if not chatbot_ids:
        raise LookupError(f"{api_names[0]!r} has no chatbot output")
    chatbot_id = chatbot_ids[0]
    props = (view.components.get(chatbot_id) or {}).get("props") or {}
    declared = props.get("type") if isinstance(props, Mapping) else None
    chat_trigger = trigger(dep)
    side = []
    for name in adapter.sides:
        other = adapter.find_side(name, view, found)
        if other is None:
            raise LookupError(f"no function like {name!r} in the Space's /config")
        side.append(Function(name, fn_index(other), trigger(other[1])))
    if chat_trigger is None:
        # A chained ".then" function has no trigger of its own: Gradio
        # reports the event that started the chain (a side function's).
        chat_trigger = next((f.trigger_id for f in side if f.trigger_id is not None), None)
    return Endpoints(
        api_prefix=view.api_prefix,
        fn_index=fn_index(found),
        trigger_id=chat_trigger,
        chatbot_output=outputs.index(chatbot_id),
        chatbot_format=adapter.chatbot_format(
            declared if isinstance(declared, str) else None, view.gradio_major
        ),
        side=tuple(side),
        from_config=True,
    )
