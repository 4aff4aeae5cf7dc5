"""The exactly-once engine: the one place in the gateway that drives Kafka transactions.

Every processor (the registry, the ledger) is a pure step, a state log and an ownership rule;
this engine runs it:

    poll -> fold the step over the batch -> one transaction (outputs, state records, consumed
    offsets) -> swap in the new state.

Ownership: the group uses the range assignor, so partition ``p`` of every input topic goes
to one instance, which holds ``p``'s state and a transactional producer with the id
``<transactional id prefix>-<p>``. Starting that producer fences any older owner and aborts
its open transaction, so the state log read next is complete. Readers use read_committed.

Nothing a record holds can stop a partition:
- the step is guarded: a record whose step raises is set aside as a dead letter (a defect is
  counted and logged with the record's coordinates), and the batch goes on;
- every output and state record is checked against the record size limit before the
  transaction; a record whose outputs do not fit is set aside the same way;
- if a transaction still fails for a reason tied to its content, the batch is cut in halves
  until the one record at fault is found, which is set aside; the rest commits;
- any other failure (the broker gone, a fenced or timed-out producer) drops the producer
  and the state; the partition is acquired again (new producer, state restored from its
  log) with backoff, and its records are read again from the committed position.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)

from consumers.batches import first_offsets, input_record, next_offsets, report_lag
from consumers.kafka_access import Broker, client_options
from consumers.metrics import GatewayMetrics
from consumers.record_reader import committed_chunks, committed_records
from contracts.dead_letter import DeadLetterReason
from gateway.processors.records import InputRecord, OutputRecord, record_bytes, record_size
from gateway.processors.step import Processed, SetAside, Step

StateT = TypeVar("StateT")

log = structlog.get_logger("custody_gateway.engine")

CONTENT_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    UnsupportedForMessageFormatError,
    InvalidTopicError,
)
"""Failures caused by what a transaction carries: retrying the same records cannot help."""

SAME_BATCH_ATTEMPTS = 3
QUEUED_RECORDS_LIMIT = 20_000
"""Records fetched for one partition number and not yet taken by its worker, beyond which its
partitions stop fetching until the worker catches up."""
TRANSACTION_RECORDS_LIMIT = 500
"""Records one transaction takes at most; the rest wait for the next. A batch in flight is
what a rebalance waits for, and its outputs are committed only at its end: a backlog taken
whole would hold a partition's hand-over and its first answers for seconds."""
ABORT_DEADLINE_S = 5.0
LAG_REPORT_DEADLINE_S = 10.0

RECORD_OVERHEAD_BYTES = 128


class TransactionTimedOut(TimeoutError):
    """A transaction call did not answer in time: fatal for that producer (KIP-890 is not
    implemented by aiokafka, so it cannot tell whether the broker still has it open)."""


"""Room kept under the limit for the record batch around a record."""


@dataclass(frozen=True)
class StateRecord:
    """One record of a state log: key and value (None deletes the key in a compacted log)."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    topic: str | None = None
    """Another catalogue topic of the state log's (its partition ``p`` too), e.g. snapshots;
    None: the log's own topic."""


class StateLog(Protocol[StateT]):
    """How a processor keeps its state on Kafka, and rebuilds it."""

    topic: str
    """The catalogue name of the log topic (partition p holds p's state)."""

    async def restore(self, number: int, log_partition: LogPartition) -> StateT: ...

    def records(
        self,
        before: StateT,
        after: StateT,
        consumed: Sequence[tuple[InputRecord, Processed[StateT]]],
    ) -> list[StateRecord]: ...

    def committed(
        self, number: int, after: StateT, records: Sequence[StateRecord], offsets: Sequence[int]
    ) -> StateT:
        """The batch that led to ``after`` committed, its state records at ``offsets``:
        returns the state to hold from now on (``after``, or an equal one rebased on what
        the log's local copy now holds)."""
        ...


class Counting(Protocol[StateT]):
    def __call__(
        self, consumed: Sequence[tuple[InputRecord, Processed[StateT]]], state: StateT
    ) -> None: ...


@dataclass(frozen=True)
class ProcessorRun(Generic[StateT]):
    """Everything the engine needs of one processor."""

    name: str
    input_topics: tuple[str, ...]
    step: Step[StateT]
    set_aside: SetAside[StateT]
    state_log: StateLog[StateT]
    count: Counting[StateT]


