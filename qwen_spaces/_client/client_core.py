"""What Client and AsyncClient share above the call: options, streams' state, conversations.

The call itself (``_core.call.ChatCall``) makes every protocol decision; this
module checks a client's options, builds its calls and keeps the state of its
streams and conversations, so the two drivers add nothing but I/O.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Optional, Union

from .._core.call import ChatCall
from .._core.policy import RetryPolicy, TimeoutArg, Timeouts, check_proxy_url, check_token
from .._errors import redact
from .._events import ConversationState, Reply
from .._files import FileArg, check_files
from .._gradio.endpoints import Endpoints
from .._gradio.space_url import check_base_url
from .._gradio.sse import DEFAULT_MAX_EVENT_BYTES
from .._spaces.spaces import SPACES, SpaceSpec, resolve_model
from .._transports.transport import CertArg, TransportSettings
from .hf_token import Secret, default_token
from .messages import Messages, check_utf8, normalize_history, normalize_messages

__all__ = ["CertArg", "ClientCore", "ConversationCore", "Secret", "StreamState"]

log = logging.getLogger("qwen_spaces")

DEFAULT_MODEL = "qwen-2.5-max"
USER_AGENT = "qwen_spaces/0.1 (+https://pypi.org/project/qwen_spaces/)"


def _configure_logging_from_env() -> None:
    level = os.environ.get("QWEN_SPACES_LOG", "").strip().upper()
    configured = any(not isinstance(h, logging.NullHandler) for h in log.handlers)
    if level in ("DEBUG", "INFO", "WARNING") and not configured:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(level)


class ClientCore:
    """Validated options of a client and the making of its calls."""

    def __init__(
        self,
        model: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        hf_token: Optional[str] = None,
        proxy: Optional[str] = None,
        timeout: TimeoutArg = None,
        max_retries: int = 2,
        headers: Optional[Mapping[str, str]] = None,
        verify: Union[bool, str] = True,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        cert: CertArg = None,
        trust_env: bool = True,
    ) -> None:
        _configure_logging_from_env()
        self.spec: SpaceSpec = _model(model)
        self.base_url: str = _base_url(base_url, self.spec)
        self._token = _token(hf_token)
        if proxy is not None:
            check_proxy_url(proxy)
        self.proxy: Optional[Secret] = Secret(proxy) if proxy else None
        self.timeouts: Timeouts = Timeouts.of(timeout)
        self.retry: RetryPolicy = RetryPolicy(max_retries=max_retries)
        if headers is not None and not isinstance(headers, Mapping):
            raise TypeError("headers must be a mapping of str to str")
        sent: dict[str, str] = {"User-Agent": USER_AGENT, **(headers or {})}
        if self._token:
            sent["Authorization"] = Secret(f"Bearer {self._token}")
        if not isinstance(verify, (bool, str)):
            raise TypeError("verify must be True, False or the path of a CA bundle")
        if not isinstance(trust_env, bool):
            raise TypeError("trust_env must be True or False")
        #: What the transport reads of these options, and nothing else.
        self.settings: TransportSettings = TransportSettings(
            headers=sent,
            proxy=self.proxy,
            verify=verify,
            cert=_check_cert(cert),
            trust_env=trust_env,
        )
        if isinstance(max_event_bytes, bool) or not isinstance(max_event_bytes, int):
            raise TypeError("max_event_bytes must be an int")
        if max_event_bytes <= 0:
            raise ValueError("max_event_bytes must be positive")
        self.max_event_bytes = max_event_bytes
        self.endpoints: Optional[Endpoints] = None  # from /config, once read
        # The discovery cache is read at the first call, never here: building
        # a client does no I/O at all.
        self._cache_read = False
        self._endpoints_cached = False  # self.endpoints came from the disk cache
        # The Space's app_id as last seen (changes when it restarts).
        self.app_id: Optional[int] = None

    @property
    def model(self) -> str:
        return self.spec.model

    def secrets(self) -> tuple[Optional[str], ...]:
        return (self._token, self.proxy)

    def redact(self, text: str) -> str:
        return redact(text, *self.secrets())

    def new_call(
        self,
        messages: Messages,
        *,
        conversation: Optional[ConversationState] = None,
        timeout: TimeoutArg = None,
        files: Optional[Sequence[FileArg]] = None,
        on_upload: Optional[Callable[[int, int], None]] = None,
        thinking: Optional[bool] = None,
        thinking_budget: Optional[int] = None,
    ) -> ChatCall:
        """A call for ``messages``, continuing ``conversation`` if given.

        With a conversation, ``messages`` are the new ones, added after its own.
        ``files`` go with the new message (a model whose Space reads documents
        only); ``on_upload(sent, total)`` follows their upload. ``thinking``
        and ``thinking_budget`` (tokens) are for a model with a thinking mode.
        Raises ValueError or TypeError for bad input, before anything is sent.
        """
        new = normalize_messages(messages)
        uploads = check_files(files)
        adapter = self.spec.adapter
        if uploads and not adapter.takes_files:
            readers = ", ".join(s.model for s in SPACES if s.adapter.takes_files)
            raise ValueError(f"model {self.spec.model} takes no files; files= works with {readers}")
        units = self._thinking_units(thinking, thinking_budget)
        if conversation is not None:
            if not isinstance(conversation, ConversationState):
                raise TypeError("conversation must be a ConversationState (see Reply.conversation)")
            full = [*conversation.messages, *new]
            state = conversation
        else:
            full = new
            state = ConversationState(self.spec.model)
        if self.endpoints is None and not self._cache_read:
            self._read_cache()
        return ChatCall(
            self.spec,
            self.base_url,
            full,
            state,
            endpoints=self.endpoints,
            endpoints_cached=self._endpoints_cached,
            timeouts=Timeouts.of(timeout, self.timeouts),
            retry=self.retry,
            max_event_bytes=self.max_event_bytes,
            redact=self.redact,
            on_endpoints=self._remember,
            files=uploads,
            on_upload=on_upload,
            thinking=thinking,
            thinking_budget=units,
            known_app_id=self.app_id,
            on_app_id=self._remember_app_id,
            continues=conversation is not None,
            clock=time.monotonic,
        )

    def _thinking_units(self, thinking: Optional[bool], budget: Optional[int]) -> Optional[int]:
        """Check ``thinking=``/``thinking_budget=``; the budget in the Space's units."""
        if thinking is None and budget is None:
            return None
        adapter = self.spec.adapter
        if not adapter.thinks:
            thinkers = ", ".join(s.model for s in SPACES if s.adapter.thinks)
            raise ValueError(
                f"model {self.spec.model} has no thinking mode; thinking= and "
                f"thinking_budget= work with {thinkers}"
            )
        if thinking is not None and not isinstance(thinking, bool):
            raise TypeError(f"thinking must be True, False or None, got {thinking!r}")
        return None if budget is None else adapter.budget_units(budget)

    def _read_cache(self) -> None:
        from . import discovery_cache  # loaded at the first call, not at import

        self._cache_read = True
        cached = discovery_cache.load(self.base_url, self.spec.key)
        if cached is not None:
            log.debug("using the cached ids of %s: %s", self.spec.model, cached)
            self.endpoints, self._endpoints_cached = cached, True

    def _remember(self, endpoints: Endpoints) -> None:
        # Found in /config: later calls of this client, and new processes
        # (through the discovery cache), skip that round trip.
        from . import discovery_cache

        self.endpoints, self._endpoints_cached = endpoints, False
        discovery_cache.store(self.base_url, self.spec.key, endpoints)

    def _remember_app_id(self, app_id: int) -> None:
        self.app_id = app_id

    def describe(self, cls: str) -> str:
        return f"{cls}(model={self.spec.model!r}, base_url={self.base_url!r})"


