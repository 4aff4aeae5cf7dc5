"""``throughput``: how fast a backlog is drained, by the registry and by the two baselines.

Each repetition writes a backlog of the realistic mix (default 20,000 records, thousands of
brands) to the registry's input topics under a prefix of its own, then starts each of the
four contestants in turn, each as its own process (or processes) with its own group on those
same topics, and waits until it has committed everything: the bare pipe, the transactional
pipe, the registry (``gateway run``, its own state directory; done when its group and its
custody ledger's have committed all, the ledger booking the lots' custody moves) and the
registry as two ``gateway run`` processes in one group. The order is
rotated from one repetition to the next; before the first, each contestant drains a smaller
backlog untimed (warm-up of the broker and the page cache).

Two figures per contestant and repetition: *drain*, the records committed after the process
was ready (the registry's ``/ready`` answers 200: joined, partitions' state restored; a pipe
holds its partitions and producers) over the time from then to its last committed output;
and *from start*, all records over the time from the process's start to its last committed
output (start-up, restore and group join included). Committed offsets are read every 25 ms
through one persistent admin client.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from aiokafka import TopicPartition

from contracts.topics import BRAND_PARTITIONS
from gateway.processors.partitions import partition_of
from gateway.processors.records import InputRecord
from gateway.runtime.garbage import as_in_service
from gateway.tools.bench import contestants, topics
from gateway.tools.bench.contestants import Kind
from gateway.tools.bench.framework import (
    QUIET_SHARE,
    QUIET_WINDOW_S,
    BenchContext,
    Scenario,
    Spread,
    clock,
    positive_int,
    quiet_broker,
)
from gateway.tools.bench.progress import GroupProgress
from gateway.tools.bench.state_size import RegistryStep
from gateway.tools.bench.tables import Cell, Table
from gateway.tools.bench.workload import Input, opening, realistic_mix, sending_producer, write_all
from gateway.topology import REGISTRY_INPUTS

ORDER = (Kind.BARE, Kind.TRANSACTIONAL, Kind.REGISTRY, Kind.REGISTRY_PAIR)
REGISTRIES = (Kind.REGISTRY, Kind.REGISTRY_PAIR)
STEP_ALONE = "registry step alone, no Kafka"


@dataclass(frozen=True)
class Drain:
    kind: Kind
    records: int
    drained: int
    """Records committed after the process was seen ready."""
    ready_s: float
    """Process start to ready."""
    drain_s: float
    """Ready to the last committed output."""
    settled_s: float
    """How long the broker took to be quiet before the process was started."""
    cpu_s: float
    """CPU time the process used from its start to the last committed output."""

    @property
    def total_s(self) -> float:
        return self.ready_s + self.drain_s

    @property
    def drain_rate(self) -> float:
        """nan when nothing was left once it was ready (a pair whose group settled only after
        the backlog was done): then only the figure from start tells."""
        if self.drained <= 0 or self.drain_s <= 0:
            return float("nan")
        return self.drained / self.drain_s

    @property
    def start_rate(self) -> float:
        return self.records / self.total_s

    @property
    def per_cpu_second(self) -> float:
        """Records per second of the process's own CPU time, start-up included: less
        sensitive than the rates to other work on the machine (the broker's is not in it)."""
        return self.records / self.cpu_s if self.cpu_s > 0 else float("nan")


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--backlog", type=positive_int, default=20_000, help="records in each backlog (20000)"
    )
    group.add_argument(
        "--warmup",
        type=int,
        default=2_000,
        help="records each contestant drains untimed before the first repetition (2000; 0: none)",
    )
    group.add_argument(
        "--drain-timeout", type=float, default=300.0, help="seconds one drain may take (300)"
    )


