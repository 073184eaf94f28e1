"""Drive qwen_spaces.providers through gpt4free's own entry points; run in a gpt4free venv.

    python g4f_driver.py KIND URL > observations.json

KIND is "max", "onem", "qwen3", "qwen2" or "qwen25", URL a replica Space on
loopback. It runs under g4f 0.5.5.0 (.venvs/g4f) and gpt4free 8.8.x
(.venvs/g4f-new), whose providers have no ``params`` and whose messages carry
``reasoning`` rather than ``reasoning_content``. For every entry
point (gpt4free's Client, AsyncClient, ChatCompletion and IterListProvider)
it runs the same scenarios and prints, as JSON, what came back: the text,
the content chunks, the reasoning, the conversation gpt4free handed out and
the answer to a follow-up that passes it back. It asserts nothing: the test
(tests/integration/test_g4f.py) computes the expected answers and checks.
Only stdlib, gpt4free and qwen_spaces are needed; ``g4f_scenarios`` (beside
it) says what to send.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import g4f
import g4f.debug
import g4f_scenarios
from g4f.client import AsyncClient, Client
from g4f.errors import ModelNotFoundError
from g4f.providers.base_provider import AsyncGeneratorProvider, ProviderModelMixin
from g4f.providers.response import JsonConversation, Reasoning
from g4f.providers.retry_provider import IterListProvider
from g4f_scenarios import (
    ALONE,
    CACHE_CHATS,
    CLASSES,
    FOLLOW_UP,
    HISTORY,
    NAMES,
    NO_THINK,
    NO_THINK_BUDGET,
    QUERY,
    RESTART,
    SYSTEM,
    first_query,
)

from qwen_spaces import providers

g4f.debug.version_check = False  # no network here: never ask PyPI for a newer g4f

TIMEOUT = 30.0
PROVIDERS = {kind: getattr(providers, name) for kind, name in CLASSES.items()}


class Observation:
    """What one call gave back, as gpt4free's entry point exposed it."""

    def __init__(self) -> None:
        self.content: list[Any] = []
        self.reasoning: list[str] = []
        self.reasoning_types: set[str] = set()
        self.conversation: Any = None
        self.other: list[str] = []

    def add_content(self, value: Any) -> None:
        if value is None or value == "":
            return
        self.content.append(value)

    def add_reasoning(self, value: Any) -> None:
        self.reasoning.append(str(value))

    def add_conversation(self, value: Any) -> None:
        if value is not None:
            self.conversation = value

    def add_chunk(self, chunk: Any) -> None:
        """A ChatCompletionChunk from gpt4free's client."""
        delta = chunk.choices[0].delta
        if isinstance(delta.content, Reasoning) or getattr(delta, "role", None) == "reasoning":
            self.add_reasoning(getattr(delta, "reasoning_content", None) or delta.content)
        elif getattr(delta, "reasoning", None):  # gpt4free 8.x: content None, reasoning str
            self.add_reasoning(delta.reasoning)
            self.add_content(delta.content)
        else:
            self.add_content(delta.content)
        self.add_conversation(getattr(chunk, "conversation", None))

    def add_completion(self, completion: Any) -> None:
        """A ChatCompletion from gpt4free's client."""
        message = completion.choices[0].message
        self.add_content(message.content)
        # gpt4free 0.5 names it reasoning_content, 8.x reasoning
        reasoning = getattr(message, "reasoning_content", None) or getattr(
            message, "reasoning", None
        )
        if isinstance(reasoning, list):
            for item in reasoning:
                self.add_reasoning(item)
        elif reasoning:
            self.add_reasoning(reasoning)
        self.add_conversation(getattr(completion, "conversation", None))

    def add_raw(self, item: Any) -> None:
        """An item straight from the provider (ChatCompletion with stream=True)."""
        if isinstance(item, Reasoning):
            self.add_reasoning(item)
            self.reasoning_types.add(type(item).__name__)
        elif isinstance(item, JsonConversation):
            self.add_conversation(item)
        elif isinstance(item, str):
            self.add_content(item)
        else:
            self.other.append(type(item).__name__)

    def to_json(self) -> dict[str, Any]:
        conversation = self.conversation
        if conversation is not None and not isinstance(conversation, dict):
            conversation = {"type": type(conversation).__name__, **conversation.get_dict()}
        return {
            "text": "".join(str(c) for c in self.content),
            "content_chunks": len(self.content),
            "content_types": sorted({type(c).__name__ for c in self.content}),
            "reasoning": "".join(self.reasoning),
            "reasoning_chunks": len(self.reasoning),
            "reasoning_types": sorted(self.reasoning_types),
            "conversation": conversation,
            "conversation_is_dict": isinstance(self.conversation, dict),
            "other": self.other,
        }


