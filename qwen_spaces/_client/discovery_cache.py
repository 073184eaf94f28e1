"""The discovery cache: a Space's endpoints, as read from ``/config``, kept on disk.

A new process (each ``qwen-spaces ask``) would otherwise spend one round trip,
and on a real Space a large JSON, on ``/config`` before its first join. Only
the :class:`Endpoints` are stored, one small JSON file per (model, base URL),
under the user's cache directory. The base URL is whole, path included (as
``space_url.check_base_url`` normalised it): two apps mounted on one host at
``/chat`` and ``/max`` have entries of their own, and no entry of an earlier
version can be mistaken for one (they were all at a host's root). The
directory is:

- ``$QWEN_SPACES_CACHE_DIR`` if set;
- else ``$XDG_CACHE_HOME/qwen_spaces`` (``~/.cache/qwen_spaces``) on Linux and
  other Unixes, ``~/Library/Caches/qwen_spaces`` on macOS,
  ``%LOCALAPPDATA%\\qwen_spaces\\Cache`` on Windows.

Entries live ``TTL`` seconds (expired files are removed once there are many).
``QWEN_SPACES_CACHE=off`` turns the cache off.
Files are replaced atomically (a temporary file, then ``os.replace``), so
processes writing at once leave one whole file; a file that cannot be read or
does not fit is ignored (the call reads ``/config`` and rewrites it). The file
name is a hash of the key and the file holds no URL, header or token.

This module does file I/O; the decision to trust or refetch the ids is the
call's (``_core.call.ChatCall``). Every failure here is logged and swallowed: a
cache never breaks a call.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, get_args

from .._gradio.endpoints import ChatbotFormat, Endpoints, Function

__all__ = ["TTL", "cache_dir", "enabled", "entry_path", "load", "store"]

log = logging.getLogger("qwen_spaces")

#: Seconds an entry is trusted. A Space whose ids moved is caught sooner: the
#: join fails and the call reads /config again (see _core.call.ChatCall).
TTL = 24 * 3600.0
_VERSION = 2  # 2: side functions by name (was predict_* fields)
# Local servers on random ports (tests, replicas) each leave an entry: past
# this many files, a write also removes the expired ones.
_PRUNE_ABOVE = 64
_OFF = frozenset({"off", "0", "false", "no", "disable", "disabled"})
_FIELDS = frozenset(Endpoints.__slots__)
_FORMATS = frozenset(get_args(ChatbotFormat))


def enabled() -> bool:
    """False when ``QWEN_SPACES_CACHE`` says off (``off``, ``0``, ``false``, ``no``)."""
    return os.environ.get("QWEN_SPACES_CACHE", "").strip().lower() not in _OFF


def cache_dir() -> Path:
    """Where the entries live (see the module's docstring)."""
    explicit = os.environ.get("QWEN_SPACES_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA", "").strip()
        root = Path(local) if local else Path.home() / "AppData" / "Local"
        return root / "qwen_spaces" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "qwen_spaces"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    # The XDG spec: a relative path is invalid and must be ignored.
    root = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return root / "qwen_spaces"


def _sha256_function() -> Callable[[bytes], Any]:
    # CPython's own SHA-256 gives the same digest without hashlib's OpenSSL
    # start-up: about 3 ms of a cold `qwen-spaces ask`, whose floor never loads it.
    for name in ("_sha256", "_sha2"):  # CPython 3.11, 3.12+
        try:
            function: Callable[[bytes], Any] = importlib.import_module(name).sha256
            return function
        except (ImportError, AttributeError):
            continue
    from hashlib import sha256  # another Python

    return sha256


_SHA256 = _sha256_function()


def _key(base_url: str, model: str) -> str:
    return str(_SHA256(f"{model}\n{base_url}".encode()).hexdigest())


def entry_path(base_url: str, model: str) -> Path:
    """The file of the (base URL, model) entry."""
    return cache_dir() / f"endpoints-{_key(base_url, model)[:24]}.json"


def load(base_url: str, model: str, *, now: Optional[float] = None) -> Optional[Endpoints]:
    """The cached endpoints of the Space at ``base_url`` for ``model``, if fresh.

    None when the cache is off, empty, expired, or its file is unreadable.
    """
    if not enabled():
        return None
    try:
        path = entry_path(base_url, model)
        raw = path.read_bytes()
    except (OSError, RuntimeError):  # RuntimeError: no home directory to expand
        return None
    try:
        entry = json.loads(raw)
        endpoints = _decode(entry, _key(base_url, model))
    except (ValueError, TypeError, KeyError) as exc:
        log.debug("ignoring the discovery cache file %s: %s", path, exc)
        return None
    saved = entry["saved"]
    age = (time.time() if now is None else now) - saved
    if not -60.0 <= age < TTL:  # expired, or written by a clock far ahead
        log.debug("the discovery cache entry for %s expired", model)
        return None
    return endpoints


def store(base_url: str, model: str, endpoints: Endpoints, *, now: Optional[float] = None) -> bool:
    """Save ``endpoints`` for (``base_url``, ``model``); True if it was written.

    Atomic: readers see the old file or the new one, never part of one.
    """
    if not enabled():
        return False
    saved = time.time() if now is None else now
    entry = {
        "version": _VERSION,
        "key": _key(base_url, model),
        "saved": saved,
        "endpoints": _encode(endpoints),
    }
    try:
        path = entry_path(base_url, model)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        import tempfile  # only to write: a cold process that reads the cache never needs it

        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entry, out)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, RuntimeError) as exc:
        log.debug("cannot write the discovery cache: %s", exc)
        return False
    _prune(path.parent, saved)
    return True