# --- the settings the environment gives when the arguments are not given -------------------


def _from_env(name: str) -> Optional[str]:
    value = os.environ.get(name, "").strip()
    if value:
        log.debug("%s not given: using $%s", _ARGUMENTS[name], name)
    return value or None


_ARGUMENTS = {
    "QWEN_SPACES_MODEL": "model",
    "QWEN_SPACES_BASE_URL": "base_url",
}


def _model(model: Optional[str]) -> SpaceSpec:
    if model is not None:
        return resolve_model(model)
    named = _from_env("QWEN_SPACES_MODEL")
    if named is None:
        return resolve_model(DEFAULT_MODEL)
    try:
        return resolve_model(named)
    except ValueError as exc:
        raise ValueError(f"$QWEN_SPACES_MODEL: {exc}") from None


def _base_url(base_url: Optional[str], spec: SpaceSpec) -> str:
    if base_url is not None:
        return check_base_url(base_url)
    named = _from_env("QWEN_SPACES_BASE_URL")
    return check_base_url(named, "$QWEN_SPACES_BASE_URL") if named else spec.url


def _token(hf_token: Optional[str]) -> Optional[Secret]:
    if hf_token is not None:
        return Secret(check_token(hf_token)) or None  # "" or only whitespace: no token
    return default_token()  # $HF_TOKEN, else the token huggingface_hub stored


