"""Client and AsyncClient are twins: the same public methods with the same signatures."""

from __future__ import annotations

import inspect

import pytest

import qwen_spaces as qs
from qwen_spaces.async_client import AsyncConversation, AsyncStream
from qwen_spaces.sync_client import Conversation, Stream

# Names that differ only because one side is async by nature.
ASYNC_ONLY = {"get_reply"}


def public(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") or name in ("__init__",)
    }


@pytest.mark.parametrize(
    ("sync_cls", "async_cls"),
    [(qs.Client, qs.AsyncClient), (Conversation, AsyncConversation)],
)
def test_same_public_methods_and_signatures(sync_cls: type, async_cls: type) -> None:
    sync_members, async_members = public(sync_cls), public(async_cls)
    assert set(sync_members) == set(async_members) - ASYNC_ONLY
    for name, member in sync_members.items():
        other = async_members[name]
        if callable(member):
            s, a = inspect.signature(member), inspect.signature(other)
            if name == "__init__":  # the client argument differs in type only
                assert list(s.parameters) == list(a.parameters)
                continue
            assert [(p.name, p.kind, p.default) for p in s.parameters.values()] == [
                (p.name, p.kind, p.default) for p in a.parameters.values()
            ], name


def test_async_methods_are_coroutines_where_the_sync_ones_block() -> None:
    for name in ("chat", "close"):
        assert inspect.iscoroutinefunction(getattr(qs.AsyncClient, name))
    assert inspect.iscoroutinefunction(AsyncConversation.send)
    # stream() starts lazily on both sides: no await needed to get the stream.
    assert not inspect.iscoroutinefunction(qs.AsyncClient.stream)


def test_streams_offer_the_same_reading_api() -> None:
    for name in ("text_stream", "reply", "partial_text", "close"):
        assert hasattr(Stream, name) and hasattr(AsyncStream, name)