# --- the entry points: (provider, model, messages, kwargs) -> Observation ---------------------


def client_create(provider: Any, model: str, messages: Any, **kw: Any) -> Observation:
    obs = Observation()
    obs.add_completion(Client(provider=provider).chat.completions.create(messages, model, **kw))
    return obs


def client_stream(provider: Any, model: str, messages: Any, **kw: Any) -> Observation:
    obs = Observation()
    for chunk in Client(provider=provider).chat.completions.create(
        messages, model, stream=True, **kw
    ):
        obs.add_chunk(chunk)
    return obs


async def async_client_create(provider: Any, model: str, messages: Any, **kw: Any) -> Observation:
    obs = Observation()
    client = AsyncClient(provider=provider)
    obs.add_completion(await client.chat.completions.create(messages, model, **kw))
    return obs


async def async_client_stream(provider: Any, model: str, messages: Any, **kw: Any) -> Observation:
    obs = Observation()
    client = AsyncClient(provider=provider)
    async for chunk in client.chat.completions.create(messages, model, stream=True, **kw):
        obs.add_chunk(chunk)
    return obs


def chat_completion(provider: Any, model: str, messages: Any, **kw: Any) -> Observation:
    obs = Observation()
    obs.add_raw(g4f.ChatCompletion.create(model, messages, provider=provider, **kw))
    return obs


def chat_completion_stream(provider: Any, model: str, messages: Any, **kw: Any) -> Observation:
    obs = Observation()
    for item in g4f.ChatCompletion.create(model, messages, provider=provider, stream=True, **kw):
        obs.add_raw(item)
    return obs


async def chat_completion_async(provider: Any, model: str, messages: Any, **kw: Any) -> Observation:
    obs = Observation()
    obs.add_raw(await g4f.ChatCompletion.create_async(model, messages, provider=provider, **kw))
    return obs


async def chat_completion_async_stream(
    provider: Any, model: str, messages: Any, **kw: Any
) -> Observation:
    obs = Observation()
    result = g4f.ChatCompletion.create_async(model, messages, provider=provider, stream=True, **kw)
    async for item in result:
        obs.add_raw(item)
    return obs


def iterlist_client_create(provider: Any, model: str, messages: Any, **kw: Any) -> Observation:
    return client_create(IterListProvider([provider], shuffle=False), model, messages, **kw)


async def iterlist_async_stream(provider: Any, model: str, messages: Any, **kw: Any) -> Observation:
    return await async_client_stream(
        IterListProvider([provider], shuffle=False), model, messages, **kw
    )


Entry = Callable[..., Any]
# The rows, in g4f_scenarios.ENTRY_POINTS' order.
ENTRY_POINTS: dict[str, Entry] = {
    "Client.create": client_create,
    "Client.create(stream=True)": client_stream,
    "AsyncClient.create": async_client_create,
    "AsyncClient.create(stream=True)": async_client_stream,
    "ChatCompletion.create": chat_completion,
    "ChatCompletion.create(stream=True)": chat_completion_stream,
    "ChatCompletion.create_async": chat_completion_async,
    "ChatCompletion.create_async(stream=True)": chat_completion_async_stream,
    "IterListProvider + Client.create": iterlist_client_create,
    "IterListProvider + AsyncClient.create(stream=True)": iterlist_async_stream,
}


def call(entry: Entry, *args: Any, **kw: Any) -> tuple[dict[str, Any], Any]:
    """Run one call; its observation as JSON (or the error), and the raw conversation."""
    try:
        result = entry(*args, timeout=TIMEOUT, **kw)
        if isinstance(result, Awaitable):
            result = asyncio.run(_await(result))
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}, None
    return result.to_json(), result.conversation


async def _await(result: Awaitable[Observation]) -> Observation:
    return await result


def history_messages() -> list[dict[str, str]]:
    messages = [{"role": "system", "content": SYSTEM}]
    for user, assistant in HISTORY:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return [*messages, {"role": "user", "content": QUERY}]