async def run(context: BenchContext, arguments: argparse.Namespace) -> list[Table]:
    backlog = realistic_mix(arguments.backlog)
    progress = GroupProgress(context.bootstrap_servers)
    await progress.start()
    try:
        if arguments.warmup > 0:
            await _repetition(
                context, progress, "warmup", backlog[: arguments.warmup], ORDER, arguments
            )
        repetitions = []
        for number in range(context.repeat):
            turn = number % len(ORDER)
            order = ORDER[turn:] + ORDER[:turn]
            label = f"throughput{number + 1}"
            repetitions.append(
                await _repetition(context, progress, label, backlog, order, arguments)
            )
    finally:
        await progress.close()
    alone = [await asyncio.to_thread(_step_alone, backlog) for _ in range(context.repeat)]
    return [_summary(repetitions, alone, arguments), _details(repetitions)]


def _step_alone(backlog: list[Input]) -> float:
    """Records per second of the registry's step alone over the same backlog: in this
    process, no Kafka, each of the six partitions' records folded in batches over a working
    store of its own (as the state-size scenario runs it). What one core can do at best,
    whatever Kafka and the engine cost. The collector is set as ``gateway run`` sets it (the
    bench's own heap, the backlogs, out of its sight)."""
    by_partition: dict[int, list[InputRecord]] = defaultdict(list)
    for record in backlog:
        number = 0 if record.key is None else partition_of(record.key.decode(), BRAND_PARTITIONS)
        records = by_partition[number]
        records.append(
            InputRecord(
                topic=record.topic,
                partition=number,
                offset=len(records),
                timestamp_ms=None,
                key=record.key,
                value=record.value,
                headers=record.headers,
            )
        )
    with as_in_service(), tempfile.TemporaryDirectory(prefix="bench-step-") as directory:
        steps = {n: RegistryStep(Path(directory) / str(n)) for n in by_partition}
        try:
            began = time.perf_counter()
            for number, records in by_partition.items():
                steps[number].feed_records(records)
            took = time.perf_counter() - began
        finally:
            for step in steps.values():
                step.close()
    return len(backlog) / took


async def _repetition(
    context: BenchContext,
    progress: GroupProgress,
    label: str,
    backlog: list[Input],
    order: tuple[Kind, ...],
    arguments: argparse.Namespace,
) -> dict[Kind, Drain]:
    # The pipes read the registry's inputs with groups and outputs of their own; each
    # registry needs topics of its own (its group, changelog and outputs live under them).
    prefixes = {
        Kind.BARE: context.topic_prefix(label),
        Kind.TRANSACTIONAL: context.topic_prefix(label),
        Kind.REGISTRY: context.topic_prefix(label),
        Kind.REGISTRY_PAIR: context.topic_prefix(label, "pair"),
    }
    created: list[str] = []
    try:
        for prefix in dict.fromkeys(prefixes.values()):
            await topics.create(context, prefix)
            created.append(prefix)
        producer = sending_producer(context.bootstrap_servers)
        await producer.start()
        try:
            for prefix in created:
                await write_all(producer, prefix, [*opening(), *backlog])
        finally:
            await producer.stop()
        targets = {
            prefix: await progress.ends(prefix + name for name in REGISTRY_INPUTS)
            for prefix in created
        }
        drains = {}
        for kind in order:
            prefix = prefixes[kind]
            drains[kind] = await _drain(
                context, progress, kind, prefix, label, targets[prefix], arguments.drain_timeout
            )
        return drains
    finally:
        for prefix in created:
            await topics.delete(context, prefix)


async def _drain(
    context: BenchContext,
    progress: GroupProgress,
    kind: Kind,
    prefix: str,
    label: str,
    targets: dict[TopicPartition, int],
    timeout_s: float,
) -> Drain:
    settled_s = await quiet_broker(context)
    running = contestants.start(context, kind, prefix, label)
    try:
        deadline = clock() + timeout_s
        ready_at = await running.wait_ready(deadline)
        before = await progress.consumed(running.inputs.group, targets)
        done_at = await running.wait_done(progress, targets, deadline)
        cpu_s = running.cpu_s()
    finally:
        await running.stop()
    records = sum(targets.values())
    return Drain(
        kind=kind,
        records=records,
        drained=records - before,
        ready_s=ready_at - running.spawned_at,
        drain_s=done_at - ready_at,
        settled_s=settled_s,
        cpu_s=cpu_s,
    )


