"""Benchmarks of the registry's state: what a message costs as the state grows (``state-size``)
and how long a restore takes (``restore``).

``state-size`` runs the registry's step as the engine does, minus Kafka: records as the
consumer hands them over (headers and bytes), folded in batches over a state read from a real
SQLite working store through the bounded cache, each batch's changes encoded, written to the
store and the state rebased. It times the same next messages (a cast, an eCOA, a lot arriving,
a warrant request) over a small and a large state and prints the ratio.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from consumers.engine import LogPartition
from consumers.metrics import GatewayMetrics
from consumers.state_logs import CachedEntities, RegistryChangelog
from consumers.state_store import SqliteStateStore
from contracts.base import Contract
from contracts.ecoa import ECoAKind
from contracts.envelope import encode_body, envelope_headers, new_envelope
from contracts.topics import TOPICS_BY_NAME, route
from contracts.values import MetalContract
from gateway.processors.records import InputRecord
from gateway.processors.registry import PipelineSettings, process_record
from gateway.registry import codec
from gateway.registry.state import CastEntry, RegistryState, cast_key, entity_key
from gateway.rulebook.state import CertifiedCast, RecordedCast
from gateway.runtime.app import create_app
from gateway.runtime.settings import Settings
from gateway.runtime.topic_admin import ensure_topics
from producers.parties import DEMO_PARTIES, sender_role_for
from producers.simulation import cast, cbam_form, enhanced_ecoa, list_brand, lot, request

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
CAST_DAY = date(2026, 2, 10)
ECOA_DAY = date(2026, 2, 11)
BATCH = 200


@dataclass(frozen=True)
class Row:
    label: str
    figure: str


def _record(body: Contract, offset: int) -> InputRecord:
    role = sender_role_for(type(body))
    envelope = new_envelope(body, source="/bench", sender_party_id=DEMO_PARTIES[role], time=NOW)
    spec = route(type(body), role)
    return InputRecord(
        topic=spec.name,
        partition=0,
        offset=offset,
        timestamp_ms=None,
        key=spec.key_of(body),
        value=encode_body(body),
        headers=envelope_headers(envelope),
    )


class _Registry:
    """The registry's step over one partition's working store, committed batch by batch."""

    def __init__(self, directory: Path, cache_entries: int = 20_000) -> None:
        self.store = SqliteStateStore(directory / "registry.sqlite3")
        self.reader = CachedEntities(self.store, 0, cache_entries)
        self.state = RegistryState(self.reader)
        self.offset = 0
        self.settings: PipelineSettings = create_app(Settings()).pipeline

    def feed(self, bodies: Iterable[Contract]) -> list[float]:
        """Fold ``bodies`` in batches; the seconds each message's step took."""
        took: list[float] = []
        batch: list[InputRecord] = []
        for body in bodies:
            batch.append(_record(body, self.offset))
            self.offset += 1
            if len(batch) == BATCH:
                took.extend(self._fold(batch))
                batch = []
        if batch:
            took.extend(self._fold(batch))
        return took

    def _fold(self, records: Sequence[InputRecord]) -> list[float]:
        before = state = self.state
        took = []
        for record in records:
            began = time.perf_counter()
            state = process_record(state, record, now=NOW, settings=self.settings).state
            took.append(time.perf_counter() - began)
        changes = state.changed_since(before)
        encoded = {
            key: None if value is None else codec.encode(key, value)
            for key, value in changes.items()
        }
        self.store.apply(0, encoded, self.offset)
        self.reader.committed(changes)
        self.state = state.rebased(self.reader)
        return took

    def close(self) -> None:
        self.store.close()


def _next_messages(brand: str, tag: str, count: int, first_cast: int) -> list[Contract]:
    """``count`` rounds of what a brand's day brings: a cast, its eCOA, its lot, a request."""
    bodies: list[Contract] = []
    for n in range(count):
        reference = f"{brand}-N{tag}{first_cast + n:06}"
        lot_id = f"LOT-{brand}-{tag}{n:05}"
        bodies += [
            cast(brand, reference),
            enhanced_ecoa(brand, f"ECOA-{brand}-N{tag}{n:05}", [reference]),
            lot(brand, lot_id, [reference], bundles=2),
            request(brand, f"REQ-{brand}-{tag}{n:05}", lot_id),
        ]
    return bodies


