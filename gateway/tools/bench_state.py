"""Benchmarks of the registry's state: what a message costs as the state grows (``state-size``)
and how long a restore takes (``restore``).

``state-size`` runs the registry's step as the engine does, minus Kafka: records as the
consumer hands them over (headers and bytes), folded in batches over a state read from a real
SQLite working store through the bounded cache, each batch's changes encoded, written to the
store and the state rebased. It times the same next messages (a cast, an eCOA, a lot arriving,
a warrant request) over a small and a large state and prints the ratio.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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
from gateway.runtime.settings import Settings
from producers.parties import DEMO_PARTIES, sender_role_for
from producers.simulation import cast, cbam_form, enhanced_ecoa, list_brand, lot, request

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
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


def main() -> None:
    for row in run_state_size():
        print(f"{row.label:<48} {row.figure}")


if __name__ == "__main__":
    main()
