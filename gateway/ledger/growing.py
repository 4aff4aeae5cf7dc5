"""Immutable, append-only values that share their storage: what the ledger's history is kept in.

A ledger state is a value: posting a command gives a new state and leaves the old one as it
was. Copying the whole history (every applied id, every balance entry) for each posting would
make a posting cost as much as the history is long, and rebuilding the state from the journal
cost its square. These two types make the common case, growing the newest value, cost O(1):
each value is a view of the first ``n`` items of a store shared with the values grown from
it. Growing a value that is not the newest (an older state used again) copies its items
first, so no value ever sees an item added to another.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar, overload

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


class GrowingLog(Sequence[T], Generic[T]):
    """An immutable sequence; ``appended`` returns a longer one."""

    __slots__ = ("_items", "_length")

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._items: list[T] = list(items)
        self._length = len(self._items)

    @classmethod
    def _view(cls, items: list[T], length: int) -> GrowingLog[T]:
        log = cls.__new__(cls)
        log._items, log._length = items, length
        return log

    def appended(self, *new: T) -> GrowingLog[T]:
        items = self._items
        if len(items) != self._length:  # grown by another value already: branch off
            items = items[: self._length]
        items.extend(new)
        return GrowingLog._view(items, len(items))

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if isinstance(index, slice):
            return tuple(self._items[: self._length][index])
        if not -self._length <= index < self._length:
            raise IndexError(index)
        return self._items[index % self._length]

    def __iter__(self) -> Iterator[T]:
        items = self._items
        return (items[index] for index in range(self._length))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"GrowingLog({list(self)!r})"


class GrowingMap(Mapping[K, V], Generic[K, V]):
    """An immutable mapping whose keys are never replaced; ``with_item`` returns a larger one."""

    __slots__ = ("_entries", "_order", "_size")

    def __init__(self, items: Mapping[K, V] | None = None) -> None:
        self._order: list[K] = list(items or {})
        self._entries: dict[K, tuple[int, V]] = {
            key: (index, value) for index, (key, value) in enumerate((items or {}).items())
        }
        self._size = len(self._order)

    def with_item(self, key: K, value: V) -> GrowingMap[K, V]:
        """This mapping and ``key`` -> ``value``; ``key`` must not be in it."""
        if key in self:
            raise KeyError(f"{key!r} is already in the mapping and is never replaced")
        order, entries = self._order, self._entries
        if len(order) != self._size:  # grown by another value already: branch off
            order = order[: self._size]
            entries = {k: entries[k] for k in order}
        entries[key] = (len(order), value)
        order.append(key)
        grown: GrowingMap[K, V] = GrowingMap.__new__(GrowingMap)
        grown._order, grown._entries, grown._size = order, entries, len(order)
        return grown

    def __getitem__(self, key: K) -> V:
        index, value = self._entries[key]
        if index >= self._size:
            raise KeyError(key)
        return value

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[K]:
        order = self._order
        return (order[index] for index in range(self._size))

    def __repr__(self) -> str:
        return f"GrowingMap({dict(self.items())!r})"
