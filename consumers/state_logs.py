"""The two kinds of state log the processors keep on Kafka, and how each rebuilds its state.

- The registry's **changelog** (compacted): one record per entity a batch changed. A local
  store (SQLite) is a copy checkpointed at a changelog offset, so a restart reads only the
  changelog's tail; a lost store is rebuilt from the changelog alone.
- The ledger's **journal** (kept forever): the facts of every decision that changed the state,
  in order, with periodic **snapshots** on a compacted topic. The state is the last snapshot
  with the journal's facts after it applied (no rule runs again).
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import structlog

from consumers.engine import LogPartition, StateRecord
from consumers.metrics import GatewayMetrics
from consumers.state_store import StateStore
from gateway.ledger import Fact, FactKind, LedgerState, apply_facts
from gateway.ledger.codec import FactDecoder, decode_snapshot, encode_chunks, id_items, state_items
from gateway.processors.ledger import FACT_MESSAGE_TYPE, LedgerProcessed
from gateway.processors.records import InputRecord
from gateway.processors.registry import RegistryProcessed
from gateway.registry.entities import changed_entities, state_from_entities
from gateway.registry.state import RegistryState

log = structlog.get_logger("custody_gateway.state_logs")


class RegistryChangelog:
    """Partition p's entities on the compacted changelog, and the local copy of them."""

    def __init__(self, topic: str, store: StateStore, metrics: GatewayMetrics) -> None:
        self.topic = topic
        self._store = store
        self._metrics = metrics

    async def restore(self, number: int, log_partition: LogPartition) -> RegistryState:
        """The local copy, then the changelog from its checkpoint."""
        stored = self._store.load(number)
        entities = dict(stored.entities)
        start = stored.next_changelog_offset
        records = await log_partition.read(start)
        end = log_partition.end_offset
        if start > end:  # the changelog was recreated: the local copy is not of it
            log.warning("local_store_ahead_of_changelog", partition=number, stored=start)
            self._store.forget(number)
            entities, start = {}, 0
            records = await log_partition.read(0)
        read: dict[str, bytes | None] = {}
        for record in records:
            read[record.key.decode("utf-8")] = record.value
        for key, value in read.items():
            if value is None:
                entities.pop(key, None)
            else:
                entities[key] = value
        self._store.apply(number, read, max(end, start))
        self._metrics.restored_entities.labels(partition=str(number)).set(len(entities))
        return state_from_entities(entities)

    def records(
        self,
        before: RegistryState,
        after: RegistryState,
        consumed: Sequence[tuple[InputRecord, RegistryProcessed]],
    ) -> list[StateRecord]:
        return [
            StateRecord(key.encode("utf-8"), value)
            for key, value in changed_entities(before, after).items()
        ]

    def committed(
        self,
        number: int,
        after: RegistryState,
        records: Sequence[StateRecord],
        offsets: Sequence[int],
    ) -> RegistryState:
        if not records:
            return after
        changes = {(record.key or b"").decode("utf-8"): record.value for record in records}
        self._store.apply(number, changes, max(offsets) + 1)
        self._metrics.state_store_bytes.set(self._store.size_bytes())
        return after


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
                if fact.kind is not FactKind.APPLIED:
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
            if result.message_type != FACT_MESSAGE_TYPE
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
