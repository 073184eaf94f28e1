"""What Client and AsyncClient share that is not I/O: options, calls, conversations.

Keeping it here means the two clients differ only in how they move bytes.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Optional, Union

from .errors import QwenSpacesError, SpaceConnectionError
from .events import ConversationState, QueueStatus, Reply
from .payloads import Messages, new_session_hash, normalize_messages
from .policy import RetryPolicy, TimeoutArg, Timeouts, check_base_url, check_token, redact
from .protocol import ChatCall
from .spaces import Endpoints, SpaceSpec, resolve_model
from .sse import DEFAULT_MAX_EVENT_BYTES

__all__ = ["ClientCore", "ConversationCore", "Secret"]

log = logging.getLogger("qwen_spaces")

DEFAULT_MODEL = "qwen-2.5-max"
USER_AGENT = "qwen_spaces/0.1 (+https://pypi.org/project/qwen_spaces/)"
CANCEL_TIMEOUT = 2.0
# After the answer, Gradio sends close_stream and ends the body; reading to that
# end lets the connection go back to the pool. Bounded, so a Space that keeps
# the stream open costs at most this long (then the connection is closed).
DRAIN_SECONDS = 1.0
DRAIN_BYTES = 1 << 20


class Secret(str):
    """A str that never shows itself in a repr: tokens in headers, locals and logs."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


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
        model: str = DEFAULT_MODEL,
        *,
        base_url: Optional[str] = None,
        hf_token: Optional[str] = None,
        proxy: Optional[str] = None,
        timeout: TimeoutArg = None,
        max_retries: int = 2,
        headers: Optional[Mapping[str, str]] = None,
        verify: Union[bool, str] = True,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        _configure_logging_from_env()
        self.spec: SpaceSpec = resolve_model(model)
        self.base_url = check_base_url(base_url if base_url is not None else self.spec.url)
        token = Secret(check_token(hf_token)) if hf_token is not None else None
        self._token = token or None  # "" or only whitespace: no token
        if proxy is not None:
            check_base_url(proxy)  # same rule: an http(s) URL
        self.proxy = Secret(proxy) if proxy else None
        self.timeouts = Timeouts.of(timeout)
        self.retry = RetryPolicy(max_retries=max_retries)
        if headers is not None and not isinstance(headers, Mapping):
            raise TypeError("headers must be a mapping of str to str")
        self.headers: dict[str, str] = {"User-Agent": USER_AGENT, **(headers or {})}
        if not isinstance(verify, (bool, str)):
            raise TypeError("verify must be True, False or the path of a CA bundle")
        self.verify = verify
        if isinstance(max_event_bytes, bool) or not isinstance(max_event_bytes, int):
            raise TypeError("max_event_bytes must be an int")
        if max_event_bytes <= 0:
            raise ValueError("max_event_bytes must be positive")
        self.max_event_bytes = max_event_bytes
        self.endpoints: Optional[Endpoints] = None  # from /config, once read

    @property
    def model(self) -> str:
        return self.spec.model

    @property
    def authorization(self) -> Optional[Secret]:
        return Secret(f"Bearer {self._token}") if self._token else None

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
    ) -> ChatCall:
        """A call for ``messages``, continuing ``conversation`` if given.

        With a conversation, ``messages`` are the new ones, added after its own.
        """
        new = normalize_messages(messages)
        if conversation is not None:
            if not isinstance(conversation, ConversationState):
                raise TypeError("conversation must be a ConversationState (see Reply.conversation)")
            full = [*conversation.messages, *new]
            state = conversation
        else:
            full = new
            state = ConversationState(model=self.spec.model, session_hash=new_session_hash())
        return ChatCall(
            self.spec,
            self.base_url,
            full,
            state,
            endpoints=self.endpoints,
            timeouts=Timeouts.of(timeout, self.timeouts),
            max_event_bytes=self.max_event_bytes,
        )

    def retry_delay(self, call: ChatCall, error: QwenSpacesError, attempt: int) -> Optional[float]:
        """Seconds to wait before retrying ``call`` after ``error``, or None to give up.

        The one place both clients ask; a retry that would outlast the call's
        time limit is not worth starting.
        """
        delay = self.retry.delay(error, attempt)
        if delay is None or delay >= call.seconds_left():
            return None
        log.warning(
            "retry %d of %d in %.1f s after: %s",
            attempt + 1, self.retry.max_retries, delay, self.redact(str(error)),
        )
        return delay

    def remember(self, call: ChatCall) -> None:
        if call.endpoints is not None and call.endpoints.from_config:
            self.endpoints = call.endpoints

    def describe(self, cls: str) -> str:
        return f"{cls}(model={self.spec.model!r}, base_url={self.base_url!r})"


def connection_error(
    core: ClientCore, exc: BaseException, call: ChatCall, streaming: bool
) -> SpaceConnectionError:
    """The error for a failed connection, without credentials in it."""
    cause = _root_cause(exc)
    detail = core.redact(f"{type(cause).__name__}: {_describe(cause)}")[:300]
    where = (
        "the connection to the Space broke while streaming"
        if streaming
        else f"cannot reach the Space at {core.base_url}"
    )
    return SpaceConnectionError(f"{where} ({detail})", partial_text=call.partial_text)