def _prune(directory: Path, now: float) -> None:
    """Remove expired entries (and temporary files left by a crash) once there are many."""
    try:
        names = os.listdir(directory)
        if len(names) <= _PRUNE_ABOVE:
            return
        for name in names:
            if not (name.startswith("endpoints-") or name.startswith(".endpoints-")):
                continue
            target = directory / name
            with contextlib.suppress(OSError):
                if now - target.stat().st_mtime > TTL:
                    target.unlink()
    except OSError:
        return


def _encode(endpoints: Endpoints) -> dict[str, Any]:
    """``endpoints`` as JSON data: its fields, each side function a dict of its own."""
    fields = {name: getattr(endpoints, name) for name in Endpoints.__slots__}
    fields["side"] = [
        {name: getattr(function, name) for name in Function.__slots__}
        for function in endpoints.side
    ]
    return fields


def _decode(entry: Any, key: str) -> Endpoints:
    """An entry's Endpoints; raises ValueError/TypeError/KeyError for anything off."""
    if not isinstance(entry, dict) or entry.get("version") != _VERSION:
        raise ValueError(f"not a version {_VERSION} entry")
    if entry.get("key") != key:
        raise ValueError("an entry for another Space")
    saved = entry["saved"]
    if isinstance(saved, bool) or not isinstance(saved, (int, float)):
        raise TypeError("saved is not a time")
    fields = entry["endpoints"]
    if not isinstance(fields, dict) or set(fields) != _FIELDS:
        raise ValueError("endpoints with other fields")
    prefix = fields["api_prefix"]
    if not isinstance(prefix, str) or (prefix and not prefix.startswith("/")):
        raise TypeError("api_prefix")
    for name in ("fn_index", "chatbot_output"):
        if not _is_int(fields[name]):
            raise TypeError(name)
    if fields["trigger_id"] is not None and not _is_int(fields["trigger_id"]):
        raise TypeError("trigger_id")
    side = fields["side"]
    if not isinstance(side, list):
        raise TypeError("side")
    functions = []
    for item in side:
        if not isinstance(item, dict) or set(item) != {"name", "fn_index", "trigger_id"}:
            raise ValueError("side function")
        if not isinstance(item["name"], str) or not _is_int(item["fn_index"]):
            raise TypeError("side function")
        if item["trigger_id"] is not None and not _is_int(item["trigger_id"]):
            raise TypeError("side function trigger_id")
        functions.append(Function(item["name"], item["fn_index"], item["trigger_id"]))
    if fields["chatbot_format"] not in _FORMATS:
        raise ValueError("chatbot_format")
    if fields["from_config"] is not True:
        raise ValueError("only endpoints read from /config are cached")
    return Endpoints(**{**fields, "side": tuple(functions)})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
