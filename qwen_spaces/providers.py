"""The interface of gpt4free's providers ``Qwen_Qwen_2_5_Max`` and ``Qwen_Qwen_2_5M``.

Code written against those providers keeps working: the same class attributes
and ``create_async_generator(model, messages, proxy=None, **kwargs)`` yielding
str chunks, now with real streaming and typed errors. ``create_completion`` is
the blocking twin. The classes read ``cls.url`` at call time, so setting it
points them at a duplicated Space or a local server.

When gpt4free (the ``g4f`` package) is installed, the two classes are real
gpt4free providers: they subclass its ``AsyncGeneratorProvider`` and
``ProviderModelMixin``, yield its ``JsonConversation`` and ``Reasoning``
types, and raise its ``ModelNotFoundError``, so gpt4free's own client takes
them (``g4f.client.Client(provider=Qwen_Qwen_2_5_Max)``, ``AsyncClient``,
``ChatCompletion``, ``IterListProvider``). Without it they work on their own.
gpt4free is imported by this module only, never by ``import qwen_spaces``.

>>> from qwen_spaces.providers import Qwen_Qwen_2_5_Max
>>> async def main():                                            # doctest: +SKIP
...     messages = [{"role": "user", "content": "Hello, Qwen!"}]
...     async for chunk in Qwen_Qwen_2_5_Max.create_async_generator("qwen-2-5-max", messages):
...         print(chunk, end="")
"""

from __future__ import annotations

import base64
import importlib
import logging
import os
import urllib.parse
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Union

from .events import ConversationState, Event, Reasoning, TextDelta
from .files import FileArg
from .payloads import Messages, new_session_hash, normalize_messages
from .spaces import QWEN_1M, QWEN_MAX, SpaceSpec
from .sync_client import Client

__all__ = [
    "GPT4FREE",
    "JsonConversation",
    "ModelNotFoundError",
    "Qwen_Qwen_2_5M",
    "Qwen_Qwen_2_5_Max",
    "generate_session_hash",
]

log = logging.getLogger(__name__)


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


_G4F = _load_gpt4free()

#: True when the providers are gpt4free providers (the ``g4f`` package is installed).
GPT4FREE = _G4F is not None


class _Standalone:
    """Stands in for gpt4free's AsyncGeneratorProvider when it is not installed."""


class _StandaloneModels:
    """Stands in for gpt4free's ProviderModelMixin when it is not installed."""


class _StandaloneResponse:
    """Stands in for gpt4free's response types when it is not installed."""


class _StandaloneError(Exception):
    """Stands in for gpt4free's ModelNotFoundError when it is not installed."""


# The base classes are chosen once, here; every class below is written once.
# The type checker sees the standalone bases (gpt4free has no type hints).
if TYPE_CHECKING:
    _ProviderBase = _Standalone
    _ModelsBase = _StandaloneModels
    _ConversationBase = _StandaloneResponse
    _ReasoningBase = _StandaloneResponse
    _ModelErrorBase = _StandaloneError
elif _G4F is not None:
    _ProviderBase = _G4F.provider
    _ModelsBase = _G4F.model_mixin
    _ConversationBase = _G4F.conversation
    _ReasoningBase = _G4F.reasoning
    _ModelErrorBase = _G4F.model_not_found
