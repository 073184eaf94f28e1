"""Qwen-Agent's web UI, the 1M demo's layout: ``add_text`` then the queued ``agent_run``.

Everything this layout knows: its plan (upload the files, ``add_text`` to put
the user turn in the session, then ``agent_run``), the modelscope_studio
legacy messages it sends, and the status and summary footer around its answer.
The Space keeps the history in its session: a follow-up sends only the new message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ..._gradio import payloads
from ..._gradio.dedup import AnswerTracker
from ..._gradio.discovery import ConfigView, Dependency
from ..._gradio.endpoints import ChatbotFormat, Endpoints
from ..._gradio.gradio import is_diff
from .base import UPLOADED, CallInput, Plan, SpaceAdapter, Stage, Step

__all__ = ["ADD_TEXT", "THINKING", "AgentChatAdapter", "FooterCleaner", "clean_onem"]

#: The side function that appends the user turn (with its files) to the session.
ADD_TEXT = "add_text"
THINKING = "Qwen is thinking..."
_SUMMARY = "<summary>"
_SUMMARY_END = "</summary>"


def clean_onem(raw: str, final: bool) -> tuple[str, str]:
    """The 1M demo's text -> (answer, status).

    "Qwen is thinking..." is a status, not answer text. A trailing
    ``<summary>...</summary>`` block is the Space's footer; while streaming, a
    tail that may be the start of one is held back until it is clear.
    """
    status = ""
    if raw.startswith(THINKING):
        status, raw = THINKING, raw[len(THINKING) :].lstrip()
    start = raw.rfind(_SUMMARY)
    if start != -1:
        end = raw.find(_SUMMARY_END, start)
        if end == -1 or not raw[end + len(_SUMMARY_END) :].strip():
            return _drop_newline(raw[:start]), status
    if not final:
        for prefix in ("\n" + _SUMMARY, _SUMMARY):
            for n in range(min(len(prefix), len(raw)), 1, -1):
                if raw.endswith(prefix[:n]):
                    return _drop_newline(raw[:-n]), status
    return raw, status


def _drop_newline(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


class FooterCleaner:
    """The 1M demo's answer: a "thinking" status, then text, then a summary footer."""

    @staticmethod
    def clean(raw: str, final: bool) -> tuple[str, str]:
        return clean_onem(raw, final)

    @staticmethod
    def plain(piece: str) -> bool:
        return "<" not in piece  # a piece with "<" may open the footer


def _ms_message(text: str) -> dict[str, Any]:
    # modelscope_studio's legacy chatbot message, as the Space's page sends it.
    return {
        "id": None,
        "elem_id": None,
        "elem_classes": None,
        "name": None,
        "text": text,
        "flushing": None,
        "avatar": "",
        "files": [],
    }


class AgentChatAdapter(SpaceAdapter):
    """Qwen-Agent's web UI (the 1M demo): ``add_text`` then the queued ``agent_run``.

    The Space keeps the history in its session; the answer carries a status
    and a summary footer that are not answer text.
    """

    takes_files = True
    keeps_history = True
    sides = (ADD_TEXT,)

    def accepts(self, inputs: Sequence[Any], config: ConfigView) -> bool:
        return bool(inputs) and config.is_chatbot(inputs[0])

    def chatbot_format(self, declared: Optional[str], gradio_major: Optional[int]) -> ChatbotFormat:
        return "ms_legacy"

    def find_side(self, name: str, config: ConfigView, chat: Dependency) -> Optional[Dependency]:
        # add_text by name, or the function agent_run is chained after.
        return config.named((ADD_TEXT,)) or config.predecessor(chat[1])

    def plan(self, call: CallInput, done: Mapping[str, Any]) -> Plan:
        upload = (Stage(Step.UPLOAD),) if call.files and UPLOADED not in done else ()
        add_text = () if ADD_TEXT in done else (Stage(Step.PREDICT, ADD_TEXT),)
        return (*upload, *add_text, Stage(Step.JOIN))

    @staticmethod
    def _text(call: CallInput) -> str:
        # A session that already holds the earlier turns needs only the new one.
        if call.session.knows_all_but_last(call.messages):
            return call.messages[-1]["content"]
        return payloads.flatten(call.messages)

    def side_data(
        self, name: str, endpoints: Endpoints, call: CallInput, done: Mapping[str, Any]
    ) -> list[Any]:
        # add_text(input, chatbot, history): the multimodal input carries the
        # files; Qwen-Agent's add_text puts each into the user turn to read.
        return [{"files": done.get(UPLOADED) or [], "text": self._text(call)}, [], []]

    def read_side(self, name: str, outputs: Any) -> Any:
        chatbot = outputs[1] if isinstance(outputs, list) and len(outputs) > 1 else None
        if is_diff(chatbot):
            # Gradio 4's id() mix-up (see gradio.is_diff): the add_text answer
            # is a diff against an earlier call. Its full value is known: the
            # predict sends an empty chatbot, and add_text appends the user
            # turn, which join_data builds itself when it has no chatbot.
            return None
        return chatbot

    def join_data(
        self, endpoints: Endpoints, call: CallInput, done: Mapping[str, Any]
    ) -> tuple[list[Any], int]:
        # agent_run(chatbot, history, agent): the history state is held by the
        # Space per session, so it is sent as null.
        chatbot = done.get(ADD_TEXT)
        if not isinstance(chatbot, list) or not chatbot:
            chatbot = [[_ms_message(self._text(call)), None]]
        return [chatbot, None, 0], len(chatbot) - 1

    def tracker(self, endpoints: Endpoints, first: int) -> AnswerTracker:
        return AnswerTracker(
            endpoints.chatbot_format, endpoints.chatbot_output, first, FooterCleaner()
        )
