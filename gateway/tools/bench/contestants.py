"""The things measured, each as processes of their own started by the bench: the registry
(``gateway run``, with the environment ``gateway bench`` was given, plus its own broker
address, topic prefix, state directory and ops port), the registry as two such processes in
one group (each holding half the partitions, as a deployment on a host with two cores
would run it), and the two bare aiokafka pipes of ``pipes.py``.

All three read the registry's input topics under one prefix; what the bench watches is the
committed offsets of the group that reads them, plus, for the gateway, the custody ledger's
group on ``ledger.commands`` (the ledger books the custody moves the registry derives, in the
same process): the gateway is done when both have committed everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from aiokafka import TopicPartition

from gateway.tools.bench import pipes
from gateway.tools.bench.framework import BenchContext, BenchError, clock, cpu_seconds
from gateway.tools.bench.progress import GroupProgress
from gateway.tools.fault_process import GatewayProcess, free_port, is_ready
from gateway.topology import LEDGER_INPUT, REGISTRY_INPUTS, REGISTRY_OUTPUTS

POLL_S = 0.025
"""How often the bench asks for readiness and committed offsets (one persistent admin
client: a round trip of a millisecond or two)."""

BARE_OUTPUT = "bench.bare-out"
TRANSACTIONAL_OUTPUT = "bench.transactional-out"


class Kind(StrEnum):
    BARE = "bare"
    TRANSACTIONAL = "transactional"
    REGISTRY = "registry"
    REGISTRY_PAIR = "registry-pair"

    @property
    def label(self) -> str:
        return {
            Kind.BARE: "bare aiokafka pipe",
            Kind.TRANSACTIONAL: "transactional aiokafka pipe",
            Kind.REGISTRY: "registry (gateway run)",
            Kind.REGISTRY_PAIR: "registry, 2 processes",
        }[self]

    @property
    def is_registry(self) -> bool:
        return self in (Kind.REGISTRY, Kind.REGISTRY_PAIR)


@dataclass(frozen=True)
class Watched:
    """A consumer group of a contestant and the topics (prefixed) it reads."""

    group: str
    topics: tuple[str, ...]


@dataclass
class Running:
    kind: Kind
    processes: tuple[GatewayProcess, ...]
    """One, or the registry's pair (members of one group)."""
    spawned_at: float
    """When the process was started, on the bench's clock."""
    inputs: Watched
    """The group reading the registry's input topics (the backlog)."""
    followers: tuple[Watched, ...]
    """Groups that must also catch up before the contestant is done (the gateway's ledger)."""
    outputs: tuple[str, ...]
    """The topics (prefixed) its outputs are written to."""
    ready_file: Path | None = None
    """A pipe creates it when it is ready; the registry answers ``/ready`` instead."""

    async def is_ready(self) -> bool:
        """Joined its group and ready to process: the registry's ``/ready`` answers 200 (its
        partitions' state restored), a pipe has its partitions and its producers."""
        if self.ready_file is not None:
            return self.ready_file.exists()
        for process in self.processes:
            if not await is_ready(process.ops_port):
                return False
        return True

    state_dirs: tuple[Path, ...] = ()
    """The registry's local stores: removed once it has stopped (its log is kept)."""

    async def stop(self) -> str:
        said = []
        try:
            for process in self.processes:
                said.append(await process.stop())
        finally:
            for process in self.processes:
                process.kill_all()
            for state_dir in self.state_dirs:
                shutil.rmtree(state_dir, ignore_errors=True)
        return "\n".join(said)

    def cpu_s(self) -> float:
        """The CPU time (user and system) its processes have used so far; nan once one is
        gone."""
        total = 0.0
        for process in self.processes:
            current = process.current
            used = None if current is None else cpu_seconds(current.pid)
            if used is None:
                return float("nan")
            total += used
        return total

    def exited(self) -> int | None:
        """The exit code if a process has ended (none should, before it is stopped)."""
        for process in self.processes:
            current = process.current
            code = None if current is None else current.process.poll()
            if code is not None:
                return code
        return None

    def log_tail(self, lines: int = 15) -> str:
        tails = []
        for process in self.processes:
            current = process.current
            if current is not None:
                tails.append("\n".join(current.log_lines()[-lines:]))
        return "\n".join(tails)

    def check(self, deadline: float, waiting_for: str) -> None:
        """Raise if the process has died or the deadline has passed."""
        code = self.exited()
        if code is not None:
            raise BenchError(
                f"{self.kind.label} exited with {code} while waiting {waiting_for}:\n"
                + self.log_tail()
            )
        if clock() > deadline:
            raise BenchError(f"{self.kind.label}: timed out waiting {waiting_for}")

    async def wait_ready(self, deadline: float) -> float:
        """When it was first seen ready (on the bench's clock)."""
        while not await self.is_ready():
            self.check(deadline, "to be ready")
            await asyncio.sleep(POLL_S)
        return clock()

    async def wait_consumed(
        self,
        progress: GroupProgress,
        watched: Watched,
        targets: Mapping[TopicPartition, int],
        deadline: float,
    ) -> float:
        """When ``watched``'s group was first seen to have committed every record up to
        ``targets`` (partition -> end offset)."""
        goal = sum(targets.values())
        while await progress.consumed(watched.group, targets) < goal:
            self.check(deadline, f"for {watched.group} to consume its input")
            await asyncio.sleep(POLL_S)
        return clock()

    async def wait_done(
        self, progress: GroupProgress, targets: Mapping[TopicPartition, int], deadline: float
    ) -> float:
        """When it had committed the outputs of every input up to ``targets``: its input
        group, then each follower to the end its input had then (the ledger's input is
        written by the registry in the transactions that committed those offsets)."""
        done = await self.wait_consumed(progress, self.inputs, targets, deadline)
        for follower in self.followers:
            ends = await progress.ends(follower.topics)
            done = await self.wait_consumed(progress, follower, ends, deadline)
        return done