else:
    _ProviderBase = _Standalone
    _ModelsBase = _StandaloneModels
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

    Pass it back as ``conversation=`` (or its ``get_dict()``, which is what
    gpt4free's client hands out as ``response.conversation``). A gpt4free
    ``JsonConversation`` when gpt4free is installed; never answer text.
    """

    session_hash: str

    def get_dict(self) -> dict[str, Any]:
        """The conversation as a JSON-ready dict (``{"session_hash": ...}``)."""
        return {"session_hash": self.session_hash}

    def __str__(self) -> str:
        return ""


class _StatusReasoning(_ReasoningBase, Reasoning):
    # With gpt4free: the Space's status text as gpt4free's Reasoning (its
    # ``token``), and still a qwen_spaces Reasoning. It is falsy, so that
    # gpt4free's ChatCompletion.create, which joins every truthy chunk into the
    # answer, leaves it out; gpt4free's Client still reads it as reasoning.

    def __init__(self, text: str) -> None:
        if _G4F is not None:
            _G4F.reasoning.__init__(self, token=text)
        Reasoning.__init__(self, text)

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Reasoning({self.text!r})"


Chunk = Union[str, Reasoning, JsonConversation]


def _chunk(event: Event) -> Optional[Union[str, Reasoning]]:
    """The provider chunk for a stream event: answer text, reasoning, or nothing."""
    if type(event) is TextDelta:
        return event.text
    if type(event) is Reasoning:
        return _StatusReasoning(event.text) if _G4F is not None else event
    return None


def _session_hash(conversation: Any, provider: str) -> str:
    # A JsonConversation (ours or gpt4free's), or the dict gpt4free's client
    # hands out as response.conversation; gpt4free's IterListProvider keeps it
    # under the provider's name.
    for candidate in (conversation, _field(conversation, provider)):
        value = _field(candidate, "session_hash")
        if isinstance(value, str) and value:
            return value
    raise TypeError(
        "conversation must have a session_hash: a JsonConversation, "
        "or the dict gpt4free's client returns as response.conversation"
    )


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


class _Endpoint:
    # Derived from cls.url when read, so changing url moves api_endpoint too.
    def __init__(self, suffix: str) -> None:
        self.suffix = suffix

    def __get__(self, obj: Any, owner: type[_Provider]) -> str:
        return owner.url + self.suffix


class _Provider(_ProviderBase, _ModelsBase):
    label: str
    url: str
    api_endpoint: Any
    working = True
    supports_stream = True
    supports_system_message = True
    # The Max provider sends the real history as the chatbot's turns.
    supports_message_history = True
    default_model: str
    model_aliases: dict[str, str]
    models: list[str]
    last_model: Optional[str] = None
    _spec: SpaceSpec

    @classmethod
    def get_model(cls, model: str, **kwargs: Any) -> str:
        """The provider's model name for ``model`` (an alias, or empty for the default).

        Raises ModelNotFoundError (a ValueError) for a model it does not serve.
        """
        if not model:
            resolved = cls.default_model
        elif model == cls.default_model or model in cls.models:
            resolved = cls.model_aliases.get(model, model)
        elif model.lower() in cls._spec.names:  # gpt4free's other spellings of the same model
            resolved = cls.default_model
        else:
            known = ", ".join(dict.fromkeys([cls.default_model, *cls.models, *cls._spec.names]))
            raise ModelNotFoundError(
                f"{cls.__name__} does not serve model {model!r}; known: {known}"
            )
        cls.last_model = resolved
        return resolved

    @classmethod
    def get_models(cls, **kwargs: Any) -> list[str]:
        """The model names listed for this provider (every spelling is accepted)."""
        return cls.models

    @classmethod
    def _prepare(
        cls, model: str, messages: Messages, conversation: Optional[Any]
    ) -> tuple[Messages, Optional[ConversationState]]:
        cls.get_model(model)
        if conversation is None:
            return messages, None
        session_hash = _session_hash(conversation, cls.__name__)
        # The Space's session already holds the earlier turns: send the last
        # user message (Max sends the earlier ones as the chatbot's history).
        full = normalize_messages(messages)
        last = max(i for i, m in enumerate(full) if m["role"] == "user")
        state = ConversationState(
            model=cls._spec.model,
            session_hash=session_hash,
            messages=full[:last],
            synced=last,
        )
        return full[last:], state

    @classmethod
    def _client_options(cls, proxy: Optional[str], kwargs: dict[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {"base_url": cls.url, "proxy": proxy}
        for key in ("timeout", "hf_token", "max_retries", "headers"):
            if kwargs.get(key) is not None:
                options[key] = kwargs[key]
        return options

    @classmethod
    async def create_async_generator(
        cls,
        model: str,
        messages: Messages,
        proxy: Optional[str] = None,
        return_conversation: bool = False,
        conversation: Optional[Any] = None,
        **kwargs: Any,
    ) -> AsyncIterator[Chunk]:
        """Yield the answer in str chunks as they arrive.

        Status text such as "Qwen is thinking..." comes as a Reasoning object,
        never as answer text. With ``return_conversation=True`` the last item
        is a JsonConversation to pass back as ``conversation=`` (the object or
        its dict) for a follow-up. ``media`` (gpt4free's list of ``(data,
        filename)``: bytes, a binary file, a local path or a ``data:`` URI)
        goes to the Space as documents (``files=``; the 1M model reads them,
        the Max model raises ValueError). ``timeout``, ``max_retries``,
        ``headers`` and ``hf_token`` go to the client; other gpt4free arguments
        are ignored, ``api_key`` too (gpt4free may pass a key meant for
        another service: it is never sent to the Space).
        """
        from .async_client import AsyncClient

        sent, state = cls._prepare(model, messages, conversation)
        files = _media_files(kwargs.get("media"))
        options = cls._client_options(proxy, kwargs)
        async with AsyncClient(model=cls._spec.model, **options) as client:
            stream = client.stream(sent, conversation=state, files=files)
            async with stream:
                async for event in stream:
                    chunk = _chunk(event)
                    if chunk is not None:
                        yield chunk
                reply = await stream.get_reply()
        if return_conversation and reply.conversation is not None:
            yield JsonConversation(session_hash=reply.conversation.session_hash)

    @classmethod
    def create_completion(
        cls,
        model: str,
        messages: Messages,
        stream: bool = True,
        proxy: Optional[str] = None,
        return_conversation: bool = False,
        conversation: Optional[Any] = None,
        **kwargs: Any,
    ) -> Iterator[Chunk]:
        """The blocking twin of create_async_generator.

        With ``stream=False`` the answer comes as one chunk (after the
        reasoning, if the Space sent any).
        """
        sent, state = cls._prepare(model, messages, conversation)
        files = _media_files(kwargs.get("media"))
        with Client(model=cls._spec.model, **cls._client_options(proxy, kwargs)) as client:
            if stream:
                with client.stream(sent, conversation=state, files=files) as events:
                    for event in events:
                        chunk = _chunk(event)
                        if chunk is not None:
                            yield chunk
                    reply = events.reply
            else:
                reply = client.chat(sent, conversation=state, files=files)
                reasoning = _chunk(Reasoning(reply.reasoning)) if reply.reasoning else None
                if reasoning is not None:
                    yield reasoning
                yield reply.text
        if return_conversation and reply.conversation is not None:
            yield JsonConversation(session_hash=reply.conversation.session_hash)


class Qwen_Qwen_2_5_Max(_Provider):
    """Qwen2.5-Max through its Hugging Face Space, gpt4free-compatible."""

    label = QWEN_MAX.label
    url = QWEN_MAX.url
    api_endpoint = _Endpoint("/gradio_api/queue/join?")
    default_model = "qwen-qwen2-5-max"
    model_aliases = {"qwen-2-5-max": default_model}
    models = list(model_aliases.keys())
    _spec = QWEN_MAX


class Qwen_Qwen_2_5M(_Provider):
    """Qwen2.5-1M through its Hugging Face Space, gpt4free-compatible."""

    label = QWEN_1M.label
    url = QWEN_1M.url
    api_endpoint = _Endpoint("/run/predict?__theme=light&")
    # As the seed documents it: history reaches this Space flattened into one
    # prompt, or kept by the Space's session through ``conversation``.
    supports_message_history = False
    default_model = "qwen-2.5-1m-demo"
    model_aliases = {"qwen-2.5-1m": default_model}
    models = list(model_aliases.keys())
    _spec = QWEN_1M


def _media_files(media: Any) -> Optional[list[FileArg]]:
    """gpt4free's ``media`` ([(data, filename), ...]) as ``files=`` items.

    Raises ValueError for what cannot be read here (a URL, an image object).
    """
    if not media:
        return None
    if not isinstance(media, (list, tuple)):
        raise TypeError("media must be a list of (data, filename) pairs")
    files: list[FileArg] = []
    for i, item in enumerate(media):
        data, name = item if isinstance(item, (list, tuple)) and len(item) == 2 else (item, None)
        if isinstance(data, (bytes, bytearray)):
            files.append((name or f"file{i + 1}", bytes(data)))
        elif isinstance(data, str) and data.startswith("data:"):
            header, _, encoded = data.partition(",")
            content = (
                base64.b64decode(encoded)
                if header.endswith(";base64")
                else urllib.parse.unquote_to_bytes(encoded)
            )
            files.append((name or f"file{i + 1}", content))
        elif isinstance(data, (str, os.PathLike)):
            if str(data).startswith(("http://", "https://")):
                raise ValueError(f"media[{i}]: a URL is not supported; pass the file's bytes")
            files.append(os.fspath(data))  # the file keeps its own name
        elif callable(getattr(data, "read", None)):
            files.append((name or os.path.basename(str(getattr(data, "name", ""))) or
                          f"file{i + 1}", data))
        else:
            raise ValueError(
                f"media[{i}] is a {type(data).__name__}: expected bytes, a binary file, "
                "a local path or a data: URI"
            )
    return files
