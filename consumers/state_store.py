"""The registry's working store of its state, per input partition: entity key -> bytes.

Kafka's compacted changelog topic is the system of record; the store is the copy the registry
reads from on demand (through a bounded cache), so memory stays bounded however large the
state grows, and a restart reads only the changelog's tail. ``checkpoint`` is the changelog
offset to resume reading at; ``apply`` writes one change set and its checkpoint together, or
nothing. Values are opaque bytes: restoring copies the changelog's bytes, decoding nothing.

Two implementations keep the same contract (one test suite runs over both, and a
RocksDB-class store would implement the same five calls): ``SqliteStateStore`` (one file on
disk) and ``InMemoryStateStore`` (dicts, for unit tests of callers).
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import structlog

log = structlog.get_logger("custody_gateway.state_store")

SCHEMA_VERSION = 2

_SCHEMA = (
    """CREATE TABLE entities (
        partition INTEGER NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (partition, key)
    ) WITHOUT ROWID""",
    """CREATE TABLE checkpoints (
        partition INTEGER PRIMARY KEY,
        next_offset INTEGER NOT NULL
    )""",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)


class StateStoreError(Exception):
    """The store cannot be used (not a SQLite file, corrupt, other schema version, closed).

    The local copy is disposable: the caller may delete the file and rebuild from Kafka.
    """


class StateStore(Protocol):
    def checkpoint(self, partition: int) -> int:
        """The changelog offset to resume reading at; 0 when nothing was ever stored."""
        ...

    def get(self, partition: int, key: str) -> bytes | None: ...

    def keys_with_prefix(self, partition: int, prefix: str) -> list[str]:
        """The partition's keys that start with ``prefix``, sorted."""
        ...

    def apply(
        self, partition: int, changes: Mapping[str, bytes | None], next_changelog_offset: int
    ) -> None:
        """Write ``changes`` (``None`` deletes a key) and the checkpoint, all or nothing.

        Raises ``ValueError`` if the checkpoint would move backwards, ``TypeError`` for a key
        that is not ``str`` or a value that is neither ``bytes`` nor ``None``.
        """
        ...

    def forget(self, partition: int) -> None:
        """Drop the partition's entities and checkpoint (it moved to another instance, or
        its copy is not of the changelog)."""
        ...

    def size_bytes(self) -> int: ...

    def close(self) -> None: ...


def _check_partition(partition: int) -> None:
    if partition < 0:
        raise ValueError(f"partition must be >= 0, got {partition}")


def _check_checkpoint_moves_forward(partition: int, stored: int, requested: int) -> None:
    if requested < stored:
        raise ValueError(
            f"checkpoint of partition {partition} cannot move backwards: "
            f"stored next offset is {stored}, apply asked for {requested}"
        )


def _check_change(key: object, value: object) -> None:
    if not isinstance(key, str):
        raise TypeError(f"entity key must be str, got {type(key).__name__}: {key!r}")
    if value is not None and not isinstance(value, bytes):
        raise TypeError(
            f"value of {key!r} must be bytes or None (a deletion), got {type(value).__name__}"
        )


