"""The fault test's own Kafka clients: the parties' sender, a tail of the outputs that notes
when each newly committed record is seen, the group progress, and reading topics back.

They are the harness's, not the gateway's: the gateway under test is a black box, and these
clients must keep working across broker restarts (each is rebuilt on another address when
the broker comes back elsewhere).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from consumers.record_reader import committed_records, partitions_of
from gateway.tools.fault_outcomes import SeenRecord
from gateway.tools.fault_workload import CASE_HEADER, PlannedRecord

MAX_RECORD_BYTES = 2 * 1024 * 1024
"""The harness's producer and readers take records up to 2 MiB (the workload's largest is
1,010,000 bytes, under the broker's default limit of about 1 MiB)."""

log = logging.getLogger("custody_gateway.faults")


def _reader(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=MAX_RECORD_BYTES,
    )


async def read_committed(
    bootstrap: str, prefix: str, topics: Sequence[str], *, timeout_s: float = 120
) -> list[SeenRecord]:
    """Every committed record of ``topics`` (catalogue names), from the beginning to the last
    stable offset, in offset order per partition."""
    partitions = await partitions_of(bootstrap, [prefix + name for name in topics])
    read = await committed_records(
        bootstrap,
        dict.fromkeys(partitions, 0),
        timeout_s=timeout_s,
        max_record_bytes=MAX_RECORD_BYTES,
    )
    return [
        SeenRecord(
            topic=record.topic.removeprefix(prefix),
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers),
        )
        for record in read.records
    ]


@dataclass(frozen=True)
class PartitionProgress:
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def behind(self) -> bool:
        return self.end > 0 and (self.committed is None or self.committed < self.end)

    def describe(self) -> str:
        return f"{self.topic}/{self.partition} committed {self.committed} of {self.end}"


async def group_progress(
    bootstrap: str, prefix: str, group_id: str, topics: Sequence[str]
) -> list[PartitionProgress]:
    """Per partition of ``topics``: the group's committed offset and the partition's end."""
    partitions = await partitions_of(bootstrap, [prefix + name for name in topics])
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = _reader(bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group_id)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()
    return [
        PartitionProgress(
            topic=partition.topic.removeprefix(prefix),
            partition=partition.partition,
            committed=committed[partition].offset if partition in committed else None,
            end=ends[partition],
        )
        for partition in sorted(partitions)
    ]


# ---- sending --------------------------------------------------------------------------------


@dataclass
class Sender:
    """Sends the workload's records one by one; rebuilt on a send that fails (a broker that
    came back elsewhere, a producer stuck after a broker restart), then the record is sent
    again (the checks group copies of one record by its ce_id)."""

    address: Callable[[], str]
    prefix: str
    sent: int = 0
    resent: int = 0
    errors: list[str] = field(default_factory=list)
    _producer: AIOKafkaProducer | None = None
    _bootstrap: str = ""

    async def send(self, record: PlannedRecord) -> None:
        for attempt in range(1, 11):
            producer = await self._connected()
            try:
                await producer.send_and_wait(
                    self.prefix + record.topic,
                    value=record.value,
                    key=record.key,
                    headers=record.headers,
                )
                self.sent += 1
                return
            except KafkaError as error:
                self.errors.append(f"{record.case.value}: {type(error).__name__}: {error}")
                self.resent += 1
                await self.close()
                await asyncio.sleep(min(attempt, 5))
        raise RuntimeError(f"could not send {record.event_id}: {self.errors[-1]}")

    async def _connected(self) -> AIOKafkaProducer:
        if self._producer is not None and self._bootstrap != self.address():
            await self.close()  # the broker came back elsewhere
        if self._producer is None:
            self._bootstrap = self.address()
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                enable_idempotence=True,
                max_request_size=MAX_RECORD_BYTES,
                request_timeout_ms=30_000,
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()


# ---- watching the outputs -------------------------------------------------------------------


@dataclass
class OutputWatch:
    """Tails the output topics (read_committed) and notes, for every record the gateway
    committed, its creation time and when it was seen: "the first output committed after a
    fault" is the first seen whose creation time is after the fault (a process killed at
    time t creates nothing after t). The harness's own commands on ledger.commands are not
    outputs and are skipped."""

    address: Callable[[], str]
    topics: Sequence[str]
    seen: list[tuple[int, float]] = field(default_factory=list)
    """(record timestamp ms, wall time seen s), in the order seen."""
    errors: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        positions: dict[TopicPartition, int] = {}
        while not stop.is_set():
            try:
                await self._follow(stop, positions)
            except (KafkaError, OSError) as error:
                self.errors += 1
                log.warning("output watch rebuilt after %s", error)
                await asyncio.sleep(0.5)

    async def _follow(self, stop: asyncio.Event, positions: dict[TopicPartition, int]) -> None:
        bootstrap = self.address()
        partitions = await partitions_of(bootstrap, self.topics)
        consumer = _reader(bootstrap)
        await consumer.start()
        try:
            consumer.assign(partitions)
            for partition in partitions:
                consumer.seek(partition, positions.get(partition, 0))
            while not stop.is_set() and bootstrap == self.address():
                batches = await consumer.getmany(timeout_ms=100)
                now = time.time()
                for partition, batch in batches.items():
                    for record in batch:
                        if not any(key == CASE_HEADER for key, _ in record.headers):
                            self.seen.append((record.timestamp, now))
                    if batch:
                        positions[partition] = batch[-1].offset + 1
        finally:
            await consumer.stop()

    def first_output_after(self, moment_s: float) -> float | None:
        """When the first output created after ``moment_s`` (wall time) was seen."""
        threshold = moment_s * 1000
        # Seen times only grow, and nothing created after the moment was seen before it.
        start = bisect.bisect_left(self.seen, moment_s, key=lambda entry: entry[1])
        later = itertools.islice(self.seen, start, None)
        return next((seen for created, seen in later if created > threshold), None)

    async def wait_for_output_after(self, moment_s: float, timeout_s: float) -> float | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            seen = self.first_output_after(moment_s)
            if seen is not None:
                return seen
            await asyncio.sleep(0.1)
        return None


def lag_lines(progress: Iterable[PartitionProgress]) -> list[str]:
    return [entry.describe() for entry in progress if entry.behind]
