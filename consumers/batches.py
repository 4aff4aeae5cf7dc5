"""Small pieces the engine uses on a consumed batch: where to commit, where to rewind to, the
record as the pure steps take it, and the lag."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from consumers.metrics import GatewayMetrics
from gateway.processors.records import InputRecord


def next_offsets(records: Sequence[ConsumerRecord]) -> dict[TopicPartition, int]:
    """The offsets to commit once ``records`` are handled: one past the last of each partition."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        offsets[partition] = max(offsets.get(partition, 0), record.offset + 1)
    return offsets


def first_offsets(records: Sequence[ConsumerRecord]) -> dict[TopicPartition, int]:
    """Where to seek to read ``records`` again: the first offset of each partition."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        offsets[partition] = min(offsets.get(partition, record.offset), record.offset)
    return offsets


def input_record(record: ConsumerRecord, prefix: str, *, topic: str | None = None) -> InputRecord:
    """The consumed record with its catalogue topic name (``topic``, or its own without the
    prefix)."""
    return InputRecord(
        topic=topic if topic is not None else record.topic.removeprefix(prefix),
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=record.key,
        value=record.value,
        headers=list(record.headers),
    )


async def report_lag(
    consumer: AIOKafkaConsumer, metrics: GatewayMetrics, prefix: str, processor: str
) -> None:
    """Per assigned partition: its end (the last stable offset, read_committed) minus the
    group's committed offset; a partition the group never committed counts from its first
    offset. Partitions no longer assigned lose their series."""
    assigned = list(consumer.assignment())
    if not assigned:
        metrics.set_lag(processor, {})
        return
    ends = await consumer.end_offsets(assigned)
    committed = {partition: await consumer.committed(partition) for partition in assigned}
    never = [partition for partition, offset in committed.items() if offset is None]
    starts = await consumer.beginning_offsets(never) if never else {}
    metrics.set_lag(
        processor,
        {
            (partition.topic.removeprefix(prefix), partition.partition): ends[partition]
            - (offset if offset is not None else starts[partition])
            for partition, offset in committed.items()
        },
    )
