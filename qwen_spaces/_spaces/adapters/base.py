"""What every layout adapter answers: the plan of a call, its inputs, how to read its answer."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Optional

from ..._events import SpaceSession
from ..._gradio.dedup import AnswerTracker
from ..._gradio.discovery import ConfigView, Dependency
from ..._gradio.endpoints import ChatbotFormat, Endpoints
from ..._value import Frozen

__all__ = ["CHAT", "UPLOADED", "CallInput", "Plan", "SpaceAdapter", "Stage", "Step"]


class Step(enum.Enum):
    """The kind of one request."""

    CONFIG = "config"  # GET /config: find the functions
    APP_ID = "app_id"  # GET /app_id: has the Space restarted since the session's last turn?
    UPLOAD = "upload"  # POST /upload: the call's files, multipart
    PREDICT = "predict"  # POST /run/predict: an un-queued function
    JOIN = "join"  # POST /queue/join: a queued function
    DATA = "data"  # GET /queue/data: the session's event stream
    CANCEL = "cancel"  # POST /cancel: only from cancel_request()
    DONE = "done"  # nothing more to send


#: The function whose events carry the answer; other stages are side calls.
CHAT = "chat"


class Stage(Frozen):
    """One step of a Space's plan (immutable).

    ``step`` is UPLOAD, PREDICT (an un-queued function, one answer) or JOIN
    (a queued function: its join, then its events on the session's stream).
    ``fn`` names the function in the adapter's terms: ``CHAT`` is the one that
    streams the answer; any other is a side call in the same session (the
    1M demo's ``add_text``, the Qwen3 demo's thinking toggle), whose result
    the adapter reads and the call keeps, so a retry does not repeat it.
    """

    __match_args__: ClassVar[tuple[str, ...]] = ("step", "fn")
    __slots__ = __match_args__
    step: Step
    fn: str

    def __init__(self, step: Step, fn: str = CHAT) -> None:
        self._set("step", step)
        self._set("fn", fn)


#: A call's plan: its stages in order; the last one is ``Stage(Step.JOIN)``.
Plan = tuple[Stage, ...]


#: The key of the uploaded files' FileData among a call's stage results.
UPLOADED = "upload"


class CallInput(Frozen):
    """What one call asks of a Space, checked before anything is sent.

    ``messages``: the whole conversation, ending with the new user message.
    ``session``: the Space session it runs in. ``model_id``: the Space's own
    id of the model, where one Space serves several. ``thinking``: the
    thinking mode wanted (None: keep the session's). ``thinking_budget``: in
    the Space's units (None: the Space's default). ``files``: how many files
    go with the message.
    """

    __match_args__: ClassVar[tuple[str, ...]] = (
        "messages",
        "session",
        "model_id",
        "thinking",
        "thinking_budget",
        "files",
    )
    __slots__ = __match_args__
    messages: list[dict[str, str]]
    session: SpaceSession
    model_id: Optional[str]
    thinking: Optional[bool]
    thinking_budget: Optional[int]
    files: int

    def __init__(
        self,
        messages: list[dict[str, str]],
        session: SpaceSession,
        model_id: Optional[str] = None,
        thinking: Optional[bool] = None,
        thinking_budget: Optional[int] = None,
        files: int = 0,
    ) -> None:
        self._set("messages", messages)
        self._set("session", session)
        self._set("model_id", model_id)
        self._set("thinking", thinking)
        self._set("thinking_budget", thinking_budget)
        self._set("files", files)


class SpaceAdapter:
    """The layout of one kind of chat Space; one module under ``adapters/`` each.

    ``takes_files``: it reads documents (``files=``). ``thinks``: it has a
    thinking mode (``thinking=``, ``thinking_budget=``). ``keeps_history``:
    a follow-up sends only the new message to the session that holds the rest. ``sides``: the
    names of the side functions its plan calls, found in ``/config`` by
    ``find_side``. ``default_system``: the system prompt its page starts with.
    """

    takes_files = False
    thinks = False
    keeps_history = False  # the Space holds a conversation's history in its session
    shows_session = False  # its chatbot output shows the turns the session holds
    sides: tuple[str, ...] = ()

    def __init__(self, default_system: str = "You are a helpful assistant.") -> None:
        self.default_system = default_system

    # --- discovery ----------------------------------------------------------

    def accepts(self, inputs: Sequence[Any], config: ConfigView) -> bool:
        """Whether a queued function with these inputs looks like this chat function."""
        raise NotImplementedError

    def chatbot_format(self, declared: Optional[str], gradio_major: Optional[int]) -> ChatbotFormat:
        """The chatbot's value shape, from its declared ``type`` prop and Gradio's version."""
        raise NotImplementedError

    def find_side(self, name: str, config: ConfigView, chat: Dependency) -> Optional[Dependency]:
        """The side function ``name`` in ``/config``, given the chat function."""
        return None

    def budget_units(self, thinking_budget: int) -> int:
        """A thinking budget in tokens -> the Space's units (only when ``thinks``).

        Raises ValueError outside the Space's range.
        """
        raise NotImplementedError(f"{type(self).__name__} has no thinking mode")

    # --- the plan -------------------------------------------------------------

    def plan(self, call: CallInput, done: Mapping[str, Any]) -> Plan:
        """The stages still to run for ``call``; ``done`` holds the results of those run.

        A retry asks again, so a side call that succeeded is not repeated.
        The default: upload the files, then the chat function.
        """
        upload = (Stage(Step.UPLOAD),) if call.files and UPLOADED not in done else ()
        return (*upload, Stage(Step.JOIN))

    def side_data(
        self, name: str, endpoints: Endpoints, call: CallInput, done: Mapping[str, Any]
    ) -> list[Any]:
        """The inputs of side function ``name``."""
        raise NotImplementedError(f"{type(self).__name__} has no side function {name!r}")

    def read_side(self, name: str, outputs: Any) -> Any:
        """What side function ``name``'s outputs give the rest of the plan (kept in ``done``)."""
        return None

    def join_data(
        self, endpoints: Endpoints, call: CallInput, done: Mapping[str, Any]
    ) -> tuple[list[Any], int]:
        """The chat function's inputs, and the index of the chatbot turn that holds the answer."""
        raise NotImplementedError

    # --- the answer -----------------------------------------------------------

    def tracker(self, endpoints: Endpoints, first: int) -> AnswerTracker:
        """A tracker that reads this layout's answer from the chatbot output."""
        return AnswerTracker(endpoints.chatbot_format, endpoints.chatbot_output, first)

    def held_turns(self, value: Any) -> Optional[int]:
        """From the chatbot's first value of a call: how many turns the session held before it.

        None: the value does not tell (only where ``shows_session``).
        """
        return None

    def failure_text(self, tracker: AnswerTracker) -> Optional[str]:
        """The error the Space showed in its chatbot before failing, if any (plain text)."""
        return None

    def thinking_seconds(self, tracker: AnswerTracker) -> Optional[float]:
        """How long the model thought, as the Space reports it."""
        return None

    def session_after(self, call: CallInput, done: Mapping[str, Any], holds: int) -> SpaceSession:
        """The Space session once the call's turn is done: it holds ``holds`` messages."""
        return call.session.after_turn(holds, call.session.thinking)
