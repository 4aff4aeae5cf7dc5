"""``throughput``: how fast a backlog is drained, by the registry and by the two baselines.

Each repetition writes a backlog of the realistic mix (default 20,000 records, thousands of
brands) to the registry's input topics under a prefix of its own, then starts each of the
three contestants in turn, each as its own process with its own group on those same topics,
and waits until it has committed everything: the bare pipe, the transactional pipe and the
registry (``gateway run``, its own state directory; done when its group and its custody
ledger's have committed all, the ledger booking the lots' custody moves). The order is
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
from dataclasses import dataclass

from aiokafka import TopicPartition

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
from gateway.tools.bench.tables import Cell, Table
from gateway.tools.bench.workload import Input, opening, realistic_mix, sending_producer, write_all
from gateway.topology import REGISTRY_INPUTS

ORDER = (Kind.BARE, Kind.TRANSACTIONAL, Kind.REGISTRY)


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
        return self.drained / self.drain_s if self.drain_s > 0 else float("nan")

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
            order = ORDER[number % 3 :] + ORDER[: number % 3]
            label = f"throughput{number + 1}"
            repetitions.append(
                await _repetition(context, progress, label, backlog, order, arguments)
            )
    finally:
        await progress.close()
    return [_summary(repetitions, arguments), _details(repetitions)]


async def _repetition(
    context: BenchContext,
    progress: GroupProgress,
    label: str,
    backlog: list[Input],
    order: tuple[Kind, ...],
    arguments: argparse.Namespace,
) -> dict[Kind, Drain]:
    prefix = context.topic_prefix(label)
    await topics.create(context, prefix)
    try:
        producer = sending_producer(context.bootstrap_servers)
        await producer.start()
        try:
            await write_all(producer, prefix, [*opening(), *backlog])
        finally:
            await producer.stop()
        targets = await progress.ends(prefix + name for name in REGISTRY_INPUTS)
        drains = {}
        for kind in order:
            drains[kind] = await _drain(
                context, progress, kind, prefix, label, targets, arguments.drain_timeout
            )
        return drains
    finally:
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


def _summary(repetitions: list[dict[Kind, Drain]], arguments: argparse.Namespace) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for kind in ORDER:
        drains = [repetition[kind] for repetition in repetitions]
        drain = Spread.of([d.drain_rate for d in drains])
        start = Spread.of([d.start_rate for d in drains])
        ready = Spread.of([d.ready_s for d in drains])
        per_cpu = Spread.of([d.per_cpu_second for d in drains])
        rows.append((kind.label, *_spread(drain), *_spread(start), ready.median, per_cpu.median))
    for baseline, name in ((Kind.TRANSACTIONAL, "transactional"), (Kind.BARE, "bare")):
        drain = Spread.of(
            [r[Kind.REGISTRY].drain_rate / r[baseline].drain_rate for r in repetitions]
        )
        start = Spread.of(
            [r[Kind.REGISTRY].start_rate / r[baseline].start_rate for r in repetitions]
        )
        per_cpu = Spread.of(
            [r[Kind.REGISTRY].per_cpu_second / r[baseline].per_cpu_second for r in repetitions]
        )
        rows.append((f"registry / {name}", *_spread(drain), *_spread(start), None, per_cpu.median))
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
            "per CPU s: the backlog over the CPU time of the process itself, start-up included "
            "(median; the broker's CPU is not in it)",
            "ratios: min / median / max of the ratios within each repetition (same broker, "
            "same backlog, one after the other)",
            f"each repetition: the contestants in rotated order on a backlog of its own; "
            f"warm-up first: {arguments.warmup:,} records each, not counted",
        ),
    )


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
