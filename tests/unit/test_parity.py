"""Client and AsyncClient are twins: the same public surface, the same loop.

Signatures are compared as whole ``inspect.Parameter`` objects (names, kinds,
defaults and annotations), and the two drivers' loops are compared line by
line once ``async``/``await`` are stripped: only I/O may differ between them.
"""

from __future__ import annotations

import inspect
import re
import textwrap

import pytest

import qwen_spaces as qs
from qwen_spaces import async_transport, sync_transport
from qwen_spaces.async_client import AsyncConversation, AsyncStream
from qwen_spaces.sync_client import Conversation, Stream

PAIRS = [
    (qs.Client, qs.AsyncClient),
    (Conversation, AsyncConversation),
    (Stream, AsyncStream),
    # The transports and their exchanges (the answers the loop reads) are twins too.
    (sync_transport.RequestsTransport, async_transport.AiohttpTransport),
    (sync_transport._Exchange, async_transport._Exchange),
]
# The parameters whose annotation names the twin class itself, or each side's
# own HTTP library (a requests.Session, an aiohttp.ClientSession).
TWIN_TYPED = {"client", "session"}


# The exchanges are built by their transports from each library's response.
BUILT_INSIDE = {sync_transport._Exchange, async_transport._Exchange}


def public(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") or (name == "__init__" and cls not in BUILT_INSIDE)
    }


def _params(member: object) -> list[inspect.Parameter]:
    params = list(inspect.signature(member).parameters.values())  # type: ignore[arg-type]
    return [p.replace(annotation=None) if p.name in TWIN_TYPED else p for p in params]


def _normal(annotation: object) -> str:
    # "Stream" and "AsyncStream", "Iterator[str]" and "AsyncIterator[str]" are twins.
    return re.sub(r"\bAsync(?=[A-Z])", "", str(annotation))


def test_the_exchanges_read_the_same_way() -> None:
    # read/chunks/drain/close and the status and headers the loop reads, on both sides.
    for cls in (sync_transport._Exchange, async_transport._Exchange):
        assert {"read", "chunks", "drain", "close", "status", "headers"} <= set(
            cls.__slots__
        ) | set(dir(cls))
    for name in ("read", "drain"):
        assert inspect.iscoroutinefunction(getattr(async_transport._Exchange, name))
        assert not inspect.iscoroutinefunction(getattr(sync_transport._Exchange, name))
    assert inspect.isasyncgenfunction(async_transport._Exchange.chunks)
    assert inspect.isgeneratorfunction(sync_transport._Exchange.chunks)


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS)
def test_same_public_members_and_whole_signatures(sync_cls: type, async_cls: type) -> None:
    sync_members, async_members = public(sync_cls), public(async_cls)
    assert set(sync_members) == set(async_members)
    for name, member in sync_members.items():
        other = async_members[name]
        if isinstance(member, property):
            assert isinstance(other, property), name
            continue
        if not callable(member):
            continue
        s, a = _params(member), _params(other)
        assert [(p.name, p.kind, p.default) for p in s] == [
            (p.name, p.kind, p.default) for p in a
        ], name
        assert [_normal(p.annotation) for p in s] == [_normal(p.annotation) for p in a], name


def test_async_methods_are_coroutines_where_the_sync_ones_block() -> None:
    for name in ("chat", "close"):
        assert inspect.iscoroutinefunction(getattr(qs.AsyncClient, name))
    assert inspect.iscoroutinefunction(AsyncConversation.send)
    assert inspect.iscoroutinefunction(AsyncStream.get_reply)
    # stream() starts lazily on both sides: no await needed to get the stream.
    assert not inspect.iscoroutinefunction(qs.AsyncClient.stream)


def _stripped(function: object) -> list[str]:
    source = textwrap.dedent(inspect.getsource(function))  # type: ignore[arg-type]
    source = source.replace("asyncio.sleep", "time.sleep")
    source = re.sub(r"\basync (?=def|for|with)", "", source)
    source = re.sub(r"\bawait ", "", source)
    source = re.sub(r"  # noqa: [A-Z0-9]+.*$", "", source, flags=re.M)
    lines = [line.rstrip() for line in source.splitlines() if line.strip()]
    # The signature line names the generator type, which differs by nature.
    return [line for line in lines if not line.lstrip().startswith(("def ", ") ->"))]


def test_the_drivers_loops_are_the_same_once_async_is_stripped() -> None:
    sync_loop = _stripped(qs.Client._run)
    async_loop = _stripped(qs.AsyncClient._run)
    assert sync_loop == async_loop
    assert len(sync_loop) <= 30, "the driver's loop should stay short and decision-free"
