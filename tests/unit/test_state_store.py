"""The state store contract, run against every implementation, then SQLite's own promises:
surviving a restart, refusing files it cannot trust, and agreeing with a plain dict model."""

from __future__ import annotations

import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.state_store import (
    InMemoryStateStore,
    SqliteStateStore,
    StateStore,
    StateStoreError,
)


@dataclass(frozen=True)
class StoredPartition:
    entities: dict[str, bytes]
    next_changelog_offset: int


def load(store: StateStore, partition: int) -> StoredPartition:
    """Everything a partition holds, through the store's own calls."""
    keys = store.keys_with_prefix(partition, "")
    entities = {key: store.get(partition, key) for key in keys}
    assert None not in entities.values()
    return StoredPartition(
        {key: value for key, value in entities.items() if value is not None},
        store.checkpoint(partition),
    )


STORE_FACTORIES: dict[str, Callable[[Path], StateStore]] = {
    "memory": lambda _: InMemoryStateStore(),
    "sqlite": lambda tmp_path: SqliteStateStore(tmp_path / "state" / "registry.sqlite"),
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    opened = STORE_FACTORIES[request.param](tmp_path)
    yield opened
    opened.close()


# -- the contract, for every implementation ------------------------------------------------


def test_a_partition_never_written_is_empty_at_offset_zero(store: StateStore) -> None:
    assert load(store, 3) == StoredPartition(entities={}, next_changelog_offset=0)


def test_apply_then_load_gives_the_entities_and_checkpoint(store: StateStore) -> None:
    store.apply(0, {"brand:NORDAL": b'{"status":"listed"}', "lot:LOT-1": b"{}"}, 12)

    assert load(store, 0) == StoredPartition(
        entities={"brand:NORDAL": b'{"status":"listed"}', "lot:LOT-1": b"{}"},
        next_changelog_offset=12,
    )


def test_a_later_value_replaces_the_earlier_one(store: StateStore) -> None:
    store.apply(0, {"brand:NORDAL": b"listed"}, 1)
    store.apply(0, {"brand:NORDAL": b"suspended"}, 2)

    assert load(store, 0).entities == {"brand:NORDAL": b"suspended"}


def test_none_deletes_a_key(store: StateStore) -> None:
    store.apply(0, {"lot:LOT-1": b"arrived", "lot:LOT-2": b"arrived"}, 2)
    store.apply(0, {"lot:LOT-1": None, "lot:NEVER-STORED": None}, 4)

    assert load(store, 0) == StoredPartition(
        entities={"lot:LOT-2": b"arrived"}, next_changelog_offset=4
    )


def test_partitions_are_independent(store: StateStore) -> None:
    store.apply(0, {"lot:LOT-1": b"zero"}, 5)
    store.apply(1, {"lot:LOT-1": b"one"}, 9)
    store.apply(1, {"lot:LOT-1": None}, 10)

    assert load(store, 0) == StoredPartition(
        entities={"lot:LOT-1": b"zero"}, next_changelog_offset=5
    )
    assert load(store, 1) == StoredPartition(entities={}, next_changelog_offset=10)


def test_the_checkpoint_advances_and_may_stay_put(store: StateStore) -> None:
    store.apply(2, {}, 3)
    assert load(store, 2).next_changelog_offset == 3
    store.apply(2, {"lot:LOT-1": b"x"}, 3)
    store.apply(2, {}, 40)

    assert load(store, 2) == StoredPartition(entities={"lot:LOT-1": b"x"}, next_changelog_offset=40)


def test_the_checkpoint_refuses_to_move_backwards_and_keeps_the_state(store: StateStore) -> None:
    store.apply(0, {"lot:LOT-1": b"kept"}, 10)

    with pytest.raises(ValueError, match=r"stored next offset is 10, apply asked for 9"):
        store.apply(0, {"lot:LOT-1": b"lost", "lot:LOT-2": b"lost"}, 9)

    assert load(store, 0) == StoredPartition(
        entities={"lot:LOT-1": b"kept"}, next_changelog_offset=10
    )


def test_forget_drops_only_that_partition(store: StateStore) -> None:
    store.apply(0, {"lot:LOT-1": b"zero"}, 5)
    store.apply(1, {"lot:LOT-1": b"one"}, 9)

    store.forget(1)

    assert load(store, 1) == StoredPartition(entities={}, next_changelog_offset=0)
    assert load(store, 0) == StoredPartition(
        entities={"lot:LOT-1": b"zero"}, next_changelog_offset=5
    )
    store.apply(1, {"lot:LOT-7": b"again"}, 2)  # a forgotten checkpoint may restart lower
    assert load(store, 1).entities == {"lot:LOT-7": b"again"}


def test_a_failure_mid_apply_keeps_nothing_of_the_change_set(store: StateStore) -> None:
    store.apply(0, {"lot:LOT-1": b"old", "lot:LOT-2": b"old"}, 5)
    bad_last: dict[str, Any] = {
        "lot:LOT-1": b"new",
        "lot:LOT-2": None,
        "lot:LOT-3": b"new",
        "lot:LOT-4": "a str, not bytes",
    }

    with pytest.raises(TypeError, match="lot:LOT-4"):
        store.apply(0, bad_last, 6)

    assert load(store, 0) == StoredPartition(
        entities={"lot:LOT-1": b"old", "lot:LOT-2": b"old"}, next_changelog_offset=5
    )
    store.apply(0, {"lot:LOT-3": b"fine"}, 6)  # the store is still usable
    assert load(store, 0).entities == {
        "lot:LOT-1": b"old",
        "lot:LOT-2": b"old",
        "lot:LOT-3": b"fine",
    }


def test_get_reads_one_key_and_misses_give_none(store: StateStore) -> None:
    store.apply(0, {"lot:LOT-1": b"one", "lot:LOT-2": b"two"}, 2)

    assert store.get(0, "lot:LOT-2") == b"two"
    assert store.get(0, "lot:LOT-9") is None
    assert store.get(1, "lot:LOT-1") is None


def test_keys_with_a_prefix_are_sorted_and_stop_at_the_prefix(store: StateStore) -> None:
    keys = ["cast:A:2", "cast:A:1", "cast:AB:1", "cast:A", "cast;A:1", "pending:A:L1"]
    store.apply(0, dict.fromkeys(keys, b"x"), 1)
    store.apply(1, {"cast:A:3": b"x"}, 1)

    assert store.keys_with_prefix(0, "cast:A:") == ["cast:A:1", "cast:A:2"]
    assert store.keys_with_prefix(0, "pending:") == ["pending:A:L1"]
    assert store.keys_with_prefix(0, "nothing:") == []
    assert store.keys_with_prefix(1, "cast:A:") == ["cast:A:3"]


def test_a_closed_store_refuses_to_be_used(store: StateStore) -> None:
    store.close()

    with pytest.raises(StateStoreError, match="closed"):
        store.checkpoint(0)
    with pytest.raises(StateStoreError, match="closed"):
        store.get(0, "lot:LOT-1")
    store.close()  # closing twice is harmless


# -- SQLite only ---------------------------------------------------------------------------


def test_sqlite_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite"
    first = SqliteStateStore(path)
    first.apply(0, {"brand:NORDAL": b"listed"}, 7)
    first.apply(4, {"lot:LOT-1": b"arrived"}, 3)
    first.close()

    reopened = SqliteStateStore(path)
    try:
        assert load(reopened, 0) == StoredPartition({"brand:NORDAL": b"listed"}, 7)
        assert load(reopened, 4) == StoredPartition({"lot:LOT-1": b"arrived"}, 3)
    finally:
        reopened.close()


def test_sqlite_creates_the_parent_directory(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "registry.sqlite"
    SqliteStateStore(path).close()

    assert path.is_file()


def test_sqlite_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite"
    path.write_bytes(b"not a database, just some bytes\n" * 64)

    with pytest.raises(StateStoreError, match=re.escape(str(path))):
        SqliteStateStore(path)
    assert path.read_bytes() == b"not a database, just some bytes\n" * 64


@pytest.mark.parametrize("version", [0, 3])
def test_sqlite_refuses_a_newer_or_unknown_schema(tmp_path: Path, version: int) -> None:
    path = tmp_path / "registry.sqlite"
    SqliteStateStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {version}")
    raw.commit()
    raw.close()

    with pytest.raises(StateStoreError, match=rf"{re.escape(str(path))}.*schema version {version}"):
        SqliteStateStore(path)


def test_sqlite_empties_a_store_of_an_older_schema_to_rebuild_it(tmp_path: Path) -> None:
    """The store is a disposable copy: one written by an older gateway is rebuilt from the
    changelog (its checkpoint goes back to 0)."""
    path = tmp_path / "registry.sqlite"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE entities (partition INTEGER, key TEXT, value BLOB)")
    raw.execute("INSERT INTO entities VALUES (0, 'brand:NORDAL', x'00')")
    raw.execute("CREATE TABLE checkpoints (partition INTEGER PRIMARY KEY, next_offset INTEGER)")
    raw.execute("INSERT INTO checkpoints VALUES (0, 99)")
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()

    store = SqliteStateStore(path)
    try:
        assert load(store, 0) == StoredPartition({}, 0)
        store.apply(0, {"brand:NORDAL": b"again"}, 3)
        assert load(store, 0) == StoredPartition({"brand:NORDAL": b"again"}, 3)
    finally:
        store.close()


def test_sqlite_size_grows_after_writes(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "registry.sqlite")
    try:
        empty = store.size_bytes()
        store.apply(0, {f"lot:LOT-{n}": bytes(1000) for n in range(50)}, 50)

        assert empty > 0
        assert store.size_bytes() >= empty + 50 * 1000
    finally:
        store.close()


# -- SQLite against a dict model -----------------------------------------------------------

KEYS = st.sampled_from(["brand:NORDAL", "brand:ALUX", "lot:LOT-1", "lot:LOT-2", "lot:LOT-3"])
CHANGE_SETS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),
        st.dictionaries(KEYS, st.none() | st.binary(max_size=16), max_size=4),
        st.integers(min_value=-2, max_value=5),
    ),
    max_size=12,
)


@settings(max_examples=30, deadline=None)
@given(change_sets=CHANGE_SETS)
def test_sqlite_matches_a_dict_model_also_after_reopening(
    change_sets: list[tuple[int, dict[str, bytes | None], int]],
) -> None:
    entities: dict[int, dict[str, bytes]] = {}
    offsets: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "registry.sqlite"
        store = SqliteStateStore(path)
        try:
            for partition, changes, step in change_sets:
                stored = offsets.get(partition, 0)
                if step < 0:
                    with pytest.raises(ValueError):
                        store.apply(partition, changes, stored + step)
                    continue
                store.apply(partition, changes, stored + step)
                model = entities.setdefault(partition, {})
                for key, value in changes.items():
                    if value is None:
                        model.pop(key, None)
                    else:
                        model[key] = value
                offsets[partition] = stored + step

            expected = [StoredPartition(entities.get(p, {}), offsets.get(p, 0)) for p in range(3)]
            assert [load(store, p) for p in range(3)] == expected
            store.close()
            store = SqliteStateStore(path)
            assert [load(store, p) for p in range(3)] == expected
        finally:
            store.close()
