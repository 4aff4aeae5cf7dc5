"""Small pieces both transactional workers use on a consumed batch: where to commit, where to
rewind to, and the record as the pure pipelines take it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from consumers.metrics import GatewayMetrics
from gateway.processors.records import InputRecord, OutputRecord


def next_offsets(records: Sequence[ConsumerRecord]) -> dict[TopicPartition, int]:
    """The offsets to commit once ``records`` are handled: one past the last of each partition."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        offsets[partition] = max(offsets.get(partition, 0), record.offset + 1)
    return offsets


async def offsets_to_commit(
    consumer: AIOKafkaConsumer, records: Sequence[ConsumerRecord]
) -> dict[TopicPartition, int]:
    """One past the last record handed out of each partition, or the consumer's position when
    it is further: a topic written in transactions ends with a commit marker, which is never
    handed out but which the position has passed. Committing past it lets the group's
    committed offset reach the topic's end (lag 0, "consumed" for whoever waits on it)."""
    offsets = next_offsets(records)
    held = consumer.assignment()
    for partition, offset in offsets.items():
        if partition in held:
            offsets[partition] = max(offset, await consumer.position(partition))
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


async def send_outputs(
    producer: AIOKafkaProducer, prefix: str, outputs: Iterable[OutputRecord]
) -> None:
    """Send the outputs (inside the caller's open transaction)."""
    for output in outputs:
        await producer.send(
            prefix + output.topic, value=output.value, key=output.key, headers=output.headers
        )


def seek_to_first(consumer: AIOKafkaConsumer, records: Sequence[ConsumerRecord]) -> None:
    """Read ``records`` again from the next fetch on."""
    for partition, first in first_offsets(records).items():
        consumer.seek(partition, first)


async def report_lag(consumer: AIOKafkaConsumer, metrics: GatewayMetrics, prefix: str) -> None:
    """Per assigned partition: its end minus the group's committed offset."""
    assigned = list(consumer.assignment())
    if not assigned:
        return
    ends = await consumer.end_offsets(assigned)
    for partition in assigned:
        committed = await consumer.committed(partition) or 0
        metrics.consumer_lag.labels(
            topic=partition.topic.removeprefix(prefix), partition=str(partition.partition)
        ).set(max(ends[partition] - committed, 0))
