"""Pure: what every fake layout shares: its ``/config`` and ``/info``, and one chat run.

A layout module (``_max``, ``_onem``, ``_qwen3``, ``_qwen25``) subclasses
``Layout`` with its components, dependencies and functions; ``Chat`` is what a
run of its chat function tells the app: how to show the answer as it grows.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional, Union

from . import _shift
from ._gradio import VERSIONS, InputError

__all__ = [
    "AnswerFn",
    "Chat",
    "FooterFn",
    "Layout",
    "RecordedChat",
    "Script",
    "SessionState",
    "default_answer",
    "file_fact",
    "footer",
]

Script = Union[str, Sequence[str]]  # an answer, or the exact chunks it streams in
# answer(query, turns, system) -> Script; may take a fourth argument, the RecordedChat.
AnswerFn = Callable[..., Script]
FooterFn = Callable[[int, int], str]
Frames = Iterator[list[Any]]


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


def footer(step: int, total: int) -> str:
    """The 1M Space's trailing summary block, different at every step (1-based)."""
    return f"\n<summary>chunk {step}/{total}</summary>"


def _no_frames(text: str) -> list[list[Any]]:
    return []


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
    # What the Space was told beyond the prompt (Qwen3's settings), for RecordedChat.
    model: Optional[str] = None
    thinking: Optional[bool] = None
    thinking_budget: Any = None
    # A layout whose run is more than one growing text (Qwen3: a turn with a
    # reasoning part, statuses, a footer) gives every output value it shows,
    # from the answer's and the reasoning's chunks; ``render`` is then only
    # used by the benchmark mode, with ``finish`` the values after the answer.
    frames: Optional[Callable[[Sequence[str], Sequence[str]], Frames]] = None
    finish: Callable[[str], list[list[Any]]] = _no_frames
    # The values a failure with this message shows before the failed completion
    # (Qwen3's red error part); ``failed`` is set when the run itself ends so
    # ("" for a failure that shows no message).
    fail: Callable[[str], list[list[Any]]] = _no_frames
    failed: Optional[str] = None
    # The Space runs launch()'s default show_error=False: a failure says {"error": null}.
    hides_errors: bool = False


class RecordedChat(NamedTuple):
    """A run of a chat function as the Space understood it: what reached the model.

    ``session_hash`` is the Gradio session of the run and ``query`` the new
    message (the prompt) the model got.
    ``turns`` counts the earlier exchanges the Space knew of (sent as history,
    or kept in the session); ``system`` is the system prompt ("" where the
    Space has none). ``model`` is Qwen3's model id or Qwen2.5's size;
    ``thinking`` (the session's thinking state when the run started) and
    ``thinking_budget`` (as sent, in units of 1024 tokens) are Qwen3's; each
    is None where the layout has no such input.
    """

    session_hash: str
    query: str
    turns: int
    system: str
    model: Optional[str] = None
    thinking: Optional[bool] = None
    thinking_budget: Any = None


class SessionState:
    """What a Space keeps per session hash; a layout with state subclasses it."""


class Layout:
    """One Space's components and functions on one Gradio generation."""

    name: str
    space_id: str
    title: str
    chat_fns: frozenset[int]
    predict_fn: Optional[int] = None
    # The status text the chatbot shows before the first words (not answer text).
    placeholder: Optional[str] = None
    # The Gradio generations this layout exists on, and the release each reports.
    versions: Mapping[int, str] = VERSIONS
    # Whether the Space shows a plain exception's message (launch's show_error).
    shows_errors: Optional[bool] = None
    # Whether its chat streams a reasoning before the answer (FakeSpace's ``reasoning``).
    thinks = False

    def __init__(self, gradio: int, *, shift_ids: bool = False) -> None:
        if gradio not in self.versions:
            raise ValueError(
                f"gradio must be one of {sorted(self.versions)} for layout {self.name!r}, "
                f"got {gradio!r}"
            )
        self.gradio = gradio
        self.version: str = self.versions[gradio]
        self.shift = 1 if shift_ids else 0  # what /config adds to every id (see _shift)
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
        components, tree, dependencies = self.components(), self.tree(), self.dependencies()
        if self.shift:
            title = self.component(_shift.TITLE, "markdown", value=f"# {self.title}")
            on_title = self.dependency(0, [[_shift.TITLE, "change"]], [], [], "title_change")
            components = _shift.components(components, title)
            dependencies = _shift.dependencies(dependencies, on_title)
            tree = _shift.tree(tree)
        out: dict[str, Any] = {"version": self.version}
        if self.prefix:
            out["api_prefix"] = self.prefix
        out.update(
            {
                "mode": "blocks",
                "app_id": 1234567890123456789,
                "dev_mode": False,
                "analytics_enabled": False,
                "components": components,
                "css": None,
                "connect_heartbeat": self.gradio == 4,
                "js": None,
                "head": None,
                "title": self.title,
                "space_id": self.space_id,
                "enable_queue": True,
                "show_error": self.gradio == 4 if self.shows_errors is None else self.shows_errors,
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
                "layout": tree,
                "dependencies": dependencies,
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
            message = {
                "type": "object",
                "properties": {"role": {"type": "string"}, "content": {"type": "array"}},
            }
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

    def from_wire(self, fn: int) -> int:
        """The function a client's fn_index names (-1: the shifted title's, which does nothing)."""
        return fn - self.shift if fn >= self.shift else -1

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

    def new_state(self) -> SessionState:
        """What the Space keeps for one session hash (its ``gr.State`` values)."""
        return SessionState()

    def chat(self, data: list[Any], state: SessionState) -> Chat:
        """Start a run of one of ``chat_fns`` on these inputs."""
        raise NotImplementedError

    def run(self, fn: int, data: list[Any], state: SessionState) -> list[Any]:
        """A queued function that is not a chat: its outputs (by default, nothing to show)."""
        return [None] * self.n_outputs(fn)

    def predict(self, fn: int, data: list[Any], state: SessionState) -> list[Any]:
        """An unqueued function called by ``/run/predict``: its outputs."""
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