def _check_cert(cert: object) -> CertArg:
    if cert is None or isinstance(cert, str):
        return cert
    if isinstance(cert, tuple) and len(cert) == 2 and all(isinstance(part, str) for part in cert):
        return (cert[0], cert[1])
    raise TypeError("cert must be the path of a PEM file, or a (cert file, key file) tuple")


class StreamState:
    """What a stream's generator shares with its Stream object.

    The generator holds this, never the Stream, so an abandoned stream has no
    reference cycle: dropping it closes the generator at once, which cancels
    the call on the Space.
    """

    __slots__ = ("on_end", "reply")

    def __init__(self, on_end: Optional[EndHook] = None) -> None:
        self.reply: Optional[Reply] = None
        # Called once when the call ends: with its Reply (None if it failed or
        # was stopped) and whether the Space's session may hold part of it.
        self.on_end = on_end

    def ended(self, call: ChatCall) -> None:
        if self.on_end is not None:
            on_end, self.on_end = self.on_end, None
            on_end(self.reply, call.touched_session)


EndHook = Callable[[Optional[Reply], bool], None]


class ConversationCore:
    """A multi-turn conversation's state; the clients add send() and stream()."""

    def __init__(
        self,
        core: ClientCore,
        system: Optional[str] = None,
        messages: Optional[Messages] = None,
        session_hash: Optional[str] = None,
        state: Optional[ConversationState] = None,
        thinking: Optional[bool] = None,
    ) -> None:
        self._core = core
        core._thinking_units(thinking, None)  # a model without thinking refuses it here
        if state is not None:
            # A saved conversation (e.g. Reply.conversation), Space session and all.
            if not isinstance(state, ConversationState):
                raise TypeError("state must be a ConversationState (see Reply.conversation)")
            if system is not None or messages or session_hash:
                raise ValueError("give either state, or system/messages/session_hash")
            self.state: ConversationState = state
            if thinking is not None:
                self.state.thinking = thinking
            return
        initial: list[dict[str, str]] = []
        if system is not None:
            if not isinstance(system, str):
                raise TypeError("system must be a str")
            check_utf8(system, "system=")
            initial.append({"role": "system", "content": system})
        if messages:
            initial.extend(normalize_history(messages))
        self.state = ConversationState(
            core.model, session_hash=session_hash, messages=initial, thinking=thinking
        )

    @property
    def thinking(self) -> Optional[bool]:
        """The conversation's thinking mode: True, False, or None (the Space's own)."""
        return self.state.thinking

    @thinking.setter
    def thinking(self, value: Optional[bool]) -> None:
        self._core._thinking_units(value, None)
        self.state.thinking = value

    @property
    def messages(self) -> list[dict[str, str]]:
        """The conversation so far, as OpenAI-style messages."""
        return [dict(m) for m in self.state.messages]

    @property
    def session_hash(self) -> str:
        return self.state.session_hash

    def _new_call(
        self,
        text: Messages,
        timeout: TimeoutArg,
        files: Optional[Sequence[FileArg]],
        on_upload: Optional[Callable[[int, int], None]] = None,
        thinking: Optional[bool] = None,
        thinking_budget: Optional[int] = None,
    ) -> ChatCall:
        """The call of the next turn: ``text`` after the conversation so far."""
        return self._core.new_call(
            text,
            conversation=self.state,
            timeout=timeout,
            files=files,
            on_upload=on_upload,
            thinking=thinking,
            thinking_budget=thinking_budget,
        )

    def commit(self, reply: Optional[Reply], touched_session: bool = True) -> None:
        """Record a finished turn; a turn that did not finish leaves no trace.

        The Space's session may hold part of an unfinished turn (the 1M demo
        adds the user message before answering), so when the failed call sent
        anything, the next turn starts a new session and sends the whole
        conversation again. A call that sent nothing keeps the session.
        """
        if reply is not None and reply.conversation is not None:
            self.state = reply.conversation
        elif reply is None:
            self.state = self.state.after_failure(touched_session)

    def reset(self) -> None:
        """Forget the turns (keep the system prompt) and start a new Space session."""
        self.state = self.state.restarted()
