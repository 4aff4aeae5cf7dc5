"""``restore``: how long the registry takes to get its state back, and the memory it needs.

A changelog of N accepted one-cast eCOAs (each cast as recorded and certified, and the eCOA's
handled id: two records, spread over 1,000-eCOA brands on their brands' partitions) is
written to the broker; then a fresh process restores all six partitions side by side, as the
engine does when it gets them: **cold**, into an empty working store (a lost store), then
**warm**, with the store it left (a restart). Time and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from consumers.engine import LogPartition
from consumers.metrics import GatewayMetrics
from consumers.state_logs import RegistryChangelog
from consumers.state_store import SqliteStateStore
from contracts.ecoa import ECoAKind
from contracts.topics import TOPICS_BY_NAME
from contracts.values import MetalContract
from gateway.registry import codec
from gateway.registry.state import CastEntry, cast_key, entity_key
from gateway.rulebook.state import CertifiedCast, RecordedCast
from gateway.runtime.topic_admin import ensure_topics
from gateway.tools.bench.framework import BenchContext, Scenario, peak_rss_mib
from gateway.tools.bench.tables import Cell, Table

CAST_DAY = date(2026, 2, 10)
ECOA_DAY = date(2026, 2, 11)
ECOAS_PER_BRAND = 1_000
ALLOY = MetalContract.ALUMINIUM_ALLOY
A380_CHEMISTRY = tuple(
    (element, Decimal(level))
    for element, level in (
        ("Cu", "3.0"),
        ("Si", "9.0"),
        ("Mg", "0.3"),
        ("Zn", "1.0"),
        ("Fe", "0.8"),
        ("Mn", "0.2"),
        ("Ni", "0.1"),
        ("Sn", "0.05"),
        ("Ti", "0.1"),
        ("Pb", "0.1"),
    )
)
"""A typical A380.1 cast's ten elements, as its record and its eCOA keep them."""


def _changelog_of_ecoas(count: int) -> Iterable[tuple[str, str, bytes]]:
    """(brand, key, value) of the changelog records ``count`` accepted one-cast eCOAs leave:
    each cast as recorded and certified, and the eCOA's handled id."""
    for number in range(count):
        brand = f"BR{number // ECOAS_PER_BRAND:05}"
        reference = f"{brand}-C{number:08}"
        ecoa_id = f"ECOA-{number:08}"
        entry = CastEntry(
            recorded=RecordedCast(reference, CAST_DAY, ALLOY, "A380.1", None, A380_CHEMISTRY),
            certificates=(
                CertifiedCast(
                    ecoa_id,
                    ECoAKind.ENHANCED,
                    reference,
                    CAST_DAY,
                    "A380.1",
                    ECOA_DAY,
                    A380_CHEMISTRY,
                    None,
                ),
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
        "peak_rss_mib": peak_rss_mib(),
    }


def _restore_in_a_process(bootstrap: str, prefix: str, state_dir: Path) -> dict[str, float]:
    """A restore in a fresh interpreter, so that its peak memory is its own."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway.tools.bench.restore", bootstrap, prefix, str(state_dir)],
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


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--ecoas",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[100_000, 1_000_000],
        help="the sizes, in eCOAs (100000,1000000; the exchange holds about 2.8 million)",
    )


async def run(context: BenchContext, arguments: argparse.Namespace) -> list[Table]:
    rows: list[tuple[Cell, ...]] = []
    for count in arguments.ecoas:
        prefix = context.topic_prefix("restore", str(count))
        began = time.perf_counter()
        records = await write_changelog(context.bootstrap_servers, prefix, count)
        written = time.perf_counter() - began
        cold, warm, store_mib = await asyncio.to_thread(
            _cold_then_warm, context.bootstrap_servers, prefix
        )
        rows.append(
            (
                f"{count:,}",
                records,
                written,
                cold["seconds"],
                cold["seconds"] / count * 1e6,
                cold["peak_rss_mib"],
                warm["seconds"],
                warm["peak_rss_mib"],
                store_mib,
            )
        )
    return [
        Table(
            title="restore: the registry's state back from its changelog",
            columns=(
                "eCOAs",
                "records",
                "written s",
                "cold s",
                "µs per eCOA",
                "cold RSS MiB",
                "warm s",
                "warm RSS MiB",
                "store MiB",
            ),
            rows=tuple(rows),
            notes=(
                "cold: a fresh process restores the six partitions side by side into an empty "
                "working store (a lost store: the changelog's bytes copied, nothing decoded)",
                "warm: the same with the store it left (a restart reads the changelog's tail)",
                "RSS: the restoring process's peak; targets for 3M eCOAs: cold <= 60 s, warm "
                "<= 5 s, peak RSS <= 1 GiB",
            ),
        )
    ]


SCENARIO = Scenario(
    name="restore",
    summary="N eCOAs (100k and 1M; --ecoas 3000000 on request): cold and warm restore, "
    "time and peak RSS",
    add_arguments=add_arguments,
    run=run,
)


def main() -> None:
    """The restoring process: ``python -m gateway.tools.bench.restore BOOTSTRAP PREFIX DIR``
    prints its figures as JSON."""
    bootstrap, prefix, state_dir = sys.argv[1:4]
    print(json.dumps(asyncio.run(restore_partitions(bootstrap, prefix, Path(state_dir)))))


if __name__ == "__main__":
    main()
