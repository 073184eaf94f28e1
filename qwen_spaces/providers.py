"""The interface of gpt4free's providers ``Qwen_Qwen_2_5_Max`` and ``Qwen_Qwen_2_5M``.

Code written against those providers keeps working: the same class attributes
and ``create_async_generator(model, messages, proxy=None, **kwargs)`` yielding
str chunks, now with real streaming and typed errors. ``create_completion`` is
the blocking twin. The classes read ``cls.url`` at call time, so setting it
points them at a duplicated Space or a local server.

>>> from qwen_spaces.providers import Qwen_Qwen_2_5_Max
>>> async def main():                                            # doctest: +SKIP
...     messages = [{"role": "user", "content": "Hello, Qwen!"}]
...     async for chunk in Qwen_Qwen_2_5_Max.create_async_generator("qwen-2-5-max", messages):
...         print(chunk, end="")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Optional, Union

from .events import ConversationState, Reasoning, TextDelta
from .payloads import Messages, new_session_hash, normalize_messages
from .spaces import QWEN_1M, QWEN_MAX, SpaceSpec
from .sync_client import Client

__all__ = ["JsonConversation", "Qwen_Qwen_2_5M", "Qwen_Qwen_2_5_Max", "generate_session_hash"]


def generate_session_hash() -> str:
    """A unique session hash (12 hex characters), as the providers made them."""
    return new_session_hash()


@dataclass
class JsonConversation:
    """What the 1M provider returns with ``return_conversation=True``: its session."""

    session_hash: str


class _Endpoint:
    # Derived from cls.url when read, so changing url moves api_endpoint too.
    def __init__(self, suffix: str) -> None:
        self.suffix = suffix

    def __get__(self, obj: Any, owner: type[_Provider]) -> str:
        return owner.url + self.suffix


class _Provider:
    label: str
    url: str
    api_endpoint: Any
    working = True
    supports_stream = True
    supports_system_message = True
    supports_message_history = True
    default_model: str
    model_aliases: dict[str, str]
    models: list[str]
    _spec: SpaceSpec

    @classmethod
    def get_model(cls, model: str) -> str:
        """The provider's model name for ``model`` (an alias, or empty for the default)."""
        if not model:
            return cls.default_model
        if model == cls.default_model or model in cls.models:
            return cls.model_aliases.get(model, model)
        if model.lower() in cls._spec.names:  # gpt4free's other spellings of the same model
            return cls.default_model
        known = ", ".join(dict.fromkeys([cls.default_model, *cls.models, *cls._spec.names]))
        raise ValueError(f"{cls.__name__} does not serve model {model!r}; known: {known}")

    @classmethod
    def _prepare(
        cls, model: str, messages: Messages, conversation: Optional[Any]
    ) -> tuple[Messages, Optional[ConversationState]]:
        cls.get_model(model)
        if conversation is None:
            return messages, None
        session_hash = getattr(conversation, "session_hash", None)
        if not isinstance(session_hash, str) or not session_hash:
            raise TypeError("conversation must have a session_hash (e.g. JsonConversation)")
        # The Space's session already holds the earlier turns: send the last one.
        full = normalize_messages(messages)
        state = ConversationState(
            model=cls._spec.model,
            session_hash=session_hash,
            messages=full[:-1],
            synced=len(full) - 1,
        )
        return full[-1:], state

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
    ) -> AsyncIterator[Union[str, Reasoning, JsonConversation]]:
        """Yield the answer in str chunks as they arrive.

        Status text such as "Qwen is thinking..." comes as a Reasoning object,
        never as answer text. With ``return_conversation=True`` the last item
        is a JsonConversation to pass back as ``conversation=`` for a follow-up.
        """
        from .async_client import AsyncClient

        sent, state = cls._prepare(model, messages, conversation)
        options = cls._client_options(proxy, kwargs)
        async with AsyncClient(model=cls._spec.model, **options) as client:
            stream = client.stream(sent, conversation=state)
            async with stream:
                async for event in stream:
                    if type(event) is TextDelta:
                        yield event.text
                    elif type(event) is Reasoning:
                        yield event
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
    ) -> Iterator[Union[str, Reasoning, JsonConversation]]:
        """The blocking twin of create_async_generator (``stream=False``: one chunk)."""
        sent, state = cls._prepare(model, messages, conversation)
        with Client(model=cls._spec.model, **cls._client_options(proxy, kwargs)) as client:
            if stream:
                with client.stream(sent, conversation=state) as events:
                    for event in events:
                        if type(event) is TextDelta:
                            yield event.text
                        elif type(event) is Reasoning:
                            yield event
                    reply = events.reply
            else:
                reply = client.chat(sent, conversation=state)
                yield reply.text
        if return_conversation and reply.conversation is not None:
            yield JsonConversation(session_hash=reply.conversation.session_hash)


class Qwen_Qwen_2_5_Max(_Provider):
    """Qwen2.5-Max through its Hugging Face Space, gpt4free-compatible."""

    label = "Qwen Qwen-2.5-Max"
    url = QWEN_MAX.url
    api_endpoint = _Endpoint("/gradio_api/queue/join?")
    default_model = "qwen-qwen2-5-max"
    model_aliases = {"qwen-2-5-max": default_model}
    models = list(model_aliases.keys())
    _spec = QWEN_MAX


class Qwen_Qwen_2_5M(_Provider):
    """Qwen2.5-1M through its Hugging Face Space, gpt4free-compatible."""

    label = "Qwen Qwen-2.5M"
    url = QWEN_1M.url
    api_endpoint = _Endpoint("/run/predict?__theme=light&")
    # As the seed documents it: history reaches this Space flattened into one
    # prompt, or kept by the Space's session through ``conversation``.
    supports_message_history = False
    default_model = "qwen-2.5-1m-demo"
    model_aliases = {"qwen-2.5-1m": default_model}
    models = list(model_aliases.keys())
    _spec = QWEN_1M
