"""One contract for both read stores, run on a SQLite file and on a real PostgreSQL server
(``postgres_server``; skipped, with the reason, when none can be had): idempotent puts and
changes, a batch written whole or not at all, rows that survive a reopen, a store of another
schema version refused, the queries agreeing with each other, JSON and decimal strings kept
exactly, a batch of 100,000 rows in one transaction, and a PostgreSQL store that reconnects
after its server restarted."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from consumers.readside_store import (
    SCHEMA_VERSION,
    PostgresReadStore,
    ReadStore,
    ReadStoreError,
    SqliteReadStore,
)
from gateway.readside.projection import Change, Put, as_json
from gateway.readside.tables import BALANCES, BRANDS, WARRANTS
from tests.postgres_support import PostgresServer


@dataclass
class StoreUnderTest:
    """Opens the same store again and again, and can set its schema version behind its back."""

    open: Callable[[], ReadStore]
    set_schema_version: Callable[[int], None]


def _sqlite(tmp_path: Path) -> Iterator[StoreUnderTest]:
    path = tmp_path / "readside.sqlite3"

    def set_version(version: int) -> None:
        with sqlite3.connect(path) as connection:
            connection.execute(f"PRAGMA user_version = {version}")

    yield StoreUnderTest(lambda: SqliteReadStore(path), set_version)


def _postgres(server: PostgresServer) -> Iterator[StoreUnderTest]:
    schema = f"test_{uuid.uuid4().hex[:12]}"

    def set_version(version: int) -> None:
        with psycopg.connect(server.dsn) as connection:
            connection.execute(f"UPDATE {schema}.readside_schema SET version = %s", [version])

    yield StoreUnderTest(lambda: PostgresReadStore(server.dsn, schema=schema), set_version)
    with psycopg.connect(server.dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    if request.param == "sqlite":
        yield from _sqlite(tmp_path)
    else:
        yield from _postgres(request.getfixturevalue("postgres_server"))


@pytest.fixture
def store(kind: StoreUnderTest) -> Iterator[ReadStore]:
    opened = kind.open()
    yield opened
    opened.close()


def brand(name: str, *, producer: str = "producer-1", event: str = "e1") -> dict[str, object]:
    return {
        "brand": name,
        "producer_id": producer,
        "country_of_origin": "NO",
        "status": "listed",
        "effective_at": "2026-01-05T00:00:00+00:00",
        "event_id": event,
    }


def balance(number: int, *, holder: str = "member-a", kg: str = "25.000") -> dict[str, object]:
    return {
        "account_key": f"account-{number:06}",
        "holder_id": holder,
        "material_quality": "P1020",
        "level": "metal",
        "certificate": None,
        "balance_kg": kg,
        "event_id": f"e-{number}",
    }


def warrant(
    warrant_id: str, holder: str, document: object, net_weight_kg: str
) -> dict[str, object]:
    return {
        "warrant_id": warrant_id,
        "lot_id": f"lot-of-{warrant_id}",
        "brand": "B1",
        "holder_id": holder,
        "issued_at": "2026-02-01T10:00:00+00:00",
        "cancelled_at": None,
        "contract": "aluminium",
        "shape": "ingot",
        "country_of_origin": "NO",
        "net_weight_kg": net_weight_kg,
        "document": as_json(document),
        "event_id": f"issued-{warrant_id}",
    }


def test_a_put_twice_leaves_one_row_and_a_later_put_replaces_it(store: ReadStore) -> None:
    first = brand("B1")
    assert store.apply([Put(BRANDS, first), Put(BRANDS, first)]) == 2
    store.apply([Put(BRANDS, first)])
    assert store.rows("brands") == [first]
    suspended = {**first, "status": "suspended", "event_id": "e2"}
    store.apply([Put(BRANDS, suspended)])
    assert store.rows("brands") == [suspended]


def test_a_change_twice_sets_the_same_values_and_a_change_without_its_row_writes_nothing(
    store: ReadStore,
) -> None:
    store.apply([Put(WARRANTS, warrant("W1", "member-a", {"n": 1}, "25.000"))])
    cancelled = {"cancelled_at": "2026-03-01T00:00:00+00:00", "event_id": "cancelled-W1"}
    change = Change(WARRANTS, {"warrant_id": "W1"}, cancelled)
    store.apply([change, change])
    store.apply([change])
    [row] = store.rows("warrants")
    assert (row["cancelled_at"], row["event_id"]) == (cancelled["cancelled_at"], "cancelled-W1")
    store.apply([Change(WARRANTS, {"warrant_id": "W-NONE"}, cancelled)])
    assert store.count("warrants") == 1


def test_a_batch_with_a_failing_write_leaves_nothing_and_the_store_goes_on(
    store: ReadStore,
) -> None:
    store.apply([Put(BRANDS, brand("B0"))])
    keyless = {**brand("B3"), "brand": None}
    with pytest.raises(ReadStoreError):
        store.apply([Put(BRANDS, brand("B1")), Put(BRANDS, brand("B2")), Put(BRANDS, keyless)])
    assert [row["brand"] for row in store.rows("brands")] == ["B0"]
    store.apply([Put(BRANDS, brand("B1"))])
    assert [row["brand"] for row in store.rows("brands")] == ["B0", "B1"]


def test_rows_survive_a_reopen(kind: StoreUnderTest) -> None:
    store = kind.open()
    store.apply([Put(BRANDS, brand("B1")), Put(BALANCES, balance(1))])
    store.close()
    again = kind.open()
    try:
        assert again.rows("brands") == [brand("B1")]
        assert again.rows("custody_balances") == [balance(1)]
    finally:
        again.close()


def test_a_store_of_another_schema_version_is_refused(kind: StoreUnderTest) -> None:
    kind.open().close()
    kind.set_schema_version(SCHEMA_VERSION + 98)
    with pytest.raises(ReadStoreError, match=f"schema version {SCHEMA_VERSION + 98}, not"):
        kind.open()


def test_a_closed_store_says_so(store: ReadStore) -> None:
    store.close()
    with pytest.raises(ReadStoreError, match="closed"):
        store.rows("brands")


def test_rows_rows_in_dump_and_count_agree(store: ReadStore) -> None:
    holders = ["member-a", "member-b", "member-c"]
    accounts = [balance(n, holder=holders[n % 3]) for n in range(30)]
    store.apply([Put(BALANCES, row) for row in reversed(accounts)])
    dumped = store.dump()
    assert dumped["custody_balances"] == accounts
    assert store.count("custody_balances") == 30
    assert all(rows == [] for name, rows in dumped.items() if name != "custody_balances")
    assert store.rows("custody_balances", {"holder_id": "member-b"}) == [
        row for row in accounts if row["holder_id"] == "member-b"
    ]
    assert store.rows_in("custody_balances", "holder_id", ["member-a", "member-c"]) == [
        row for row in accounts if row["holder_id"] != "member-b"
    ]
    assert store.rows_in("custody_balances", "holder_id", []) == []
    assert store.rows("custody_balances", {"holder_id": "member-z"}) == []


def test_keys_come_back_in_the_same_order_from_either_store(store: ReadStore) -> None:
    names = ["b-1", "B-1", "a-2", "A-10", "_x", "Ø-1", "z"]
    store.apply([Put(BRANDS, brand(name)) for name in names])
    assert [row["brand"] for row in store.rows("brands")] == sorted(names)


def test_json_columns_and_decimal_strings_come_back_exactly(store: ReadStore) -> None:
    document = {
        "brand": "HYDRO-Ø",
        "net_weight_kg": "25012.345678901234567890123",
        "certificates": [{"reference": "ECOA-1", "alloy": {"Si": "0.050", "Fe": "0.1200"}}],
        "notes": 'quoted "text", a backslash \\ and a newline\n',
        "flags": [True, False, None],
        "count": 3,
    }
    exact = ["0.000000000000000000001", "25012.345678901234567890123", "1E+3", "-0.00", "7"]
    writes = [
        Put(WARRANTS, warrant(f"W{n}", "member-a", document, kg)) for n, kg in enumerate(exact)
    ]
    store.apply(writes)
    rows = store.rows("warrants", {"holder_id": "member-a"})
    assert [row["document"] for row in rows] == [document] * len(exact)
    assert [row["net_weight_kg"] for row in rows] == exact


def test_a_batch_of_100000_rows_is_one_transaction(store: ReadStore) -> None:
    rows = [balance(n, kg=f"{n}.125") for n in range(100_000)]
    keyless = {**balance(100_000), "account_key": None}
    with pytest.raises(ReadStoreError):
        store.apply([*(Put(BALANCES, row) for row in rows), Put(BALANCES, keyless)])
    assert store.count("custody_balances") == 0
    assert store.apply(Put(BALANCES, row) for row in rows) == 100_000
    assert store.count("custody_balances") == 100_000
    assert store.rows("custody_balances", {"account_key": "account-099999"}) == [rows[-1]]


@pytest.mark.postgres
def test_a_postgres_store_reconnects_after_its_server_restarted(
    postgres_server: PostgresServer,
) -> None:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    store = PostgresReadStore(postgres_server.dsn, schema=schema)
    try:
        store.apply([Put(BRANDS, brand("B1"))])
        postgres_server.restart()
        with pytest.raises(ReadStoreError):
            store.count("brands")
        store.apply([Put(BRANDS, brand("B2"))])
        assert [row["brand"] for row in store.rows("brands")] == ["B1", "B2"]
        postgres_server.restart()
        with pytest.raises(ReadStoreError):
            store.apply([Put(BRANDS, brand("B3"))])
        store.apply([Put(BRANDS, brand("B3"))])
        assert store.count("brands") == 3
    finally:
        store.close()
    with psycopg.connect(postgres_server.dsn, autocommit=True) as connection:
        public = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        connection.execute(f"DROP SCHEMA {schema} CASCADE")
    assert public == [], "a reconnected store lost its search_path"
