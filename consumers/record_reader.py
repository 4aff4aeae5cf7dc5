"""Reads committed records back from topics, outside any group: raw (the engine restoring a
state log, the fault harness), or decoded with the failures kept beside the successes (the
demo and the tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from consumers.kafka_access import Broker, client_options
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


async def partitions_of(bootstrap_servers: Broker, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of ``topics``, as the broker describes them."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers))
    await admin.start()
    try:
        descriptions = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(description["topic"], partition["partition"])
        for description in descriptions
        for partition in description["partitions"]
    ]


async def end_offsets(
    bootstrap_servers: Broker, topics: Iterable[str]
) -> dict[TopicPartition, int]:
    """The next offset of every partition of ``topics``: where new records will land."""
    partitions = await partitions_of(bootstrap_servers, topics)
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(**client_options(bootstrap_servers), enable_auto_commit=False)
    await consumer.start()
    try:
        offsets: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return offsets
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class CommittedRead:
    records: list[ConsumerRecord]
    """In offset order per partition."""
    ends: dict[TopicPartition, int]
    """Each partition's last stable offset when the reading began: where it stopped."""


async def committed_records(
    bootstrap_servers: Broker,
    start: Mapping[TopicPartition, int],
    *,
    timeout_s: float | None = 30.0,
    max_record_bytes: int = 1_048_576,
) -> CommittedRead:
    """Every committed record from each partition's ``start`` offset to its last stable
    offset. Reading stops by position, so transaction markers, which take offsets but are
    never delivered, do not stall it. ``timeout_s`` None reads for as long as it takes."""
    ends: dict[TopicPartition, int] = {}
    records: list[ConsumerRecord] = []
    async for chunk in committed_chunks(
        bootstrap_servers,
        start,
        ends=ends,
        timeout_s=timeout_s,
        max_record_bytes=max_record_bytes,
    ):
        records.extend(chunk)
    return CommittedRead(records, ends)


async def committed_chunks(
    bootstrap_servers: Broker,
    start: Mapping[TopicPartition, int],
    *,
    ends: dict[TopicPartition, int],
    timeout_s: float | None = 30.0,
    max_record_bytes: int = 1_048_576,
) -> AsyncIterator[list[ConsumerRecord]]:
    """``committed_records`` as it is fetched, one partition's run of records at a time, so
    that a reader of millions holds one fetch at once. ``ends`` is filled in (each
    partition's last stable offset) before the first chunk."""
    consumer = _committed_reader(bootstrap_servers, max_record_bytes)
    await consumer.start()
    try:
        partitions = list(start)
        consumer.assign(partitions)
        ends.update(await consumer.end_offsets(partitions))
        remaining = {p for p in partitions if ends[p] > start[p]}
        for partition in remaining:
            consumer.seek(partition, start[partition])
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while remaining:
            if deadline is not None and loop.time() > deadline:
                raise TimeoutError(f"could not read to the end of {sorted(map(str, remaining))}")
            for batch in (await consumer.getmany(*remaining, timeout_ms=200)).values():
                if batch:
                    yield batch
            for partition in list(remaining):
                if await consumer.position(partition) >= ends[partition]:
                    remaining.discard(partition)
    finally:
        await consumer.stop()


async def read_records(
    bootstrap_servers: Broker,
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


def _committed_reader(
    bootstrap_servers: Broker, max_record_bytes: int = 1_048_576
) -> AIOKafkaConsumer:
    """A reader outside any group that sees only committed records."""
    return AIOKafkaConsumer(
        **client_options(bootstrap_servers),
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=max(4 * 1_048_576, max_record_bytes),
    )


def _read(batches: Mapping[TopicPartition, list[ConsumerRecord]]) -> list[ReadRecord]:
    return [_read_one(record) for batch in batches.values() for record in batch]


def _read_one(record: ConsumerRecord) -> ReadRecord:
    return ReadRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        outcome=_decode(record.headers, record.value),
    )


def _decode(
    headers: Iterable[tuple[str, bytes]], value: bytes | None
) -> DecodedMessage | MessageDecodeError:
    try:
        return decode_message(list(headers), value)
    except MessageDecodeError as error:
        return error


async def read_to_end(
    bootstrap_servers: Broker, topics: Iterable[str], *, timeout_s: float = 30.0
) -> list[ReadRecord]:
    """Every committed record of ``topics`` from the beginning to their current end (the
    last stable offset), each decoded or with the reason it could not be."""
    partitions = await partitions_of(bootstrap_servers, topics)
    read = await committed_records(
        bootstrap_servers, dict.fromkeys(partitions, 0), timeout_s=timeout_s
    )
    return [_read_one(record) for record in read.records]
