"""Pure: what is true of every Gradio Space the fake plays, whatever its layout.

The SSE encoding of queue messages, Gradio's streaming diff and the error a
function's bad inputs raise; checked against real Gradio 4.44.1, 5.12.0,
5.27.0 and 6.31.0 servers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["VERSIONS", "InputError", "apply", "diff", "encode", "skip", "update"]

# The release the fake reports for each Gradio generation (a layout may pin another).
VERSIONS = {4: "4.44.1", 5: "5.12.0", 6: "6.31.0"}

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class InputError(Exception):
    """The Space's function rejects its inputs: sent back as a failed ``process_completed``."""


def encode(message: Mapping[str, Any]) -> bytes:
    """One SSE message, as Gradio writes it: compact JSON, UTF-8, no ASCII escapes."""
    return b"data: " + _ENCODER.encode(message).encode() + b"\n\n"


def update(**props: Any) -> dict[str, Any]:
    """A ``gr.update(...)`` output as Gradio 5 serialises it: the props, then the type."""
    return {**props, "__type__": "update"}


def skip() -> dict[str, Any]:
    """What an output a function left out of its dict answer becomes (``gr.skip()``)."""
    return {"__type__": "update"}


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


def apply(value: Any, ops: list[list[Any]]) -> Any:
    """Gradio's diff ops applied to a value: the inverse of ``diff``."""
    for action, path, new in ops:
        if not path:
            value = new if action == "replace" else value + new
            continue
        target = value
        for key in path[:-1]:
            target = target[key]
        last = path[-1]
        if action == "append":
            target[last] += new
        elif action == "add" and isinstance(target, list):
            target.insert(last, new)
        elif action == "delete":
            del target[last]
        else:  # replace, or add of a dict key
            target[last] = new
    return value