def _brand_history(brand: str, casts: int) -> list[Contract]:
    references = [f"{brand}-C{n:06}" for n in range(casts)]
    return [
        list_brand(brand),
        cbam_form(brand),
        *(cast(brand, ref) for ref in references),
        *(enhanced_ecoa(brand, f"ECOA-{brand}-{n:06}", [ref]) for n, ref in enumerate(references)),
    ]


def _per_message_us(took: Sequence[float]) -> float:
    return statistics.median(took) * 1e6


def _measure(build: Callable[[_Registry], list[Contract]], rounds: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-state-") as directory:
        registry = _Registry(Path(directory))
        try:
            next_messages = build(registry)
            return _per_message_us(registry.feed(next_messages))
        finally:
            registry.close()


def casts_in_one_brand(small: int, large: int, rounds: int = 250) -> list[Row]:
    def with_casts(casts: int) -> Callable[[_Registry], list[Contract]]:
        def build(registry: _Registry) -> list[Contract]:
            registry.feed(_brand_history("BIG", casts))
            return _next_messages("BIG", "X", rounds, casts)

        return build

    little = _measure(with_casts(small), rounds)
    big = _measure(with_casts(large), rounds)
    return [
        Row(f"per message, {small:,} casts in the brand", f"{little:.0f} µs"),
        Row(f"per message, {large:,} casts in the brand", f"{big:.0f} µs"),
        Row("ratio (target ≤ 1.2)", f"{big / little:.2f}"),
    ]


def brands_in_a_partition(small: int, large: int, rounds: int = 250) -> list[Row]:
    def with_brands(brands: int) -> Callable[[_Registry], list[Contract]]:
        def build(registry: _Registry) -> list[Contract]:
            names = [f"B{n:05}" for n in range(brands)]
            registry.feed(body for name in names for body in _brand_history(name, 1))
            picked = [names[(n * 7919) % brands] for n in range(rounds)]
            return [
                body
                for n, name in enumerate(picked)
                for body in _next_messages(name, f"Y{n:04}", 1, 0)
            ]

        return build

    little = _measure(with_brands(small), rounds)
    big = _measure(with_brands(large), rounds)
    return [
        Row(f"per message, {small:,} brands in the partition", f"{little:.0f} µs"),
        Row(f"per message, {large:,} brands in the partition", f"{big:.0f} µs"),
        Row("ratio (target ≤ 1.2)", f"{big / little:.2f}"),
    ]


def run_state_size(
    *, casts: tuple[int, int] = (100, 10_000), brands: tuple[int, int] = (10, 50_000)
) -> list[Row]:
    return [*casts_in_one_brand(*casts), *brands_in_a_partition(*brands)]


# ---- restore -------------------------------------------------------------------------------

ECOAS_PER_BRAND = 1_000
ALLOY = MetalContract.ALUMINIUM_ALLOY


def _changelog_of_ecoas(count: int) -> Iterable[tuple[str, str, bytes]]:
    """(brand, key, value) of the changelog records ``count`` accepted one-cast eCOAs leave:
    each cast as recorded and certified, and the eCOA's handled id."""
    for number in range(count):
        brand = f"BR{number // ECOAS_PER_BRAND:05}"
        reference = f"{brand}-C{number:08}"
        ecoa_id = f"ECOA-{number:08}"
        entry = CastEntry(
            recorded=RecordedCast(
                reference, CAST_DAY, MetalContract.ALUMINIUM_ALLOY, "A380.1", None
            ),
            certificates=(
                CertifiedCast(ecoa_id, ECoAKind.ENHANCED, reference, CAST_DAY, "A380.1", ECOA_DAY),
            ),
        )
        cast_key_ = cast_key(brand, reference)
        yield brand, cast_key_, codec.encode(cast_key_, entry)
        handled = entity_key("handled", brand, f"ecoa:{ecoa_id}")
        yield brand, handled, codec.encode(handled, hashlib.sha256(ecoa_id.encode()).hexdigest())


async def write_changelog(bootstrap: str, prefix: str, ecoas: int) -> int:
    """The changelog of ``ecoas`` eCOAs, each record on its brand's partition."""
    spec = TOPICS_BY_NAME["registry.state-changelog"]
    await ensure_topics(bootstrap, [spec], prefix)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=50, max_batch_size=1_048_576, acks=1
    )
    await producer.start()
    written = 0
    try:
        pending = []
        for brand, key, value in _changelog_of_ecoas(ecoas):
            partition = (murmur2(brand.encode()) & 0x7FFFFFFF) % spec.partitions
            pending.append(
                await producer.send(
                    prefix + spec.name, key=key.encode(), value=value, partition=partition
                )
            )
            written += 1
            if len(pending) >= 50_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return written


