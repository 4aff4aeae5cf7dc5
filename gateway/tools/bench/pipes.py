"""The baselines ``gateway bench`` measures the registry against: two bare aiokafka
consume-and-produce pipes, each run as its own process like ``gateway run``
(``python -m gateway.tools.bench.pipes bare|transactional ...``), until SIGTERM.

Both read the registry's input topics and write every record, its key, value and headers
unchanged (so the envelope's ``ce_correlationid`` too), to partition *p* of one output topic
when it came from partition *p*: no decoding, no rules, no state.

- ``bare``: the floor the machine and the broker allow, at least once. One persistent
  consumer; each poll's records go into one producer batch per output partition (no await
  per record), the batches are sent together and, once all are acknowledged, the consumed
  offsets are committed.
- ``transactional``: what exactly-once costs with aiokafka, organised as the registry's
  engine is: a read_committed consumer with the range assignor, one transactional producer
  per input partition number (partition *p* of every input topic), and for each poll, per
  partition number side by side, one transaction holding that partition's outputs and its
  consumed offsets (``send_offsets_to_transaction``), committed before the next poll.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

POLL_TIMEOUT_MS = 100
FETCH_MAX_BYTES = 52_428_800
PARTITION_FETCH_BYTES = 2_097_152
DEFAULT_BATCH_BYTES = 16_384
"""aiokafka's default producer batch size, which the gateway's producers use too."""
RETRY_BACKOFF_MS = 10
"""As the gateway's transactional producers (GATEWAY_PRODUCER_RETRY_BACKOFF_MS)."""


@dataclass(frozen=True)
class Pipe:
    bootstrap: str
    inputs: tuple[str, ...]
    output: str
    group: str
    """Its consumer group, and the prefix of its transactional ids."""
    batch_bytes: int = DEFAULT_BATCH_BYTES
    """The producers' batch size (``max_batch_size``): one produce request carries at most
    one batch per partition."""


def _consumer(pipe: Pipe, *, read_committed: bool) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *pipe.inputs,
        bootstrap_servers=pipe.bootstrap,
        group_id=pipe.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed" if read_committed else "read_uncommitted",
        partition_assignment_strategy=(RangePartitionAssignor,),
        fetch_max_bytes=FETCH_MAX_BYTES,
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
    )


def _headers(record: ConsumerRecord) -> list[tuple[str, bytes]]:
    return list(record.headers)


async def _send_batches(
    producer: AIOKafkaProducer, output: str, records: Iterable[ConsumerRecord]
) -> list[asyncio.Future[object]]:
    """Every record to the output partition of its input's number, appended to producer
    batches (no await per record); the futures of the batches sent."""
    builders: dict[int, Any] = {}  # aiokafka's BatchBuilder
    futures: list[asyncio.Future[object]] = []
    for record in records:
        builder = builders.get(record.partition)
        if builder is None:
            builder = builders[record.partition] = producer.create_batch()
        metadata = builder.append(
            key=record.key, value=record.value, timestamp=None, headers=_headers(record)
        )
        if metadata is None:  # full: send it and start another
            futures.append(await producer.send_batch(builder, output, partition=record.partition))
            builder = builders[record.partition] = producer.create_batch()
            builder.append(
                key=record.key, value=record.value, timestamp=None, headers=_headers(record)
            )
    for partition, builder in builders.items():
        futures.append(await producer.send_batch(builder, output, partition=partition))
    return futures


async def _assigned(consumer: AIOKafkaConsumer, stop: asyncio.Event) -> set[TopicPartition]:
    """Until the group has given the consumer its partitions (joined in the background)."""
    while not consumer.assignment() and not stop.is_set():  # noqa: ASYNC110 (client state)
        await asyncio.sleep(0.01)
    assigned: set[TopicPartition] = consumer.assignment()
    return assigned


