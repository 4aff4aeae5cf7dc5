"""The custody ledger on Kafka: books ``ledger.commands`` exactly once.

How exactly-once holds:
- ``ledger.commands`` has one partition: the ledger's state cannot be split (transfers and
  custody moves span sites and certificates), and one partition gives every command one
  order, the same on every replay;
- one transactional producer (one ``transactional_id``: a new owner fences the old one)
  commits, in one transaction per batch, the batch's decisions and balance updates, the
  commands that changed the state (appended to the journal) and the consumed offsets; every
  reader uses ``read_committed``;
- the journal is the system of record: the state is the fold of the journaled commands
  through the same pure pipeline, so a restarted or new owner replays it and carries on from
  the committed offset. A crash anywhere aborts the open transaction: nothing of the batch is
  seen, and the batch is read again against the state the journal gives.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from consumers.batches import (
    input_record,
    next_offsets,
    offsets_to_commit,
    report_lag,
    seek_to_first,
    send_outputs,
)
from consumers.metrics import GatewayMetrics
from contracts.topics import Consumer, inputs_of, outputs_of, state_topic_of
from gateway.ledger import LedgerState
from gateway.processors.ledger import (
    LedgerOutcome,
    LedgerProcessed,
    LedgerSettings,
    process_ledger_record,
)

(LEDGER_INPUT,) = (spec.name for spec in inputs_of(Consumer.LEDGER))
JOURNAL = state_topic_of(Consumer.LEDGER).name
LEDGER_OUTPUTS: tuple[str, ...] = tuple(spec.name for spec in outputs_of(Consumer.LEDGER))
"""The topics the ledger publishes on (catalogue names, no prefix)."""

log = structlog.get_logger("custody_gateway.ledger")


@dataclass(frozen=True)
class LedgerWorkerSettings:
    bootstrap_servers: str
    topic_prefix: str
    group_id: str
    transactional_id: str
    max_batch: int | None = None


@dataclass
class _Held:
    producer: AIOKafkaProducer
    state: LedgerState
    journaled: int


class LedgerWorker:
    def __init__(
        self,
        settings: LedgerWorkerSettings,
        pipeline: LedgerSettings,
        metrics: GatewayMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._metrics = metrics
        self._clock = clock
        self._held: _Held | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._assigned = False

    @property
    def ready(self) -> bool:
        """Joined the group, and the state restored from the journal."""
        return self._assigned

    @property
    def holds_the_ledger(self) -> bool:
        return self._held is not None

    @property
    def state(self) -> LedgerState:
        if self._held is None:
            raise LookupError("this instance does not hold the ledger (another one does)")
        return self._held.state

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap_servers,
            group_id=self._settings.group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            max_poll_records=self._settings.max_batch,
        )
        self._consumer = consumer
        await consumer.start()
        consumer.subscribe(
            topics=[self._settings.topic_prefix + LEDGER_INPUT], listener=_Rebalance(self)
        )
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    await self._process(records)
        finally:
            await consumer.stop()
            self._consumer = None
            await self._release()

    # ---- holding the ledger -------------------------------------------------------------

    async def _acquire(self) -> None:
        if self._held is not None:
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.bootstrap_servers,
            transactional_id=self._settings.transactional_id,
            enable_idempotence=True,
        )
        # Starting the producer fences any older owner and aborts its open transaction, so
        # the journal read next is complete.
        await producer.start()
        try:
            state, journaled = await self._restore()
        except BaseException:
            await producer.stop()
            raise
        self._held = _Held(producer, state, journaled)
        self._report_state()
        log.info("ledger_acquired", journaled_commands=journaled)

    async def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            await held.producer.stop()
            log.info("ledger_released")

    async def _restore(self) -> tuple[LedgerState, int]:
        """The state: every journaled command, in order, through the same pipeline."""
        journal = TopicPartition(self._settings.topic_prefix + JOURNAL, 0)
        reader = AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap_servers,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await reader.start()
        state = LedgerState()
        count = 0
        now = self._clock()
        try:
            reader.assign([journal])
            end = (await reader.end_offsets([journal]))[journal]
            reader.seek(journal, 0)
            while await reader.position(journal) < end:
                batch = await reader.getmany(journal, timeout_ms=500)
                for record in batch.get(journal, []):
                    replayed = process_ledger_record(
                        state,
                        input_record(record, "", topic=LEDGER_INPUT),
                        now=now,
                        settings=self._pipeline,
                        publish=False,
                    )
                    if not replayed.journaled:
                        log.error("journal_record_did_not_replay", offset=record.offset)
                    state = replayed.state
                    count += 1
        finally:
            await reader.stop()
        return state, count

    # ---- the batch transaction ------------------------------------------------------------

    async def _process(self, records: Sequence[ConsumerRecord]) -> None:
        held = self._held
        if held is None:
            log.warning("ledger_records_while_not_held", records=len(records))
            await self._rewind(records)
            await asyncio.sleep(0.1)
            return
        began = time.perf_counter()
        now = self._clock()
        prefix = self._settings.topic_prefix
        state = held.state
        results: list[LedgerProcessed] = []
        for record in records:
            result = process_ledger_record(
                state, input_record(record, prefix), now=now, settings=self._pipeline
            )
            state = result.state
            results.append(result)
        producer = held.producer
        consumer = self._consumer
        offsets = await offsets_to_commit(consumer, records) if consumer else next_offsets(records)
        try:
            async with producer.transaction():
                for result in results:
                    await send_outputs(producer, prefix, result.outputs)
                for record, result in zip(records, results, strict=True):
                    if result.journaled:
                        await producer.send(
                            prefix + JOURNAL,
                            value=record.value,
                            key=record.key,
                            headers=list(record.headers),
                            partition=0,
                        )
                await producer.send_offsets_to_transaction(offsets, self._settings.group_id)
        except Exception:
            self._metrics.transactions.labels(result="aborted").inc()
            log.exception("ledger_transaction_aborted", records=len(records))
            await self._rewind(records)
            return
        held.state = state
        held.journaled += sum(1 for result in results if result.journaled)
        self._count(records, results, began)

    async def _rewind(self, records: Sequence[ConsumerRecord]) -> None:
        """After an abort: read the batch again, with a fresh producer and the journal's state
        (or let the ledger go if another instance fenced this one)."""
        consumer = self._consumer
        if consumer is None:
            return
        seek_to_first(consumer, records)
        if self._held is not None:
            await self._release()
            await self._acquire()

    def _count(
        self, records: Sequence[ConsumerRecord], results: Sequence[LedgerProcessed], began: float
    ) -> None:
        metrics = self._metrics
        metrics.transactions.labels(result="committed").inc()
        elapsed = time.perf_counter() - began
        for record, result in zip(records, results, strict=True):
            message_type = result.message_type or "unreadable"
            metrics.messages_in.labels(topic=LEDGER_INPUT, message_type=message_type).inc()
            metrics.processing_seconds.labels(message_type=message_type).observe(elapsed)
            metrics.ledger_commands.labels(
                message_type=message_type, outcome=result.outcome.value
            ).inc()
            for output in result.outputs:
                metrics.messages_out.labels(
                    topic=output.topic, message_type=output.message_type
                ).inc()
            for violation in result.violations:
                metrics.rule_violations.labels(code=violation.code, rule=violation.rule).inc()
            if result.dead_letter_reason is not None:
                metrics.dead_letters.labels(
                    source_topic=LEDGER_INPUT, reason=result.dead_letter_reason.value
                ).inc()
            _log_outcome(record, result)
        self._report_state()

    def _report_state(self) -> None:
        held = self._held
        if held is None:
            return
        levels = Counter(account.level.value for account in held.state.balances)
        for level in ("S", "G"):
            self._metrics.ledger_accounts.labels(level=level).set(levels[level])
        self._metrics.ledger_journal_commands.set(held.journaled)

    async def report_lag(self) -> None:
        if self._consumer is not None:
            await report_lag(self._consumer, self._metrics, self._settings.topic_prefix)


def _log_outcome(record: ConsumerRecord, result: LedgerProcessed) -> None:
    where = f"{LEDGER_INPUT}/{record.partition}/{record.offset}"
    if result.outcome is LedgerOutcome.DEAD_LETTER:
        log.warning("dead_letter", source=where, reason=str(result.dead_letter_reason))
    elif result.outcome is LedgerOutcome.REJECTED:
        log.info(
            "ledger_command_rejected",
            source=where,
            message_type=result.message_type,
            codes=[violation.code for violation in result.violations],
            correlation_id=result.correlation_id,
        )
    else:
        log.debug(
            "ledger_command_decided",
            source=where,
            message_type=result.message_type,
            outcome=result.outcome.value,
            correlation_id=result.correlation_id,
        )


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: LedgerWorker) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self._worker._assigned = False

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Restore before any record is handed out: the partition stays paused until then.
        An instance assigned nothing (another holds the ledger) lets the ledger go."""
        partitions = list(assigned)
        worker = self._worker
        consumer = worker._consumer
        if consumer is not None and partitions:
            consumer.pause(*partitions)
        if partitions:
            await worker._acquire()
        else:
            await worker._release()
        if consumer is not None and partitions:
            consumer.resume(*partitions)
        worker._assigned = True