def run_entry(kind: str, name: str, entry: Entry, model: str) -> dict[str, Any]:
    provider = PROVIDERS[kind]
    out: dict[str, Any] = {"model": model}
    out["plain"], _ = call(entry, provider, model, [{"role": "user", "content": QUERY}])
    out["history"], _ = call(entry, provider, model, history_messages())
    # A conversation: the first turn asks for it; the follow-up passes back
    # exactly what gpt4free handed out (a dict or an object).
    second_query = FOLLOW_UP[1]
    first_messages = [{"role": "user", "content": first_query(name)}]
    out["first"], conversation = call(
        entry, provider, model, first_messages, return_conversation=True
    )
    if conversation is not None and "text" in out["first"]:
        follow_up = [
            *first_messages,
            {"role": "assistant", "content": out["first"]["text"]},
            {"role": "user", "content": second_query},
        ]
        out["follow_up"], second = call(
            entry, provider, model, follow_up, conversation=conversation, return_conversation=True
        )
        if second is not None:
            # The seed's rule: with a conversation, the new user message alone.
            alone = [{"role": "user", "content": ALONE}]
            out["alone"], _ = call(entry, provider, model, alone, conversation=second)
        if "error" in out["follow_up"] and isinstance(conversation, dict):
            # gpt4free 8.x's IterListProvider cannot take back the dict its sync
            # client hands out; wrapped in its JsonConversation it can.
            out["follow_up_wrapped"], _ = call(
                entry,
                provider,
                model,
                follow_up,
                conversation=JsonConversation(**conversation),
                return_conversation=True,
            )
    return out


def class_checks(kind: str) -> dict[str, Any]:
    provider = PROVIDERS[kind]
    methods = [
        "create_function",
        "async_create_function",
        "get_parent",
        "get_dict",
        "get_model",
        "get_models",
        "create_completion",
        "create_async_generator",
        "create_async",
        "get_parameters",
    ]
    # The methods this gpt4free's own providers have (8.x dropped some of 0.5's).
    offered = [m for m in methods if callable(getattr(AsyncGeneratorProvider, m, None))]
    # 0.5 has a ``params`` str; 8.x has none (None here).
    params = getattr(provider, "params", None)
    return {
        "gpt4free_flag": providers.GPT4FREE,
        "is_async_generator_provider": issubclass(provider, AsyncGeneratorProvider),
        "is_provider_model_mixin": issubclass(provider, ProviderModelMixin),
        "offered_methods": offered,
        "missing_methods": [m for m in offered if not callable(getattr(provider, m, None))],
        "get_dict": provider.get_dict(),
        "get_parent": provider.get_parent(),
        "params": None if params is None else type(params).__name__,
        "label": provider.label,
        "url": provider.url,
        "api_endpoint": provider.api_endpoint,
        "default_model": provider.default_model,
        "model_aliases": provider.model_aliases,
        "needs_auth": provider.needs_auth,
        "working": provider.working,
        "supports_stream": provider.supports_stream,
        "supports_system_message": provider.supports_system_message,
        "supports_message_history": provider.supports_message_history,
        "get_models": provider.get_models(),
        "get_model": {name: provider.get_model(name) for name in NAMES[kind]},
    }


def edge_checks(kind: str) -> dict[str, Any]:
    provider = PROVIDERS[kind]
    messages = [{"role": "user", "content": QUERY}]
    out: dict[str, Any] = {}
    # Every spelling of the model gives the same answer.
    out["names"] = {
        name: call(client_create, provider, name, messages)[0].get("text") for name in NAMES[kind]
    }
    try:
        Client(provider=provider).chat.completions.create(messages, "gpt-4o-unknown")
        out["unknown_model"] = {"raised": None}
    except Exception as exc:
        out["unknown_model"] = {
            "raised": type(exc).__name__,
            "is_gpt4free_error": isinstance(exc, ModelNotFoundError),
            "is_value_error": isinstance(exc, ValueError),
            "message": str(exc),
        }
    # gpt4free's media: (data, filename) pairs; the 1M Space reads them as documents.
    media = [("data:image/png;base64,iVBORw0KGgo=", "pixel.png"), (b"notes\n", "notes.txt")]
    try:
        response = Client(provider=provider).chat.completions.create(
            messages, NAMES[kind][0], media=media
        )
        out["media"] = {"raised": None, "text": response.choices[0].message.content}
    except Exception as exc:
        out["media"] = {"raised": type(exc).__name__, "message": str(exc)}
    out["empty_media"], _ = call(client_create, provider, NAMES[kind][0], messages, media=[])
    if kind == "qwen3":
        out["no_think"] = no_think_checks(provider)
    if kind in ("qwen3", "onem"):
        out["cache_chats"] = cache_checks(provider, NAMES[kind][0])
        out["restart"] = restart_checks(kind)
    return out