def _root_cause(exc: BaseException) -> BaseException:
    # requests and urllib3 wrap the OS error in two or three layers of
    # "Max retries exceeded ..."; the innermost says what happened. Only
    # deliberate causes are followed: __context__ would lead into a library's
    # own parse errors (e.g. int() of an empty chunk length).
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None) or exc.__cause__
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    # urllib3's "<HTTPConnection object at 0x...>: Failed to ..." prefix says nothing.
    return text.split(">: ", 1)[-1] if text.startswith("<") else text


class StreamState:
    """What a stream's generator shares with its Stream object.

    The generator holds this, never the Stream, so an abandoned stream has no
    reference cycle: dropping it closes the generator at once, which cancels
    the call on the Space.
    """

    __slots__ = ("on_end", "reply")

    def __init__(self) -> None:
        self.reply: Optional[Reply] = None
        # Called once when the call ends: with its Reply, or None if it failed
        # or was stopped.
        self.on_end: Optional[Callable[[Optional[Reply]], None]] = None

    def done(self, reply: Reply) -> None:
        self.reply = reply

    def ended(self) -> None:
        if self.on_end is not None:
            on_end, self.on_end = self.on_end, None
            on_end(self.reply)


class ConversationCore:
    """A multi-turn conversation's state; the clients add send() and stream()."""

    def __init__(
        self,
        core: ClientCore,
        system: Optional[str] = None,
        messages: Optional[Messages] = None,
        session_hash: Optional[str] = None,
        state: Optional[ConversationState] = None,
    ) -> None:
        if state is not None:
            # A saved conversation (e.g. Reply.conversation), Space session and all.
            if not isinstance(state, ConversationState):
                raise TypeError("state must be a ConversationState (see Reply.conversation)")
            if system is not None or messages or session_hash:
                raise ValueError("give either state, or system/messages/session_hash")
            self.state = state
            return
        initial: list[dict[str, str]] = []
        if system is not None:
            if not isinstance(system, str):
                raise TypeError("system must be a str")
            initial.append({"role": "system", "content": system})
        if messages:
            initial.extend(_history(messages))
        self.state = ConversationState(
            model=core.model, session_hash=session_hash or new_session_hash(), messages=initial
        )

    @property
    def messages(self) -> list[dict[str, str]]:
        """The conversation so far, as OpenAI-style messages."""
        return [dict(m) for m in self.state.messages]

    @property
    def session_hash(self) -> str:
        return self.state.session_hash

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """Around send(): a turn that fails after input checks leaves no trace."""
        try:
            yield
        except (ValueError, TypeError):
            raise  # bad input: nothing reached the Space
        except BaseException:
            self.commit(None)
            raise

    def commit(self, reply: Optional[Reply]) -> None:
        """Record a finished turn; a turn that did not finish leaves no trace.

        The Space's session may hold part of an unfinished turn (the 1M demo
        adds the user message before answering), so the next turn starts a new
        session and sends the whole conversation again.
        """
        if reply is not None and reply.conversation is not None:
            self.state = reply.conversation
        elif reply is None:
            self.state = ConversationState(
                model=self.state.model,
                session_hash=new_session_hash(),
                messages=self.state.messages,
            )

    def reset(self) -> None:
        """Forget the turns (keep the system prompt) and start a new Space session."""
        system = [m for m in self.state.messages if m["role"] == "system"]
        self.state = ConversationState(
            model=self.state.model, session_hash=new_session_hash(), messages=system
        )


def _history(messages: Messages) -> list[dict[str, str]]:
    # Earlier turns may end with an assistant message: validate each one alone.
    if isinstance(messages, str):
        raise TypeError("messages must be a list of {'role': ..., 'content': ...} dicts")
    out: list[dict[str, str]] = []
    for message in messages:
        role = message.get("role") if isinstance(message, Mapping) else None
        probe: list[Any] = [{**message, "role": "user"}] if role in ("assistant", "system") else [
            message
        ]
        out.append({"role": str(role), "content": normalize_messages(probe)[0]["content"]})
    return out


class QueueProgress:
    """A progress bar of the queue position while waiting (tqdm.auto: notebook-aware).

    Shared by both clients' ``chat(progress=True)``; tqdm is imported only here.
    """

    def __init__(self) -> None:
        import warnings

        from tqdm.auto import tqdm

        with warnings.catch_warnings():
            # In a notebook without ipywidgets tqdm warns, then falls back to text.
            warnings.simplefilter("ignore")
            self._bar = tqdm(total=1, desc="queue", leave=False, bar_format="{desc} {bar}")
        self._top = 0

    def update(self, status: QueueStatus) -> None:
        bar = self._bar
        if status.started:
            bar.set_description("generating")
            bar.n = bar.total or 0
        elif status.rank is not None:
            self._top = max(self._top, status.rank + 1)
            bar.total = self._top
            bar.n = self._top - (status.rank + 1)
            eta = f", eta {status.eta:.0f} s" if status.eta is not None else ""
            bar.set_description(f"queue: {status.rank} ahead{eta}")
        bar.refresh()

    def close(self) -> None:
        self._bar.close()