@dataclass(frozen=True)
class EngineSettings:
    bootstrap_servers: Broker
    topic_prefix: str
    group_id: str
    transactional_id_prefix: str
    instance_id: str | None = None
    """Static group membership: a restarted instance with the same id gets its partitions
    back at once, without waiting for the old member's session to expire."""
    max_batch: int | None = None
    """Records handed out per poll; None hands out whole fetches, so records of different
    topics fetched together are decided in timestamp order."""
    max_record_bytes: int = 1_048_576
    session_timeout_ms: int = 10_000
    retry_backoff_ms: int = 10
    """The transactional producers' backoff: right after a commit the next offsets call is
    often refused once ("concurrent transactions"); 100 ms (aiokafka's default) doubles p50."""
    request_timeout_ms: int = 15_000
    transaction_deadline_s: float = 20.0
    """Longest a batch's transaction may take before its producer is given up."""
    backoff_s: tuple[float, float] = (0.2, 5.0)
    """First and longest wait between attempts to acquire a partition again."""
    decision_log_level: str = "info"
    """The level each record's outcome is logged at ("debug" keeps them out of info logs)."""


class LogPartition:
    """One partition of a state log, read to its end at the moment of reading (read_committed)."""

    def __init__(
        self,
        bootstrap_servers: Broker,
        partition: TopicPartition,
        max_record_bytes: int,
        topic_prefix: str = "",
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._max_record_bytes = max_record_bytes
        self._topic_prefix = topic_prefix
        self.partition = partition
        self.end_offset = 0

    def sibling(self, topic: str) -> LogPartition:
        """The same partition number of another catalogue topic (a state log kept on two)."""
        return LogPartition(
            self._bootstrap_servers,
            TopicPartition(self._topic_prefix + topic, self.partition.partition),
            self._max_record_bytes,
            self._topic_prefix,
        )

    async def read(self, start: int) -> list[ConsumerRecord]:
        """Every record from ``start`` to the end offset (also set on ``end_offset``)."""
        read = await committed_records(
            self._bootstrap_servers,
            {self.partition: start},
            timeout_s=None,
            max_record_bytes=self._max_record_bytes,
        )
        self.end_offset = read.ends[self.partition]
        return read.records

    async def chunks(self, start: int) -> AsyncIterator[list[ConsumerRecord]]:
        """``read`` as fetched, a run of records at a time; ``end_offset`` is set before the
        first run."""
        ends: dict[TopicPartition, int] = {}
        async for chunk in committed_chunks(
            self._bootstrap_servers,
            {self.partition: start},
            ends=ends,
            timeout_s=None,
            max_record_bytes=self._max_record_bytes,
        ):
            self.end_offset = ends[self.partition]
            yield chunk
        self.end_offset = ends[self.partition]


@dataclass
class _Held(Generic[StateT]):
    """What this instance holds for one partition number."""

    number: int
    producer: AIOKafkaProducer | None = None
    state: StateT | None = None
    failures: int = 0
    retry_at: float = 0.0
    failing_from: tuple[str, int, int] | None = None
    """The first record (topic, partition, offset) of the batches that failed in a row."""
    failing_attempts: int = 0
    """How often batches starting at the same record failed in a row: from
    ``SAME_BATCH_ATTEMPTS`` on, the failure is taken to be the records' own."""


@dataclass
class _Plan(Generic[StateT]):
    """A batch folded through the step: what one transaction will carry."""

    consumed: list[tuple[InputRecord, Processed[StateT]]] = field(default_factory=list)
    state_records: list[StateRecord] = field(default_factory=list)
    after: StateT | None = None


class ExactlyOnceEngine(Generic[StateT]):
    def __init__(
        self,
        processor: ProcessorRun[StateT],
        settings: EngineSettings,
        metrics: GatewayMetrics,
        clock: Callable[[], datetime],
        *,
        producer_factory: Callable[[str], AIOKafkaProducer] | None = None,
    ) -> None:
        """``producer_factory`` (transactional id -> an unstarted producer) replaces the
        transactional producers, for tests of the engine's own logic."""
        self._processor = processor
        self._producer_factory = producer_factory or self._transactional_producer
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._held: dict[int, _Held[StateT]] = {}
        self._queued: dict[int, list[ConsumerRecord]] = {}
        """Per partition number: records fetched, waiting for its worker."""
        self._workers: dict[int, asyncio.Future[None]] = {}
        self._paused: set[int] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._assigned = False
        self._lag_report: asyncio.Future[None] | None = None
        self._log = log.bind(processor=processor.name)
        metrics.expect_dead_letters_from(
            (settings.topic_prefix + topic for topic in processor.input_topics),
            (reason.value for reason in DeadLetterReason),
        )

    # ---- what others may ask ---------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._processor.name

    @property
    def group_id(self) -> str:
        return self._settings.group_id

    @property
    def ready(self) -> bool:
        """Joined the group, and every assigned partition's state restored."""
        return self._assigned and all(held.state is not None for held in self._held.values())

    @property
    def owned_partitions(self) -> tuple[int, ...]:
        return tuple(sorted(self._held))

    def state_of(self, number: int) -> StateT:
        held = self._held.get(number)
        if held is None or held.state is None:
            raise LookupError(f"{self.name}: this instance does not hold partition {number}")
        return held.state

    async def report_lag(self) -> None:
        """``custody_gateway_consumer_lag_messages`` for every partition held now."""
        if self._consumer is not None:
            await report_lag(self._consumer, self._metrics, self._settings.topic_prefix, self.name)

    async def _report_lag_quietly(self) -> None:
        try:
            await asyncio.wait_for(self.report_lag(), timeout=LAG_REPORT_DEADLINE_S)
        except Exception as error:
            self._log.debug("lag_not_reported", error=_describe(error))

    # ---- running ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop``; an unreachable broker is waited for, never fatal."""
        attempt = 0
        while not stop.is_set():
            try:
                await self._consume(stop)
                attempt = 0
            except asyncio.CancelledError as error:
                if _being_cancelled():
                    raise
                # aiokafka lets a cancellation of its own escape when the broker is gone
                attempt += 1
                logger = self._log.warning if attempt == 1 else self._log.debug
                logger("consumer_waiting_for_broker", error=_describe(error), attempt=attempt)
                await _wait(stop, self._backoff(attempt))
            except Exception as error:  # the broker is gone or refused us: wait, then again
                attempt += 1
                logger = self._log.warning if attempt == 1 else self._log.debug
                logger("consumer_waiting_for_broker", error=_describe(error), attempt=attempt)
                await _wait(stop, self._backoff(attempt))

    async def _consume(self, stop: asyncio.Event) -> None:
        settings = self._settings
        consumer = AIOKafkaConsumer(
            **client_options(settings.bootstrap_servers),
            group_id=settings.group_id,
            group_instance_id=settings.instance_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_poll_records=settings.max_batch,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=max(settings.session_timeout_ms // 5, 100),
            max_partition_fetch_bytes=max(1_048_576, settings.max_record_bytes * 2),
            fetch_max_bytes=max(52_428_800, settings.max_record_bytes * 4),
        )
        try:
            if not await _unless_stopped(consumer.start(), stop):
                return
            self._log.info("consumer_started", group=settings.group_id)
            self._consumer = consumer
            consumer.subscribe(
                topics=[settings.topic_prefix + topic for topic in self._processor.input_topics],
                listener=_Rebalance(self),
            )
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                # Partition numbers share nothing (own state, own producer): each has a
                # worker, so one partition's transaction never holds up the next poll or
                # another partition's batch.
                for number, records in _by_partition_number(batches).items():
                    self._queued.setdefault(number, []).extend(records)
                self._start_workers()
        finally:
            await self._finish_workers()
            self._consumer = None
            self._assigned = False
            await _quietly(consumer.stop(), timeout_s=10)
            await self._release(list(self._held))
            # No consumer, no lag known: the series go rather than stay at a stale value.
            self._metrics.set_lag(self.name, {})

    # ---- one worker per partition number ---------------------------------------------------

    def _start_workers(self) -> None:
        """A worker for every number with records waiting; a worker that failed fails the
        consumer (which starts again). A number with too much waiting stops fetching."""
        for number, task in list(self._workers.items()):
            if task.done():
                del self._workers[number]
                task.result()
        consumer = self._consumer
        for number, waiting in self._queued.items():
            if waiting and number not in self._workers:
                self._workers[number] = asyncio.ensure_future(self._work(number))
            if consumer is not None and len(waiting) >= QUEUED_RECORDS_LIMIT:
                self._pause(consumer, number)

    async def _work(self, number: int) -> None:
        while True:
            records = self._queued.pop(number, None)
            if not records:
                return
            batch = _in_fetch_order(number, records)
            if len(batch) > TRANSACTION_RECORDS_LIMIT:
                # Each topic partition's records stay in offset order, the rest first.
                batch, self._queued[number] = (
                    batch[:TRANSACTION_RECORDS_LIMIT],
                    batch[TRANSACTION_RECORDS_LIMIT:],
                )
            waiting = len(self._queued.get(number, ()))
            if (
                self._consumer is not None
                and number in self._paused
                and waiting < QUEUED_RECORDS_LIMIT
            ):
                self._paused.discard(number)
                self._consumer.resume(*self._partitions_of(self._consumer, number))
            await self._process(number, batch)

    def _pause(self, consumer: AIOKafkaConsumer, number: int) -> None:
        if number not in self._paused:
            self._paused.add(number)
            consumer.pause(*self._partitions_of(consumer, number))

    @staticmethod
    def _partitions_of(consumer: AIOKafkaConsumer, number: int) -> list[TopicPartition]:
        return [tp for tp in consumer.assignment() if tp.partition == number]

    async def _finish_workers(self) -> None:
        """Let every batch in flight end (its transaction commits or fails); what waits is
        dropped, to be read again from the committed position."""
        self._queued.clear()
        self._paused.clear()
        workers, self._workers = list(self._workers.values()), {}
        await asyncio.gather(*workers, return_exceptions=True)

    # ---- partitions coming and going -------------------------------------------------------

    async def _assign(self, numbers: set[int]) -> None:
        await self._release([number for number in self._held if number not in numbers])
        for number in numbers:
            self._held.setdefault(number, _Held(number))
        # Partitions restore side by side; one that fails is retried when its records come.
        await asyncio.gather(*(self._acquire(self._held[number]) for number in sorted(numbers)))
        self._assigned = True

    async def _acquire(self, held: _Held[StateT]) -> bool:
        """A producer and the restored state for ``held``; False (and a later retry) if the
        broker refused."""
        if held.producer is not None and held.state is not None:
            return True
        settings = self._settings
        producer = self._producer_factory(f"{settings.transactional_id_prefix}-{held.number}")
        began = time.perf_counter()
        try:
            await producer.start()
            log_partition = LogPartition(
                settings.bootstrap_servers,
                TopicPartition(
                    settings.topic_prefix + self._processor.state_log.topic, held.number
                ),
                settings.max_record_bytes,
                settings.topic_prefix,
            )
            state = await self._processor.state_log.restore(held.number, log_partition)
        except Exception as error:
            await _quietly(producer.stop(), timeout_s=5)
            self._failed(held, "acquire_failed", error)
            return False
        held.producer, held.state, held.failures = producer, state, 0
        self._log.info(
            "partition_acquired",
            partition=held.number,
            restore_seconds=round(time.perf_counter() - began, 3),
        )
        return True

    def _transactional_producer(self, transactional_id: str) -> AIOKafkaProducer:
        settings = self._settings
        return AIOKafkaProducer(
            **client_options(settings.bootstrap_servers),
            transactional_id=transactional_id,
            enable_idempotence=True,
            retry_backoff_ms=settings.retry_backoff_ms,
            request_timeout_ms=settings.request_timeout_ms,
            max_request_size=settings.max_record_bytes,
            # One batch per partition fills before its send waits for the one before it to
            # be drained: at aiokafka's 16 KiB a transaction of a few hundred records waited
            # for a round trip per 16 KiB.
            max_batch_size=settings.max_record_bytes,
        )

    async def _release(self, numbers: Iterable[int]) -> None:
        released = [self._held.pop(number) for number in list(numbers) if number in self._held]
        for held in released:
            self._queued.pop(held.number, None)
        await asyncio.gather(*(self._drop(held) for held in released))
        for held in released:
            self._log.info("partition_released", partition=held.number)

    async def _drop(self, held: _Held[StateT]) -> None:
        """Forget the producer and the state: the next records acquire them again."""
        producer, held.producer, held.state = held.producer, None, None
        if producer is not None:
            await _quietly(producer.stop(), timeout_s=5)

    def _failed(self, held: _Held[StateT], event: str, error: BaseException) -> None:
        held.failures += 1
        held.retry_at = time.monotonic() + self._backoff(held.failures)
        logger = self._log.warning if held.failures == 1 else self._log.debug
        logger(event, partition=held.number, error=_describe(error), attempt=held.failures)

    def _backoff(self, attempt: int) -> float:
        first, longest = self._settings.backoff_s
        return float(min(longest, first * 2 ** max(attempt - 1, 0)))

    # ---- one batch -------------------------------------------------------------------------

    async def _process(self, number: int, records: Sequence[ConsumerRecord]) -> None:
        held = self._held.get(number)
        if held is None:
            # Not assigned here (any more): never drop records; read them again if it comes.
            self._rewind(records)
            await asyncio.sleep(0.1)
            return
        if held.producer is None or held.state is None:
            wait = held.retry_at - time.monotonic()
            if wait > 0 or not await self._acquire(held):
                self._rewind(records)
                await asyncio.sleep(min(max(wait, 0.05), 0.2))
                return
            # The records were fetched before the state was restored: the committed position
            # is where to go on from.
            await self._rewind_to_committed(records)
            return
        consumer = self._consumer
        waiting = _partitions_waiting(records, self._queued.get(number, ()))
        final_offsets = await _offsets_to_commit(consumer, records, waiting)
        await self._commit(held, list(records), final_offsets, time.perf_counter())

    async def _commit(
        self,
        held: _Held[StateT],
        records: list[ConsumerRecord],
        offsets: Mapping[TopicPartition, int],
        began: float,
    ) -> bool:
        """Fold and commit ``records`` (cut in halves if their content makes it fail); False
        if the partition had to be dropped (its records are read again)."""
        plan = self._fold(held, records)
        if self._oversized_state(plan):
            if len(records) > 1:
                return await self._commit_in_halves(held, records, offsets, began)
            plan = self._set_aside_all(held, records, "its state change does not fit a record")
        try:
            written = await self._transact(held, plan, offsets)
        except CONTENT_ERRORS as error:
            self._transaction_ended("aborted")
            return await self._commit_smaller(
                held,
                records,
                offsets,
                began,
                "batch_refused_bisecting",
                error,
                why=f"the broker refused it: {_describe(error)}",
            )
        except Exception as error:
            if not self._same_batch_keeps_failing(held, records):
                return await self._abandon(held, records, error)
            self._transaction_ended("failed")
            await self._drop(held)
            if not await self._acquire(held):
                self._rewind(records)
                return False
            return await self._commit_smaller(
                held,
                records,
                offsets,
                began,
                "batch_keeps_failing_bisecting",
                error,
                why=f"it keeps failing: {_describe(error)}",
            )
        self._committed(held, plan, written, began)
        return True

    async def _commit_smaller(
        self,
        held: _Held[StateT],
        records: list[ConsumerRecord],
        offsets: Mapping[TopicPartition, int],
        began: float,
        event: str,
        error: BaseException,
        *,
        why: str,
    ) -> bool:
        """After a failure taken to be the records' own: a batch of several is cut in halves,
        a single record is set aside (``why``) and its dead letter committed."""
        self._log.warning(
            event, partition=held.number, records=len(records), error=_describe(error)
        )
        if len(records) > 1:
            return await self._commit_in_halves(held, records, offsets, began)
        plan = self._set_aside_all(held, records, why)
        try:
            written = await self._transact(held, plan, offsets)
        except Exception as again:
            return await self._abandon(held, records, again)
        self._committed(held, plan, written, began)
        return True

    def _committed(
        self, held: _Held[StateT], plan: _Plan[StateT], written: Sequence[int], began: float
    ) -> None:
        """Swap in the state the transaction committed, and say so."""
        assert plan.after is not None
        held.state = self._processor.state_log.committed(
            held.number, plan.after, plan.state_records, written
        )
        held.failures = 0
        self._count(plan, began)

    def _same_batch_keeps_failing(
        self, held: _Held[StateT], records: Sequence[ConsumerRecord]
    ) -> bool:
        """Count failures of batches starting at the same record (its halves included)."""
        first = records[0]
        start = (first.topic, first.partition, first.offset)
        if start != held.failing_from:
            held.failing_from, held.failing_attempts = start, 0
        held.failing_attempts += 1
        return held.failing_attempts >= SAME_BATCH_ATTEMPTS

    async def _commit_in_halves(
        self,
        held: _Held[StateT],
        records: list[ConsumerRecord],
        offsets: Mapping[TopicPartition, int],
        began: float,
    ) -> bool:
        middle = len(records) // 2
        first, second = records[:middle], records[middle:]
        if not await self._commit(held, first, next_offsets(first), began):
            return False
        return await self._commit(held, second, offsets, began)

    async def _abandon(
        self, held: _Held[StateT], records: Sequence[ConsumerRecord], error: BaseException
    ) -> bool:
        """A failure not tied to the records: drop the producer and the state, read again."""
        self._transaction_ended("failed")
        self._failed(held, "transaction_failed", error)
        await self._drop(held)
        self._rewind(records)
        return False

    def _fold(self, held: _Held[StateT], records: Sequence[ConsumerRecord]) -> _Plan[StateT]:
        assert held.state is not None
        before = state = held.state
        now = self._clock()
        prefix = self._settings.topic_prefix
        plan: _Plan[StateT] = _Plan()
        for consumed in records:
            record = input_record(consumed, prefix)
            result = self._guarded_step(state, record, now)
            plan.consumed.append((record, result))
            state = result.state
        plan.after = state
        plan.state_records = self._processor.state_log.records(before, state, plan.consumed)
        return plan

    def _guarded_step(self, state: StateT, record: InputRecord, now: datetime) -> Processed[StateT]:
        processor = self._processor
        try:
            result = processor.step(state, record, now)
        except Exception as error:  # a defect in rule code must not stop the partition
            self._metrics.step_defects.labels(processor=processor.name).inc()
            self._log.error(
                "step_defect",
                source=_where(record),
                error=_describe(error),
                exc_info=True,
            )
            return processor.set_aside(
                state, record, DeadLetterReason.PROCESSING_ERROR, _describe(error), now
            )
        too_large = [out for out in result.outputs if not self._fits(out)]
        if not too_large:
            return result
        sizes = ", ".join(f"{out.message_type} {record_size(out)} bytes" for out in too_large)
        message = (
            f"an output does not fit the record limit of {self._settings.max_record_bytes} "
            f"bytes: {sizes}"
        )
        self._log.warning("output_too_large", source=_where(record), outputs=sizes)
        return processor.set_aside(state, record, DeadLetterReason.PROCESSING_ERROR, message, now)

    def _set_aside_all(
        self, held: _Held[StateT], records: Sequence[ConsumerRecord], why: str
    ) -> _Plan[StateT]:
        """The plan setting every record aside (used for a batch of one that cannot commit)."""
        assert held.state is not None
        state = held.state
        now = self._clock()
        plan: _Plan[StateT] = _Plan(after=state)
        for consumed in records:
            record = input_record(consumed, self._settings.topic_prefix)
            self._log.warning("record_set_aside", source=_where(record), why=why)
            result = self._processor.set_aside(
                state, record, DeadLetterReason.PROCESSING_ERROR, why, now
            )
            plan.consumed.append((record, result))
        return plan

    def _fits(self, output: OutputRecord) -> bool:
        return record_size(output) + RECORD_OVERHEAD_BYTES <= self._settings.max_record_bytes

    def _oversized_state(self, plan: _Plan[StateT]) -> bool:
        limit = self._settings.max_record_bytes - RECORD_OVERHEAD_BYTES
        return any(
            record_bytes(record.key, record.value, record.headers) > limit
            for record in plan.state_records
        )

    async def _transact(
        self, held: _Held[StateT], plan: _Plan[StateT], offsets: Mapping[TopicPartition, int]
    ) -> list[int]:
        """One transaction: the outputs, the state records and the offsets, within
        ``transaction_deadline_s``. Returns the offsets the state records were written at.

        A failed or timed-out transaction is not aborted here: during an outage the abort
        would wait as long as the commit. The caller drops the producer, and the next one
        (same transactional id) fences it and aborts its open transaction."""
        producer = held.producer
        assert producer is not None
        work = asyncio.ensure_future(self._send_and_commit(producer, held.number, plan, offsets))
        done, _ = await asyncio.wait({work}, timeout=self._settings.transaction_deadline_s)
        if not done:
            work.cancel()
            raise TransactionTimedOut(
                f"the transaction did not end within {self._settings.transaction_deadline_s} s"
            )
        try:
            return work.result()
        except CONTENT_ERRORS as refused:
            # The broker is there and refused the content: end this transaction so that the
            # same producer can carry the smaller ones.
            try:
                await asyncio.wait_for(producer.abort_transaction(), timeout=ABORT_DEADLINE_S)
            except Exception as error:
                raise TransactionTimedOut(f"could not abort after {_describe(refused)}") from error
            raise

    async def _send_and_commit(
        self,
        producer: AIOKafkaProducer,
        number: int,
        plan: _Plan[StateT],
        offsets: Mapping[TopicPartition, int],
    ) -> list[int]:
        prefix = self._settings.topic_prefix
        log_topic = prefix + self._processor.state_log.topic
        await producer.begin_transaction()
        for _record, result in plan.consumed:
            for output in result.outputs:
                sent = await producer.send(
                    prefix + output.topic,
                    value=output.value,
                    key=output.key,
                    headers=output.headers,
                    partition=output.partition,
                )
                sent.add_done_callback(_retrieve)
        state_sends = [
            await producer.send(
                log_topic if record.topic is None else prefix + record.topic,
                value=record.value,
                key=record.key,
                headers=list(record.headers),
                partition=number,
            )
            for record in plan.state_records
        ]
        for sent in state_sends:
            sent.add_done_callback(_retrieve)
        await producer.send_offsets_to_transaction(dict(offsets), self._settings.group_id)
        await producer.commit_transaction()
        return [future.result().offset for future in state_sends]

    # ---- reading again ---------------------------------------------------------------------

    def _with_queued(self, records: Sequence[ConsumerRecord]) -> list[ConsumerRecord]:
        """``records`` and the records fetched after them that wait for the same worker: read
        again, those must be dropped as well."""
        numbers = {record.partition for record in records}
        return [*records, *(r for n in numbers for r in self._queued.pop(n, ()))]

    def _rewind(self, records: Sequence[ConsumerRecord]) -> None:
        records = self._with_queued(records)
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        for partition, first in first_offsets(records).items():
            if partition in assigned:
                consumer.seek(partition, first)

    async def _rewind_to_committed(self, records: Sequence[ConsumerRecord]) -> None:
        records = self._with_queued(records)
        consumer = self._consumer
        if consumer is None:
            return
        try:
            for partition in first_offsets(records):
                committed = await consumer.committed(partition)
                if partition in consumer.assignment():
                    consumer.seek(partition, committed if committed is not None else 0)
        except Exception:
            self._rewind(records)

    # ---- counting --------------------------------------------------------------------------

    def _transaction_ended(self, result: str) -> None:
        self._metrics.child(self._metrics.transactions, self.name, result).inc()

    def _count(self, plan: _Plan[StateT], began: float) -> None:
        metrics = self._metrics
        self._transaction_ended("committed")
        elapsed = time.perf_counter() - began
        committed_ms = time.time() * 1000
        to_commit = metrics.child(metrics.record_to_commit_seconds, self.name)
        for record, result in plan.consumed:
            message_type = result.message_type or "unreadable"
            metrics.child(metrics.messages_in, record.topic, message_type).inc()
            metrics.child(metrics.processing_seconds, message_type).observe(elapsed)
            if record.timestamp_ms is not None:
                to_commit.observe(max(committed_ms - record.timestamp_ms, 0) / 1000)
            if result.dead_letter_reason is not None:
                metrics.dead_letters.labels(
                    source_topic=record.topic, reason=result.dead_letter_reason.value
                ).inc()
            for output in result.outputs:
                metrics.child(metrics.messages_out, output.topic, output.message_type).inc()
            for violation in result.violations:
                metrics.child(metrics.rule_violations, violation.code, violation.rule).inc()
            _log_outcome(self._log, record, result, self._settings.decision_log_level)
        assert plan.after is not None
        self._processor.count(plan.consumed, plan.after)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, engine: ExactlyOnceEngine[StateT]) -> None:
        self._engine = engine

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        """The batches in flight end before the partitions go (their transactions commit
        with the generation that owns them); what waits is read again by the next owner."""
        self._engine._assigned = False
        await self._engine._finish_workers()

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Restore the new partitions before any of their records is handed out: the fetcher
        runs while this listener does, so the partitions stay paused until then."""
        partitions = list(assigned)
        engine = self._engine
        consumer = engine._consumer
        if consumer is not None and partitions:
            consumer.pause(*partitions)
        try:
            await engine._assign({partition.partition for partition in partitions})
        finally:
            if consumer is not None and partitions:
                consumer.resume(*partitions)
        # The lag of the partitions just taken (0 when caught up) is exported now rather than
        # at the next periodic report; off the rebalance's path, which must not wait on it.
        engine._lag_report = asyncio.ensure_future(engine._report_lag_quietly())


def _log_outcome(
    logger: structlog.typing.FilteringBoundLogger,
    record: InputRecord,
    result: Processed[Any],
    level: str = "info",
) -> None:
    """One line per record: where it came from, what it was and what became of it. A dead
    letter is a warning, and names the record's ``ce_id`` even when its body is unreadable."""
    if result.dead_letter_reason is not None:
        logger.warning(
            "dead_letter",
            source=_where(record),
            reason=result.dead_letter_reason.value,
            event_id=result.event_id or _header_text(record, "ce_id"),
            correlation_id=result.correlation_id or _header_text(record, "ce_correlationid"),
        )
        return
    log_at = logger.debug if level == "debug" else logger.info
    log_at(
        "record_decided",
        source=_where(record),
        message_type=result.message_type,
        outcome=result.outcome.value,
        event_id=result.event_id,
        correlation_id=result.correlation_id,
        outputs=[output.message_type for output in result.outputs],
    )


def _retrieve(sent: asyncio.Future[Any]) -> None:
    """A send's failure is the transaction's (its commit raises it): mark it seen, so that
    asyncio does not report it again as never retrieved."""
    if not sent.cancelled():
        sent.exception()


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _header_text(record: InputRecord, name: str) -> str | None:
    """A header's text as far as it reads (a dead letter's record may have broken ones)."""
    value = record.header(name)
    return None if value is None else value[:200].decode("utf-8", "replace")


def _where(record: InputRecord) -> str:
    return f"{record.topic}/{record.partition}/{record.offset}"


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    name = type(error).__name__
    return f"{name}: {text[:500]}" if text else name


def _partitions_waiting(
    batch: Sequence[ConsumerRecord], queued: Sequence[ConsumerRecord]
) -> set[tuple[str, int]]:
    """The batch's topic partitions that still have records queued behind it. The queue may
    hold a whole backlog: the scan stops once every partition of the batch is found."""
    wanted = {(record.topic, record.partition) for record in batch}
    found: set[tuple[str, int]] = set()
    for record in queued:
        where = (record.topic, record.partition)
        if where in wanted and where not in found:
            found.add(where)
            if len(found) == len(wanted):
                break
    return found


async def _offsets_to_commit(
    consumer: AIOKafkaConsumer | None,
    records: Sequence[ConsumerRecord],
    waiting: set[tuple[str, int]],
) -> dict[TopicPartition, int]:
    """One past the last record of each partition in the batch, or the consumer's position
    when it is further and none of that partition's records waits for a later batch: a topic
    written in transactions ends with a commit marker, which is never handed out but which
    the position has passed. Committing past it lets the committed offset reach the topic's
    end (lag 0, "consumed" for whoever waits on it)."""
    offsets = next_offsets(records)
    if consumer is None:
        return offsets
    held = consumer.assignment()
    for partition, offset in offsets.items():
        if partition in held and (partition.topic, partition.partition) not in waiting:
            with contextlib.suppress(Exception):
                offsets[partition] = max(offset, await consumer.position(partition))
    return offsets


def _in_fetch_order(number: int, records: Sequence[ConsumerRecord]) -> list[ConsumerRecord]:
    """Records of several fetches for one number, merged as one fetch would be."""
    runs: dict[TopicPartition, list[ConsumerRecord]] = defaultdict(list)
    for record in records:
        runs[TopicPartition(record.topic, record.partition)].append(record)
    return _by_partition_number(runs)[number]


def _by_partition_number(
    batches: Mapping[TopicPartition, list[ConsumerRecord]],
) -> dict[int, list[ConsumerRecord]]:
    """The fetched records by partition number, the co-partitioned topics' records merged in
    timestamp order. Each topic partition keeps its own (offset) order, whatever its
    timestamps say: producers set a record's timestamp, and it need not grow."""
    grouped: dict[int, list[list[ConsumerRecord]]] = defaultdict(list)
    for partition in sorted(batches, key=lambda tp: (tp.topic, tp.partition)):
        grouped[partition.partition].append(batches[partition])
    return {
        number: list(heapq.merge(*runs, key=lambda record: record.timestamp))
        for number, runs in grouped.items()
    }


async def _unless_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run ``work`` unless ``stop`` comes first (then cancel it); True if it finished."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _quietly(closing: object, *, timeout_s: float) -> None:
    """Close a client without letting its failure (or a hang, during an outage) stop us."""
    assert asyncio.iscoroutine(closing)
    task = asyncio.ensure_future(closing)
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=timeout_s)
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except Exception as error:
        log.debug("close_failed", error=_describe(error))
    if not task.done():
        task.cancel()
