"""Pure: what the two Spaces look like to a client, per Gradio generation.

The ``/config`` answers, the chatbot values, Gradio's diff and the wire
encoding of queue messages, checked against real Gradio 4.44.1, 5.12.0 and
6.31.0 servers built with the Spaces' component layouts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

__all__ = [
    "PLACEHOLDER",
    "AnswerFn",
    "Chat",
    "FooterFn",
    "Layout",
    "LayoutName",
    "Script",
    "default_answer",
    "diff",
    "encode",
    "footer",
    "make_layout",
]

LayoutName = Literal["max", "1m"]
Script = Union[str, Sequence[str]]  # an answer, or the exact chunks it streams in
AnswerFn = Callable[[str, int, str], Script]
FooterFn = Callable[[int, int], str]

# The 1M Space's status text before the first words: not part of the answer.
PLACEHOLDER = "Qwen is thinking..."
DEFAULT_SYSTEM = "You are a helpful assistant."
VERSIONS = {4: "4.44.1", 5: "5.12.0", 6: "6.31.0"}
# The Space each layout mirrors runs this Gradio generation.
NATIVE_GRADIO: dict[str, int] = {"max": 5, "1m": 4}

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def default_answer(query: str, turns: int, system: str) -> str:
    """The fake's answer when none is scripted: says what it received."""
    return f"You said: {query} (turn {turns + 1})"


def file_fact(path: str, size: Optional[int] = None, sha256: Optional[str] = None) -> str:
    """What the fake agent says of an uploaded file: its name, size and sha256.

    Without ``size`` and ``sha256`` the file is read to find them.
    """
    if size is None or sha256 is None:
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        sha256 = digest.hexdigest()
    return f"{os.path.basename(path)} ({size} bytes, sha256 {sha256})"


def encode(message: Mapping[str, Any]) -> bytes:
    """One SSE message, as Gradio writes it: compact JSON, UTF-8, no ASCII escapes."""
    return b"data: " + _ENCODER.encode(message).encode() + b"\n\n"


def footer(step: int, total: int) -> str:
    """The 1M Space's trailing summary block, different at every step (1-based)."""
    return f"\n<summary>chunk {step}/{total}</summary>"


def diff(old: Any, new: Any) -> list[list[Any]]:
    """Gradio's streaming diff: the edits that turn ``old`` into ``new``.

    A str that extends the old one is an ``append``; any other changed str, or
    a change of type, is a ``replace``; lists and dicts are compared member
    by member, with ``delete`` and ``add`` for what is gone or new.
    """
    edits: list[list[Any]] = []
    _diff(old, new, [], edits)
    return edits


def _diff(old: Any, new: Any, path: list[Any], edits: list[list[Any]]) -> None:
    if old == new:
        return
    if type(old) is not type(new):
        edits.append(["replace", path, new])
    elif isinstance(old, str) and new.startswith(old):
        edits.append(["append", path, new[len(old) :]])
    elif isinstance(old, list):
        common = min(len(old), len(new))
        for i in range(common):
            _diff(old[i], new[i], [*path, i], edits)
        edits.extend(["delete", [*path, i], None] for i in range(common, len(old)))
        edits.extend(["add", [*path, i], new[i]] for i in range(common, len(new)))
    elif isinstance(old, dict):
        for key in old:
            if key in new:
                _diff(old[key], new[key], [*path, key], edits)
            else:
                edits.append(["delete", [*path, key], None])
        edits.extend(["add", [*path, key], new[key]] for key in new if key not in old)
    else:
        edits.append(["replace", path, new])


class InputError(Exception):
    """The Space's function rejects its inputs: sent back as a failed ``process_completed``."""


@dataclass
class Chat:
    """One run of the chat function: what was asked, and how to show an answer."""

    query: str
    turns: int
    system: str
    n_outputs: int
    chatbot_output: int
    # Full output values for a given answer text (placeholder, partial or whole).
    render: Callable[[str], list[Any]]
    # Where the answer text sits inside the chatbot value.
    answer_path: list[Union[int, str]]
    on_complete: Callable[[str], None] = field(default=lambda text: None)
    # Qwen-Agent's web UI yields once more after saving the history: one
    # process_generating whose diffs are all empty, before the completion.
    trailer: bool = False