async def restore_partitions(bootstrap: str, prefix: str, state_dir: Path) -> dict[str, float]:
    """What the engine does when it gets the partitions: each restored, side by side."""
    spec = TOPICS_BY_NAME["registry.state-changelog"]
    store = SqliteStateStore(state_dir / "registry.sqlite3")
    changelog = RegistryChangelog(spec.name, store, GatewayMetrics())
    began = time.perf_counter()
    try:
        await asyncio.gather(
            *(
                changelog.restore(
                    number,
                    LogPartition(bootstrap, TopicPartition(prefix + spec.name, number), 1_048_576),
                )
                for number in range(spec.partitions)
            )
        )
        seconds = time.perf_counter() - began
    finally:
        store.close()
    return {
        "seconds": seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _restore_in_a_process(bootstrap: str, prefix: str, state_dir: Path) -> dict[str, float]:
    """A restore in a fresh interpreter, so that its peak memory is its own."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.tools.bench_state",
            "restore-child",
            bootstrap,
            prefix,
            str(state_dir),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _cold_then_warm(
    bootstrap: str, prefix: str
) -> tuple[dict[str, float], dict[str, float], float]:
    with tempfile.TemporaryDirectory(prefix="bench-restore-") as directory:
        state_dir = Path(directory)
        cold = _restore_in_a_process(bootstrap, prefix, state_dir)
        warm = _restore_in_a_process(bootstrap, prefix, state_dir)
        store_mib = sum(f.stat().st_size for f in state_dir.iterdir()) / 2**20
    return cold, warm, store_mib


async def run_restore(bootstrap: str, counts: Sequence[int] = (100_000, 1_000_000)) -> list[Row]:
    rows: list[Row] = []
    for count in counts:
        prefix = f"bench-restore-{uuid.uuid4().hex[:8]}-"
        began = time.perf_counter()
        records = await write_changelog(bootstrap, prefix, count)
        written = time.perf_counter() - began
        cold, warm, store_mib = await asyncio.to_thread(_cold_then_warm, bootstrap, prefix)
        rows += [
            Row(
                f"{count:,} eCOAs: changelog",
                f"{records:,} records written in {written:.1f} s",
            ),
            Row(
                f"{count:,} eCOAs: cold restore (no store)",
                f"{cold['seconds']:.1f} s, {cold['seconds'] / count * 1e6:.1f} µs per eCOA, "
                f"peak RSS {cold['peak_rss_mib']:.0f} MiB, store {store_mib:.0f} MiB",
            ),
            Row(
                f"{count:,} eCOAs: warm restart (store kept)",
                f"{warm['seconds']:.2f} s, peak RSS {warm['peak_rss_mib']:.0f} MiB",
            ),
        ]
    return rows


def main() -> None:
    if sys.argv[1:2] == ["restore-child"]:
        bootstrap, prefix, state_dir = sys.argv[2:5]
        print(json.dumps(asyncio.run(restore_partitions(bootstrap, prefix, Path(state_dir)))))
        return
    for row in run_state_size():
        print(f"{row.label:<48} {row.figure}")


if __name__ == "__main__":
    main()
