"""The registry on Kafka: consumes the ingest topics and publishes decisions exactly once.

How exactly-once holds:
- every ingest topic is keyed by brand with the same partition count, and the group uses the
  range assignor, so partition ``p`` of every ingest topic goes to one member: a brand's
  lots, eCOAs and forms are decided together, against partition ``p``'s state;
- each partition number has its own transactional producer (``transactional_id`` per ``p``:
  a new owner fences the old one); a batch's outputs, its state changes (changelog) and its
  consumed offsets commit in one transaction, and every reader uses ``read_committed``;
- the changelog (compacted) is the system of record; the local store is a copy checkpointed
  at a changelog offset, so a restart reads only the changelog's tail, and a lost store is
  rebuilt from the changelog alone.
A crash anywhere aborts the open transaction: its outputs are never seen, and the batch is
read again from the committed offsets against the committed state.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from consumers.batches import (
    input_record,
    next_offsets,
    offsets_to_commit,
    report_lag,
    seek_to_first,
    send_outputs,
)
from consumers.metrics import GatewayMetrics
from consumers.state_store import StateStore
from contracts.topics import Consumer, TopicSpec, inputs_of, outputs_of, state_topic_of
from gateway.processors.registry import PipelineSettings, Processed, process_record
from gateway.registry.core import RegistryState
from gateway.registry.entities import changed_entities, state_from_entities

CHANGELOG = state_topic_of(Consumer.REGISTRY).name
INGEST_TOPICS: tuple[TopicSpec, ...] = inputs_of(Consumer.REGISTRY)
OUTPUT_TOPICS: tuple[str, ...] = tuple(spec.name for spec in outputs_of(Consumer.REGISTRY))
"""The topics the registry publishes its outputs on (catalogue names, no prefix)."""
_DECISIONS = {
    "custody.ecoa.accepted": ("ecoa", "accepted"),
    "custody.ecoa.rejected": ("ecoa", "rejected"),
    "custody.cbam-form.accepted": ("cbam_form", "accepted"),
    "custody.cbam-form.rejected": ("cbam_form", "rejected"),
    "custody.warrant.issued": ("warrant", "issued"),
    "custody.warrant.rejected": ("warrant", "rejected"),
    "custody.warrant.pending": ("warrant", "pending"),
    "custody.warrant.cancelled": ("warrant", "cancelled"),
}

log = structlog.get_logger("custody_gateway.registry")


@dataclass(frozen=True)
class WorkerSettings:
    bootstrap_servers: str
    topic_prefix: str
    group_id: str
    transactional_id_prefix: str
    max_batch: int | None = None
    """Records handed out per poll; None hands out whole fetches, so records of different
    topics fetched together are decided in timestamp order."""


@dataclass
class _Partition:
    """What this instance holds for one partition number."""

    number: int
    producer: AIOKafkaProducer
    state: RegistryState
    next_changelog_offset: int


class RegistryWorker:
    def __init__(
        self,
        settings: WorkerSettings,
        pipeline: PipelineSettings,
        store: StateStore,
        metrics: GatewayMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._partitions: dict[int, _Partition] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._assigned = False

    # ---- lifecycle --------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Joined the group, and every assigned partition's state restored."""
        return self._assigned

    @property
    def owned_partitions(self) -> tuple[int, ...]:
        return tuple(sorted(self._partitions))

    def state_of(self, partition: int) -> RegistryState:
        return self._partitions[partition].state

    async def run(self, stop: asyncio.Event) -> None:
        prefix = self._settings.topic_prefix
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap_servers,
            group_id=self._settings.group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_poll_records=self._settings.max_batch,
        )
        self._consumer = consumer
        await consumer.start()
        consumer.subscribe(
            topics=[prefix + spec.name for spec in INGEST_TOPICS],
            listener=_Rebalance(self),
        )
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                # Partitions share nothing (own state, own transactional producer): their
                # transactions run side by side.
                await asyncio.gather(
                    *(
                        self._process(number, records)
                        for number, records in _by_partition_number(batches).items()
                    )
                )
        finally:
            await consumer.stop()
            self._consumer = None
            await self._release(list(self._partitions))

    # ---- partitions coming and going --------------------------------------------------

    async def _acquire(self, numbers: Iterable[int]) -> None:
        for number in numbers:
            if number in self._partitions:
                continue
            producer = AIOKafkaProducer(
                bootstrap_servers=self._settings.bootstrap_servers,
                transactional_id=f"{self._settings.transactional_id_prefix}-{number}",
                enable_idempotence=True,
            )
            # Starting the producer fences any older owner of this partition and aborts its
            # open transaction, so the changelog read next is complete.
            await producer.start()
            state, next_offset = await self._restore(number)
            self._partitions[number] = _Partition(number, producer, state, next_offset)
            log.info("partition_acquired", partition=number, next_changelog_offset=next_offset)

    async def _release(self, numbers: Iterable[int]) -> None:
        for number in list(numbers):
            held = self._partitions.pop(number, None)
            if held is not None:
                await held.producer.stop()
                log.info("partition_released", partition=number)

    async def _restore(self, number: int) -> tuple[RegistryState, int]:
        """The partition's state: the local copy, then the changelog from its checkpoint."""
        stored = self._store.load(number)
        entities = dict(stored.entities)
        changelog = TopicPartition(self._settings.topic_prefix + CHANGELOG, number)
        reader = AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap_servers,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await reader.start()
        try:
            reader.assign([changelog])
            end = (await reader.end_offsets([changelog]))[changelog]
            start = stored.next_changelog_offset
            if start > end:  # the changelog was recreated: the local copy is not of it
                log.warning("local_store_ahead_of_changelog", partition=number, stored=start)
                self._store.forget(number)
                entities, start = {}, 0
            reader.seek(changelog, start)
            read: dict[str, bytes | None] = {}
            while await reader.position(changelog) < end:
                batch = await reader.getmany(changelog, timeout_ms=500)
                for record in batch.get(changelog, []):
                    read[record.key.decode("utf-8")] = record.value
        finally:
            await reader.stop()
        for key, value in read.items():
            if value is None:
                entities.pop(key, None)
            else:
                entities[key] = value
        self._store.apply(number, read, max(end, start))
        self._metrics.restored_entities.labels(partition=str(number)).set(len(entities))
        return state_from_entities(entities), max(end, start)

    # ---- the batch transaction ----------------------------------------------------------

    async def _process(self, number: int, records: Sequence[ConsumerRecord]) -> None:
        held = self._partitions.get(number)
        if held is None:
            # Not restored (yet): never drop records; read them again once it is.
            log.warning("records_for_a_partition_not_held", partition=number, records=len(records))
            await self._rewind(number, records)
            await asyncio.sleep(0.1)
            return
        began = time.perf_counter()
        now = self._clock()
        prefix = self._settings.topic_prefix
        state = held.state
        results: list[Processed] = []
        for record in records:
            result = process_record(
                state, input_record(record, prefix), now=now, settings=self._pipeline
            )
            state = result.state
            results.append(result)
        changes = changed_entities(held.state, state)
        consumer = self._consumer
        offsets = await offsets_to_commit(consumer, records) if consumer else next_offsets(records)
        producer = held.producer
        log.debug("batch_started", partition=number, records=len(records))
        try:
            async with producer.transaction():
                for result in results:
                    await send_outputs(producer, prefix, result.outputs)
                changelog_sends = [
                    await producer.send(
                        prefix + CHANGELOG, value=value, key=key.encode("utf-8"), partition=number
                    )
                    for key, value in changes.items()
                ]
                await producer.send_offsets_to_transaction(offsets, self._settings.group_id)
        except Exception:
            self._metrics.transactions.labels(result="aborted").inc()
            log.exception("transaction_aborted", partition=number, records=len(records))
            await self._rewind(number, records)
            return
        written = [future.result().offset for future in changelog_sends]
        held.state = state
        if written:
            held.next_changelog_offset = max(written) + 1
        self._store.apply(number, changes, held.next_changelog_offset)
        self._count(results, records, began)
        log.debug(
            "batch_committed",
            partition=number,
            records=len(records),
            outputs=sum(len(result.outputs) for result in results),
            state_changes=len(changes),
        )

    async def _rewind(self, number: int, records: Sequence[ConsumerRecord]) -> None:
        """After an abort: read the batch again from its first offsets; if this instance no
        longer owns the partition (fenced), let it go."""
        consumer = self._consumer
        if consumer is None:
            return
        seek_to_first(consumer, records)
        held = self._partitions.get(number)
        if held is not None:
            await self._release([number])
            await self._acquire([number])

    def _count(
        self, results: Sequence[Processed], records: Sequence[ConsumerRecord], began: float
    ) -> None:
        metrics = self._metrics
        metrics.transactions.labels(result="committed").inc()
        elapsed = time.perf_counter() - began
        prefix = self._settings.topic_prefix
        for record, result in zip(records, results, strict=True):
            topic = record.topic.removeprefix(prefix)
            _log_outcome(topic, record, result)
            message_type = result.message_type or "unreadable"
            metrics.messages_in.labels(topic=topic, message_type=message_type).inc()
            metrics.processing_seconds.labels(message_type=message_type).observe(elapsed)
            if result.dead_letter_reason is not None:
                metrics.dead_letters.labels(
                    source_topic=topic, reason=result.dead_letter_reason.value
                ).inc()
            for output in result.outputs:
                metrics.messages_out.labels(
                    topic=output.topic, message_type=output.message_type
                ).inc()
                decision = _DECISIONS.get(output.message_type)
                if decision is not None:
                    metrics.decisions.labels(decision=decision[0], outcome=decision[1]).inc()
            for body in result.decisions:
                for violation in getattr(body, "violations", ()):
                    metrics.rule_violations.labels(code=violation.code, rule=violation.rule).inc()
        metrics.state_store_bytes.set(self._store.size_bytes())

    async def report_lag(self) -> None:
        if self._consumer is not None:
            await report_lag(self._consumer, self._metrics, self._settings.topic_prefix)


