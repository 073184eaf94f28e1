"""The shared body of the providers: model names, conversations, thinking, media."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import urllib.parse
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, NamedTuple, Optional, Union

from .._client.messages import Messages, normalize_messages
from .._client.sync_client import Client
from .._events import ConversationState, Event, Reasoning, Reply, TextDelta, saved_messages
from .._files import FileArg
from .._spaces.adapters.qwen3 import BUDGET_UNIT, MAX_BUDGET_UNITS, MIN_BUDGET_UNITS
from .._spaces.spaces import SpaceSpec
from ._gpt4free import (
    G4F,
    JsonConversation,
    ModelNotFoundError,
    ModelsBase,
    ProviderBase,
    StatusReasoning,
    ThinkingReasoning,
)

log = logging.getLogger("qwen_spaces.providers")

Chunk = Union[str, Reasoning, JsonConversation]
_CLIENT_OPTIONS = ("timeout", "hf_token", "max_retries", "headers")


class _Endpoint:
    # Derived from cls.url when read, so changing url moves api_endpoint too.
    def __init__(self, suffix: str) -> None:
        self.suffix = suffix

    def __get__(self, obj: Any, owner: type[Provider]) -> str:
        return owner.url.rstrip("/") + self.suffix


class _Thinking(NamedTuple):
    thinking: Optional[bool]
    budget_tokens: Optional[int]


class _Call(NamedTuple):
    """One provider call, checked: what the SDK client is given."""

    model: str  # the SDK model
    sent: Messages
    state: Optional[ConversationState]
    thinking: _Thinking
    files: Optional[list[FileArg]]
    streaming: bool  # what gpt4free's caller asked for (stream=)


class Provider(ProviderBase, ModelsBase):
    """The body every provider class shares; a subclass is its data."""

    label: str
    url: str
    api_endpoint: Any
    working = True
    supports_stream = True
    supports_system_message = True
    # The usual demos get the real history as the chatbot's turns.
    supports_message_history = True
    default_model: str
    model_aliases: dict[str, str]
    models: list[str]
    last_model: Optional[str] = None
    _specs: tuple[SpaceSpec, ...]

    # --- models -------------------------------------------------------------

    @classmethod
    def get_model(cls, model: str, **kwargs: Any) -> str:
        """The provider's model name for ``model`` (an alias, or empty for the default).

        Raises ModelNotFoundError (a ValueError) for a model it does not serve.
        """
        if not model:
            resolved = cls.default_model
        elif model in cls.model_aliases:
            resolved = cls.model_aliases[model]
        elif model == cls.default_model or model in cls.models:
            resolved = model
        else:
            # gpt4free's other spellings of a model, the SDK's names, the Space's ids
            spec = next((s for s in cls._specs if model.lower() in s.names), None)
            if spec is None:
                known = ", ".join(cls.known_names())
                raise ModelNotFoundError(
                    f"{cls.__name__} does not serve model {model!r}; known: {known}"
                )
            resolved = spec.model_id or cls.default_model
        cls.last_model = resolved
        return resolved

    @classmethod
    def get_models(cls, **kwargs: Any) -> list[str]:
        """The model names listed for this provider (every spelling is accepted)."""
        return cls.models

    @classmethod
    def known_names(cls) -> list[str]:
        """Every model name this provider accepts."""
        names = [cls.default_model, *cls.models, *cls.model_aliases.values()]
        return list(dict.fromkeys([*names, *(n for s in cls._specs for n in s.names)]))

    @classmethod
    def sdk_model(cls, model: str) -> str:
        """The qwen_spaces model (``qs.MODELS``) that ``model`` names at this provider."""
        name = cls.get_model(model).lower()
        for spec in cls._specs:
            if name in spec.names or name == spec.model_id:
                return spec.model
        return cls._specs[0].model  # the provider's own default name (Max, 1M)

    # --- a call -------------------------------------------------------------

    @classmethod
    def _thinking(cls, kwargs: Mapping[str, Any]) -> _Thinking:
        # Only the Qwen3 provider thinks; the others ignore these, as they do
        # every gpt4free argument they have no use for.
        return _Thinking(None, None)

    @classmethod
    def _prepare(
        cls, model: str, messages: Messages, conversation: Optional[Any], kwargs: dict[str, Any]
    ) -> _Call:
        sdk_model = cls.sdk_model(model)
        thinking = cls._thinking(kwargs)
        files = _media_files(kwargs.get("media"))
        streaming = kwargs.get("stream") is not False
        if conversation is None:
            return _Call(sdk_model, messages, None, thinking, files, streaming)
        held = _session_fields(conversation, cls.__name__)
        # The Space's session already holds the earlier turns: send the last
        # user message (the usual demos get the earlier ones as the chatbot's
        # history).
        full = normalize_messages(messages)
        users = [i for i, m in enumerate(full) if m["role"] == "user"]
        if not users:
            raise ValueError("messages must end with a user message to continue a conversation")
        last = users[-1]
        history = full[:last]
        if all(m["role"] == "system" for m in history):
            # The seed's rule: with a conversation, the new user message
            # alone continues it. What the session holds is what the
            # conversation carries (to send again if the Space lost it).
            history = held.messages if held.messages is not None else history
        elif held.digest is not None and not _holds_prefix(held.digest, history):
            log.warning(
                "%s: the conversation's session holds other messages than this history "
                "(gpt4free's conversation cache?): starting a fresh session",
                cls.__name__,
            )
            return _Call(sdk_model, full, None, thinking, files, streaming)
        state = ConversationState.resumed(sdk_model, held.session_hash, history, app_id=held.app_id)
        if held.thinking is not None:
            state.session = state.session.replace(thinking=held.thinking)
        return _Call(sdk_model, full[last:], state, thinking, files, streaming)

    @staticmethod
    def _state(call: _Call, return_conversation: bool) -> Optional[ConversationState]:
        # A first turn whose conversation is handed back runs as a conversation's
        # turn: the client then notes what it needs to notice a lost session later.
        if call.state is None and return_conversation:
            return ConversationState(call.model)
        return call.state

    @classmethod
    def _client_options(cls, proxy: Optional[str], kwargs: dict[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {"base_url": cls.url, "proxy": proxy}
        for key in _CLIENT_OPTIONS:
            if kwargs.get(key) is not None:
                options[key] = kwargs[key]
        return options

    @classmethod
    def _chunk(cls, event: Event, streaming: bool) -> Optional[Union[str, Reasoning]]:
        """The provider chunk for a stream event: answer text, reasoning, or nothing."""
        if type(event) is TextDelta:
            return event.text
        if type(event) is Reasoning:
            return cls._reasoning(event.text, streaming) if G4F is not None else event
        return None

    @staticmethod
    def _reasoning(text: str, streaming: bool) -> Reasoning:
        # Truthy for a streaming caller, so gpt4free's async streaming client
        # hands it out; falsy otherwise, so ChatCompletion.create's str (which
        # joins every truthy chunk) never holds it.
        return ThinkingReasoning(text) if streaming else StatusReasoning(text)

    @staticmethod
    def _conversation(reply: Reply) -> Optional[JsonConversation]:
        if reply.conversation is None:
            return None
        session, messages = reply.conversation.session, reply.conversation.messages
        return JsonConversation(
            session.hash,
            thinking=session.thinking,
            digest=_digest(messages),
            messages=[dict(m) for m in messages],
            app_id=session.app_id,
        )

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

        ``model`` is one of the provider's names (``get_model`` resolves it;
        empty for the default), ``messages`` OpenAI-style messages, ``proxy``
        an http(s) proxy URL for the calls. Reasoning (the Qwen3 models'
        thinking, the 1M demo's status) comes as Reasoning objects, never as
        answer text. With
        ``return_conversation=True`` the last item is a JsonConversation to
        pass back as ``conversation=`` (the object or its dict) for a
        follow-up, which then sends only the new message. ``media``
        (gpt4free's list of ``(data, filename)``: bytes, a binary file, a
        local path or a ``data:`` URI) goes to the Space as documents
        (``files=``; the 1M model reads them, the others raise ValueError).
        ``timeout``, ``max_retries``, ``headers`` and ``hf_token`` go to the
        client; other gpt4free arguments are ignored, ``api_key`` too
        (gpt4free may pass a key meant for another service: it is never sent
        to the Space).
        """
        from .._client.async_client import AsyncClient

        call = cls._prepare(model, messages, conversation, kwargs)
        options = cls._client_options(proxy, kwargs)
        async with AsyncClient(model=call.model, **options) as client:
            stream = client.stream(
                call.sent,
                conversation=cls._state(call, return_conversation),
                files=call.files,
                thinking=call.thinking.thinking,
                thinking_budget=call.thinking.budget_tokens,
            )
            async with stream:
                async for event in stream:
                    chunk = cls._chunk(event, call.streaming)
                    if chunk is not None:
                        yield chunk
                reply = await stream.get_reply()
        handed = cls._conversation(reply) if return_conversation else None
        if handed is not None:
            yield handed

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

        ``model``, ``messages``, ``proxy``, ``return_conversation``,
        ``conversation`` and the other arguments are as there. With
        ``stream=False`` the answer comes as one chunk (after the reasoning, if
        the Space sent any).
        """
        call = cls._prepare(model, messages, conversation, {**kwargs, "stream": stream})
        thinking, budget = call.thinking
        with Client(model=call.model, **cls._client_options(proxy, kwargs)) as client:
            if stream:
                with client.stream(
                    call.sent,
                    conversation=cls._state(call, return_conversation),
                    files=call.files,
                    thinking=thinking,
                    thinking_budget=budget,
                ) as events:
                    for event in events:
                        chunk = cls._chunk(event, True)
                        if chunk is not None:
                            yield chunk
                    reply = events.reply
            else:
                reply = client.chat(
                    call.sent,
                    conversation=cls._state(call, return_conversation),
                    files=call.files,
                    thinking=thinking,
                    thinking_budget=budget,
                )
                if reply.reasoning:
                    reasoning = cls._chunk(Reasoning(reply.reasoning), False)
                    if reasoning is not None:
                        yield reasoning
                yield reply.text
        handed = cls._conversation(reply) if return_conversation else None
        if handed is not None:
            yield handed


class ThinkingProvider(Provider):
    """A provider whose models think (the Qwen3 demo): thinking on/off and its budget."""

    supports_message_history = False  # as gpt4free had it: the Space keeps the history

    @classmethod
    def _thinking(cls, kwargs: Mapping[str, Any]) -> _Thinking:
        switch: Optional[bool] = None
        for key in ("enable_thinking", "thinking"):
            value = kwargs.get(key)
            if value is None:
                continue
            if not isinstance(value, bool):
                raise TypeError(f"{key} must be True, False or None, got {value!r}")
            if switch is not None and value != switch:
                raise ValueError("enable_thinking and thinking disagree: pass one of them")
            switch = value
        return _Thinking(switch, _budget_tokens(kwargs.get("thinking_budget")))


def _budget_tokens(units: Any) -> Optional[int]:
    """gpt4free's ``thinking_budget`` (the Space's units of 1024 tokens) in tokens."""
    if units is None:
        return None
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError(f"thinking_budget must be an int, got {type(units).__name__}")
    if not MIN_BUDGET_UNITS <= units <= MAX_BUDGET_UNITS:
        hint = (
            f" ({units} tokens is {-(-units // BUDGET_UNIT)})" if units > MAX_BUDGET_UNITS else ""
        )
        raise ValueError(
            f"thinking_budget is in the Space's units of 1024 tokens, as gpt4free's "
            f"Qwen_Qwen_3 took it: {MIN_BUDGET_UNITS} to {MAX_BUDGET_UNITS}{hint}; got {units}"
        )
    return units * BUDGET_UNIT


def _digest(messages: list[dict[str, str]]) -> str:
    """A fingerprint of the messages a Space session holds: ``"<count>:<16 hex digits>"``."""
    text = json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False)
    return f"{len(messages)}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"


def _holds_prefix(digest: str, history: list[dict[str, str]]) -> bool:
    """Whether ``history`` begins with the messages ``digest`` was made of.

    A conversation object kept from an earlier turn of the same chat still
    fits (the session has since taken the later turns); one from a chat that
    is further along, or went elsewhere, does not.
    """
    count, _, _ = digest.partition(":")
    if not count.isdigit() or int(count) > len(history):
        return False
    return _digest(history[: int(count)]) == digest


class _Held(NamedTuple):
    """What a handed-back conversation says of the Space session it continues."""

    session_hash: str
    thinking: Optional[bool]
    digest: Optional[str]
    messages: Optional[list[dict[str, str]]]  # the turns it holds, when carried
    app_id: Optional[int]


def _session_fields(conversation: Any, provider: str) -> _Held:
    """The session a handed-back conversation carries, checked.

    A JsonConversation (ours or gpt4free's), or the dict gpt4free's client
    hands out as response.conversation; gpt4free's IterListProvider keeps it
    under the provider's name. Carried messages that do not match its digest
    are ignored (the session is then continued without them).
    """
    for candidate in (conversation, _field(conversation, provider)):
        value = _field(candidate, "session_hash")
        if isinstance(value, str) and value:
            thinking, digest = _field(candidate, "thinking"), _field(candidate, "digest")
            digest = digest if isinstance(digest, str) else None
            app_id = _field(candidate, "app_id")
            messages = _carried(_field(candidate, "messages"), digest)
            return _Held(
                value,
                thinking if isinstance(thinking, bool) else None,
                digest,
                messages,
                app_id if isinstance(app_id, int) and not isinstance(app_id, bool) else None,
            )
    raise TypeError(
        "conversation must have a session_hash: a JsonConversation, "
        "or the dict gpt4free's client returns as response.conversation"
    )


def _carried(messages: Any, digest: Optional[str]) -> Optional[list[dict[str, str]]]:
    turns = saved_messages(messages)
    if turns is None or (digest is not None and _digest(turns) != digest):
        return None
    return turns


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


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
        fallback = f"file{i + 1}"
        if isinstance(data, (bytes, bytearray)):
            files.append((name or fallback, bytes(data)))
        elif isinstance(data, str) and data.startswith("data:"):
            header, _, encoded = data.partition(",")
            content = (
                base64.b64decode(encoded)
                if header.endswith(";base64")
                else urllib.parse.unquote_to_bytes(encoded)
            )
            files.append((name or fallback, content))
        elif isinstance(data, (str, os.PathLike)):
            if str(data).startswith(("http://", "https://")):
                raise ValueError(f"media[{i}]: a URL is not supported; pass the file's bytes")
            files.append(os.fspath(data))  # the file keeps its own name
        elif callable(getattr(data, "read", None)):
            own = os.path.basename(str(getattr(data, "name", "")))
            files.append((name or own or fallback, data))
        else:
            raise ValueError(
                f"media[{i}] is a {type(data).__name__}: expected bytes, a binary file, "
                "a local path or a data: URI"
            )
    return files
