"""The exactly-once engine's own logic, without a broker: a fake consumer and producer stand in
for aiokafka, so what the engine does with a step that raises, an output too large, a
transaction the broker refuses for its content, and a broker that goes away can be watched
record by record. (The same engine on the real broker: tests/integration/.)"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

import consumers.engine as engine_module
from consumers.engine import (
    EngineSettings,
    ExactlyOnceEngine,
    LogPartition,
    ProcessorRun,
    StateRecord,
    _by_partition_number,
)
from consumers.metrics import GatewayMetrics
from contracts.dead_letter import DeadLetterReason
from gateway.processors.records import InputRecord, OutputRecord
from gateway.processors.step import Outcome, Processed

NOW = datetime(2026, 12, 1, tzinfo=UTC)
TOPIC = "in"
State = tuple[bytes, ...]
"""The fake processor's state: the values it decided, in order."""


def _step(state: State, record: InputRecord, now: datetime) -> Processed[State]:
    value = record.value or b""
    if value.startswith(b"defect"):
        raise ZeroDivisionError("a defect in rule code")
    size = 2_000_000 if value.startswith(b"huge-output") else len(value)
    output = OutputRecord("out", b"k", value.ljust(size, b"."), [], "test.decided")
    return Processed((*state, value), (output,), Outcome.DECIDED, "test.input", changed_state=True)


def _set_aside(
    state: State, record: InputRecord, reason: DeadLetterReason, message: str, now: datetime
) -> Processed[State]:
    letter = OutputRecord("dead", b"k", f"{record.offset}:{message}".encode(), [], "test.dead")
    return Processed(state, (letter,), Outcome.DEAD_LETTER, None, dead_letter_reason=reason)


@dataclass
class _Journal:
    topic: str = "journal"
    restored: int = 0
    kept: list[bytes] = field(default_factory=list)
    """What committed transactions wrote to the journal: restoring folds it again."""

    async def restore(self, number: int, log_partition: LogPartition) -> State:
        self.restored += 1
        return tuple(self.kept)

    def records(
        self, before: State, after: State, consumed: Sequence[tuple[InputRecord, Processed[State]]]
    ) -> list[StateRecord]:
        return [StateRecord(r.key, r.value) for r, result in consumed if result.changed_state]

    def committed(
        self, number: int, after: State, records: Sequence[StateRecord], offsets: Sequence[int]
    ) -> State:
        self.kept.extend(record.value or b"" for record in records)
        return after


@dataclass
class _Sent:
    topic: str
    value: bytes | None


class _Future:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def result(self) -> Any:
        return type("Metadata", (), {"offset": self._offset})()

    def add_done_callback(self, callback: object) -> None:
        pass


@dataclass
class FakeProducer:
    """Records what each committed transaction held; refuses what it is told to."""

    refuse_values_with: bytes | None = None
    """send() refuses these values as too large (an error tied to the content)."""
    fail_values_with: bytes | None = None
    """A commit holding one of these values fails with an error of no known kind."""
    fail_next_commits: int = 0
    hang_next_commits: int = 0
    """A commit that never answers (the broker gone mid-transaction)."""
    committed: list[list[_Sent]] = field(default_factory=list)
    offsets: list[dict[TopicPartition, int]] = field(default_factory=list)
    stopped: bool = False
    _open: list[_Sent] = field(default_factory=list)
    _open_offsets: dict[TopicPartition, int] = field(default_factory=dict)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    async def begin_transaction(self) -> None:
        self._open, self._open_offsets = [], {}

    async def abort_transaction(self) -> None:
        self._open, self._open_offsets = [], {}

    async def commit_transaction(self) -> None:
        if self.hang_next_commits:
            self.hang_next_commits -= 1
            await asyncio.Event().wait()
        if self.fail_next_commits:
            self.fail_next_commits -= 1
            raise KafkaConnectionError("the broker went away")
        cursed = self.fail_values_with
        if cursed and any(s.value and s.value.startswith(cursed) for s in self._open):
            raise RuntimeError("the transaction failed for no known reason")
        self.committed.append(self._open)
        self.offsets.append(self._open_offsets)

    async def send(self, topic: str, *, value: bytes | None, **_: object) -> _Future:
        if self.refuse_values_with and value and value.startswith(self.refuse_values_with):
            raise MessageSizeTooLargeError("refused")
        self._open.append(_Sent(topic, value))
        return _Future(len(self._open))

    async def send_offsets_to_transaction(
        self, offsets: dict[TopicPartition, int], group_id: str
    ) -> None:
        self._open_offsets = dict(offsets)


