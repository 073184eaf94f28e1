"""A layout's ``/config`` with every id moved by one (``FakeSpace(shift_ids=True)``).

A Markdown title on top takes component id 1 and a function on it takes
fn_index 0, as when a Space's author adds a block: a client that hard-codes
fn_index or component ids breaks, one that reads ``/config`` does not.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["TITLE", "components", "dependencies", "tree"]

TITLE = 1  # the new block's component id


def _id(cid: Optional[int]) -> Optional[int]:
    # None ("then") and 0 (the page, for "load") are not blocks that move.
    return cid if cid is None or cid == 0 else cid + 1


def components(shown: list[dict[str, Any]], title: dict[str, Any]) -> list[dict[str, Any]]:
    """The title block, then every component one id further."""
    return [title, *({**c, "id": c["id"] + 1} for c in shown)]


def dependencies(shown: list[dict[str, Any]], on_title: dict[str, Any]) -> list[dict[str, Any]]:
    """The title's function as fn 0, then every function one id further."""
    moved = []
    for dep in shown:
        after = dep.get("trigger_after")
        moved.append(
            {
                **dep,
                "id": dep["id"] + 1,
                "targets": [[_id(cid), event] for cid, event in dep["targets"]],
                "inputs": [cid + 1 for cid in dep["inputs"]],
                "outputs": [cid + 1 for cid in dep["outputs"]],
                "trigger_after": None if after is None else after + 1,
            }
        )
    return [on_title, *moved]


def tree(shown: dict[str, Any]) -> dict[str, Any]:
    """The page's layout with the title first."""

    def move(node: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": node["id"] + 1}
        if "children" in node:
            out["children"] = [move(child) for child in node["children"]]
        return out

    return {"id": 0, "children": [{"id": TITLE}, *(move(c) for c in shown["children"])]}