def _summary(
    repetitions: list[dict[Kind, Drain]], alone: list[float], arguments: argparse.Namespace
) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for kind in ORDER:
        drains = [repetition[kind] for repetition in repetitions]
        drain = Spread.of([d.drain_rate for d in drains])
        start = Spread.of([d.start_rate for d in drains])
        ready = Spread.of([d.ready_s for d in drains])
        per_cpu = Spread.of([d.per_cpu_second for d in drains])
        rows.append((kind.label, *_spread(drain), *_spread(start), ready.median, per_cpu.median))
    step = Spread.of(alone)
    rows.append((STEP_ALONE, *_spread(step), None, None, None, None, None))
    for registry in REGISTRIES:
        for baseline, name in ((Kind.TRANSACTIONAL, "transactional"), (Kind.BARE, "bare")):
            drain = Spread.of(
                [r[registry].drain_rate / r[baseline].drain_rate for r in repetitions]
            )
            start = Spread.of(
                [r[registry].start_rate / r[baseline].start_rate for r in repetitions]
            )
            per_cpu = Spread.of(
                [r[registry].per_cpu_second / r[baseline].per_cpu_second for r in repetitions]
            )
            rows.append(
                (
                    f"{_short(registry)} / {name}",
                    *_spread(drain),
                    *_spread(start),
                    None,
                    per_cpu.median,
                )
            )
    return Table(
        title=(
            f"throughput: a backlog of {arguments.backlog:,} records, "
            f"{len(repetitions)} repetition(s), events/s"
        ),
        columns=(
            "",
            "drain min",
            "drain med",
            "drain max",
            "start min",
            "start med",
            "start max",
            "ready s",
            "per CPU s",
        ),
        rows=tuple(rows),
        notes=(
            "drain: records committed after the process was ready (joined; the registry's "
            "state restored), over the time from then to its last committed output",
            "start: the whole backlog over the time from process start to its last committed "
            "output; ready s: process start to ready (median)",
            "per CPU s: the backlog over the CPU time of the process itself (both, for the "
            "pair), start-up included (median; the broker's CPU is not in it)",
            "ratios: min / median / max of the ratios within each repetition (same broker, "
            "same backlog, one after the other)",
            f"each repetition: the contestants in rotated order on a backlog of its own; "
            f"warm-up first: {arguments.warmup:,} records each, not counted",
            f"{STEP_ALONE}: the registry's step over the same backlog in the bench's own "
            "process, each partition's records folded in batches over its own SQLite store "
            "(decode, rules, outputs, state encoded and stored): one core's best, whatever "
            "Kafka and the engine cost",
        ),
    )


def _short(kind: Kind) -> str:
    return "registry x2" if kind is Kind.REGISTRY_PAIR else "registry"


def _spread(spread: Spread) -> tuple[float, float, float]:
    return spread.low, spread.median, spread.high


def _details(repetitions: list[dict[Kind, Drain]]) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for number, repetition in enumerate(repetitions, start=1):
        for kind, drain in repetition.items():
            rows.append(
                (
                    f"{number} {kind.label}",
                    drain.records,
                    drain.settled_s,
                    drain.ready_s,
                    drain.drain_s,
                    drain.drain_rate,
                    drain.total_s,
                    drain.start_rate,
                    drain.cpu_s,
                    drain.per_cpu_second,
                )
            )
    return Table(
        title="throughput: each drain, in the order run",
        columns=(
            "repetition",
            "records",
            "quiet wait s",
            "ready s",
            "drain s",
            "drain ev/s",
            "total s",
            "from start ev/s",
            "CPU s",
            "ev per CPU s",
        ),
        rows=tuple(rows),
        notes=(
            "quiet wait: before each start, until the broker used under "
            f"{QUIET_SHARE:.0%} of a core for {QUIET_WINDOW_S:g} s (at most 15 s)",
        ),
    )


SCENARIO = Scenario(
    name="throughput",
    summary="drain a backlog: the registry as `gateway run` against a bare and a "
    "transactional aiokafka pipe",
    add_arguments=add_arguments,
    run=run,
)
