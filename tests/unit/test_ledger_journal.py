"""The ledger's journal and snapshots as a state log, over an in-memory log: facts are
journaled, a snapshot is written every so many facts (the state the batch starts from, at
its journal offset), a new instance restores from the last snapshot and the journal after it,
and the instance that held the partition catches up from the offset it held."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from consumers.engine import StateRecord
from consumers.state_logs import LedgerJournal
from contracts.base import Contract
from gateway.ledger import LedgerState
from gateway.processors.ledger import LedgerProcessed, process_ledger_record
from gateway.processors.records import InputRecord
from tests.unit.test_ledger_pipeline import NOW, SETTINGS, certified_input, record, setup

JOURNAL, SNAPSHOTS = "registry.ledger-journal", "registry.ledger-snapshots"


@dataclass
class Stored:
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class MemoryLog:
    """Topics of one partition number; ``reads`` counts the records each read returned."""

    topics: dict[str, list[Stored]] = field(default_factory=lambda: defaultdict(list))
    reads: list[tuple[str, int]] = field(default_factory=list)

    def append(self, topic: str, key: bytes | None, value: bytes | None) -> int:
        records = self.topics[topic]
        offset = records[-1].offset + 2 if records else 0  # a commit marker after each
        records.append(Stored(offset, key, value))
        return offset

    def partition(self, topic: str) -> MemoryPartition:
        return MemoryPartition(self, topic)


@dataclass
class MemoryPartition:
    log: MemoryLog
    topic: str
    end_offset: int = 0

    async def read(self, start: int) -> list[Any]:
        records = self.log.topics[self.topic]
        self.end_offset = records[-1].offset + 2 if records else 0
        found = [stored for stored in records if stored.offset >= start]
        self.log.reads.append((self.topic, len(found)))
        return found

    def sibling(self, topic: str) -> MemoryPartition:
        return MemoryPartition(self.log, topic)


def commit(
    journal: LedgerJournal,
    log: MemoryLog,
    state: LedgerState,
    bodies: list[tuple[Contract, str]],
    offset: int,
) -> LedgerState:
    """One batch through the pipeline, its state records written and committed."""
    consumed: list[tuple[InputRecord, LedgerProcessed]] = []
    after = state
    for index, (body, sender) in enumerate(bodies):
        rec = record(body, offset + index, sender)
        result = process_ledger_record(after, rec, now=NOW, settings=SETTINGS)
        consumed.append((rec, result))
        after = result.state
    records: list[StateRecord] = journal.records(state, after, consumed)
    offsets = [log.append(r.topic or JOURNAL, r.key, r.value) for r in records]
    return journal.committed(0, after, records, offsets)


def inputs(first: int, count: int) -> list[tuple[Contract, str]]:
    return [(certified_input(f"in-{n}", "10"), "smelter-a") for n in range(first, first + count)]


async def test_a_new_instance_restores_the_last_snapshot_and_the_journal_after_it() -> None:
    log = MemoryLog()
    journal = LedgerJournal(JOURNAL, SNAPSHOTS, snapshot_every=20, chunk_bytes=300)
    state = await journal.restore(0, log.partition(JOURNAL))  # type: ignore[arg-type]
    assert journal.restored_from[0] == "journal"
    state = commit(journal, log, state, setup(), 0)
    for batch in range(6):
        state = commit(journal, log, state, inputs(batch * 10, 10), 100 + batch * 10)
    heads = [s for s in log.topics[SNAPSHOTS] if s.key == b"head"]
    assert len(heads) >= 2, "a snapshot every 20 facts"
    assert len([s for s in log.topics[SNAPSHOTS] if s.key == b"state/0"]) == len(heads)

    elsewhere = LedgerJournal(JOURNAL, SNAPSHOTS)
    log.reads.clear()
    restored = await elsewhere.restore(0, log.partition(JOURNAL))  # type: ignore[arg-type]
    assert restored == state
    assert elsewhere.restored_from[0] == "snapshot"
    ((_, tail),) = [read for read in log.reads if read[0] == JOURNAL]
    assert tail <= 20 < len(log.topics[JOURNAL]), "only the journal after the snapshot is read"

    state = commit(elsewhere, log, restored, inputs(60, 30), 200)
    again = await LedgerJournal(JOURNAL, SNAPSHOTS).restore(0, log.partition(JOURNAL))  # type: ignore[arg-type]
    assert again == state and len(again.applied) == len(setup()) + 90


async def test_the_instance_that_held_the_partition_catches_up_from_the_offset_it_held() -> None:
    log = MemoryLog()
    journal = LedgerJournal(JOURNAL, SNAPSHOTS, snapshot_every=1_000)
    state = await journal.restore(0, log.partition(JOURNAL))  # type: ignore[arg-type]
    state = commit(journal, log, state, [*setup(), *inputs(0, 40)], 0)
    # the producer is dropped; meanwhile another instance books 5 more
    other = LedgerJournal(JOURNAL, SNAPSHOTS)
    theirs = await other.restore(0, log.partition(JOURNAL))  # type: ignore[arg-type]
    theirs = commit(other, log, theirs, inputs(40, 5), 100)
    log.reads.clear()
    caught_up = await journal.restore(0, log.partition(JOURNAL))  # type: ignore[arg-type]
    assert journal.restored_from[0] == "memory"
    assert log.reads == [(JOURNAL, 5)], "only the facts written since"
    assert caught_up == theirs != state


async def test_a_batch_that_never_committed_leaves_no_posting_id_in_the_next_snapshot() -> None:
    log = MemoryLog()
    journal = LedgerJournal(JOURNAL, SNAPSHOTS, snapshot_every=20)
    state = await journal.restore(0, log.partition(JOURNAL))  # type: ignore[arg-type]
    state = commit(journal, log, state, [*setup(), *inputs(0, 5)], 0)  # 14 facts
    # a batch folded, its records made, its transaction failed; then its records set aside
    failed = process_ledger_record(
        state, record(certified_input("lost-1", "10"), 50, "smelter-a"), now=NOW, settings=SETTINGS
    )
    journal.records(
        state, failed.state, [(record(certified_input("lost-1", "10"), 50, "smelter-a"), failed)]
    )
    journal.committed(0, state, [], [])
    state = commit(journal, log, state, inputs(5, 6), 60)
    state = commit(journal, log, state, inputs(11, 1), 70)  # writes the snapshot
    restored = await LedgerJournal(JOURNAL, SNAPSHOTS).restore(0, log.partition(JOURNAL))  # type: ignore[arg-type]
    assert restored == state and "lost-1" not in restored.applied