def start(context: BenchContext, kind: Kind, prefix: str, label: str) -> Running:
    """Start ``kind`` on the topics under ``prefix``; its log goes under the run's
    ``label`` directory."""
    log_dir = context.log_dir(label, kind.value)
    inputs = tuple(prefix + name for name in REGISTRY_INPUTS)
    if kind.is_registry:
        count = 2 if kind is Kind.REGISTRY_PAIR else 1
        return _start_registry(context, kind, prefix, inputs, log_dir, count)
    output = prefix + (BARE_OUTPUT if kind is Kind.BARE else TRANSACTIONAL_OUTPUT)
    group = f"{prefix}bench-{kind.value}"
    ready_file = log_dir / "ready"
    ready_file.unlink(missing_ok=True)
    pipe = pipes.Pipe(context.bootstrap_servers, inputs, output, group, context.pipe_batch_bytes)
    arguments = pipes.command(kind.value, pipe, ready_file)
    process = GatewayProcess(environment={}, log_dir=log_dir, ops_port=0, command=tuple(arguments))
    spawned_at = clock()
    process.spawn()
    return Running(kind, (process,), spawned_at, Watched(group, inputs), (), (output,), ready_file)


def _start_registry(
    context: BenchContext,
    kind: Kind,
    prefix: str,
    inputs: tuple[str, ...],
    log_dir: Path,
    count: int,
) -> Running:
    """``count`` ``gateway run`` processes in one group, each with its own state directory
    (and so its own instance id) and ops port."""
    settings = context.settings
    processes = []
    state_dirs = []
    for number in range(1, count + 1):
        own_dir = log_dir if count == 1 else log_dir / f"process{number}"
        own_dir.mkdir(parents=True, exist_ok=True)
        ops_port = free_port()
        state_dir = own_dir / "state"
        environment = {
            "KAFKA_BOOTSTRAP_SERVERS": context.bootstrap_servers,
            "GATEWAY_TOPIC_PREFIX": prefix,
            "GATEWAY_STATE_DIR": str(state_dir),
            "GATEWAY_OPS_HOST": "127.0.0.1",
            "GATEWAY_OPS_PORT": str(ops_port),
            "GATEWAY_READSIDE": "false",
            # a line per decision costs the drain its JSON rendering; the figures are the
            # pipeline's, as measured before decisions were logged at info
            "GATEWAY_DECISION_LOG_LEVEL": "debug",
        }
        processes.append(
            GatewayProcess(environment=environment, log_dir=own_dir, ops_port=ops_port)
        )
        state_dirs.append(state_dir)
    spawned_at = clock()
    for process in processes:
        process.spawn()
    ledger = Watched(prefix + settings.ledger_group_id, (prefix + LEDGER_INPUT,))
    # The registry's own outputs: the ledger's answers to a flow always come after them.
    outputs = tuple(prefix + name for name in REGISTRY_OUTPUTS)
    return Running(
        kind,
        tuple(processes),
        spawned_at,
        Watched(prefix + settings.registry_group_id, inputs),
        (ledger,),
        outputs,
        state_dirs=tuple(state_dirs),
    )


async def stop_all(running: list[Running]) -> None:
    """At the end of a scenario, whatever happened: nothing it started may stay behind."""
    for contestant in running:
        with contextlib.suppress(Exception):
            await contestant.stop()