def _log_outcome(topic: str, record: ConsumerRecord, result: Processed) -> None:
    where = f"{topic}/{record.partition}/{record.offset}"
    if result.dead_letter_reason is not None:
        log.warning(
            "dead_letter",
            source=where,
            reason=result.dead_letter_reason.value,
            correlation_id=result.correlation_id,
        )
        return
    log.debug(
        "record_decided",
        source=where,
        message_type=result.message_type,
        outcome=result.outcome.value,
        event_id=result.event_id,
        correlation_id=result.correlation_id,
        outputs=[output.message_type for output in result.outputs],
    )


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: RegistryWorker) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self._worker._assigned = False

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Restore the new partitions before any of their records is handed out: the fetcher
        runs while this listener does, so the partitions stay paused until then."""
        partitions = list(assigned)
        numbers = {partition.partition for partition in partitions}
        worker = self._worker
        consumer = worker._consumer
        if consumer is not None:
            consumer.pause(*partitions)
        await worker._release([n for n in worker._partitions if n not in numbers])
        await worker._acquire(sorted(numbers))
        if consumer is not None:
            consumer.resume(*partitions)
        worker._assigned = True


def _by_partition_number(
    batches: Mapping[TopicPartition, list[ConsumerRecord]],
) -> dict[int, list[ConsumerRecord]]:
    grouped: dict[int, list[ConsumerRecord]] = defaultdict(list)
    for partition, records in batches.items():
        grouped[partition.partition].extend(records)
    for records in grouped.values():
        records.sort(key=lambda r: (r.timestamp, r.topic, r.offset))
    return grouped