async def run_bare(pipe: Pipe, stop: asyncio.Event, ready: Callable[[], None]) -> None:
    consumer = _consumer(pipe, read_committed=False)
    producer = AIOKafkaProducer(
        bootstrap_servers=pipe.bootstrap, acks="all", linger_ms=5, max_batch_size=pipe.batch_bytes
    )
    await producer.start()
    await consumer.start()
    try:
        await _assigned(consumer, stop)
        ready()
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS)
            records = [record for batch in fetched.values() for record in batch]
            if not records:
                continue
            await asyncio.gather(*await _send_batches(producer, pipe.output, records))
            await consumer.commit(_next_offsets(fetched))
    finally:
        await consumer.stop()
        await producer.stop()


async def run_transactional(pipe: Pipe, stop: asyncio.Event, ready: Callable[[], None]) -> None:
    consumer = _consumer(pipe, read_committed=True)
    producers: dict[int, AIOKafkaProducer] = {}

    async def producer_for(number: int) -> AIOKafkaProducer:
        if number not in producers:
            producer = AIOKafkaProducer(
                bootstrap_servers=pipe.bootstrap,
                transactional_id=f"{pipe.group}-{number}",
                enable_idempotence=True,
                retry_backoff_ms=RETRY_BACKOFF_MS,
                max_batch_size=pipe.batch_bytes,
            )
            await producer.start()
            producers[number] = producer
        return producers[number]

    async def commit(number: int, fetched: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        producer = await producer_for(number)
        async with producer.transaction():
            records = [record for batch in fetched.values() for record in batch]
            futures = await _send_batches(producer, pipe.output, records)
            await producer.send_offsets_to_transaction(_next_offsets(fetched), pipe.group)
        await asyncio.gather(*futures)

    await consumer.start()
    try:
        numbers = {partition.partition for partition in await _assigned(consumer, stop)}
        await asyncio.gather(*(producer_for(number) for number in sorted(numbers)))
        ready()
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS)
            by_number: dict[int, dict[TopicPartition, list[ConsumerRecord]]] = {}
            for partition, batch in fetched.items():
                if batch:
                    by_number.setdefault(partition.partition, {})[partition] = batch
            await asyncio.gather(*(commit(number, part) for number, part in by_number.items()))
    finally:
        await consumer.stop()
        await asyncio.gather(*(producer.stop() for producer in producers.values()))


def _next_offsets(
    fetched: Mapping[TopicPartition, list[ConsumerRecord]],
) -> dict[TopicPartition, int]:
    return {partition: batch[-1].offset + 1 for partition, batch in fetched.items() if batch}


def command(kind: str, pipe: Pipe, ready_file: Path) -> list[str]:
    """The arguments (after the interpreter) that run a pipe of ``kind`` as a process; it
    creates ``ready_file`` once it holds its partitions (and, transactional, its producers)."""
    return [
        "-m",
        "gateway.tools.bench.pipes",
        kind,
        "--bootstrap",
        pipe.bootstrap,
        "--output",
        pipe.output,
        "--group",
        pipe.group,
        "--ready-file",
        str(ready_file),
        "--batch-bytes",
        str(pipe.batch_bytes),
        *pipe.inputs,
    ]


PIPES: dict[str, Callable[[Pipe, asyncio.Event, Callable[[], None]], Awaitable[None]]] = {
    "bare": run_bare,
    "transactional": run_transactional,
}


async def _serve(arguments: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    ready_file: Path = arguments.ready_file
    pipe = Pipe(
        arguments.bootstrap,
        tuple(arguments.inputs),
        arguments.output,
        arguments.group,
        arguments.batch_bytes,
    )
    await PIPES[arguments.kind](pipe, stop, ready_file.touch)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.tools.bench.pipes")
    parser.add_argument("kind", choices=sorted(PIPES))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--output", required=True, help="the output topic")
    parser.add_argument("--group", required=True, help="group id (and transactional id prefix)")
    parser.add_argument("--ready-file", type=Path, required=True, help="created when ready")
    parser.add_argument("--batch-bytes", type=int, default=DEFAULT_BATCH_BYTES)
    parser.add_argument("inputs", nargs="+", help="the input topics")
    return asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
