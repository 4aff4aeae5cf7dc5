"""The read side's store: the projected tables in SQLite (one file, the embedded default) or
PostgreSQL (one server that several gateway instances write and serve from).

Both speak the same SQL (``INSERT ... ON CONFLICT DO UPDATE`` exists in both); only the
placeholder and the keys' collation differ. ``apply`` writes one batch of events' writes in one
transaction. The
queries answer plain rows (dicts, JSON columns decoded); who may see them is decided in
``gateway.readside``, not here. Calls are synchronous and serialised by a lock: callers on the
event loop run them in a thread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

from gateway.readside.projection import Change, Put, Write
from gateway.readside.tables import TABLES, TABLES_BY_NAME, ColumnType, Table

SCHEMA_VERSION = 1
IN_CHUNK = 900
Row = dict[str, Any]


class ReadStoreError(Exception):
    """The store cannot be used: not reachable, another schema version, closed."""


class _Connection(Protocol):
    def execute(self, sql: str, parameters: Sequence[object] = ...) -> Any: ...
    def cursor(self) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


def _create_statements(table: Table, *, json_type: str) -> list[str]:
    def sql_type(kind: ColumnType) -> str:
        return {"text": "TEXT", "integer": "BIGINT", "json": json_type}[kind.value]

    columns = [f"{name} TEXT NOT NULL" for name in table.key]
    columns += [f"{column.name} {sql_type(column.type)}" for column in table.columns]
    columns += ["event_id TEXT NOT NULL", f"PRIMARY KEY ({', '.join(table.key)})"]
    statements = [f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(columns)})"]
    for number, index in enumerate(table.indexes):
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {table.name}_{number} ON {table.name} ({', '.join(index)})"
        )
    return statements


def _ensure_generation(connection: _Connection, mark: str) -> None:
    """Give a store its generation once, when its tables are created: a new id that names
    this copy of the tables (see ``ReadStore.generation``)."""
    connection.execute("CREATE TABLE IF NOT EXISTS readside_generation (generation TEXT NOT NULL)")
    if connection.execute("SELECT generation FROM readside_generation").fetchone() is None:
        connection.execute(
            f"INSERT INTO readside_generation VALUES ({mark})", [uuid.uuid4().hex[:12]]
        )


def _in_key_order(table: Table, rows: list[Row]) -> list[Row]:
    """Sorted by key in Python, by code point: the same order from both stores (a
    PostgreSQL database's collation may order text otherwise than SQLite)."""
    rows.sort(key=lambda row: tuple(str(row[name]) for name in table.key))
    return rows


class ReadStore:
    """The SQL both stores share; subclasses connect and name the placeholder.

    A failure of the database (a write refused, the server gone) is a ``ReadStoreError`` and
    leaves nothing of the call behind: the batch is rolled back, and a connection that broke
    is dropped and opened again on the next call.
    """

    PLACEHOLDER = "?"
    DRIVER_ERRORS: tuple[type[Exception], ...] = ()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._connection: _Connection | None = self._connect()

    def _connect(self) -> _Connection:
        """A new connection to a store of this schema version; ``ReadStoreError`` if none."""
        raise NotImplementedError

    def _usable(self, connection: _Connection) -> bool:
        """Whether a connection that failed a call can serve the next one."""
        return True

    # -- writing -------------------------------------------------------------------------
    def apply(self, writes: Iterable[Write]) -> int:
        """Write every write in one transaction, or none; the number of writes. Runs of
        writes of the same statement go to the database together."""
        count = 0
        with self._transaction() as connection:
            statements = (self._statement(write) for write in writes)
            for sql, run in groupby(statements, key=itemgetter(0)):
                parameters = [values for _, values in run]
                connection.cursor().executemany(sql, parameters)
                count += len(parameters)
        return count

    def _statement(self, write: Write) -> tuple[str, list[object]]:
        table = write.table
        mark = self.PLACEHOLDER
        if isinstance(write, Put):
            names = table.column_names
            values = [write.row.get(name) for name in names]
            updates = [name for name in names if name not in table.key]
            sql = (
                f"INSERT INTO {table.name} ({', '.join(names)}) "
                f"VALUES ({', '.join(mark for _ in names)}) "
                f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET "
                + ", ".join(f"{name} = excluded.{name}" for name in updates)
            )
            return sql, values
        assert isinstance(write, Change)
        assignments = ", ".join(f"{name} = {mark}" for name in write.values)
        condition = " AND ".join(f"{name} = {mark}" for name in write.key)
        sql = f"UPDATE {table.name} SET {assignments} WHERE {condition}"
        return sql, [*write.values.values(), *write.key.values()]

    # -- reading -------------------------------------------------------------------------
    def rows(self, table_name: str, where: Mapping[str, object] | None = None) -> list[Row]:
        """The rows of one table where the columns equal the values given, in key order."""
        table = TABLES_BY_NAME[table_name]
        where = where or {}
        mark = self.PLACEHOLDER
        sql = f"SELECT {', '.join(table.column_names)} FROM {table.name}"
        if where:
            sql += " WHERE " + " AND ".join(f"{name} = {mark}" for name in where)
        return _in_key_order(table, self._select(table, sql, list(where.values())))

    def rows_in(self, table_name: str, column: str, values: Sequence[object]) -> list[Row]:
        """The rows whose ``column`` is one of ``values``, in key order (asked for in chunks
        of ``IN_CHUNK`` values: a holder's warrants may be tens of thousands, more than a
        statement may bind)."""
        table = TABLES_BY_NAME[table_name]
        rows: list[Row] = []
        distinct = list(dict.fromkeys(values))
        for start in range(0, len(distinct), IN_CHUNK):
            chunk = distinct[start : start + IN_CHUNK]
            marks = ", ".join(self.PLACEHOLDER for _ in chunk)
            sql = (
                f"SELECT {', '.join(table.column_names)} FROM {table.name} "
                f"WHERE {column} IN ({marks})"
            )
            rows.extend(self._select(table, sql, chunk))
        return _in_key_order(table, rows)

    @property
    def generation(self) -> str:
        """The id this copy of the tables was given when it was created. The read side's
        consumer group carries it, so that a store deleted (or a new database) is filled
        again from the topics' beginning, not from the offsets the old copy had reached."""
        with self._reading() as connection:
            (generation,) = connection.execute(
                "SELECT generation FROM readside_generation", []
            ).fetchone()
        return str(generation)

    def dump(self) -> dict[str, list[Row]]:
        """Every table, every row: what a rebuilt store is compared with."""
        return {table.name: self.rows(table.name) for table in TABLES}

    def count(self, table_name: str) -> int:
        table = TABLES_BY_NAME[table_name]
        with self._reading() as connection:
            (number,) = connection.execute(f"SELECT COUNT(*) FROM {table.name}", []).fetchone()
        return int(number)

    def _select(self, table: Table, sql: str, parameters: list[object]) -> list[Row]:
        json_columns = {c.name for c in table.columns if c.type is ColumnType.JSON}
        with self._reading() as connection:
            fetched = connection.execute(sql, parameters).fetchall()
        names = table.column_names
        rows = []
        for values in fetched:
            row = dict(zip(names, values, strict=True))
            for name in json_columns:
                if row[name] is not None:
                    row[name] = json.loads(row[name])
            rows.append(row)
        return rows

    # -- connection ----------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[_Connection]:
        with self._lock, self._failures_as_store_errors() as connection:
            yield connection
            connection.commit()

    @contextmanager
    def _reading(self) -> Iterator[_Connection]:
        with self._lock, self._failures_as_store_errors() as connection:
            yield connection
            connection.rollback()

    @contextmanager
    def _failures_as_store_errors(self) -> Iterator[_Connection]:
        connection = self._open()
        try:
            yield connection
        except self.DRIVER_ERRORS as error:
            self._recover(connection)
            raise ReadStoreError(f"the read store refused the call: {error}") from error
        except BaseException:
            self._recover(connection)
            raise

    def _open(self) -> _Connection:
        if self._closed:
            raise ReadStoreError("the read store is closed")
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def _recover(self, connection: _Connection) -> None:
        """Roll back what the failed call began; drop the connection if that cannot be done."""
        try:
            connection.rollback()
        except self.DRIVER_ERRORS:
            pass
        else:
            if self._usable(connection):
                return
        self._connection = None
        with suppress(*self.DRIVER_ERRORS):
            connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class SqliteReadStore(ReadStore):
    """The tables in one SQLite file (WAL: reads go on while a batch is written)."""

    DRIVER_ERRORS = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__()

    def _connect(self) -> _Connection:
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            (version,) = connection.execute("PRAGMA user_version").fetchone()
        except sqlite3.DatabaseError as error:
            raise ReadStoreError(f"{path} is not a usable SQLite file: {error}") from error
        if version not in (0, SCHEMA_VERSION):
            connection.close()
            raise ReadStoreError(
                f"{path} holds read-side schema version {version}, not {SCHEMA_VERSION}: "
                "delete it and rebuild it from the topics"
            )
        for table in TABLES:
            for statement in _create_statements(table, json_type="TEXT"):
                connection.execute(statement)
        _ensure_generation(connection, "?")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.commit()
        return connection


class PostgresReadStore(ReadStore):
    """The tables in a PostgreSQL database (psycopg 3), in ``schema`` (created if missing),
    so that several read sides (tests, a rebuild beside the live one) can share one server.

    Every connection, the first and each one after the server went away, names the schema in
    its ``search_path`` and creates what is missing under a lock of the schema's own (several
    instances may start together).
    """

    PLACEHOLDER = "%s"

    def __init__(self, dsn: str, *, schema: str = "readside") -> None:
        import psycopg

        if not schema.replace("_", "").isalnum():
            raise ReadStoreError(f"{schema!r} is not a plain schema name")
        self.DRIVER_ERRORS = (psycopg.Error,)
        self._dsn = dsn
        self.schema = schema
        super().__init__()

    def _connect(self) -> _Connection:
        import psycopg

        try:
            connection = psycopg.connect(self._dsn, autocommit=False, connect_timeout=10)
        except psycopg.Error as error:
            raise ReadStoreError(
                f"the read store's PostgreSQL is not reachable: {error}"
            ) from error
        try:
            self._prepare(connection)
        except psycopg.Error as error:
            connection.close()
            raise ReadStoreError(f"the read store's schema {self.schema}: {error}") from error
        except BaseException:
            connection.close()
            raise
        return connection

    def _prepare(self, connection: Any) -> None:
        schema = self.schema
        connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"readside:{schema}"])
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        connection.execute(f"SET search_path TO {schema}")
        connection.execute("CREATE TABLE IF NOT EXISTS readside_schema (version INTEGER NOT NULL)")
        found = connection.execute("SELECT version FROM readside_schema").fetchone()
        if found is not None and found[0] != SCHEMA_VERSION:
            raise ReadStoreError(
                f"schema {schema} holds read-side schema version {found[0]}, not "
                f"{SCHEMA_VERSION}: drop it and rebuild it from the topics"
            )
        if found is None:
            # The first instance creates the tables, in the transaction that records the
            # version. Later ones find the version and leave the tables alone: a CREATE INDEX
            # IF NOT EXISTS still locks its table, and deadlocked against an instance
            # already writing to them.
            connection.execute("INSERT INTO readside_schema VALUES (%s)", [SCHEMA_VERSION])
            for table in TABLES:
                for statement in _create_statements(table, json_type="TEXT"):
                    connection.execute(statement)
        _ensure_generation(connection, "%s")
        connection.commit()

    def _usable(self, connection: _Connection) -> bool:
        return not getattr(connection, "closed", True) and not getattr(connection, "broken", True)
