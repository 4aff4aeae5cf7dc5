"""The two kinds of state log the processors keep on Kafka, and how each rebuilds its state.

- The registry's **changelog** (compacted): one record per entity a batch changed. The
  working store (SQLite) is a copy checkpointed at a changelog offset, read on demand through
  a bounded cache; a restart reads only the changelog's tail, and a lost store is rebuilt
  from the changelog alone by copying bytes.
- The ledger's **journal** (kept forever): the facts of every decision that changed the state,
  in order, with periodic **snapshots** on a compacted topic. The state is the last snapshot
  with the journal's facts after it applied (no rule runs again).
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from consumers.engine import LogPartition, StateRecord
from consumers.metrics import GatewayMetrics
from consumers.state_store import StateStore
from gateway.ledger import Fact, FactKind, LedgerState, apply_facts
from gateway.ledger.codec import FactDecoder, decode_snapshot, encode_chunks, id_items, state_items
from gateway.processors.ledger import FACT_MESSAGE_TYPE, LedgerProcessed
from gateway.processors.records import InputRecord
from gateway.processors.registry import RegistryProcessed
from gateway.processors.step import Outcome
from gateway.registry import codec
from gateway.registry.state import RegistryState, entity_key, key_kind
from gateway.rulebook.state import OpenRequest

log = structlog.get_logger("custody_gateway.state_logs")


COPY_BATCH = 20_000
"""Records a restore writes to the store per transaction."""


class CachedEntities:
    """Partition p's committed entities: the store's bytes, decoded on demand and kept in a
    bounded least-recently-used cache (misses too), so that memory stays bounded however
    many entities the store holds."""

    def __init__(self, store: StateStore, number: int, capacity: int) -> None:
        self._store = store
        self._number = number
        self._capacity = max(capacity, 1)
        self._cache: OrderedDict[str, Any | None] = OrderedDict()
        self._listings: OrderedDict[str, set[str]] = OrderedDict()
        """Parent -> the keys one part below it, for the parents asked about lately."""

    def get(self, key: str) -> Any | None:
        cache = self._cache
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        data = self._store.get(self._number, key)
        value = None if data is None else codec.decode(key, data)
        self._remember(key, value)
        return value

    def keys_with_prefix(self, prefix: str) -> list[str]:
        return self._store.keys_with_prefix(self._number, prefix)

    def children(self, parent: str) -> list[str]:
        listings = self._listings
        if parent in listings:
            listings.move_to_end(parent)
            return sorted(listings[parent])
        found = {
            key
            for key in self._store.keys_with_prefix(self._number, parent)
            if ":" not in key[len(parent) :]
        }
        listings[parent] = found
        while len(listings) > self._capacity:
            listings.popitem(last=False)
        return sorted(found)

    def committed(self, changes: Mapping[str, Any | None]) -> None:
        """The store now holds ``changes`` (decoded values)."""
        listings = self._listings
        for key, value in changes.items():
            self._remember(key, value)
            listed = listings.get(key[: key.rindex(":") + 1])
            if listed is None:
                continue
            if value is None:
                listed.discard(key)
            else:
                listed.add(key)

    def _remember(self, key: str, value: Any | None) -> None:
        cache = self._cache
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self._capacity:
            cache.popitem(last=False)


class RegistryChangelog:
    """Partition p's entities on the compacted changelog, and the working store holding them.

    Restoring copies the changelog's bytes from the store's checkpoint into the store,
    decoding nothing (a kept store reads only the tail; a lost one reads the whole log). A
    version-0 record (written before the state had its own types) is turned into today's
    entities on the way, and those are written to the changelog with the partition's next
    transaction, so that compaction, which keeps the last record of a key, cannot drop them.
    """

    def __init__(
        self,
        topic: str,
        store: StateStore,
        metrics: GatewayMetrics,
        *,
        cache_entries: int = 20_000,
    ) -> None:
        self.topic = topic
        self._store = store
        self._metrics = metrics
        self._cache_entries = cache_entries
        self._readers: dict[int, CachedEntities] = {}
        self._unlogged: dict[int, dict[str, bytes | None]] = {}
        """Per partition: entities restored from version-0 records, not yet on the log."""

    async def restore(self, number: int, log_partition: LogPartition) -> RegistryState:
        self._unlogged[number] = {}
        start = self._store.checkpoint(number)
        restored = await self._copy(number, log_partition, start)
        if start > log_partition.end_offset:
            # the changelog was recreated: the local copy is not of it
            log.warning("local_store_ahead_of_changelog", partition=number, stored=start)
            self._store.forget(number)
            self._unlogged[number] = {}
            restored = await self._copy(number, log_partition, 0)
        self._metrics.restored_entities.labels(partition=str(number)).set(restored)
        reader = CachedEntities(self._store, number, self._cache_entries)
        self._readers[number] = reader
        return RegistryState(reader)

    async def _copy(self, number: int, log_partition: LogPartition, start: int) -> int:
        """Copy the changelog from ``start`` into the store, in transactions of at least
        ``COPY_BATCH`` records; returns how many records were read."""
        copied = 0
        unlogged = self._unlogged.setdefault(number, {})
        changes: dict[str, bytes | None] = {}
        next_offset = start
        hold: int | None = None
        """The first version-0 record's offset: the checkpoint stays there until what it
        was turned into is on the changelog, so that a crash before then translates it
        again (copying the changelog again from there is harmless: the same records in the
        same order)."""
        async for chunk in log_partition.chunks(start):
            for record in chunk:
                key = record.key.decode("utf-8")
                value = record.value
                if value is not None and codec.is_legacy(value):
                    hold = record.offset if hold is None else hold
                    self._translate(number, changes, unlogged, key, value)
                    continue
                if value is None and key_kind(key) == "request":
                    self._drop_pending_index(number, changes, unlogged, key)
                changes[key] = value
                if unlogged:
                    unlogged.pop(key, None)
            copied += len(chunk)
            next_offset = chunk[-1].offset + 1
            if len(changes) >= COPY_BATCH:
                self._store.apply(number, changes, next_offset if hold is None else hold)
                changes = {}
        if hold is not None and unlogged:
            self._store.apply(number, changes, hold)
            return copied
        self._store.apply(number, changes, max(next_offset, log_partition.end_offset, start))
        return copied

    def _translate(
        self,
        number: int,
        changes: dict[str, bytes | None],
        unlogged: dict[str, bytes | None],
        key: str,
        value: bytes,
    ) -> None:
        """A version-0 record as today's entities; the migration logs them and removes the
        version-0 key where no entity has it any more."""

        def restored(wanted: str) -> Any | None:
            data = changes[wanted] if wanted in changes else self._store.get(number, wanted)
            return None if data is None else codec.decode(wanted, data)

        translated = {
            new_key: None if entity is None else codec.encode(new_key, entity)
            for new_key, entity in codec.legacy_entities(key, value, restored).items()
        }
        changes.update(translated)
        unlogged.update(translated)
        if key not in translated:
            unlogged[key] = None

    def _drop_pending_index(
        self,
        number: int,
        changes: dict[str, bytes | None],
        unlogged: dict[str, bytes | None],
        request_key: str,
    ) -> None:
        """A request's tombstone: a version-0 registry wrote no tombstone for the brand's
        index of open requests, so drop the index entry with it."""
        data = (
            changes[request_key] if request_key in changes else self._store.get(number, request_key)
        )
        if data is None:
            return
        request: OpenRequest = codec.decode(request_key, data)
        pending = entity_key("pending", request.brand, request.lot_id)
        changes[pending] = None
        if pending in unlogged:
            unlogged[pending] = None

    def records(
        self,
        before: RegistryState,
        after: RegistryState,
        consumed: Sequence[tuple[InputRecord, RegistryProcessed]],
    ) -> list[StateRecord]:
        unlogged = self._unlogged.get(consumed[0][0].partition, {}) if consumed else {}
        records = [
            StateRecord(key.encode("utf-8"), value)
            for key, value in unlogged.items()
            if key not in after.changes
        ]
        for key, value in after.changed_since(before).items():
            encoded = None if value is None else codec.encode(key, value)
            records.append(StateRecord(key.encode("utf-8"), encoded))
        return records

    def committed(
        self,
        number: int,
        after: RegistryState,
        records: Sequence[StateRecord],
        offsets: Sequence[int],
    ) -> RegistryState:
        self._unlogged.pop(number, None)
        reader = self._readers.get(number)
        if not records or reader is None:
            return after
        changes = {(record.key or b"").decode("utf-8"): record.value for record in records}
        self._store.apply(number, changes, max(offsets) + 1)
        reader.committed(after.changes)
        self._metrics.state_store_bytes.set(self._store.size_bytes())
        return after.rebased(reader)


@dataclass
class _Position:
    """Where one ledger partition's state is: the journal offset it is at, and what the next
    snapshot needs."""

    state: LedgerState
    next_offset: int
    since_snapshot: int = 0
    """Facts journaled since the last snapshot."""
    ids_since: list[str] = field(default_factory=list)
    """Posting ids decided since the last snapshot (each snapshot adds only these)."""
    generation: int = -1
    """The last snapshot's number (-1: none yet)."""
    state_chunks: int = 0


