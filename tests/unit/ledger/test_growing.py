"""The ledger's shared-storage history values behave as immutable values: growing one never
changes another, whichever is grown first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.ledger.growing import GrowingLog, GrowingMap


def test_a_log_grown_twice_from_one_value_gives_two_independent_values() -> None:
    base = GrowingLog([1, 2])
    left = base.appended(3)
    right = base.appended(4, 5)  # base is no longer the newest: right branches off
    assert (list(base), list(left), list(right)) == ([1, 2], [1, 2, 3], [1, 2, 4, 5])
    assert left.appended(6) == [1, 2, 3, 6] and list(left) == [1, 2, 3]
    assert (left[-1], left[0], left[1:]) == (3, 1, (2, 3))
    with pytest.raises(IndexError):
        _ = left[3]
    assert GrowingLog() == () and GrowingLog([1]) != [2]


def test_a_map_grown_twice_from_one_value_gives_two_independent_values() -> None:
    base = GrowingMap({"a": 1})
    left = base.with_item("b", 2)
    right = base.with_item("c", 3)
    assert (dict(base), dict(left), dict(right)) == ({"a": 1}, {"a": 1, "b": 2}, {"a": 1, "c": 3})
    assert "c" not in left and "b" not in right and "b" not in base
    assert left == {"a": 1, "b": 2} and list(left) == ["a", "b"]
    with pytest.raises(KeyError, match="never replaced"):
        left.with_item("a", 9)
    with pytest.raises(KeyError):
        _ = base["b"]


@given(st.lists(st.tuples(st.integers(0, 5), st.integers()), max_size=40))
def test_any_order_of_growing_any_value_matches_plain_copies(steps: list[tuple[int, int]]) -> None:
    logs: list[GrowingLog[int]] = [GrowingLog()]
    copies: list[tuple[int, ...]] = [()]
    maps: list[GrowingMap[int, int]] = [GrowingMap()]
    dicts: list[dict[int, int]] = [{}]
    for pick, value in steps:
        index = pick % len(logs)
        logs.append(logs[index].appended(value))
        copies.append((*copies[index], value))
        key = len(dicts)
        maps.append(maps[index].with_item(key, value))
        dicts.append({**dicts[index], key: value})
        assert all(list(log) == list(copy) for log, copy in zip(logs, copies, strict=True))
        assert all(dict(m) == d for m, d in zip(maps, dicts, strict=True))
