"""``state-size``: what a message costs as the registry's state grows.

The registry's step runs as the engine runs it, minus Kafka: records as the consumer hands
them over (headers and bytes), folded in batches over a state read from a real SQLite working
store through the bounded cache; each batch's changes are encoded and written to the store,
and the state is rebased. The same next messages (a cast, its eCOA, its lot arriving, a
warrant request) are timed over a small and a large state, and the ratio printed. No broker
is needed: the question is how the step's cost depends on the state, not Kafka's.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from consumers.state_logs import CachedEntities
from consumers.state_store import SqliteStateStore
from contracts.base import Contract
from contracts.envelope import encode_body, envelope_headers, new_envelope
from contracts.topics import route
from gateway.processors.records import InputRecord
from gateway.processors.registry import PipelineSettings, process_record
from gateway.registry import codec
from gateway.registry.state import RegistryState
from gateway.runtime.app import create_app
from gateway.runtime.garbage import as_in_service
from gateway.runtime.settings import Settings
from gateway.tools.bench.framework import (
    BenchContext,
    Scenario,
    Spread,
    positive_int,
    quiet_broker,
)
from gateway.tools.bench.tables import Cell, Table
from producers.parties import DEMO_PARTIES, sender_role_for
from producers.simulation import cast, cbam_form, enhanced_ecoa, list_brand, lot, request

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
BATCH = 200


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


class RegistryStep:
    """The registry's step over one partition's working store, committed batch by batch."""

    def __init__(self, directory: Path, cache_entries: int = 20_000) -> None:
        self.store = SqliteStateStore(directory / "registry.sqlite3")
        self.reader = CachedEntities(self.store, 0, cache_entries)
        self.state = RegistryState(self.reader)
        self.offset = 0
        self.settings: PipelineSettings = create_app(Settings()).pipeline

    def feed_records(self, records: Sequence[InputRecord]) -> None:
        """Fold records as the consumer hands them over, in batches."""
        for start in range(0, len(records), BATCH):
            self._fold(records[start : start + BATCH])

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


def _measure_fresh(grows_in: str, size: int, rounds: int) -> float:
    """``_measure`` in a fresh interpreter: after the scenarios before it (a 1M-eCOA restore
    written from this process), the bench's own heap made the large state look 1.5x slower
    than the same measurement run alone."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_measure_named, grows_in, size, rounds).result()


def _measure_named(grows_in: str, size: int, rounds: int) -> float:
    build = {"casts": _with_casts, "brands": _with_brands}[grows_in]
    return _measure(build(size, rounds))


def _measure(build: Callable[[RegistryStep], list[Contract]]) -> float:
    # The collector as `gateway run` sets it.
    with as_in_service(), tempfile.TemporaryDirectory(prefix="bench-state-") as directory:
        registry = RegistryStep(Path(directory))
        try:
            next_messages = build(registry)
            return _per_message_us(registry.feed(next_messages))
        finally:
            registry.close()


def _with_casts(casts: int, rounds: int) -> Callable[[RegistryStep], list[Contract]]:
    def build(registry: RegistryStep) -> list[Contract]:
        registry.feed(_brand_history("BIG", casts))
        return _next_messages("BIG", "X", rounds, casts)

    return build


def _with_brands(brands: int, rounds: int) -> Callable[[RegistryStep], list[Contract]]:
    def build(registry: RegistryStep) -> list[Contract]:
        names = [f"B{n:05}" for n in range(brands)]
        registry.feed(body for name in names for body in _brand_history(name, 1))
        picked = [names[(n * 7919) % brands] for n in range(rounds)]
        return [
            body for n, name in enumerate(picked) for body in _next_messages(name, f"Y{n:04}", 1, 0)
        ]

    return build


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--casts",
        type=_pair,
        default=(100, 10_000),
        help="casts in the one brand, small,large (100,10000)",
    )
    group.add_argument(
        "--brands",
        type=_pair,
        default=(10, 50_000),
        help="brands in the partition, small,large (10,50000)",
    )
    group.add_argument(
        "--rounds", type=positive_int, default=250, help="rounds of next messages timed (250)"
    )
    group.add_argument(
        "--state-repeat",
        type=positive_int,
        default=3,
        help="pairs of small and large measured, alternating which goes first (3)",
    )


def _pair(text: str) -> tuple[int, int]:
    small, _, large = text.partition(",")
    return int(small), int(large)


async def run(context: BenchContext, arguments: argparse.Namespace) -> list[Table]:
    rounds = arguments.rounds
    rows: list[tuple[Cell, ...]] = []
    for what, sizes, grows_in in (
        ("casts in one brand", arguments.casts, "casts"),
        ("brands in the partition", arguments.brands, "brands"),
    ):
        small, large = sizes
        littles, bigs, ratios = [], [], []
        for repetition in range(arguments.state_repeat):
            # Alternated, so that a slower spell of the machine falls on either side.
            order = (small, large) if repetition % 2 == 0 else (large, small)
            took = {}
            for size in order:
                await quiet_broker(context)  # the scenario before may still be compacted
                took[size] = await asyncio.to_thread(_measure_fresh, grows_in, size, rounds)
            littles.append(took[small])
            bigs.append(took[large])
            ratios.append(took[large] / took[small])
        spread = Spread.of(ratios)
        rows.append(
            (
                what,
                f"{small:,}",
                statistics.median(littles),
                f"{large:,}",
                statistics.median(bigs),
                spread.median,
                spread.low,
                spread.high,
            )
        )
    return [
        Table(
            title="state-size: the median time of one message's step, small state vs large",
            columns=(
                "state grows in",
                "small",
                "small µs",
                "large",
                "large µs",
                "ratio",
                "ratio min",
                "ratio max",
            ),
            rows=tuple(rows),
            notes=(
                f"{rounds} rounds of a cast, its eCOA, its lot and a warrant request, each "
                "message's step timed (decode, sender rules, decision, outputs)",
                "over a real SQLite working store through the bounded cache, batches of "
                f"{BATCH} committed to it, each measurement in a fresh process",
                f"{arguments.state_repeat} pairs of small and large, alternating which goes "
                "first: µs are medians, ratio the median of the pairs' ratios (min, max); "
                "target: ratio <= 1.2",
            ),
        )
    ]


SCENARIO = Scenario(
    name="state-size",
    summary="the time of one message with 100 vs 10,000 casts in a brand and 10 vs 50,000 "
    "brands in a partition",
    add_arguments=add_arguments,
    run=run,
)
