"""``latency``: how long an input takes to become a committed output when inputs arrive at a
steady rate, for the registry (``gateway run``; also as two such processes in one group)
and beside it the transactional pipe.

The contestants are started side by side, each its own process on topics of its own, with
a read_committed reader on its output topics (the registry's; the ledger's answers to a flow
come after them). Then a warm-up (a few seconds at the first rate, not counted) and each
offered rate in turn (500, 1,000 and 2,000 ev/s by default) for the same number of seconds,
each step sent to one contestant and then the same records to the others (the order
reversed from step to step) while the others idle: the figures of a rate are
measured close together in time, under much the same load of the machine. The records are
the realistic mix, new brands every step; the pacing keeps the count sent at
``rate x elapsed``, in bursts of at most a few milliseconds.

The latency of an input is the time from handing it to the producer to the first committed
output that carries its correlation id (``ce_correlationid``; the registry's outputs carry
their input's, the pipe copies the headers), as the reader sees it. Inputs with no output of
their own (a cast only changes state) are not counted: ``answered`` says how many were.
Between two steps the contestant catches up completely (its groups have committed all and
the reader has read to the end), so a step does not inherit the previous one's backlog.

Lag: every 0.5 s during a step, the input records its group has not committed yet. The
figures are the lag when sending stopped and its trend (least-squares slope over the step
after its first second): the lag *grew* when the trend is above 5 % of the offered rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.envelope import HEADER_CORRELATION_ID
from gateway.tools.bench import contestants, topics
from gateway.tools.bench.contestants import Kind, Running
from gateway.tools.bench.framework import (
    BenchContext,
    BenchError,
    Scenario,
    clock,
    percentile,
    positive_int,
    quiet_broker,
    slope,
)
from gateway.tools.bench.progress import GroupProgress
from gateway.tools.bench.tables import Cell, Table
from gateway.tools.bench.workload import Input, opening, realistic_mix, send, sending_producer
from gateway.tools.bench.workload import write_all as write_backlog

CONTESTANTS = (Kind.REGISTRY, Kind.REGISTRY_PAIR, Kind.TRANSACTIONAL)
LAG_SAMPLE_S = 0.5
GROWTH_SHARE = 0.05
PACING_TICK_S = 0.002


def _rates(text: str) -> tuple[int, ...]:
    try:
        rates = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 500,1000,2000") from None
    if not rates or min(rates) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: rates are positive")
    return rates


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--rates",
        type=_rates,
        default=(500, 1_000, 2_000),
        help="offered rates in events/s, comma-separated (500,1000,2000)",
    )
    group.add_argument(
        "--step-seconds", type=float, default=15.0, help="seconds of sending at each rate (15)"
    )
    group.add_argument(
        "--latency-warmup", type=float, default=5.0, help="seconds of warm-up sending (5)"
    )
    group.add_argument(
        "--latency-repeat",
        type=positive_int,
        default=1,
        help="repetitions of every step for each contestant (1)",
    )
    group.add_argument(
        "--settle-timeout",
        type=float,
        default=180.0,
        help="seconds a contestant may take to catch up after a step (180)",
    )


@dataclass(frozen=True)
class Step:
    kind: Kind
    offered: int
    sent: int
    sent_rate: float
    answered: int
    latencies_s: tuple[float, ...]
    lag_at_end: int
    lag_trend: float
    caught_up: bool

    @property
    def grew(self) -> bool:
        return self.lag_trend > GROWTH_SHARE * self.offered

    def ms(self, share: float) -> float:
        return percentile(self.latencies_s, share) * 1000


@dataclass
class _Reader:
    """A read_committed consumer on every partition of the outputs, from their beginning:
    for each correlation id, when its first output was read."""

    bootstrap_servers: str
    partitions: list[TopicPartition]
    seen: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.assign(self.partitions)
        await self._consumer.seek_to_beginning(*self.partitions)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        seen = self.seen
        wanted = HEADER_CORRELATION_ID
        while True:
            fetched = await self._consumer.getmany(timeout_ms=100)
            now = clock()
            for batch in fetched.values():
                for record in batch:
                    for name, value in record.headers:
                        if name == wanted:
                            seen.setdefault(value.decode("utf-8", "replace"), now)
                            break

    async def caught_up(self, ends: dict[TopicPartition, int]) -> bool:
        for partition, end in ends.items():
            if await self._consumer.position(partition) < end:
                return False
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


async def run(context: BenchContext, arguments: argparse.Namespace) -> list[Table]:
    rates: tuple[int, ...] = arguments.rates
    counts = _counts(rates, arguments.step_seconds, arguments.latency_warmup)
    pool = realistic_mix(sum(counts) * arguments.latency_repeat)
    progress = GroupProgress(context.bootstrap_servers)
    await progress.start()
    steps: list[Step] = []
    try:
        for number in range(arguments.latency_repeat):
            chunk = pool[number * sum(counts) : (number + 1) * sum(counts)]
            steps += await _round(
                context, progress, f"latency{number + 1}", chunk, counts, arguments
            )
    finally:
        await progress.close()
    return [_table(steps, arguments), _ratios(steps, rates)]


def _counts(rates: Sequence[int], step_s: float, warmup_s: float) -> list[int]:
    """Records of the warm-up, then of each step."""
    return [math.ceil(rates[0] * warmup_s), *(math.ceil(rate * step_s) for rate in rates)]


@dataclass
class _Lane:
    """One contestant with its topics, its sending producer and its output reader."""

    kind: Kind
    prefix: str
    producer: AIOKafkaProducer
    running: Running
    reader: _Reader
    stalled: bool = False
    """It did not catch up after a step: its next steps would inherit that backlog."""


async def _round(
    context: BenchContext,
    progress: GroupProgress,
    label: str,
    pool: list[Input],
    counts: list[int],
    arguments: argparse.Namespace,
) -> list[Step]:
    """Both contestants started side by side on topics of their own, then every step for
    one and then the other (the order alternating), so that the two figures of a rate are
    measured minutes apart at most; the contestant not being measured idles."""
    steps: list[Step] = []
    async with contextlib.AsyncExitStack() as stack:
        lanes = [
            await _open_lane(context, progress, stack, kind, label, arguments)
            for kind in CONTESTANTS
        ]
        rates: tuple[int, ...] = (arguments.rates[0], *arguments.rates)
        start = 0
        for index, (rate, count) in enumerate(zip(rates, counts, strict=True)):
            records = pool[start : start + count]
            start += count
            for lane in lanes if index % 2 == 0 else lanes[::-1]:
                if lane.stalled:
                    continue
                step = await _step(progress, lane, rate, records, arguments)
                if index > 0:  # the first is the warm-up
                    steps.append(step)
                lane.stalled = not step.caught_up
    return steps


async def _open_lane(
    context: BenchContext,
    progress: GroupProgress,
    stack: contextlib.AsyncExitStack,
    kind: Kind,
    label: str,
    arguments: argparse.Namespace,
) -> _Lane:
    prefix = context.topic_prefix(label, kind.value)
    await topics.create(context, prefix)
    stack.push_async_callback(topics.delete, context, prefix)
    producer = sending_producer(context.bootstrap_servers, linger_ms=0)
    await producer.start()
    stack.push_async_callback(producer.stop)
    await write_backlog(producer, prefix, opening())
    await quiet_broker(context)
    running = contestants.start(context, kind, prefix, label)
    stack.push_async_callback(running.stop)
    reader = _Reader(context.bootstrap_servers, await progress.partitions(running.outputs))
    await reader.start()
    stack.push_async_callback(reader.stop)
    await running.wait_ready(clock() + arguments.settle_timeout)
    return _Lane(kind, prefix, producer, running, reader)


async def _step(
    progress: GroupProgress,
    lane: _Lane,
    rate: int,
    records: list[Input],
    arguments: argparse.Namespace,
) -> Step:
    running, reader = lane.running, lane.reader
    samples: list[tuple[float, float]] = []
    sampling = asyncio.create_task(_sample_lag(progress, running, samples))
    try:
        sent_at, sent_rate = await _paced(lane.producer, lane.prefix, rate, records)
    finally:
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
    lag_at_end = await progress.lag(running.inputs.group, running.inputs.topics)
    began = samples[0][0] if samples else 0.0
    trend = slope([(t, lag) for t, lag in samples if t - began >= 1.0])
    caught_up = await _settle(progress, running, reader, arguments.settle_timeout)
    latencies = tuple(
        reader.seen[correlation] - moment
        for correlation, moment in sent_at.items()
        if correlation in reader.seen
    )
    return Step(
        kind=running.kind,
        offered=rate,
        sent=len(records),
        sent_rate=sent_rate,
        answered=len(latencies),
        latencies_s=latencies,
        lag_at_end=lag_at_end,
        lag_trend=trend,
        caught_up=caught_up,
    )


async def _paced(
    producer: AIOKafkaProducer, prefix: str, rate: int, records: list[Input]
) -> tuple[dict[str, float], float]:
    """Send ``records`` at ``rate`` per second: when each was handed to the producer, and
    the rate achieved."""
    sent_at: dict[str, float] = {}
    futures = []
    began = clock()
    count = 0
    while count < len(records):
        due = min(len(records), int((clock() - began) * rate) + 1)
        while count < due:
            record = records[count]
            sent_at[record.correlation_id] = clock()
            futures.append(await send(producer, prefix, record))
            count += 1
        await asyncio.sleep(PACING_TICK_S)
    elapsed = clock() - began
    await asyncio.gather(*futures)
    return sent_at, len(records) / elapsed if elapsed > 0 else math.nan


async def _sample_lag(
    progress: GroupProgress, running: Running, samples: list[tuple[float, float]]
) -> None:
    while True:
        lag = await progress.lag(running.inputs.group, running.inputs.topics)
        samples.append((clock(), float(lag)))
        await asyncio.sleep(LAG_SAMPLE_S)


async def _settle(
    progress: GroupProgress, running: Running, reader: _Reader, timeout_s: float
) -> bool:
    """Until the contestant has committed every input sent and the reader has read every
    committed output; False if that took longer than ``timeout_s``."""
    deadline = clock() + timeout_s
    try:
        targets = await progress.ends(running.inputs.topics)
        await running.wait_done(progress, targets, deadline)
        ends = await progress.ends(running.outputs)
        while not await reader.caught_up(ends):
            running.check(deadline, "for the reader to read every output")
            await asyncio.sleep(contestants.POLL_S)
    except BenchError as error:
        if running.exited() is not None:
            raise
        print(f"latency: {error}", flush=True)
        return False
    return True


def _table(steps: list[Step], arguments: argparse.Namespace) -> Table:
    steps = sorted(steps, key=lambda step: (CONTESTANTS.index(step.kind), step.offered))
    rows: list[tuple[Cell, ...]] = [
        (
            step.kind.label,
            step.offered,
            step.sent_rate,
            f"{step.answered:,}/{step.sent:,}",
            step.ms(0.50),
            step.ms(0.99),
            step.ms(1.0),
            step.lag_at_end,
            step.lag_trend,
            step.grew,
        )
        for step in steps
    ]
    short = [f"{step.kind.label} at {step.offered:,}/s" for step in steps if not step.caught_up]
    return Table(
        title=(
            f"latency: send to committed output, {arguments.step_seconds:g} s at each rate "
            f"(after a {arguments.latency_warmup:g} s warm-up)"
        ),
        columns=(
            "",
            "offered ev/s",
            "sent ev/s",
            "answered",
            "p50 ms",
            "p99 ms",
            "max ms",
            "lag at end",
            "lag trend /s",
            "lag grew",
        ),
        rows=tuple(rows),
        notes=(
            "answered: inputs with a committed output of their own (a cast only changes "
            "state); the percentiles are over those",
            "lag: input records not yet committed by its group, when sending stopped; trend: "
            f"slope over the step; grew: trend above {GROWTH_SHARE:.0%} of the offered rate",
            *(
                [f"did not catch up within {arguments.settle_timeout:g} s: " + ", ".join(short)]
                if short
                else []
            ),
        ),
    )


def _ratios(steps: list[Step], rates: Sequence[int]) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for registry in (Kind.REGISTRY, Kind.REGISTRY_PAIR):
        for rate in rates:
            mine = [step for step in steps if step.offered == rate and step.kind is registry]
            theirs = [
                step for step in steps if step.offered == rate and step.kind is Kind.TRANSACTIONAL
            ]
            if mine and theirs:
                rows.append(
                    (
                        registry.label,
                        rate,
                        _median_ratio(mine, theirs, 0.50),
                        _median_ratio(mine, theirs, 0.99),
                    )
                )
    return Table(
        title="latency: registry / transactional pipe",
        columns=("", "offered ev/s", "p50", "p99"),
        rows=tuple(rows),
        notes=("target: p99 <= 2 at 1,000 ev/s offered",),
    )


def _median_ratio(mine: list[Step], theirs: list[Step], share: float) -> float:
    ratios = sorted(a.ms(share) / b.ms(share) for a, b in zip(mine, theirs, strict=False))
    return ratios[len(ratios) // 2]


SCENARIO = Scenario(
    name="latency",
    summary="paced sends at 500, 1,000 and 2,000 ev/s: p50/p99 send to committed output, "
    "the registry beside the transactional pipe, and whether lag grew",
    add_arguments=add_arguments,
    run=run,
)
