"""``make bench``: the registry's throughput and decision latency, against a bare pipe.

Both run in this process on the same broker, one after the other, with the same workload
(every brand: listing, two casts, eCOA, CBAM form, lot, warrant request):
- throughput: a backlog of messages is written first, then the pipeline starts and drains
  it; events per second = inputs / time to drain;
- latency: messages are sent at a steady rate to a running pipeline; latency = the time
  from sending an input to reading its first output (read_committed), p50 and p99.
The baseline is a bare aiokafka consume-and-produce pipe (no decoding, no rules, no
transactions): the floor the machine and broker allow. The figures are printed, not
asserted: these machines are shared and noisy, so compare the ratio, not the absolutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from consumers.group_progress import wait_until_consumed
from consumers.record_reader import end_offsets
from contracts.base import Contract
from contracts.envelope import encode_body, envelope_headers, new_envelope
from contracts.topics import CATALOGUE, TopicSpec, route
from gateway.runtime.app import create_app
from gateway.runtime.settings import Settings
from gateway.runtime.topic_admin import ensure_topics
from gateway.tools.local_kafka import LocalKafka
from gateway.topology import REGISTRY_INPUTS, REGISTRY_OUTPUTS
from producers.parties import DEMO_PARTIES, sender_role_of
from producers.simulation import cast, cbam_form, enhanced_ecoa, list_brand, lot, request

PIPE_IN, PIPE_OUT = "bench.pipe-in", "bench.pipe-out"
PIPE_TOPICS = (
    TopicSpec(name=PIPE_IN, purpose="benchmark input", message_types=(), key="", writer_roles=()),
    TopicSpec(name=PIPE_OUT, purpose="benchmark output", message_types=(), key="", writer_roles=()),
)


@dataclass(frozen=True)
class Figures:
    events_per_second: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    event_id: str


def workload(brands: int, tag: str) -> list[Record]:
    records = []
    for number in range(brands):
        brand = f"B{tag}{number:04}"
        for body in _brand_story(brand):
            role = sender_role_of(body)
            envelope = new_envelope(
                body, source="/bench", sender_party_id=DEMO_PARTIES[role], time=datetime.now(UTC)
            )
            spec = route(type(body), role)
            records.append(
                Record(
                    spec.name,
                    spec.key_of(body),
                    encode_body(body),
                    envelope_headers(envelope),
                    envelope.id,
                )
            )
    return records


def _brand_story(brand: str) -> list[Contract]:
    casts = [f"{brand}-C1", f"{brand}-C2"]
    return [
        list_brand(brand),
        cast(brand, casts[0]),
        cast(brand, casts[1]),
        enhanced_ecoa(brand, f"{brand}-ECOA", casts),
        cbam_form(brand),
        lot(brand, f"{brand}-LOT", casts),
        request(brand, f"{brand}-REQ", f"{brand}-LOT"),
    ]


async def run_benchmark(settings: Settings, kafka: LocalKafka, *, brands: int, rate: int) -> int:
    broker, started_here = kafka.broker_for(settings)
    bootstrap = broker.bootstrap_servers
    try:
        print(f"broker {bootstrap}; workload {brands} brands x 7 messages; paced at {rate}/s")
        registry = await _measure(bootstrap, brands, rate, _registry_phase)
        pipe = await _measure(bootstrap, brands, rate, _pipe_phase)
    finally:
        if started_here:
            kafka.stop()
    print(f"\n{'':24}{'events/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, figures in (("bare aiokafka pipe", pipe), ("registry", registry)):
        print(
            f"{name:24}{figures.events_per_second:>10.0f}{figures.p50_ms:>10.1f}"
            f"{figures.p99_ms:>10.1f}"
        )
    print(
        f"{'registry / pipe':24}{registry.events_per_second / pipe.events_per_second:>10.2f}"
        f"{registry.p50_ms / pipe.p50_ms:>10.2f}{registry.p99_ms / pipe.p99_ms:>10.2f}"
    )
    return 0


Phase = Callable[[str, str, asyncio.Event, asyncio.Event], Coroutine[Any, Any, None]]


async def _measure(bootstrap: str, brands: int, rate: int, phase: Phase) -> Figures:
    """Drain a backlog (throughput), then a paced stream (latency), on fresh topics."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    await ensure_topics(bootstrap, (*CATALOGUE, *PIPE_TOPICS), prefix)
    backlog = workload(brands, "T")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        await _send_all(producer, prefix, backlog, phase is _pipe_phase)
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(phase(bootstrap, prefix, stop, ready))
        await ready.wait()
        began = time.perf_counter()
        await _until_drained(bootstrap, prefix, phase is _pipe_phase)
        drain = time.perf_counter() - began
        latencies = await _paced(
            bootstrap,
            producer,
            prefix,
            workload(max(brands // 4, 20), "L"),
            rate,
            phase is _pipe_phase,
        )
        stop.set()
        await task
    finally:
        await producer.stop()
    ordered = sorted(latencies)
    return Figures(
        events_per_second=len(backlog) / drain,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    )


async def _send_all(
    producer: AIOKafkaProducer, prefix: str, records: list[Record], to_pipe: bool
) -> None:
    futures = [
        await producer.send(
            prefix + (PIPE_IN if to_pipe else record.topic),
            value=record.value,
            key=record.key,
            headers=record.headers,
        )
        for record in records
    ]
    await asyncio.gather(*futures)


async def _until_drained(bootstrap: str, prefix: str, pipe: bool) -> None:
    group = prefix + ("bench-pipe" if pipe else "custody-registry")
    topics = [prefix + PIPE_IN] if pipe else [prefix + name for name in REGISTRY_INPUTS]
    await wait_until_consumed(bootstrap, topics, group, timeout_s=600)


async def _paced(
    bootstrap: str,
    producer: AIOKafkaProducer,
    prefix: str,
    records: list[Record],
    rate: int,
    pipe: bool,
) -> list[float]:
    """Send at ``rate`` per second; latency of an input = until its first output is read."""
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    topics = [prefix + PIPE_OUT] if pipe else [prefix + name for name in REGISTRY_OUTPUTS]
    partitions = list(await end_offsets(bootstrap, topics))
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await reader.start()
    reader.assign(partitions)
    await reader.seek_to_end(*partitions)

    async def read() -> None:
        while True:
            for batch in (await reader.getmany(timeout_ms=100)).values():
                now = time.perf_counter()
                for record in batch:
                    cause = dict(record.headers).get("ce_causationid")
                    if cause is not None:
                        seen.setdefault(cause.decode(), now)

    reading = asyncio.create_task(read())
    try:
        interval = 1 / rate
        start = time.perf_counter()
        for index, record in enumerate(records):
            await asyncio.sleep(max(0.0, start + index * interval - time.perf_counter()))
            sent[record.event_id] = time.perf_counter()
            await producer.send(
                prefix + (PIPE_IN if pipe else record.topic),
                value=record.value,
                key=record.key,
                headers=record.headers,
            )
        await producer.flush()
        deadline = time.perf_counter() + 30
        topic_of = {record.event_id: record.topic for record in records}
        answered = {i for i in sent if _answered(topic_of[i])}
        while not answered <= seen.keys() and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await reader.stop()
    return [seen[i] - sent[i] for i in sent if i in seen]


def _answered(topic: str) -> bool:
    """Inputs the registry answers with an output of their own (casts and lot arrivals only
    change state)."""
    return topic not in ("producer.production-batches", "warehouse.lot-arrivals")


async def _registry_phase(
    bootstrap: str, prefix: str, stop: asyncio.Event, ready: asyncio.Event
) -> None:
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as state:
        app = create_app(
            Settings(
                kafka_bootstrap_servers=bootstrap,
                topic_prefix=prefix,
                state_dir=Path(state),
                ops_port=0,
            )
        )
        task = await app.start(stop)
        ready.set()
        await task


async def _pipe_phase(
    bootstrap: str, prefix: str, stop: asyncio.Event, ready: asyncio.Event
) -> None:
    """The floor: read a record, write it on with a causation header, commit the offsets."""
    consumer = AIOKafkaConsumer(
        prefix + PIPE_IN,
        bootstrap_servers=bootstrap,
        group_id=prefix + "bench-pipe",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():  # noqa: ASYNC110 (the client's state, no event)
            await asyncio.sleep(0.05)
        ready.set()
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100)
            futures = []
            for batch in batches.values():
                for record in batch:
                    headers = dict(record.headers)
                    futures.append(
                        await producer.send(
                            prefix + PIPE_OUT,
                            value=record.value,
                            key=record.key,
                            headers=[("ce_causationid", headers.get("ce_id", b""))],
                        )
                    )
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