@dataclass
class _Pending:
    """What a batch's transaction carries beyond its facts, known once it commits."""

    after: LedgerState
    ids: list[str]
    facts: int
    snapshot: tuple[int, int] | None
    """The snapshot the transaction carries: its generation and state chunk count."""


SNAPSHOT_HEAD = b"head"


@contextlib.contextmanager
def restoring() -> Iterator[None]:
    """Build a large state without the cyclic garbage collector, then keep what was built out
    of its sight. A restore allocates millions of objects that all stay alive; each full
    collection walks every one of them, which made restoring quadratic (1M facts: 74 s, most
    of it in the collector). The state has no reference cycles, so reference counting frees
    it when it is replaced; ``gc.freeze`` keeps later collections from walking it again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


class LedgerJournal:
    """The ledger's facts on the journal (kept forever), and periodic snapshots on a compacted
    topic, partition p of each for ledger partition p.

    Restore: the state held in memory when this instance held the partition before (after a
    dropped producer, a lost broker), else the last snapshot; then the journal from the
    offset that state is at. Nothing is decided again: the facts are applied.

    A snapshot is written in the same transaction as a batch, of the state the batch started
    from (whose journal offset is known), every ``snapshot_every`` facts: the state but its
    decided posting ids in chunks ``state/<i>`` (rewritten each time, the old surplus
    deleted), the ids decided since the last snapshot in chunks ``ids/<generation>/<i>``
    (added, never rewritten), and ``head`` naming the generation, the journal offset and the
    chunk count. So a snapshot costs the accounts and directory plus the new ids, not the
    whole history.
    """

    def __init__(
        self,
        topic: str,
        snapshot_topic: str,
        *,
        snapshot_every: int = 20_000,
        chunk_bytes: int = 512 * 1024,
    ) -> None:
        self.topic = topic
        self.snapshot_topic = snapshot_topic
        self.snapshot_every = snapshot_every
        self.chunk_bytes = chunk_bytes
        self.journaled = 0
        """Facts restored and appended, over the partitions held."""
        self.restored_from: dict[int, str] = {}
        """How each partition was last restored: memory, snapshot or journal."""
        self._positions: dict[int, _Position] = {}
        self._pending: dict[int, _Pending] = {}

    async def restore(self, number: int, log_partition: LogPartition) -> LedgerState:
        began = time.perf_counter()
        position = self._positions.get(number)
        source = "memory"
        if position is None:
            position = await self._from_snapshot(log_partition.sibling(self.snapshot_topic))
            source = "snapshot" if position.generation >= 0 else "journal"
        records = await log_partition.read(position.next_offset)
        if log_partition.end_offset < position.next_offset:  # the journal was recreated
            log.warning("ledger_state_ahead_of_journal", partition=number)
            position, source = _Position(LedgerState(), 0), "journal"
            records = await log_partition.read(0)
        decode, decided = FactDecoder(), position.ids_since

        def facts() -> Iterator[Fact]:
            for record in records:
                fact = decode(record.value or b"")
                if fact.kind is FactKind.ACCEPTED or fact.kind is FactKind.REJECTED:
                    decided.append(fact.posting_id)
                yield fact

        with restoring():
            position.state = state = apply_facts(facts(), position.state)
        position.since_snapshot += len(records)
        position.next_offset = max(log_partition.end_offset, position.next_offset)
        self._positions[number] = position
        self.journaled += len(records)
        self.restored_from[number] = source
        log.info(
            "ledger_restored",
            partition=number,
            source=source,
            facts=len(records),
            seconds=round(time.perf_counter() - began, 3),
        )
        return state

    async def _from_snapshot(self, snapshots: LogPartition) -> _Position:
        latest: dict[bytes, bytes] = {}
        for record in await snapshots.read(0):
            if record.key is None:
                continue
            if record.value is None:
                latest.pop(record.key, None)
            else:
                latest[record.key] = record.value
        raw_head = latest.get(SNAPSHOT_HEAD)
        if raw_head is None:
            return _Position(LedgerState(), 0)
        head = json.loads(raw_head)
        generation, chunks = int(head["generation"]), int(head["state_chunks"])
        parts = [latest[b"state/%d" % index] for index in range(chunks)]
        for key, value in sorted(latest.items()):
            if key.startswith(b"ids/") and int(key.split(b"/")[1]) <= generation:
                parts.append(value)
        with restoring():
            state = decode_snapshot(parts)
        return _Position(
            state,
            int(head["journal_offset"]),
            generation=generation,
            state_chunks=chunks,
        )

    def records(
        self,
        before: LedgerState,
        after: LedgerState,
        consumed: Sequence[tuple[InputRecord, LedgerProcessed]],
    ) -> list[StateRecord]:
        facts = [
            StateRecord(key, value) for _record, result in consumed for key, value in result.journal
        ]
        number, position = self._position_of(before)
        if position is None:
            return facts
        ids = [
            key.decode("utf-8")
            for _record, result in consumed
            if result.message_type != FACT_MESSAGE_TYPE and result.outcome is not Outcome.FORWARDED
            for key, _value in result.journal
        ]
        snapshot: list[StateRecord] = []
        planned: tuple[int, int] | None = None
        if position.since_snapshot >= self.snapshot_every:
            snapshot, planned = self._snapshot(position)
        self._pending[number] = _Pending(after, ids, len(facts), planned)
        return [*facts, *snapshot]

    def _snapshot(self, position: _Position) -> tuple[list[StateRecord], tuple[int, int]]:
        """The snapshot of ``position.state`` (the state the batch starts from)."""
        generation = position.generation + 1
        state_chunks = encode_chunks(state_items(position.state), self.chunk_bytes)
        id_chunks = encode_chunks(id_items(position.state, position.ids_since), self.chunk_bytes)
        topic = self.snapshot_topic
        records = [
            StateRecord(b"state/%d" % index, chunk, topic=topic)
            for index, chunk in enumerate(state_chunks)
        ]
        records.extend(
            StateRecord(b"state/%d" % index, None, topic=topic)
            for index in range(len(state_chunks), position.state_chunks)
        )
        records.extend(
            StateRecord(b"ids/%d/%d" % (generation, index), chunk, topic=topic)
            for index, chunk in enumerate(id_chunks)
        )
        head = {
            "v": 1,
            "generation": generation,
            "journal_offset": position.next_offset,
            "state_chunks": len(state_chunks),
        }
        records.append(StateRecord(SNAPSHOT_HEAD, json.dumps(head).encode(), topic=topic))
        return records, (generation, len(state_chunks))

    def _position_of(self, state: LedgerState) -> tuple[int, _Position | None]:
        for number, position in self._positions.items():
            if position.state is state:
                return number, position
        return -1, None

    def committed(
        self,
        number: int,
        after: LedgerState,
        records: Sequence[StateRecord],
        offsets: Sequence[int],
    ) -> LedgerState:
        journal = [
            offset for record, offset in zip(records, offsets, strict=True) if not record.topic
        ]
        self.journaled += len(journal)
        position = self._positions.get(number)
        pending = self._pending.pop(number, None)
        if position is None:
            return after
        if pending is None or pending.after is not after:
            # a batch whose records this log did not make (every record set aside): no facts
            position.state = after
            return after
        if pending.snapshot is not None:
            position.generation, position.state_chunks = pending.snapshot
            position.since_snapshot, position.ids_since = 0, []
        position.state = after
        position.since_snapshot += pending.facts
        position.ids_since.extend(pending.ids)
        if journal:
            position.next_offset = max(journal) + 1
        return after

    def forget(self, number: int) -> None:
        """Drop what is held of partition ``number`` (its next restore reads the snapshot)."""
        self._positions.pop(number, None)
