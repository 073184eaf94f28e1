"""``LazyPattern``: a regular expression compiled when first used, not at import.

A cold ``qwen-spaces ask`` imports the modules that hold them (Space status
pages, token redaction, the Qwen3 layout, upload names) and uses few or none;
compiling each at import costs 0.1-0.3 ms, some 2-3 ms in all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Optional, Union

__all__ = ["LazyPattern"]


class LazyPattern:
    """``re.compile(pattern, flags)`` on first use; the ``re.Pattern`` methods used here."""

    __slots__ = ("_compiled", "_flags", "_pattern")

    def __init__(self, pattern: str, flags: Union[int, re.RegexFlag] = 0) -> None:
        self._pattern = pattern
        self._flags = flags
        self._compiled: Optional[re.Pattern[str]] = None

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self._pattern, self._flags)
        return self._compiled

    def search(self, string: str) -> Optional[re.Match[str]]:
        return self.compiled.search(string)

    def match(self, string: str) -> Optional[re.Match[str]]:
        return self.compiled.match(string)

    def fullmatch(self, string: str) -> Optional[re.Match[str]]:
        return self.compiled.fullmatch(string)

    def findall(self, string: str) -> list[Any]:
        return self.compiled.findall(string)

    def finditer(self, string: str) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(string)

    def split(self, string: str) -> list[Any]:
        return self.compiled.split(string)

    def sub(self, repl: Union[str, Callable[[re.Match[str]], str]], string: str) -> str:
        return self.compiled.sub(repl, string)
