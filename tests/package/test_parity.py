"""Client and AsyncClient are twins: the same public surface, the same loop.

Signatures are compared as whole ``inspect.Parameter`` objects (names, kinds,
defaults and annotations); each transport and its exchange satisfy the
contract of ``qwen_spaces/_transports/transport.py`` (the Protocols' members, blocking or
awaited as the Protocol says, with the same parameters); and the two clients'
code is the same once async is taken out (``scripts/unasync.py``, which
``make lint`` runs too), but for the real differences it names.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import qwen_spaces as qs
from qwen_spaces._client.async_client import AsyncConversation, AsyncStream
from qwen_spaces._client.sync_client import Conversation, Stream
from qwen_spaces._transports import async_transport, sync_transport, transport
from qwen_spaces.testing import _transport as mock

PAIRS = [
    (qs.Client, qs.AsyncClient),
    (Conversation, AsyncConversation),
    (Stream, AsyncStream),
]
# The parameters whose annotation names the twin class itself, or each side's
# own HTTP library (a requests.Session, an aiohttp.ClientSession).
TWIN_TYPED = {"client", "session"}

# Each implementation of the contract, with the Protocol it satisfies.
CONFORMING = [
    (sync_transport.RequestsTransport, transport.Transport),
    (async_transport.AiohttpTransport, transport.AsyncTransport),
    (transport.UserTransport, transport.Transport),
    (transport.AsyncUserTransport, transport.AsyncTransport),
    (mock.MockTransport, transport.Transport),
    (mock.MockTransport, transport.AsyncTransport),
    (sync_transport._Exchange, transport.Exchange),
    (async_transport._Exchange, transport.AsyncExchange),
    (mock._Exchange, transport.Exchange),
    (mock._AsyncExchange, transport.AsyncExchange),
]


def public(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") or name == "__init__"
    }


def _params(member: object) -> list[inspect.Parameter]:
    params = list(inspect.signature(member).parameters.values())  # type: ignore[arg-type]
    return [p.replace(annotation=None) if p.name in TWIN_TYPED else p for p in params]


def _normal(annotation: object) -> str:
    # "Stream" and "AsyncStream", "Iterator[str]" and "AsyncIterator[str]" are twins.
    return re.sub(r"\bAsync(?=[A-Z])", "", str(annotation))


def _members(protocol: type) -> list[str]:
    names = set(protocol.__dict__) - set(object.__dict__)
    return sorted(name for name in names if not name.startswith("_"))


def _shape(function: Any) -> str:
    """How a method is called and read: plain, awaited, or an iterator (blocking or async)."""
    if hasattr(function, "__wrapped__"):
        return "plain"  # @contextmanager, @asynccontextmanager: it returns a context manager
    if inspect.iscoroutinefunction(function):
        return "awaited"
    if inspect.isasyncgenfunction(function):
        return "async iterator"
    if inspect.isgeneratorfunction(function):
        return "iterator"
    hint = str(inspect.signature(function).return_annotation)  # a Protocol's stub
    for prefix, shape in (("AsyncIterator", "async iterator"), ("Iterator", "iterator")):
        if hint.startswith(prefix):
            return shape
    return "plain"


@pytest.mark.parametrize(("cls", "protocol"), CONFORMING)
def test_each_transport_and_exchange_satisfies_its_protocol(cls: type, protocol: type) -> None:
    members = _members(protocol)
    assert members, protocol
    for name in members:
        wanted = protocol.__dict__[name]
        if isinstance(wanted, property):  # status, headers: data the driver reads
            assert name in getattr(cls, "__slots__", ()) or isinstance(
                getattr(cls, name, None), property
            ), f"{cls.__qualname__}.{name}"
            continue
        member = getattr(cls, name, None)
        assert callable(member), f"{cls.__qualname__} lacks {name}"
        assert _shape(member) == _shape(wanted), f"{cls.__qualname__}.{name}"
        params = [p.name for p in inspect.signature(member).parameters.values()]
        assert params == list(inspect.signature(wanted).parameters), f"{cls.__qualname__}.{name}"


def test_the_async_contract_awaits_where_the_sync_one_blocks() -> None:
    assert _shape(transport.AsyncExchange.read) == "awaited"
    assert _shape(transport.Exchange.read) == "plain"
    assert _shape(transport.AsyncExchange.chunks) == "async iterator"
    assert _shape(async_transport._Exchange.chunks) == "async iterator"
    assert _shape(sync_transport._Exchange.chunks) == "iterator"
    assert _shape(transport.AsyncTransport.acancel) == "awaited"


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


def _unasync() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "unasync.py"
    spec = importlib.util.spec_from_file_location("unasync", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_clients_are_the_same_once_async_is_taken_out() -> None:
    unasync = _unasync()
    assert unasync.check_twins() == []
    assert unasync.check_keywords() == []
    assert set(unasync.DIFFERENT) == {"_report", "_checked_session", "Stream.reply"}


def test_the_drivers_loop_stays_short() -> None:
    source = inspect.getsource(qs.Client._run)
    lines = [line for line in source.splitlines()[1:] if line.strip()]
    assert len(lines) <= 30, "the driver's loop should stay short and decision-free"


def test_the_transports_get_frozen_settings_not_the_client() -> None:
    client = qs.Client(hf_token="hf_settingstoken123", proxy="http://u:pw@127.0.0.1:9")
    settings = client._core.settings
    assert client._transport._settings is settings  # type: ignore[attr-defined]
    assert not hasattr(client._transport, "_core")
    assert settings.headers["Authorization"] == "Bearer hf_settingstoken123"
    with pytest.raises(TypeError):
        settings.headers["X"] = "1"  # type: ignore[index]
    with pytest.raises(AttributeError):
        settings.verify = False  # type: ignore[misc]
    assert "hf_settings" not in repr(settings) and "pw" not in repr(settings)