class FakeConsumer:
    def __init__(self, partitions: Sequence[TopicPartition]) -> None:
        self._assigned = set(partitions)
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.positions: dict[TopicPartition, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return self._assigned

    async def position(self, partition: TopicPartition) -> int:
        return self.positions.get(partition, 0)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def committed(self, partition: TopicPartition) -> int | None:
        return None


def _records(*values: bytes, start: int = 0) -> list[ConsumerRecord]:
    return [
        ConsumerRecord(TOPIC, 0, start + i, 1000 + i, 0, b"k", value, None, 0, 0, [])
        for i, value in enumerate(values)
    ]


@dataclass
class Rig:
    engine: ExactlyOnceEngine[State]
    producers: list[FakeProducer]
    consumer: FakeConsumer
    metrics: GatewayMetrics
    journal: _Journal

    @property
    def producer(self) -> FakeProducer:
        return self.producers[-1]

    def committed_values(self, topic: str) -> list[bytes | None]:
        return [
            sent.value
            for producer in self.producers
            for txn in producer.committed
            for sent in txn
            if sent.topic == topic
        ]


async def _rig(**producer_options: Any) -> Rig:
    producers: list[FakeProducer] = []

    def new_producer(transactional_id: str) -> Any:
        producers.append(FakeProducer(**producer_options))
        return producers[-1]

    metrics = GatewayMetrics()
    journal = _Journal()
    run = ProcessorRun[State](
        name="registry",
        input_topics=(TOPIC,),
        step=_step,
        set_aside=_set_aside,
        state_log=journal,
        count=lambda consumed, state: None,
    )
    settings = EngineSettings(
        bootstrap_servers="127.0.0.1:1",
        topic_prefix="",
        group_id="g",
        transactional_id_prefix="g",
        max_record_bytes=1_048_576,
        backoff_s=(0.0, 0.0),
        transaction_deadline_s=0.2,
    )
    engine = ExactlyOnceEngine(
        run, settings, metrics, clock=lambda: NOW, producer_factory=new_producer
    )
    consumer = FakeConsumer([TopicPartition(TOPIC, 0)])
    engine._consumer = consumer  # type: ignore[assignment]
    await engine._assign({0})
    return Rig(engine, producers, consumer, metrics, journal)


async def test_a_batch_commits_its_outputs_state_and_offsets_in_one_transaction() -> None:
    rig = await _rig()
    await rig.engine._process(0, _records(b"a", b"b", b"c"))
    assert len(rig.producer.committed) == 1
    assert rig.committed_values("out") == [b"a", b"b", b"c"]
    assert rig.committed_values("journal") == [b"a", b"b", b"c"]
    assert rig.producer.offsets == [{TopicPartition(TOPIC, 0): 3}]
    assert rig.engine.state_of(0) == (b"a", b"b", b"c")


async def test_a_step_that_raises_sets_its_record_aside_and_the_batch_goes_on() -> None:
    rig = await _rig()
    await rig.engine._process(0, _records(b"a", b"defect!", b"c"))
    assert rig.committed_values("out") == [b"a", b"c"]
    (letter,) = rig.committed_values("dead")
    assert letter is not None and letter.startswith(b"1:ZeroDivisionError: a defect in rule code")
    assert rig.engine.state_of(0) == (b"a", b"c")
    defects = rig.metrics.step_defects.labels(processor="registry")._value.get()
    assert defects == 1


async def test_an_output_over_the_record_limit_sets_its_record_aside() -> None:
    rig = await _rig()
    await rig.engine._process(0, _records(b"a", b"huge-output", b"c"))
    assert rig.committed_values("out") == [b"a", b"c"]
    (letter,) = rig.committed_values("dead")
    assert letter is not None and b"does not fit the record limit of 1048576" in letter
    assert rig.engine.state_of(0) == (b"a", b"c")


async def test_a_transaction_refused_for_its_content_is_bisected_to_the_one_bad_record() -> None:
    rig = await _rig(refuse_values_with=b"bad")
    values = [b"r0", b"r1", b"r2", b"bad", b"r4", b"r5", b"r6"]
    await rig.engine._process(0, _records(*values))
    assert rig.committed_values("out") == [v for v in values if v != b"bad"]
    (letter,) = rig.committed_values("dead")
    assert letter is not None and letter.startswith(b"3:the broker refused it")
    assert rig.engine.state_of(0) == tuple(v for v in values if v != b"bad")
    assert rig.producer.offsets[-1] == {TopicPartition(TOPIC, 0): 7}
    committed_offsets = [o[TopicPartition(TOPIC, 0)] for o in rig.producer.offsets]
    assert committed_offsets == sorted(committed_offsets)


async def test_a_broker_failure_drops_the_partition_rewinds_and_acquires_it_again() -> None:
    rig = await _rig()
    first = rig.producer
    first.fail_next_commits = 1
    batch = _records(b"a", b"b", start=10)
    await rig.engine._process(0, batch)
    assert first.stopped and first.committed == []
    assert rig.consumer.seeks[-1] == (TopicPartition(TOPIC, 0), 10)
    assert not rig.engine.ready  # no state while the partition is being acquired again
    await rig.engine._process(0, batch)  # acquires again and goes back to the committed position
    assert len(rig.producers) == 2 and rig.journal.restored == 2
    await rig.engine._process(0, batch)
    assert rig.committed_values("out") == [b"a", b"b"]
    assert rig.engine.ready and rig.engine.state_of(0) == (b"a", b"b")


async def test_a_record_whose_transaction_keeps_failing_is_found_and_set_aside() -> None:
    rig = await _rig(fail_values_with=b"cursed")
    values = [b"a", b"cursed", b"c", b"d"]
    committed, polls = 0, 0
    while committed < len(values) and polls < 50:  # the consumer reads on from the commit
        polls += 1
        await rig.engine._process(0, _records(*values[committed:], start=committed))
        offsets = [o[TopicPartition(TOPIC, 0)] for p in rig.producers for o in p.offsets]
        committed = max(offsets, default=0)
    assert committed == len(values), f"stuck at offset {committed} after {polls} polls"
    assert rig.committed_values("out") == [b"a", b"c", b"d"]
    (letter,) = rig.committed_values("dead")
    assert letter is not None and letter.startswith(b"1:it keeps failing: RuntimeError")
    assert rig.engine.state_of(0) == (b"a", b"c", b"d")


async def test_a_commit_that_never_answers_gives_up_the_producer_and_reads_again() -> None:
    rig = await _rig()
    first = rig.producer
    first.hang_next_commits = 1
    batch = _records(b"a", b"b", start=5)
    await rig.engine._process(0, batch)  # bounded by transaction_deadline_s, not forever
    assert first.stopped and first.committed == []
    assert rig.consumer.seeks[-1] == (TopicPartition(TOPIC, 0), 5)
    await rig.engine._process(0, batch)  # a new producer (it fences the old one)
    await rig.engine._process(0, batch)
    assert len(rig.producers) == 2
    assert rig.committed_values("out") == [b"a", b"b"]


def test_a_partition_keeps_its_order_whatever_its_timestamps_and_topics_merge_by_time() -> None:
    def record(topic: str, offset: int, timestamp: int) -> ConsumerRecord:
        return ConsumerRecord(topic, 2, offset, timestamp, 0, b"k", b"v", None, 0, 0, [])

    lots = [record("lots", 0, 500), record("lots", 1, 100), record("lots", 2, 600)]
    ecoas = [record("ecoas", 7, 50), record("ecoas", 8, 550)]
    merged = _by_partition_number(
        {TopicPartition("lots", 2): lots, TopicPartition("ecoas", 2): ecoas}
    )[2]
    assert [r.offset for r in merged if r.topic == "lots"] == [0, 1, 2]
    assert [r.offset for r in merged if r.topic == "ecoas"] == [7, 8]
    assert [(r.topic, r.offset) for r in merged] == [
        ("ecoas", 7),
        ("lots", 0),
        ("lots", 1),
        ("ecoas", 8),
        ("lots", 2),
    ]


def test_the_backoff_grows_and_is_capped() -> None:
    engine = ExactlyOnceEngine[State](
        ProcessorRun("x", (TOPIC,), _step, _set_aside, _Journal(), lambda c, s: None),
        EngineSettings("b:1", "", "g", "g", backoff_s=(0.2, 5.0)),
        GatewayMetrics(),
        clock=lambda: NOW,
    )
    assert [engine._backoff(n) for n in (1, 2, 3, 10)] == [0.2, 0.4, 0.8, 5.0]


@pytest.fixture(autouse=True)
def _no_real_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep = asyncio.sleep

    async def short(delay: float, *args: Any) -> Any:
        return await real_sleep(0, *args)

    monkeypatch.setattr(asyncio, "sleep", short)


async def test_records_fetched_while_a_batch_is_in_flight_go_with_it_when_it_is_read_again() -> (
    None
):
    """Each partition number has a worker; what is fetched meanwhile waits for it. When the
    batch in flight fails and is read again, what waited is dropped too (it is fetched again
    after the seek), so nothing is decided twice or out of order."""
    rig = await _rig(hang_next_commits=1)
    rig.engine._queued[0] = _records(b"a", b"b")
    rig.engine._start_workers()
    await asyncio.sleep(0.05)  # the first batch's transaction hangs
    rig.engine._queued.setdefault(0, []).extend(_records(b"c", b"d", start=2))
    rig.engine._start_workers()  # the number's worker is busy: the records wait
    assert len(rig.engine._workers) == 1
    await asyncio.wait_for(asyncio.gather(*rig.engine._workers.values()), timeout=5)
    assert (TopicPartition(TOPIC, 0), 0) in rig.consumer.seeks
    assert not rig.engine._queued.get(0)
    assert len(rig.producers) == 1  # c and d were not taken up (they come again after the seek)
    assert rig.committed_values("out") == []


async def test_a_worker_takes_at_most_the_transaction_limit_at_once_and_the_rest_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backlog is not one transaction: a rebalance waits for the batch in flight, and its
    outputs are committed only at its end. Each transaction commits the offsets of its own
    records, not the consumer's position, which is past the records still waiting (only
    the last may go on to the position, past a commit marker)."""
    monkeypatch.setattr(engine_module, "TRANSACTION_RECORDS_LIMIT", 2)
    rig = await _rig()
    rig.consumer.positions[TopicPartition(TOPIC, 0)] = 6  # a commit marker at offset 5
    rig.engine._queued[0] = _records(b"a", b"b", b"c", b"d", b"e")
    rig.engine._start_workers()
    await asyncio.wait_for(asyncio.gather(*rig.engine._workers.values()), timeout=5)
    assert len(rig.producer.committed) == 3
    assert [o[TopicPartition(TOPIC, 0)] for o in rig.producer.offsets] == [2, 4, 6]
    assert rig.engine.state_of(0) == (b"a", b"b", b"c", b"d", b"e")
    assert not rig.engine._queued.get(0)


async def test_a_worker_takes_everything_that_waited_as_one_batch_in_offset_order() -> None:
    rig = await _rig()
    rig.engine._queued[0] = [*_records(b"a", b"b"), *_records(b"c", start=2)]
    rig.engine._start_workers()
    await asyncio.wait_for(asyncio.gather(*rig.engine._workers.values()), timeout=5)
    assert len(rig.producer.committed) == 1
    assert rig.engine.state_of(0) == (b"a", b"b", b"c")
