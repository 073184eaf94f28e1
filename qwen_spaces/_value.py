"""``Value``: the base of the small slotted classes a cold ``qwen-spaces ask`` creates.

Not dataclasses: ``import dataclasses`` pulls in inspect, ast and dis (about
6 ms) and each ``@dataclass`` execs its methods' source at import (about
0.3 ms a class), and a one-shot ``ask`` pays both. A subclass names its fields
in ``__match_args__: ClassVar[tuple[str, ...]] = (...)`` (``__init__``'s order;
annotated, so type checkers need not guess) with ``__slots__ = __match_args__``,
and writes its own ``__init__``; this gives the rest as a dataclass would: ``repr`` and ``==``
over the fields, and, for a ``Frozen`` one, a hash and no assignment after
``__init__``; ``replace()`` makes a changed copy.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

__all__ = ["Frozen", "Value"]

_V = TypeVar("_V", bound="Value")


class Value:
    """Fields in ``__match_args__``; ``repr`` and ``==`` over them; unhashable (mutable)."""

    __slots__ = ()
    __match_args__: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self.__match_args__])

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Value)
        return self._values() == other._values()

    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # mutable: as a dataclass with eq and no frozen

    def replace(self: _V, **changes: Any) -> _V:
        """A copy with ``changes`` (field names and values), as ``dataclasses.replace``."""
        for name in self.__match_args__:
            if name not in changes:
                changes[name] = getattr(self, name)
        return type(self)(**changes)


class Frozen(Value):
    """A ``Value`` that cannot change after ``__init__`` (which sets fields with ``_set``)."""

    __slots__ = ()

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of {type(self).__qualname__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of {type(self).__qualname__}")

    def __hash__(self) -> int:  # type: ignore[override]  # hashable again, as frozen=True is
        return hash(self._values())
