"""The Hugging Face token a client sends when ``hf_token=`` is not given.

Read as huggingface_hub reads it (``huggingface_hub.get_token``), without
importing it: ``$HF_TOKEN``, then the legacy ``$HUGGING_FACE_HUB_TOKEN``,
then the file that ``hf auth login`` (``huggingface-cli login``) writes:
``$HF_TOKEN_PATH``, else ``$HF_HOME/token``, else
``$XDG_CACHE_HOME/huggingface/token`` (``~/.cache/huggingface/token``).
``~`` and ``$VARS`` in those paths are expanded, and newlines anywhere and
whitespace around the token are removed, as huggingface_hub does.

Two choices of ours: ``HF_HUB_DISABLE_IMPLICIT_TOKEN=1`` (huggingface_hub's
switch for "send no token I did not pass") turns off the stored file and the
legacy variable, while ``$HF_TOKEN``, which this library has always read as its
``hf_token`` default, stays; and an empty ``$HF_HOME`` or ``$HF_TOKEN_PATH`` is
unset (huggingface_hub would read ``./token`` from the working directory).

The token never reaches a log, a repr or an error: messages name where it came from.
"""

from __future__ import annotations

import logging
import os
from typing import Optional

from .._core.policy import check_token

__all__ = ["Secret", "default_token", "token_path"]

log = logging.getLogger("qwen_spaces")

_TRUE = frozenset({"1", "ON", "YES", "TRUE"})  # huggingface_hub's ENV_VARS_TRUE_VALUES


class Secret(str):
    """A str that never shows itself in a repr: tokens in headers, locals and logs."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


def token_path() -> str:
    """The file huggingface_hub stores its token in (it may not exist)."""
    explicit = os.environ.get("HF_TOKEN_PATH", "")
    if explicit:
        return _expand(explicit)
    home = os.environ.get("HF_HOME", "")
    if not home:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(cache, "huggingface")
    return os.path.join(_expand(home), "token")


def default_token() -> Optional[Secret]:
    """The token to send when ``hf_token`` is not given, or None.

    A value that cannot go in a header is a ValueError naming where it came
    from (the variable or the file), never showing the token.
    """
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if name != "HF_TOKEN" and _implicit_disabled():
            break
        token = _clean(os.environ.get(name))
        if token:
            log.debug("hf_token not given: using $%s", name)
            return _checked(token, f"${name}")
    if _implicit_disabled():
        return None
    path = token_path()
    try:
        with open(path, "rb") as file:
            raw = file.read(64 * 1024)  # a token is ~40 bytes: never read a huge file whole
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # a directory, no permission, a NUL in the path
        log.debug("hf_token not given: cannot read %s (%s)", path, type(exc).__name__)
        return None
    token = _clean(raw.decode("utf-8", errors="replace"))
    if not token:
        return None
    log.debug("hf_token not given: using the token stored in %s", path)
    return _checked(token, f"the token in {path}")


def _implicit_disabled() -> bool:
    return os.environ.get("HF_HUB_DISABLE_IMPLICIT_TOKEN", "").upper() in _TRUE


def _expand(path: str) -> str:
    return os.path.expandvars(os.path.expanduser(path))


def _clean(token: Optional[str]) -> str:
    # As huggingface_hub's _clean_token: a newline anywhere goes, then surrounding whitespace.
    return (token or "").replace("\r", "").replace("\n", "").strip()


def _checked(token: str, source: str) -> Secret:
    try:
        return Secret(check_token(token))
    except ValueError as exc:  # the message never holds the token itself
        del token
        raise ValueError(str(exc).replace("hf_token", source, 1)) from None
