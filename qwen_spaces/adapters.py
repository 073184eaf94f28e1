"""Per-Space layouts: how each kind of Space takes a chat call and gives its answer.

Every difference between the Spaces lives here, one adapter per layout. The
registry (``spaces.py``) gives each Space its adapter; the call (``protocol.py``)
asks the adapter and never branches on which Space it talks to. A new Space is
a new adapter, a registry entry and a replica to test it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Optional

from . import payloads
from .dedup import AnswerCleaner, FooterCleaner
from .endpoints import ChatbotFormat, Endpoints
from .events import ConversationState
from .gradio import is_diff

if TYPE_CHECKING:
    from .spaces import SpaceSpec

__all__ = ["AgentChatAdapter", "MaxChatAdapter", "SpaceAdapter"]

IsChatbot = Callable[[Any], bool]


class SpaceAdapter:
    """The layout of one kind of chat Space.

    ``predicts``: the layout needs an un-queued ``/run/predict`` call before it
    joins the queue. ``takes_files``: it reads documents (``files=``), sent in
    that predict call. ``cleaner``: what the Space wraps around its answer.
    """

    predicts = False
    takes_files = False
    cleaner: Optional[AnswerCleaner] = None

    def accepts(self, inputs: Sequence[Any], is_chatbot: IsChatbot) -> bool:
        """Whether a queued function with these inputs looks like this chat function."""
        raise NotImplementedError

    def chatbot_format(self, declared: Optional[str], gradio_major: Optional[int]) -> ChatbotFormat:
        """The chatbot's value shape, from its declared ``type`` prop and Gradio's version."""
        raise NotImplementedError

    def predict_body(
        self,
        endpoints: Endpoints,
        messages: list[dict[str, str]],
        state: ConversationState,
        files: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The body of the ``/run/predict`` call (only when ``predicts``).

        ``files`` are the uploaded files' Gradio FileData.
        """
        raise NotImplementedError(f"{type(self).__name__} sends no predict call")

    def read_predict(self, answer: Any) -> Any:
        """What of the predict answer the join needs (None: nothing usable)."""
        return None

    def join_data(
        self,
        spec: SpaceSpec,
        endpoints: Endpoints,
        messages: list[dict[str, str]],
        state: ConversationState,
        predicted: Any,
    ) -> tuple[list[Any], int]:
        """The join's inputs, and the index of the chatbot turn that will hold the answer."""
        raise NotImplementedError


class MaxChatAdapter(SpaceAdapter):
    """Qwen's usual demo: ``model_chat(query, history, system)`` on a Gradio chatbot.

    The whole conversation is sent each time, history as real chatbot turns.
    """

    def accepts(self, inputs: Sequence[Any], is_chatbot: IsChatbot) -> bool:
        return len(inputs) == 3 and is_chatbot(inputs[1])

    def chatbot_format(self, declared: Optional[str], gradio_major: Optional[int]) -> ChatbotFormat:
        if declared == "tuples":
            return "tuples"
        if declared is None and gradio_major is not None and gradio_major < 6:
            return "tuples"  # before Gradio 6, tuples unless the Space says otherwise
        # Gradio 6 messages carry content as a list of parts; Gradio 5's as a str.
        return "messages" if gradio_major is None or gradio_major >= 6 else "messages_str"

    def join_data(
        self,
        spec: SpaceSpec,
        endpoints: Endpoints,
        messages: list[dict[str, str]],
        state: ConversationState,
        predicted: Any,
    ) -> tuple[list[Any], int]:
        prompt = payloads.split_messages(messages)
        data = payloads.max_data(prompt, endpoints, spec.default_system)
        turns = len(prompt.history)
        # Message chatbots hold two entries a turn.
        return data, turns if endpoints.chatbot_format == "tuples" else 2 * turns


class AgentChatAdapter(SpaceAdapter):
    """Qwen-Agent's web UI (the 1M demo): ``add_text`` then the queued ``agent_run``.

    The Space keeps the history in its session; the answer carries a status
    and a summary footer that are not answer text.
    """

    predicts = True
    takes_files = True
    cleaner = FooterCleaner()

    def accepts(self, inputs: Sequence[Any], is_chatbot: IsChatbot) -> bool:
        return bool(inputs) and is_chatbot(inputs[0])

    def chatbot_format(self, declared: Optional[str], gradio_major: Optional[int]) -> ChatbotFormat:
        return "ms_legacy"

    @staticmethod
    def _text(messages: list[dict[str, str]], state: ConversationState) -> str:
        # A session that already holds the earlier turns needs only the new one.
        known = state.synced
        if known and known == len(messages) - 1:
            return messages[-1]["content"]
        return payloads.flatten(messages)

    def predict_body(
        self,
        endpoints: Endpoints,
        messages: list[dict[str, str]],
        state: ConversationState,
        files: list[dict[str, Any]],
    ) -> dict[str, Any]:
        # The multimodal input carries the files; Qwen-Agent's add_text puts
        # each into the user turn for the agent to read.
        text = self._text(messages, state)
        return payloads.predict_body(endpoints, text, state.session_hash, files)

    def read_predict(self, answer: Any) -> Any:
        data = answer.get("data") if isinstance(answer, dict) else None
        chatbot = data[1] if isinstance(data, list) and len(data) > 1 else None
        if is_diff(chatbot):
            # Gradio 4's id() mix-up (see gradio.is_diff): the add_text answer
            # is a diff against an earlier call. Its full value is known: the
            # predict sends an empty chatbot, and add_text appends the user
            # turn, which join_data builds itself when it has no chatbot.
            return None
        return chatbot

    def join_data(
        self,
        spec: SpaceSpec,
        endpoints: Endpoints,
        messages: list[dict[str, str]],
        state: ConversationState,
        predicted: Any,
    ) -> tuple[list[Any], int]:
        data = payloads.onem_data(predicted, self._text(messages, state))
        return data, len(data[0]) - 1
