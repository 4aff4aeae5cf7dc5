"""The persistent map the ledger's state is made of.

A ledger state is a value: booking a command gives a new state and leaves the old one as it
was, so the engine can keep the state a batch started from until its transaction commits,
and a restore, a snapshot or a test can hold any state without copying it. A ``dict`` copied
per posting made a posting cost O(accounts) (5 ms with 100,000 accounts). ``PMap`` is a
hash array mapped trie (``immutables.Map``, the structure CPython's ``contextvars`` use):
``set`` returns a new map sharing all but one path of ~log32(n) nodes with the old one, so a
posting costs the same with 10 accounts or 10 million, and every earlier state stays valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, TypeVar

import immutables

K = TypeVar("K")
V = TypeVar("V")


class PMap(Mapping[K, V], Generic[K, V]):
    """An immutable mapping; ``set``, ``delete`` and ``updated`` return new ones."""

    __slots__ = ("_map",)

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] | None = None) -> None:
        self._map: immutables.Map[K, V] = immutables.Map(items if items is not None else ())

    @classmethod
    def _of(cls, inner: immutables.Map[K, V]) -> PMap[K, V]:
        made: PMap[K, V] = cls.__new__(cls)
        made._map = inner
        return made

    def set(self, key: K, value: V) -> PMap[K, V]:
        return PMap._of(self._map.set(key, value))

    def delete(self, key: K) -> PMap[K, V]:
        return PMap._of(self._map.delete(key)) if key in self._map else self

    def mutate(self) -> PMapMutation[K, V]:
        return PMapMutation(self._map.mutate())

    def updated(self, items: Iterable[tuple[K, V]]) -> PMap[K, V]:
        mutation = self._map.mutate()
        for key, value in items:
            mutation[key] = value
        return PMap._of(mutation.finish())

    def __getitem__(self, key: K) -> V:
        return self._map[key]

    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        return self._map.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._map

    def __len__(self) -> int:
        return len(self._map)

    def __iter__(self) -> Iterator[K]:
        return iter(self._map)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PMap):
            return self._map == other._map
        if isinstance(other, Mapping):
            return len(self) == len(other) and all(
                key in other and other[key] == value for key, value in self._map.items()
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PMap({dict(self._map.items())!r})"


class PMapMutation(Generic[K, V]):
    """A map being changed in place; ``finish`` makes it a ``PMap`` (and ends it)."""

    __slots__ = ("_mutation",)

    def __init__(self, mutation: immutables.MapMutation[K, V]) -> None:
        self._mutation = mutation

    def __setitem__(self, key: K, value: V) -> None:
        self._mutation[key] = value

    def get(self, key: K) -> V | None:
        return self._mutation.get(key)

    def finish(self) -> PMap[K, V]:
        return PMap._of(self._mutation.finish())
