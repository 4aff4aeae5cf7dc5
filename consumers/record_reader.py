"""Reads records back from topics and decodes them, keeping the failures beside the successes.

This is the plain, group-less reader the demo and the tests use to see what is on a topic;
the registry's own consumers (with offsets committed in transactions) come later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.envelope import DecodedMessage, MessageDecodeError, decode_message


@dataclass(frozen=True)
class ReadRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    outcome: DecodedMessage | MessageDecodeError

    @property
    def decoded(self) -> DecodedMessage:
        if isinstance(self.outcome, MessageDecodeError):
            raise self.outcome
        return self.outcome


async def end_offsets(bootstrap_servers: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """The next offset of every partition of ``topics``: where new records will land."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        descriptions = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = [
        TopicPartition(description["topic"], partition["partition"])
        for description in descriptions
        for partition in description["partitions"]
    ]
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        offsets: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return offsets
    finally:
        await consumer.stop()


async def read_records(
    bootstrap_servers: str,
    start: dict[TopicPartition, int],
    *,
    expected: int,
    timeout_s: float = 30.0,
) -> list[ReadRecord]:
    """Read committed records from the given positions until ``expected`` have come back or
    the time is up; each is decoded, or carries the reason it could not be."""
    consumer = _committed_reader(bootstrap_servers)
    await consumer.start()
    records: list[ReadRecord] = []
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(records) < expected and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            records.extend(_read(batches))
        return records
    finally:
        await consumer.stop()


def _committed_reader(bootstrap_servers: str) -> AIOKafkaConsumer:
    """A reader outside any group that sees only committed records."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )


def _read(batches: Mapping[TopicPartition, list[ConsumerRecord]]) -> list[ReadRecord]:
    return [
        ReadRecord(
            topic=partition.topic,
            partition=partition.partition,
            offset=record.offset,
            key=record.key,
            outcome=_decode(record.headers, record.value),
        )
        for partition, batch in batches.items()
        for record in batch
    ]


def _decode(
    headers: Iterable[tuple[str, bytes]], value: bytes | None
) -> DecodedMessage | MessageDecodeError:
    try:
        return decode_message(list(headers), value)
    except MessageDecodeError as error:
        return error


async def read_to_end(
    bootstrap_servers: str, topics: Iterable[str], *, timeout_s: float = 30.0
) -> list[ReadRecord]:
    """Every committed record of ``topics`` from the beginning to their current end.

    "End" is the last stable offset (read_committed), and reading stops by position, so
    transaction markers, which take offsets but are never delivered, do not stall it.
    """
    consumer = _committed_reader(bootstrap_servers)
    await consumer.start()
    records: list[ReadRecord] = []
    try:
        partitions = [
            TopicPartition(topic, number)
            for topic in topics
            for number in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            partitions = list((await end_offsets(bootstrap_servers, topics)).keys())
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        remaining = {p for p in partitions if ends[p] > 0}
        while remaining:
            if loop.time() > deadline:
                raise TimeoutError(f"could not read to the end of {sorted(map(str, remaining))}")
            records.extend(_read(await consumer.getmany(*remaining, timeout_ms=200)))
            for partition in list(remaining):
                if await consumer.position(partition) >= ends[partition]:
                    remaining.discard(partition)
        return records
    finally:
        await consumer.stop()
