"""The two kinds of state log the processors keep on Kafka, and how each rebuilds its state.

- The registry's **changelog** (compacted): one record per entity a batch changed. The
  working store (SQLite) is a copy checkpointed at a changelog offset, read on demand through
  a bounded cache; a restart reads only the changelog's tail, and a lost store is rebuilt
  from the changelog alone by copying bytes.
- The ledger's **journal** (kept forever): every consumed command that changed the state, in
  order. The state is the fold of the journal through the same pure step.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from consumers.batches import input_record
from consumers.engine import LogPartition, StateRecord
from consumers.metrics import GatewayMetrics
from consumers.state_store import StateStore
from gateway.ledger import LedgerState
from gateway.processors.ledger import LedgerProcessed
from gateway.processors.records import InputRecord
from gateway.processors.registry import RegistryProcessed
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
class LedgerJournal:
    """The ledger's journal: the consumed records that changed its state, replayed on start."""

    topic: str
    input_topic: str
    replay: Callable[[LedgerState, InputRecord, datetime], LedgerProcessed]
    """The step without publishing (the journal's outputs were published when written)."""
    clock: Callable[[], datetime]
    journaled: int = 0

    async def restore(self, number: int, log_partition: LogPartition) -> LedgerState:
        state = LedgerState()
        now = self.clock()
        count = 0
        for record in await log_partition.read(0):
            replayed = self.replay(state, input_record(record, "", topic=self.input_topic), now)
            if not replayed.changed_state:
                log.error("journal_record_did_not_replay", offset=record.offset)
            state = replayed.state
            count += 1
        self.journaled = count
        return state

    def records(
        self,
        before: LedgerState,
        after: LedgerState,
        consumed: Sequence[tuple[InputRecord, LedgerProcessed]],
    ) -> list[StateRecord]:
        return [
            StateRecord(record.key, record.value, tuple(record.headers))
            for record, result in consumed
            if result.changed_state
        ]

    def committed(
        self,
        number: int,
        after: LedgerState,
        records: Sequence[StateRecord],
        offsets: Sequence[int],
    ) -> LedgerState:
        self.journaled += len(records)
        return after
