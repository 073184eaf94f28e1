"""gpt4free's Qwen providers, maintained: the same classes, names and arguments.

gpt4free deleted its Qwen Space providers in 2026-06; these keep code written
against them working: ``Qwen_Qwen_2_5_Max``, ``Qwen_Qwen_2_5M``,
``Qwen_Qwen_3`` (the Qwen3 demo's eight models, with thinking),
``Qwen_Qwen_2_72B`` and ``Qwen_Qwen_2_5``, with the same class attributes and
``create_async_generator(model, messages, proxy=None, **kwargs)`` yielding
str chunks, now with real streaming and typed errors. ``create_completion``
is the blocking twin. The classes read ``cls.url`` at call time, so setting
it points them at a duplicated Space or a local server.

When gpt4free (the ``g4f`` package) is installed, the classes are real
gpt4free providers: they subclass its ``AsyncGeneratorProvider`` and
``ProviderModelMixin``, yield its ``JsonConversation`` and ``Reasoning``
types, and raise its ``ModelNotFoundError``, so gpt4free's own client takes
them (``g4f.client.Client(provider=Qwen_Qwen_3)``, ``AsyncClient``,
``ChatCompletion``, ``IterListProvider``), old releases and new (0.5.5, 8.8).
Without it they work on their own. gpt4free is imported by this package
only, never by ``import qwen_spaces``.

>>> from qwen_spaces.providers import Qwen_Qwen_3
>>> async def main():                                            # doctest: +SKIP
...     messages = [{"role": "user", "content": "Hello, Qwen!"}]
...     async for chunk in Qwen_Qwen_3.create_async_generator("qwen-3-32b", messages):
...         print(chunk, end="")       # Reasoning chunks first, then the answer
"""

from __future__ import annotations

from typing import Any

from .._spaces.spaces import QWEN2_5, QWEN2_72B, QWEN3, QWEN_1M, QWEN_MAX
from ._base import Chunk, Provider, ThinkingProvider, _Endpoint
from ._gpt4free import GPT4FREE, JsonConversation, ModelNotFoundError, generate_session_hash

__all__ = [
    "GPT4FREE",
    "PROVIDERS",
    "Chunk",
    "JsonConversation",
    "ModelNotFoundError",
    "Qwen_Qwen_2_5",
    "Qwen_Qwen_2_5M",
    "Qwen_Qwen_2_5_Max",
    "Qwen_Qwen_2_72B",
    "Qwen_Qwen_3",
    "generate_session_hash",
]


class Qwen_Qwen_2_5_Max(Provider):
    """Qwen2.5-Max through its Hugging Face Space, gpt4free-compatible."""

    label: str = QWEN_MAX.label
    url: str = QWEN_MAX.url
    api_endpoint: Any = _Endpoint("/gradio_api/queue/join?")
    default_model = "qwen-qwen2-5-max"
    model_aliases: dict[str, str] = {"qwen-2-5-max": default_model}
    models: list[str] = list(model_aliases.keys())
    _specs = (QWEN_MAX,)


class Qwen_Qwen_2_5M(Provider):
    """Qwen2.5-1M through its Hugging Face Space, gpt4free-compatible."""

    label: str = QWEN_1M.label
    url: str = QWEN_1M.url
    api_endpoint: Any = _Endpoint("/run/predict?__theme=light&")
    # As the seed documents it: history reaches this Space flattened into one
    # prompt, or kept by the Space's session through ``conversation``.
    supports_message_history = False
    default_model = "qwen-2.5-1m-demo"
    model_aliases: dict[str, str] = {"qwen-2.5-1m": default_model}
    models: list[str] = list(model_aliases.keys())
    _specs = (QWEN_1M,)


class Qwen_Qwen_3(ThinkingProvider):
    """The Qwen3 demo's eight models through its Space, with thinking, gpt4free-compatible.

    Extra arguments: ``thinking_budget`` in the Space's units of 1024 tokens,
    1 to 38, as gpt4free's own ``Qwen_Qwen_3`` took it (default: the
    Space's slider top, 38); ``enable_thinking`` (the field of Qwen's own API)
    or ``thinking``: False turns the reasoning off for the conversation (a
    follow-up passing its conversation back keeps it off). The reasoning
    arrives as gpt4free ``Reasoning`` chunks, apart from the answer text.
    """

    label: str = QWEN3[0].label
    url: str = QWEN3[0].url
    api_endpoint: Any = _Endpoint("/gradio_api/queue/join?__theme=system")
    default_model = "qwen-3-235b"
    models: list[str] = [
        default_model,
        "qwen-3-32b",
        "qwen-3-30b-a3b",
        "qwen-3-14b",
        "qwen-3-8b",
        "qwen-3-4b",
        "qwen-3-1.7b",
        "qwen-3-0.6b",
    ]
    # gpt4free's map to the Space's ids, with the two it missed (8b, 30b-a3b).
    model_aliases: dict[str, str] = {
        "qwen-3-235b": "qwen3-235b-a22b",
        "qwen-3-30b": "qwen3-30b-a3b",
        "qwen-3-30b-a3b": "qwen3-30b-a3b",
        "qwen-3-32b": "qwen3-32b",
        "qwen-3-14b": "qwen3-14b",
        "qwen-3-8b": "qwen3-8b",
        "qwen-3-4b": "qwen3-4b",
        "qwen-3-1.7b": "qwen3-1.7b",
        "qwen-3-0.6b": "qwen3-0.6b",
    }
    _specs = QWEN3


class Qwen_Qwen_2_72B(Provider):
    """Qwen2-72B-Instruct through its Hugging Face Space, gpt4free-compatible."""

    label: str = QWEN2_72B.label
    url: str = QWEN2_72B.url
    api_endpoint: Any = _Endpoint("/queue/join?")
    default_model = "qwen-qwen2-72b-instruct"
    model_aliases: dict[str, str] = {"qwen-2-72b": default_model}
    models: list[str] = list(model_aliases.keys())
    _specs = (QWEN2_72B,)


class Qwen_Qwen_2_5(Provider):
    """Qwen2.5 (its 72B size) through its Hugging Face Space, gpt4free-compatible."""

    label: str = QWEN2_5.label
    url: str = QWEN2_5.url
    api_endpoint: Any = _Endpoint("/queue/join")
    default_model = "qwen-qwen2-5"
    model_aliases: dict[str, str] = {"qwen-2.5": default_model}
    models: list[str] = list(model_aliases.keys())
    _specs = (QWEN2_5,)


#: Every provider class, by name.
PROVIDERS: dict[str, type[Provider]] = {
    cls.__name__: cls
    for cls in (Qwen_Qwen_2_5_Max, Qwen_Qwen_2_5M, Qwen_Qwen_3, Qwen_Qwen_2_72B, Qwen_Qwen_2_5)
}