@dataclass
class History:
    """The 1M Space's server-side conversation for one session hash."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    pending: Optional[str] = None
    # Paths of the files that came with the pending message (Qwen-Agent's {"file": path}).
    pending_files: list[str] = field(default_factory=list)


class Layout:
    """One Space's components and functions on one Gradio generation."""

    name: LayoutName
    space_id: str
    title: str
    chat_fns: frozenset[int]
    predict_fn: Optional[int] = None

    def __init__(self, gradio: int) -> None:
        if gradio not in VERSIONS:
            raise ValueError(f"gradio must be one of {sorted(VERSIONS)}, got {gradio!r}")
        self.gradio = gradio
        self.version = VERSIONS[gradio]
        # Gradio 5 moved every route but /config under /gradio_api.
        self.prefix = "" if gradio == 4 else "/gradio_api"
        # What the agent says of each uploaded file, worked out as it arrived.
        self.file_facts: dict[str, str] = {}

    # --- /config ---------------------------------------------------------------

    def components(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def dependencies(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def tree(self) -> dict[str, Any]:
        raise NotImplementedError

    def config(self, root: str) -> dict[str, Any]:
        out: dict[str, Any] = {"version": self.version}
        if self.prefix:
            out["api_prefix"] = self.prefix
        out.update(
            {
                "mode": "blocks",
                "app_id": 1234567890123456789,
                "dev_mode": False,
                "analytics_enabled": False,
                "components": self.components(),
                "css": None,
                "connect_heartbeat": self.gradio == 4,
                "js": None,
                "head": None,
                "title": self.title,
                "space_id": self.space_id,
                "enable_queue": True,
                "show_error": self.gradio == 4,
                "show_api": True,
                "is_colab": False,
                "max_file_size": None,
                "stylesheets": [],
                "theme": "default",
                "protocol": "sse_v3",
                "body_css": {},
                "fill_height": False,
                "fill_width": False,
                "theme_hash": "0" * 64,
                "layout": self.tree(),
                "dependencies": self.dependencies(),
                "root": root,
                "username": None,
            }
        )
        return out

    # --- /info ---------------------------------------------------------------

    def parameter_names(self, fn: int) -> Sequence[str]:
        """Function ``fn``'s Python parameters: Gradio reads them off its signature."""
        return ()

    def api_info(self) -> dict[str, Any]:
        """``GET {prefix}/info``: each named function's parameters and returns, as Gradio
        builds them from ``/config`` and the functions' signatures (gradio_client's
        ``Client`` reads it before its first call; compared with Gradio 5.12's
        ``Blocks.get_api_info`` for the Max replica)."""
        components = {c["id"]: c for c in self.components()}
        visibility = {"api_visibility": "public"} if self.gradio == 6 else {"show_api": True}
        named: dict[str, Any] = {}
        for dep in self.dependencies():
            names = self.parameter_names(dep["id"])
            parameters = []
            for i, cid in enumerate(dep["inputs"]):
                props = components[cid]["props"]
                schema, python_type, example = self._api_type(props["name"])
                # Gradio: a component's initial value is the parameter's default.
                value = props.get("value")
                parameters.append(
                    {
                        "label": props.get("label", f"parameter_{cid}"),
                        "parameter_name": names[i] if i < len(names) else f"param_{i}",
                        "parameter_has_default": value is not None,
                        "parameter_default": value,
                        "type": schema,
                        "python_type": {"type": python_type, "description": ""},
                        "component": props["name"].capitalize(),
                        "example_input": example,
                    }
                )
            returns = []
            for cid in dep["outputs"]:
                props = components[cid]["props"]
                schema, python_type, _ = self._api_type(props["name"])
                returns.append(
                    {
                        "label": props.get("label", f"value_{cid}"),
                        "type": schema,
                        "python_type": {"type": python_type, "description": ""},
                        "component": props["name"].capitalize(),
                    }
                )
            info = {"parameters": parameters, "returns": returns, **visibility}
            named["/" + str(dep["api_name"])] = info
        return {"named_endpoints": named, "unnamed_endpoints": {}}

    def _api_type(self, component: str) -> tuple[dict[str, Any], str, Any]:
        """A component's JSON schema, Python type and example input, as ``/info``
        shows them; the chatbot's file and component messages are left out."""
        if component == "textbox":
            return {"type": "string"}, "str", "Hello!!"
        if component == "chatbot" and self.gradio >= 6:
            message = {"type": "object", "properties": {"role": {"type": "string"},
                                                        "content": {"type": "array"}}}
            schema = {"title": "ChatbotDataMessages", "type": "array", "items": message}
            return schema, "list[dict(role: str, content: list[Any])]", []
        if component == "chatbot":
            cell = {"anyOf": [{"type": "string"}, {"type": "null"}]}
            pair = {"type": "array", "prefixItems": [cell, cell], "minItems": 2, "maxItems": 2}
            schema = {"title": "ChatbotDataTuples", "type": "array", "items": pair}
            return schema, "list[tuple[str | None, str | None]]", [["Hello!", None]]
        return {}, "Any", None

    def component(self, cid: int, kind: str, **props: Any) -> dict[str, Any]:
        props.setdefault("visible", True)
        props.setdefault("elem_classes", [])
        props["name"] = kind
        layout_only = kind in ("row", "column", "form", "group")
        return {"id": cid, "type": kind, "props": props, "skip_api": layout_only, "key": None}

    def dependency(
        self,
        fn: int,
        targets: list[list[Any]],
        inputs: list[int],
        outputs: list[int],
        api_name: str,
        *,
        queue: bool = True,
        generator: bool = False,
        trigger_after: Optional[int] = None,
    ) -> dict[str, Any]:
        dep: dict[str, Any] = {
            "id": fn,
            "targets": targets,
            "inputs": inputs,
            "outputs": outputs,
            "backend_fn": True,
            "js": None,
            "queue": queue,
            "api_name": api_name,
            "scroll_to_output": False,
            "show_progress": "full",
            "batch": False,
            "max_batch_size": 4,
            "cancels": [],
            "types": {"generator": generator, "cancel": False},
            "collects_event_data": False,
            "trigger_after": trigger_after,
            "trigger_only_on_success": False,
            "trigger_mode": "once",
            "rendered_in": None,
            "time_limit": None,
            "stream_every": 0.5,
        }
        if self.gradio == 6:
            dep["api_visibility"] = "public"
        else:
            dep["show_api"] = True
        if self.gradio >= 5:
            dep["connection"] = "sse"
        return dep

    def fn_name(self, fn: int) -> Optional[str]:
        for dep in self.dependencies():
            if dep["id"] == fn:
                return str(dep["api_name"])
        return None

    def n_inputs(self, fn: int) -> int:
        for dep in self.dependencies():
            if dep["id"] == fn:
                return len(dep["inputs"])
        return 0

    def n_outputs(self, fn: int) -> int:
        for dep in self.dependencies():
            if dep["id"] == fn:
                return len(dep["outputs"])
        return 0

    def is_generator(self, fn: int) -> bool:
        return any(dep["id"] == fn and dep["types"]["generator"] for dep in self.dependencies())

    def is_queued(self, fn: int) -> Optional[bool]:
        """True/False for a known function, None for an unknown fn_index."""
        for dep in self.dependencies():
            if dep["id"] == fn:
                return bool(dep["queue"])
        return None

    # --- the functions ------------------------------------------------------

    def chat(self, data: list[Any], history: History) -> Chat:
        raise NotImplementedError

    def predict(self, fn: int, data: list[Any], history: History) -> list[Any]:
        raise InputError(f"function {fn} cannot be called with /run/predict")

    def check_inputs(self, fn: int, data: Any) -> None:
        """Gradio's own message when a function gets too few inputs."""
        needed = self.n_inputs(fn)
        got = len(data) if isinstance(data, list) else 0
        if got < needed:
            raise InputError(
                f"An event handler ({self.fn_name(fn)}) didn't receive enough input values "
                f"(needed: {needed}, got: {got}).\nCheck if the event handler calls a "
                "Javascript function, and make sure its return value is correct."
            )


class MaxLayout(Layout):
    """The Qwen2.5-Max demo: ``model_chat(query, history, system)``, a tuples chatbot
    (messages on Gradio 6)."""

    name: LayoutName = "max"
    space_id = "Qwen/Qwen2.5-Max-Demo"
    title = "Qwen2.5-Max"
    chat_fns = frozenset({0, 1})
    CHATBOT = 10

    def components(self) -> list[dict[str, Any]]:
        chatbot_props: dict[str, Any] = {"value": [], "label": "Qwen2.5-Max", "height": 500}
        if self.gradio < 6:  # Gradio 6's Chatbot is messages-only and drops the prop
            chatbot_props["type"] = "tuples"
        c = self.component
        return [
            c(1, "markdown", value="<center><font size=8>Qwen2.5-Max</center>"),
            c(2, "row", variant="default", equal_height=False),
            c(3, "column", scale=3, min_width=320),
            c(4, "textbox", value=DEFAULT_SYSTEM, lines=1, label="System", type="text"),
            c(5, "form"),
            c(6, "column", scale=1, min_width=160),
            c(7, "button", value="🛠️ Set system prompt and clear history", scale=2),
            c(8, "textbox", value=DEFAULT_SYSTEM, visible=False, type="text"),
            c(9, "form"),
            c(self.CHATBOT, "chatbot", **chatbot_props),
            c(11, "textbox", value="", lines=1, label="Input", type="text"),
            c(12, "row", variant="default", equal_height=False),
            c(13, "button", value="🧹 Clear history"),
            c(14, "button", value="🚀 Send"),
            c(15, "form"),
        ]

    def tree(self) -> dict[str, Any]:
        system_row = [
            {"id": 3, "children": [{"id": 5, "children": [{"id": 4}]}]},
            {"id": 6, "children": [{"id": 7}]},
            {"id": 9, "children": [{"id": 8}]},
        ]
        return {
            "id": 0,
            "children": [
                {"id": 1},
                {"id": 2, "children": system_row},
                {"id": 10},
                {"id": 15, "children": [{"id": 11}]},
                {"id": 12, "children": [{"id": 13}, {"id": 14}]},
            ],
        }

    def parameter_names(self, fn: int) -> Sequence[str]:
        # model_chat(query, history, system), modify_system_session(system)
        return {0: ("query", "history", "system"), 1: ("query", "history", "system"),
                3: ("system",)}.get(fn, ())

    def dependencies(self) -> list[dict[str, Any]]:
        d = self.dependency
        chat_io = ([11, self.CHATBOT, 8], [11, self.CHATBOT, 4])
        return [
            d(0, [[11, "submit"]], *chat_io, "model_chat", generator=True),
            d(1, [[14, "click"]], *chat_io, "model_chat_1", generator=True),
            d(2, [[13, "click"]], [], [11, self.CHATBOT], "clear_session"),
            d(3, [[7, "click"]], [4], [8, 4, self.CHATBOT], "modify_system_session"),
        ]

    def chat(self, data: list[Any], history: History) -> Chat:
        query = data[0] if isinstance(data[0], str) else ""
        system = data[2] if isinstance(data[2], str) else ""
        raw = data[1] if data[1] is not None else []
        if not isinstance(raw, list):
            raise InputError("1 validation error for ChatbotData\n  Input should be a valid list")
        if self.gradio >= 6:
            earlier = _messages_in(raw)
            turns = sum(1 for m in earlier if m["role"] == "assistant")
            n = len(earlier) + 1  # the assistant message holding the answer

            def render(text: str) -> list[Any]:
                return [
                    "",
                    [*earlier, _message("user", query), _message("assistant", text)],
                    system,
                ]

            path: list[Union[int, str]] = [n, "content", 0, "text"]
        else:
            pairs = _pairs_in(raw)
            turns = len(pairs)

            def render(text: str) -> list[Any]:
                return ["", [*[list(p) for p in pairs], [query, text]], system]

            path = [len(pairs), 1]
        return Chat(
            query=query,
            turns=turns,
            system=system,
            n_outputs=3,
            chatbot_output=1,
            render=render,
            answer_path=path,
        )


class OneMLayout(Layout):
    """The Qwen2.5-1M demo (Qwen-Agent's web UI on modelscope-studio's legacy
    components): ``add_text`` unqueued, then ``agent_run`` queued, history kept
    server-side per session."""

    name: LayoutName = "1m"
    space_id = "Qwen/Qwen2.5-1M-Demo"
    title = "Qwen2.5-1M"
    chat_fns = frozenset({2})
    predict_fn = 1
    CHATBOT = 4

    def components(self) -> list[dict[str, Any]]:
        c = self.component
        return [
            c(1, "state", value=[]),
            c(2, "row", variant="default", equal_height=False),
            c(3, "column", scale=4, min_width=320),
            c(self.CHATBOT, "modelscopechatbot", value=[], height=600, flushing=False),
            c(5, "modelscopemultimodalinput", value={"files": [], "text": ""}, type="text"),
            c(6, "form"),
            c(7, "column", scale=1, min_width=160),
            c(8, "dropdown", value=0, label="Agents", type="value", choices=[["Qwen2.5-1M", 0]]),
            c(9, "markdown", value="**Qwen2.5-1M**"),
            c(10, "form"),
        ]

    def tree(self) -> dict[str, Any]:
        chat_column = {"id": 3, "children": [{"id": 4}, {"id": 6, "children": [{"id": 5}]}]}
        side_column = {"id": 7, "children": [{"id": 10, "children": [{"id": 8}]}, {"id": 9}]}
        return {
            "id": 0,
            "children": [{"id": 1}, {"id": 2, "children": [chat_column, side_column]}],
        }

    def dependencies(self) -> list[dict[str, Any]]:
        d = self.dependency
        chat_io = [self.CHATBOT, 1, 8]
        text_io = [5, self.CHATBOT, 1]
        return [
            d(0, [[8, "change"]], [8], [8, 9], "change_agent", queue=False),
            d(1, [[5, "submit"]], text_io, text_io, "add_text", queue=False, generator=True),
            d(2, [[None, "then"]], chat_io, chat_io, "agent_run", generator=True, trigger_after=1),
            d(3, [[None, "then"]], [], [5], "flushed", trigger_after=2),
        ]

    def predict(self, fn: int, data: list[Any], history: History) -> list[Any]:
        if fn != self.predict_fn:
            return super().predict(fn, data, history)
        self.check_inputs(fn, data)
        user = data[0]
        text = user.get("text") if isinstance(user, Mapping) else user
        if not isinstance(text, str):
            raise InputError("1 validation error for MultimodalInputData\ntext\n  Field required")
        given = user.get("files") if isinstance(user, Mapping) else None
        files = [
            f for f in given or [] if isinstance(f, Mapping) and isinstance(f.get("path"), str)
        ]
        history.pending = text
        history.pending_files = [str(f["path"]) for f in files]
        chatbot = _ms_chatbot(data[1])
        cells = [{"file": dict(f), "alt_text": None} for f in files]
        chatbot.append([_ms_message(text, files=cells), None])
        clear_input = {
            "interactive": False,
            "value": {"files": [], "text": ""},
            "__type__": "update",
        }
        return [clear_input, chatbot, None]

    def chat(self, data: list[Any], history: History) -> Chat:
        chatbot = _ms_chatbot(data[0])
        if history.pending is not None:
            query = history.pending
        elif chatbot and isinstance(chatbot[-1][0], dict):
            # No add_text first: the real Space would answer from an empty
            # history; the fake is lenient and reads the chatbot instead.
            query = str(chatbot[-1][0].get("text") or "")
        else:
            query = ""
        if history.pending_files:
            # As Qwen-Agent's agent reads the files it is given: here, what
            # proves the bytes arrived intact.
            facts = [self.file_facts.get(p) or file_fact(p) for p in history.pending_files]
            query = f"{query} [files: {'; '.join(facts)}]"
        history.pending = None
        history.pending_files = []
        turns = len(history.pairs)
        if not chatbot:
            chatbot = [[_ms_message(query, files=[]), None]]
        n = len(chatbot) - 1
        earlier, user = chatbot[:-1], chatbot[-1][0]

        agent = data[2]

        def render(text: str) -> list[Any]:
            return [[*earlier, [user, [_ms_message(text)]]], None, agent]

        def on_complete(text: str) -> None:
            history.pairs.append((query, text))

        return Chat(
            query=query,
            turns=turns,
            system="",
            n_outputs=3,
            chatbot_output=0,
            render=render,
            answer_path=[n, 1, 0, "text"],
            on_complete=on_complete,
            trailer=True,
        )


def make_layout(name: str, gradio: Optional[int]) -> Layout:
    if name not in NATIVE_GRADIO:
        raise ValueError(f"layout must be 'max' or '1m', got {name!r}")
    generation = NATIVE_GRADIO[name] if gradio is None else gradio
    return MaxLayout(generation) if name == "max" else OneMLayout(generation)


# --- chatbot values -------------------------------------------------------------


def _pairs_in(raw: list[Any]) -> list[tuple[Any, Any]]:
    pairs: list[tuple[Any, Any]] = []
    for item in raw:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise InputError(
                "1 validation error for ChatbotDataTuples\n  Input should be a valid tuple "
                f"of two items, got {item!r:.80}"
            )
        pairs.append((item[0], item[1]))
    return pairs


def _messages_in(raw: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    errors: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or item.get("role") not in ("user", "assistant", "system"):
            errors.append(f"{i}\n  Input should be a valid dictionary with a role")
            continue
        content = item.get("content")
        if not isinstance(content, list):
            # Gradio 6 takes content only as a list of parts.
            errors.append(
                f"{i}.content\n  Input should be a valid list [type=list_type, "
                f"input_value={content!r:.40}, input_type={type(content).__name__}]"
            )
            continue
        texts = [p.get("text", "") for p in content if isinstance(p, Mapping)]
        out.append(_message(str(item["role"]), "".join(str(t) for t in texts)))
    if errors:
        raise InputError(
            f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} for "
            "ChatbotDataMessages\n" + "\n".join(errors)
        )
    return out


def _message(role: str, text: str) -> dict[str, Any]:
    return {
        "role": role,
        "metadata": None,
        "content": [{"text": text, "type": "text"}],
        "options": None,
    }


_MS_KEYS = ("id", "elem_id", "elem_classes", "name", "text", "flushing", "avatar", "files")


def _ms_message(text: str, files: Optional[list[Any]] = None) -> dict[str, Any]:
    """modelscope-studio's legacy chatbot message, in its serialised key order."""
    return {
        "id": None,
        "elem_id": None,
        "elem_classes": None,
        "name": None,
        "text": text,
        "flushing": None,
        "avatar": "",
        "files": files,
    }


def _ms_cell(cell: Any) -> Any:
    if cell is None:
        return None
    if isinstance(cell, list):
        return [_ms_cell(c) for c in cell]
    if isinstance(cell, str):
        return _ms_message(cell)
    if isinstance(cell, Mapping):
        message = _ms_message(str(cell.get("text") or ""), cell.get("files"))
        message.update({k: cell[k] for k in _MS_KEYS if k in cell and k not in ("text",)})
        return message
    raise InputError(f"a chatbot message must be a dict or str, got {type(cell).__name__}")


def _ms_chatbot(raw: Any) -> list[list[Any]]:
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise InputError("1 validation error for ChatbotData\n  Input should be a valid list")
    return [[_ms_cell(c) for c in _pairs_in([pair])[0]] for pair in raw]