def _prefix_end(prefix: str) -> str:
    """The least string greater than every string starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else "\U0010ffff"


class InMemoryStateStore:
    """The same contract in dicts; nothing survives the instance."""

    def __init__(self) -> None:
        self._entities: dict[int, dict[str, bytes]] = {}
        self._offsets: dict[int, int] = {}
        self._closed = False

    def checkpoint(self, partition: int) -> int:
        self._check_open()
        _check_partition(partition)
        return self._offsets.get(partition, 0)

    def get(self, partition: int, key: str) -> bytes | None:
        self._check_open()
        return self._entities.get(partition, {}).get(key)

    def keys_with_prefix(self, partition: int, prefix: str) -> list[str]:
        self._check_open()
        keys = sorted(self._entities.get(partition, {}))
        first = bisect.bisect_left(keys, prefix)
        last = bisect.bisect_left(keys, _prefix_end(prefix))
        return keys[first:last]

    def apply(
        self, partition: int, changes: Mapping[str, bytes | None], next_changelog_offset: int
    ) -> None:
        self._check_open()
        _check_partition(partition)
        stored = self._offsets.get(partition, 0)
        _check_checkpoint_moves_forward(partition, stored, next_changelog_offset)
        for key, value in changes.items():
            _check_change(key, value)
        entities = self._entities.setdefault(partition, {})
        for key, value in changes.items():
            if value is None:
                entities.pop(key, None)
            else:
                entities[key] = value
        self._offsets[partition] = next_changelog_offset

    def forget(self, partition: int) -> None:
        self._check_open()
        self._entities.pop(partition, None)
        self._offsets.pop(partition, None)

    def size_bytes(self) -> int:
        self._check_open()
        return sum(
            len(key.encode()) + len(value)
            for entities in self._entities.values()
            for key, value in entities.items()
        )

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StateStoreError("in-memory state store is closed")


class SqliteStateStore:
    """One SQLite file holding every partition's entities and checkpoint.

    Opening a file that is not a SQLite database, a corrupt one, or one of a newer schema
    version raises ``StateStoreError`` naming the path; a file of an older schema version is
    emptied (the copy is rebuilt from the changelog). Single-threaded use.
    """

    def __init__(self, path: Path, *, cache_kib: int = 32_768) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StateStoreError(f"cannot open state store {path}: {exc}") from exc
        self._closed = False
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA cache_size=-{cache_kib}")
            with self._transaction():
                self._prepare_schema()
        except sqlite3.Error as exc:
            self.close()
            raise StateStoreError(
                f"state store {path} is not a usable SQLite database ({exc}); "
                "delete it to rebuild from the changelog"
            ) from exc
        except BaseException:
            self.close()
            raise

    def checkpoint(self, partition: int) -> int:
        _check_partition(partition)
        with self._reading():
            return self._stored_offset(partition)

    def get(self, partition: int, key: str) -> bytes | None:
        # The hottest call of a step (most asks are for keys not stored yet): no context
        # manager, and the read snapshot of _reading kept until the next write.
        self._check_open()
        db = self._db
        try:
            if not db.in_transaction:
                db.execute("BEGIN")
            row = db.execute(
                "SELECT value FROM entities WHERE partition = ? AND key = ?", (partition, key)
            ).fetchone()
        except sqlite3.Error as exc:
            raise StateStoreError(f"state store {self.path} is unusable: {exc}") from exc
        return None if row is None else bytes(row[0])

    def keys_with_prefix(self, partition: int, prefix: str) -> list[str]:
        with self._reading():
            rows = self._db.execute(
                "SELECT key FROM entities WHERE partition = ? AND key >= ? AND key < ?"
                " ORDER BY key",
                (partition, prefix, _prefix_end(prefix)),
            ).fetchall()
        return [key for (key,) in rows]

    def apply(
        self, partition: int, changes: Mapping[str, bytes | None], next_changelog_offset: int
    ) -> None:
        _check_partition(partition)
        with self._transaction():
            stored = self._stored_offset(partition)
            _check_checkpoint_moves_forward(partition, stored, next_changelog_offset)
            for key, value in changes.items():
                _check_change(key, value)
            self._db.executemany(
                "DELETE FROM entities WHERE partition = ? AND key = ?",
                [(partition, key) for key, value in changes.items() if value is None],
            )
            self._db.executemany(
                "INSERT INTO entities (partition, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT (partition, key) DO UPDATE SET value = excluded.value",
                sorted(  # in key order: each insert lands next to the one before
                    (partition, key, value) for key, value in changes.items() if value is not None
                ),
            )
            self._db.execute(
                "INSERT INTO checkpoints (partition, next_offset) VALUES (?, ?)"
                " ON CONFLICT (partition) DO UPDATE SET next_offset = excluded.next_offset",
                (partition, next_changelog_offset),
            )

    def forget(self, partition: int) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM entities WHERE partition = ?", (partition,))
            self._db.execute("DELETE FROM checkpoints WHERE partition = ?", (partition,))

    def size_bytes(self) -> int:
        self._check_open()
        files = (self.path, self.path.with_name(self.path.name + "-wal"))
        return sum(file.stat().st_size for file in files if file.exists())

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()

    def _prepare_schema(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == SCHEMA_VERSION:
            return
        (tables,) = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if 0 < version < SCHEMA_VERSION:
            log.warning(
                "state_store_rebuilt",
                path=str(self.path),
                stored_version=version,
                version=SCHEMA_VERSION,
            )
            for (table,) in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            ).fetchall():
                self._db.execute(f'DROP TABLE "{table}"')
            tables = 0
        if version < SCHEMA_VERSION and tables == 0:
            for statement in _SCHEMA:
                self._db.execute(statement)
            return
        raise StateStoreError(
            f"state store {self.path} has schema version {version}, this gateway reads "
            f"version {SCHEMA_VERSION}; delete the file to rebuild it from the changelog"
        )

    def _stored_offset(self, partition: int) -> int:
        row = self._db.execute(
            "SELECT next_offset FROM checkpoints WHERE partition = ?", (partition,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction; any exception rolls it back. SQLite errors become
        ``StateStoreError`` naming the file."""
        self._check_open()
        try:
            if self._db.in_transaction:
                self._db.execute("COMMIT")  # the reads' snapshot ends: a write sees the latest
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StateStoreError(f"state store {self.path} is unusable: {exc}") from exc

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """A read; SQLite errors become ``StateStoreError``. Reads share one snapshot (a
        deferred transaction begun by the first, ended by the next write): asking for a key in
        autocommit mode takes and drops the WAL's read lock each time, three times the cost.
        This connection is the file's only writer, so the snapshot is never stale."""
        self._check_open()
        try:
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            yield
        except sqlite3.Error as exc:
            raise StateStoreError(f"state store {self.path} is unusable: {exc}") from exc

    def _check_open(self) -> None:
        if self._closed:
            raise StateStoreError(f"state store {self.path} is closed")