def cache_checks(provider: Any, model: str) -> dict[str, Any]:
    """Two chats that begin with the same message, each continued with its own conversation."""
    start, a_query, b_query = CACHE_CHATS
    out: dict[str, Any] = {}
    for chat, query in (("a", a_query), ("b", b_query)):
        first = [{"role": "user", "content": start}]
        out[chat + "1"], conversation = call(
            client_create, provider, model, first, return_conversation=True
        )
        follow = [
            *first,
            {"role": "assistant", "content": out[chat + "1"].get("text", "")},
            {"role": "user", "content": query},
        ]
        out[chat + "2"], _ = call(
            client_create,
            provider,
            model,
            follow,
            conversation=conversation,
            return_conversation=True,
        )
    return out


def restart_checks(kind: str) -> dict[str, Any]:
    """Turn one, a Space restart, then the new message alone (sync client, then async stream).

    On the testing kit's FakeSpace in this process: it restarts on demand (the
    replicas are shared by every driver run). Its answer echoes what reached it.
    """
    from qwen_spaces.testing import FakeSpace

    provider = PROVIDERS[kind]
    layout = "1m" if kind == "onem" else "qwen3"
    model = NAMES[kind][0]
    out: dict[str, Any] = {}
    for label, (first, second) in (
        ("sync", (client_create, client_create)),
        ("async", (async_client_stream, async_client_stream)),
    ):
        space = FakeSpace(layout, answer=lambda query, turns, system: f"[{turns}] {query}")
        with space:
            saved_url, provider.url = provider.url, space.url
            try:
                one = [{"role": "user", "content": RESTART[0]}]
                kwargs: dict[str, Any] = {"enable_thinking": False} if kind == "qwen3" else {}
                out[label + "1"], conversation = call(
                    first, provider, model, one, return_conversation=True, **kwargs
                )
                space.restart()
                two = [{"role": "user", "content": RESTART[1]}]
                out[label + "2"], _ = call(second, provider, model, two, conversation=conversation)
                out[label + "_chats"] = [c._asdict() for c in space.chats]
            finally:
                provider.url = saved_url
    return out


def no_think_checks(provider: Any) -> dict[str, Any]:
    """Thinking off with a budget, held over two follow-ups (sync client, then async stream)."""
    out: dict[str, Any] = {}
    model = NAMES["qwen3"][1]
    messages: list[dict[str, str]] = []
    conversation = None
    kwargs: dict[str, Any] = {"enable_thinking": False, "thinking_budget": NO_THINK_BUDGET}
    steps = [("first", client_create), ("second", async_client_stream), ("third", client_create)]
    for (label, entry), query in zip(steps, NO_THINK, strict=True):
        messages = [*messages, {"role": "user", "content": query}]
        extra = {} if conversation is None else {"conversation": conversation}
        if label == "third":  # no switch passed: the session keeps thinking off
            kwargs = {"thinking_budget": NO_THINK_BUDGET}
        out[label], conversation = call(
            entry, provider, model, messages, return_conversation=True, **kwargs, **extra
        )
        messages.append({"role": "assistant", "content": out[label].get("text", "")})
    # Thinking on through its other spelling, and a budget gpt4free users never passed.
    on = [{"role": "user", "content": QUERY}]
    out["thinking_on"], _ = call(client_create, provider, model, on, thinking=True)
    for label, bad in (
        ("budget_tokens", {"thinking_budget": 4096}),
        ("bad_switch", {"enable_thinking": "no"}),
    ):
        try:
            Client(provider=provider).chat.completions.create(on, model, **bad)
            out[label] = {"raised": None}
        except Exception as exc:
            out[label] = {"raised": type(exc).__name__, "message": str(exc)}
    return out


def main() -> None:
    kind, url = sys.argv[1], sys.argv[2]
    if list(ENTRY_POINTS) != g4f_scenarios.ENTRY_POINTS:
        sys.exit("g4f_driver.ENTRY_POINTS and g4f_scenarios.ENTRY_POINTS differ")
    provider = PROVIDERS[kind]
    provider.url = url  # the providers read cls.url at call time
    names = NAMES[kind]
    report: dict[str, Any] = {
        "g4f_version": g4f.version.utils.current_version,
        "qwen_spaces_file": providers.__file__,
        "class": class_checks(kind),
        "entries": {
            label: run_entry(kind, label, entry, names[i % len(names)])
            for i, (label, entry) in enumerate(ENTRY_POINTS.items())
        },
        "edge": edge_checks(kind),
    }
    json.dump(report, sys.stdout, ensure_ascii=False, indent=1, default=str)


if __name__ == "__main__":
    main()
