"""What every scenario of ``gateway bench`` is given and gives back, and the statistics they
share.

A scenario is a name, a one-line summary, the command-line options it adds (in an argument
group of its own, so their names must not clash with another scenario's) and an async
function: given the run's context and the parsed arguments, it measures and returns the
tables it wants printed. The runner prints them and collects them for ``--json``. Scenarios
are listed in ``gateway/tools/bench/scenarios.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.runtime.settings import Settings
from gateway.tools.bench.tables import Table


@dataclass(frozen=True)
class BenchContext:
    """What the runner gives every scenario."""

    bootstrap_servers: str
    broker_version: str
    settings: Settings
    """The settings of ``gateway bench`` itself (the environment, as ``gateway run`` reads it)."""
    work_dir: Path
    """A directory of this run: state directories and the logs of the processes it starts."""
    repeat: int
    """Repetitions asked for with ``--repeat`` (each scenario says what it repeats)."""
    run_id: str
    """Short and unique: in every topic prefix and group id of the run."""
    pipe_batch_bytes: int
    """The bare pipes' producer batch size (``--pipe-batch-bytes``)."""
    broker_pid: int | None = None
    """The local broker's JVM, when the bench knows it (to wait for it to be quiet)."""

    def topic_prefix(self, *parts: str) -> str:
        """A topic prefix (and group id prefix) of this run alone."""
        return "-".join(("bench", self.run_id, *parts)) + "-"

    def log_dir(self, *parts: str) -> Path:
        directory = self.work_dir.joinpath(*parts)
        directory.mkdir(parents=True, exist_ok=True)
        return directory


ScenarioRun = Callable[[BenchContext, argparse.Namespace], Awaitable[list[Table]]]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    add_arguments: Callable[[argparse._ArgumentGroup], None]
    run: ScenarioRun
    by_default: bool = True
    """Run by ``gateway bench`` without scenario names (``make bench``)."""


@dataclass(frozen=True)
class Spread:
    """Min, median and max of repeated figures."""

    low: float
    median: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls(math.nan, math.nan, math.nan)
        return cls(min(values), statistics.median(values), max(values))


def positive_int(text: str) -> int:
    """An option's value that must be a whole number above zero."""
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return number


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.99 for p99) of ``values``; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(share * len(ordered)), 1)
    return ordered[rank - 1]


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points; 0 with fewer than two distinct x."""
    if len(points) < 2:
        return 0.0
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


QUIET_SHARE = 0.10
"""The broker is quiet when it uses less than this share of one core ..."""
QUIET_WINDOW_S = 0.5
"""... over this long."""


async def quiet_broker(context: BenchContext, timeout_s: float = 15.0) -> float:
    """Before a measurement: wait until the broker has finished what the last one left it
    (deleting and creating topics, writing a backlog, ending a group's session), at most
    ``timeout_s``; how long that took. Without the broker's process (a broker of
    ``KAFKA_BOOTSTRAP_SERVERS``), a fixed pause of one second."""
    began = clock()
    if context.broker_pid is None:
        await asyncio.sleep(1.0)
        return clock() - began
    while clock() - began < timeout_s:
        before = cpu_seconds(context.broker_pid)
        await asyncio.sleep(QUIET_WINDOW_S)
        after = cpu_seconds(context.broker_pid)
        if before is None or after is None:
            break
        if after - before < QUIET_SHARE * QUIET_WINDOW_S:
            break
    return clock() - began


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time a process has used so far (None if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mib() -> float:
    """This process's peak resident memory (``VmHWM``). Not ``ru_maxrss``: Linux carries that
    across ``exec``, so a process started by a large one would report its parent's."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError("no VmHWM in /proc/self/status")


def clock() -> float:
    """The one clock of every measurement in the bench process (seconds, monotonic)."""
    return time.perf_counter()


class BenchError(RuntimeError):
    """A measurement that could not be made (a process that died, a drain that timed out)."""
