"""The two kinds of state log the processors keep on Kafka, and how each rebuilds its state.

- The registry's **changelog** (compacted): one record per entity a batch changed. A local
  store (SQLite) is a copy checkpointed at a changelog offset, so a restart reads only the
  changelog's tail; a lost store is rebuilt from the changelog alone.
- The ledger's **journal** (kept forever): every consumed command that changed the state, in
  order. The state is the fold of the journal through the same pure step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from consumers.batches import input_record
from consumers.engine import LogPartition, StateRecord
from consumers.metrics import GatewayMetrics
from consumers.state_store import StateStore
from gateway.ledger import LedgerState
from gateway.processors.ledger import LedgerProcessed
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
