"""``gateway faults`` (``make faults``): the project's own fault test.

It starts a broker of its own (or uses ``KAFKA_BOOTSTRAP_SERVERS``, then without broker
restarts), creates the catalogue's topics under a fresh prefix and runs ``gateway run`` as a
subprocess. While the simulated parties send a paced workload (brands listed, casts, eCOAs,
CBAM forms, lots, warrant requests and cancellations, ledger certification and material
postings, refusals and poison records of every kind: ``fault_workload``), it kills the
gateway with SIGKILL at moments spread over the run (one of them while the process is
restoring, right after a restart) and restarts it each time, and restarts the broker under
the running gateway. Then it waits until both consumer groups have committed the end of
every input partition, reads every topic back read_committed and checks the outcome of every
input (``fault_outcomes``), printing the figures and each failed check. Exit status 0 only
if every check holds.

The gateway is a black box here: the harness only starts and kills its process, probes
``/ready`` and reads the topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from contracts.topics import CATALOGUE
from gateway.processors.ledger import LedgerSettings
from gateway.runtime.settings import Settings
from gateway.runtime.topic_admin import ensure_topics
from gateway.tools.fault_kafka import (
    OutputWatch,
    PartitionProgress,
    Sender,
    group_progress,
    lag_lines,
    read_committed,
)
from gateway.tools.fault_outcomes import (
    CheckResult,
    LedgerReplay,
    Output,
    Problem,
    SeenRecord,
    balance_problems,
    check,
    duplicate_output_problems,
    latest_balances,
    ledger_decision_kind,
    ledger_output_problems,
    orphan_output_problems,
    outputs_by_cause,
    read_output,
    registry_outcome_problems,
    replay_ledger,
)
from gateway.tools.fault_process import (
    RESTART_PAUSE_S,
    GatewayProcess,
    Incarnation,
    UnexpectedExit,
    free_port,
    is_ready,
    log_summary,
)
from gateway.tools.fault_workload import (
    CASE_HEADER,
    DEAD_LETTER_REASON,
    EXCHANGE,
    LEDGER_TOPIC,
    PlannedRecord,
    build_workload,
)
from gateway.tools.local_kafka import BrokerInfo, LocalKafka
from gateway.topology import LEDGER_OUTPUTS, REGISTRY_INPUTS, REGISTRY_OUTPUTS

INSTANCE_ID = "faults-1"
REGISTRY_GROUP = "custody-registry"
LEDGER_GROUP = "custody-ledger"
REGISTRY_PARTY = "custody-registry"
MAX_MESSAGE_BYTES = 1_000_000
SECONDS_PER_FAULT = 30.0
OUTPUT_TOPICS = tuple(dict.fromkeys((*REGISTRY_OUTPUTS, *LEDGER_OUTPUTS)))


class FaultKind(StrEnum):
    KILL = "kill -9"
    RESTORE_KILL = "kill -9, then kill -9 again while restoring"
    BROKER_RESTART = "broker restart"


@dataclass(frozen=True)
class FaultOptions:
    events: int = 20_000
    kills: int = 10
    broker_restarts: int = 2
    seed: int = 1
    duration_s: float | None = None
    """How long sending lasts; by default 30 s per fault, at least 60 s."""
    drain_timeout_s: float = 300.0
    recovery_timeout_s: float = 90.0
    run_dir: Path | None = None
    own_broker: bool = True
    """Start a broker of its own (needed for broker restarts), else use the settings'."""

    @property
    def sending_s(self) -> float:
        if self.duration_s is not None:
            return self.duration_s
        return max(60.0, SECONDS_PER_FAULT * (len(fault_plan(self, random.Random(0))) + 1))


def fault_plan(options: FaultOptions, chooser: random.Random) -> list[FaultKind]:
    """The faults in the order they happen: with two kills or more, two of them are one
    kill mid-stream and one while the restarted process restores."""
    pairs = 1 if options.kills >= 2 else 0
    kinds = (
        [FaultKind.KILL] * (options.kills - 2 * pairs)
        + [FaultKind.RESTORE_KILL] * pairs
        + [FaultKind.BROKER_RESTART] * (options.broker_restarts if options.own_broker else 0)
    )
    chooser.shuffle(kinds)
    return kinds


def fault_triggers(count: int, events: int, chooser: random.Random) -> list[int]:
    """After how many records sent each fault happens: spread over 5-85 % of the stream,
    each moved at random within its share."""
    share = 0.8 / max(count, 1)
    return sorted(
        int(events * (0.05 + share * (index + chooser.uniform(0.25, 0.75))))
        for index in range(count)
    )


@dataclass
class KillRecord:
    at: float
    incarnation: int
    note: str = ""
    waited_for_ready: bool = True
    while_restoring: bool = False
    """It hit a process that had not answered /ready yet."""
    ready_s: float | None = None
    last_ready_answer: str = ""
    recovery_s: float | None = None


@dataclass
class BrokerRestartRecord:
    stopped_at: float
    up_at: float | None = None
    address_before: str = ""
    address_after: str = ""
    recovery_s: float | None = None
    error: str | None = None

    @property
    def outage_s(self) -> float | None:
        return None if self.up_at is None else self.up_at - self.stopped_at


@dataclass
class FaultReport:
    lines: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(result.passed for result in self.checks)

    def failure_lines(self) -> list[str]:
        return [line for result in self.checks if not result.passed for line in result.lines()]

    def text(self) -> str:
        return "\n".join(self.lines)


def _say(line: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


# ---- the run -------------------------------------------------------------------------------


@dataclass
class FaultRun:
    options: FaultOptions
    settings: Settings
    prefix: str
    run_dir: Path
    chooser: random.Random
    kafka: LocalKafka | None = None
    gateway_address: str = ""
    """The bootstrap address the gateway is given: the same for the whole run."""
    harness_address: str = ""
    """Where the harness's own clients connect: follows the broker if it comes back elsewhere."""
    broker_version: str = ""
    kills: list[KillRecord] = field(default_factory=list)
    broker_restarts: list[BrokerRestartRecord] = field(default_factory=list)
    fault_errors: list[str] = field(default_factory=list)
    gateway: GatewayProcess | None = None
    watch: OutputWatch | None = None
    sender: Sender | None = None
    sending_took_s: float = 0.0
    not_consumed: list[PartitionProgress] = field(default_factory=list)
    stopped: str = "not stopped"

    # ---- broker and gateway ------------------------------------------------------------

    def start_broker(self) -> BrokerInfo:
        if not self.options.own_broker and self.settings.kafka_bootstrap_servers:
            return BrokerInfo(self.settings.kafka_bootstrap_servers, version="(external)")
        self.kafka = LocalKafka.from_settings(
            self.settings.model_copy(update={"run_dir": self.run_dir / "kafka"})
        )
        # Started from the main thread: the broker dies with this process if it is killed.
        return self.kafka.start(die_with_parent=True, log=_say)

    def gateway_environment(self, ops_port: int) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.gateway_address,
            "GATEWAY_TOPIC_PREFIX": self.prefix,
            "GATEWAY_STATE_DIR": str(self.run_dir / "state"),
            "GATEWAY_RUN_DIR": str(self.run_dir / "gateway"),
            "GATEWAY_OPS_HOST": "127.0.0.1",
            "GATEWAY_OPS_PORT": str(ops_port),
            "GATEWAY_READSIDE": "false",
            "GATEWAY_INSTANCE_ID": INSTANCE_ID,
            "GATEWAY_LOG_LEVEL": "info",
            "GATEWAY_DECISION_LOG_LEVEL": "debug",
            "GATEWAY_REGISTRY_GROUP_ID": REGISTRY_GROUP,
            "GATEWAY_LEDGER_GROUP_ID": LEDGER_GROUP,
            "GATEWAY_REGISTRY_PARTY_ID": REGISTRY_PARTY,
            "GATEWAY_EXCHANGE_PARTY_IDS": EXCHANGE,
            "GATEWAY_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES),
        }

    def _gateway(self) -> GatewayProcess:
        assert self.gateway is not None
        return self.gateway

    def _watch(self) -> OutputWatch:
        assert self.watch is not None
        return self.watch

    # ---- faults ------------------------------------------------------------------------

    async def inject(self, kind: FaultKind) -> None:
        _say(f"fault: {kind.value}")
        try:
            if kind is FaultKind.BROKER_RESTART:
                await self._restart_broker()
            elif kind is FaultKind.RESTORE_KILL:
                await self._kill_twice()
            else:
                await self._kill_and_measure(note="mid-stream")
        except Exception as error:
            self.fault_errors.append(f"{kind.value}: {type(error).__name__}: {error}")
            _say(f"fault {kind.value} failed: {error}")

    async def _kill_and_measure(self, note: str) -> None:
        gateway = self._gateway()
        record = await self._kill_running(gateway, note)
        await self._measure_restart(record, gateway.spawn())

    async def _kill_twice(self) -> None:
        """A kill mid-stream, then another within about a second of the restart, while the
        new process connects, joins its groups and restores its state."""
        gateway = self._gateway()
        first = await self._kill_running(gateway, "mid-stream, killed again while restoring")
        first.waited_for_ready = False
        restoring = gateway.spawn()
        await gateway.wait_first_log_line(restoring, timeout_s=5)
        # The first line is "gateway_starting"; joining the groups and restoring the state
        # follow within about a second (partitions restore side by side).
        await asyncio.sleep(self.chooser.uniform(0.0, 0.2))
        ready = await is_ready(gateway.ops_port)
        second = await self._kill_running(
            gateway, "during restore, " + ("ready already" if ready else "not ready yet")
        )
        second.while_restoring = not ready
        restarted = gateway.spawn()
        await self._measure_restart(second, restarted)
        first.recovery_s = second.recovery_s and second.recovery_s + (second.at - first.at)

    async def _measure_restart(self, record: KillRecord, incarnation: Incarnation) -> None:
        timeout = self.options.recovery_timeout_s
        ready = await self._gateway().wait_ready(incarnation, timeout)
        record.ready_s = None if ready is None else ready - incarnation.started_at
        record.last_ready_answer = incarnation.last_ready_answer
        seen = await self._watch().wait_for_output_after(record.at, timeout)
        record.recovery_s = None if seen is None else seen - record.at
        _say(f"  recovered after {_seconds(record.recovery_s)} (ready {_seconds(record.ready_s)})")

    async def _kill_running(self, gateway: GatewayProcess, note: str) -> KillRecord:
        """kill -9 of the running process; one that died by itself is being restarted by the
        supervisor: the next one is killed."""
        deadline = time.monotonic() + 10
        while True:
            current = gateway.current
            if current is not None and current.process.poll() is None:
                with contextlib.suppress(RuntimeError, ProcessLookupError):
                    up_for = time.time() - current.started_at
                    record = KillRecord(
                        at=gateway.kill(),
                        incarnation=current.number,
                        note=f"{note}, process up {up_for:.1f} s",
                    )
                    self.kills.append(record)
                    return record
            if time.monotonic() > deadline:
                raise RuntimeError("no gateway process was running to be killed")
            await asyncio.sleep(0.05)

    async def _restart_broker(self) -> None:
        kafka = self.kafka
        assert kafka is not None
        record = BrokerRestartRecord(stopped_at=time.time(), address_before=self.harness_address)
        self.broker_restarts.append(record)
        await asyncio.to_thread(kafka.stop)
        # LocalKafka.stop() + start() (what restart() does, timed apart): data and ports kept.
        try:
            info = kafka.start(die_with_parent=True, log=_say)
        except Exception as error:
            record.error = f"{type(error).__name__}: {error}"
            raise
        record.up_at = time.time()
        record.address_after = info.bootstrap_servers
        if info.bootstrap_servers != self.harness_address:
            _say(
                f"  the broker came back at {info.bootstrap_servers}, not {self.harness_address}: "
                "the harness follows it, the gateway keeps its address"
            )
            self.harness_address = info.bootstrap_servers
        # An output created after the broker is back (one created before can still be read
        # after it, by the watch reconnecting).
        seen = await self._watch().wait_for_output_after(
            record.up_at, self.options.recovery_timeout_s
        )
        record.recovery_s = None if seen is None else seen - record.up_at
        _say(f"  outage {_seconds(record.outage_s)}, recovered {_seconds(record.recovery_s)} after")

    # ---- sending -------------------------------------------------------------------------

    async def send_with_faults(
        self, records: Sequence[PlannedRecord], plan: list[FaultKind]
    ) -> None:
        """Send at a steady rate; fault ``i`` happens once its share of the records is sent and
        fault ``i - 1`` is over (so every fault hits a gateway with work in flight)."""
        sender = self.sender
        assert sender is not None
        triggers = fault_triggers(len(plan), len(records), self.chooser)
        reached = [asyncio.Event() for _ in plan]
        over = [asyncio.Event() for _ in plan]
        faults = asyncio.create_task(self._faults_in_turn(plan, reached, over))
        interval = self.options.sending_s / max(len(records), 1)
        began = time.monotonic()
        schedule_start = began
        next_fault = 0
        try:
            for index, record in enumerate(records):
                while next_fault < len(plan) and index >= triggers[next_fault]:
                    waited = time.monotonic()
                    if next_fault > 0:
                        await over[next_fault - 1].wait()
                    schedule_start += time.monotonic() - waited
                    reached[next_fault].set()
                    next_fault += 1
                await asyncio.sleep(max(0.0, schedule_start + index * interval - time.monotonic()))
                await sender.send(record)
                if index % 1000 == 999:
                    _say(f"sent {index + 1} of {len(records)}")
            for event in reached:
                event.set()
            await faults
        finally:
            faults.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await faults
        self.sending_took_s = time.monotonic() - began

    async def _faults_in_turn(
        self, plan: list[FaultKind], reached: list[asyncio.Event], over: list[asyncio.Event]
    ) -> None:
        for kind, due, done in zip(plan, reached, over, strict=True):
            await due.wait()
            await self.inject(kind)
            done.set()

    # ---- the end -------------------------------------------------------------------------

    async def drain(self) -> None:
        """Until both groups have committed the end of every input partition (or timeout)."""
        deadline = time.monotonic() + self.options.drain_timeout_s
        while True:
            progress = await self.progress()
            self.not_consumed = [entry for entry in progress if entry.behind]
            if not self.not_consumed:
                return
            if time.monotonic() > deadline:
                _say("not consumed in time: " + "; ".join(lag_lines(progress)[:8]))
                return
            await asyncio.sleep(1.0)

    async def progress(self) -> list[PartitionProgress]:
        address, prefix = self.harness_address, self.prefix
        registry = await group_progress(address, prefix, prefix + REGISTRY_GROUP, REGISTRY_INPUTS)
        ledger = await group_progress(address, prefix, prefix + LEDGER_GROUP, (LEDGER_TOPIC,))
        return registry + ledger


async def run_faults(options: FaultOptions, settings: Settings) -> FaultReport:
    """One fault run: everything started here is stopped before it returns."""
    # The harness's own clients lose their broker on purpose; their complaints are noise.
    client_logs = logging.getLogger("aiokafka")
    level = client_logs.level
    client_logs.setLevel(logging.CRITICAL)
    try:
        return await _run_faults(options, settings)
    finally:
        client_logs.setLevel(level)


async def _run_faults(options: FaultOptions, settings: Settings) -> FaultReport:
    prefix = f"faults-{time.strftime('%Y%m%d-%H%M%S')}-s{options.seed}-"
    run_dir = (options.run_dir or settings.run_dir / "faults") / prefix.rstrip("-")
    run_dir.mkdir(parents=True, exist_ok=True)
    run = FaultRun(options, settings, prefix, run_dir, random.Random(options.seed))
    plan = fault_plan(options, run.chooser)
    records = build_workload(options.events, options.seed)
    _say(
        f"run directory {run_dir}; {len(records)} events over {options.sending_s:.0f} s; "
        f"faults: {', '.join(kind.value for kind in plan) or 'none'}"
    )
    info = run.start_broker()
    run.gateway_address = run.harness_address = info.bootstrap_servers
    run.broker_version = info.version
    stop_watch, stop_supervisor = asyncio.Event(), asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        await ensure_topics(info.bootstrap_servers, CATALOGUE, prefix)
        ops_port = free_port()
        gateway = GatewayProcess(run.gateway_environment(ops_port), run_dir, ops_port)
        run.gateway = gateway
        run.watch = OutputWatch(lambda: run.harness_address, [prefix + t for t in OUTPUT_TOPICS])
        run.sender = Sender(lambda: run.harness_address, prefix)
        tasks.append(asyncio.create_task(run.watch.run(stop_watch)))
        first = gateway.spawn()
        if await gateway.wait_ready(first, options.recovery_timeout_s) is None:
            run.fault_errors.append("the gateway was not ready at the start")
        supervising = asyncio.create_task(gateway.supervise(stop_supervisor))
        tasks.append(supervising)
        await run.send_with_faults(records, plan)
        await run.sender.close()
        _say("sent everything; waiting until the gateway has consumed it")
        await run.drain()
        stop_supervisor.set()
        await supervising  # no restart may race the stop
        run.stopped = await gateway.stop()
        return await _report(run, records, plan)
    finally:
        stop_watch.set()
        stop_supervisor.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=10)
        if run.gateway is not None:
            run.gateway.kill_all()
        if run.kafka is not None:
            run.kafka.stop()


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


# ---- reading back and judging ---------------------------------------------------------------


@dataclass
class ReadBack:
    registry_inputs: list[SeenRecord]
    ledger_commands: list[SeenRecord]
    outputs: list[Output]

    @property
    def harness_ledger_commands(self) -> list[SeenRecord]:
        return [record for record in self.ledger_commands if record.case is not None]

    @property
    def inputs(self) -> list[SeenRecord]:
        return self.registry_inputs + self.harness_ledger_commands


async def read_back(run: FaultRun) -> ReadBack:
    address, prefix = run.harness_address, run.prefix
    registry_inputs = await read_committed(address, prefix, REGISTRY_INPUTS)
    everything_out = await read_committed(address, prefix, OUTPUT_TOPICS)
    ledger_commands = [record for record in everything_out if record.topic == LEDGER_TOPIC]
    ledger_commands.sort(key=lambda record: record.offset)
    outputs = [
        read_output(record)
        for record in everything_out
        if record.topic != LEDGER_TOPIC or record.header(CASE_HEADER) is None
    ]
    return ReadBack(registry_inputs, ledger_commands, outputs)


def ledger_settings() -> LedgerSettings:
    return LedgerSettings(
        registry_party=REGISTRY_PARTY,
        exchange_parties=frozenset({EXCHANGE}),
        max_value_bytes=MAX_MESSAGE_BYTES,
    )


async def _report(
    run: FaultRun, planned: Sequence[PlannedRecord], plan: list[FaultKind]
) -> FaultReport:
    _say("reading every topic back")
    seen = await read_back(run)
    replay = replay_ledger(seen.ledger_commands, ledger_settings())
    caused = outputs_by_cause(seen.outputs)
    report = FaultReport()
    report.checks = _checks(run, planned, plan, seen, replay, caused)
    report.lines = [
        *_figures(run, planned, seen, caused),
        *_ledger_figures(seen, replay, caused),
        *_fault_figures(run),
        *_log_figures(run),
        "checks:",
        *(line for result in report.checks for line in result.lines()),
        _verdict(report),
    ]
    (run.run_dir / "report.txt").write_text(report.text() + "\n", encoding="utf-8")
    return report


def _verdict(report: FaultReport) -> str:
    failed = sum(1 for result in report.checks if not result.passed)
    if failed:
        return f"gateway faults: FAILED, {failed} of {len(report.checks)} checks failed"
    return f"gateway faults: PASSED, all {len(report.checks)} checks hold"


# ---- the checks ---------------------------------------------------------------------------


def _checks(
    run: FaultRun,
    planned: Sequence[PlannedRecord],
    plan: list[FaultKind],
    seen: ReadBack,
    replay: LedgerReplay,
    caused: dict[str, list[Output]],
) -> list[CheckResult]:
    return [
        _faults_injected(run, plan),
        _broker_address_kept(run),
        _recovered(
            "gateway_recovered_after_every_kill",
            [(f"kill at incarnation {k.incarnation} ({k.note})", k.recovery_s) for k in run.kills],
        ),
        _recovered(
            "gateway_recovered_after_every_broker_restart",
            [(f"broker restart {n}", r.recovery_s) for n, r in enumerate(run.broker_restarts, 1)],
        ),
        _never_exited_by_itself(run),
        _every_partition_consumed(run, seen),
        _every_input_written(planned, seen),
        check(
            "every_registry_input_has_its_one_outcome",
            registry_outcome_problems(seen.registry_inputs, caused),
            f"{len(seen.registry_inputs)} inputs, each with the outcome its case requires",
            "inputs without the outcome their case requires (rules: fault_outcomes.RULES)",
        ),
        check(
            "ledger_pipeline_decides_every_command",
            replay.raised,
            f"the pure pipeline decided all {len(seen.ledger_commands)} commands",
            "the pure ledger pipeline raises on these commands (the gateway cannot decide them)",
        ),
        check(
            "ledger_outputs_equal_an_uninterrupted_run",
            ledger_output_problems(seen.ledger_commands, replay, caused),
            "every command's decision, balance updates and dead letters as the fold's",
            "commands whose outputs differ from the pure pipeline folded over ledger.commands",
        ),
        check(
            "ledger_balances_equal_an_uninterrupted_run",
            balance_problems(
                latest_balances(o for o in seen.outputs if o.topic == "registry.custody-balances"),
                replay.balances,
            ),
            f"{len(replay.balances)} accounts, the last published balance of each as the fold's",
            "accounts whose last published balance differs from the fold's",
        ),
        check(
            "no_output_duplicated",
            duplicate_output_problems(seen.outputs),
            f"{len(seen.outputs)} outputs, no ce_id twice",
            "outputs published more than once (same ce_id)",
        ),
        check(
            "every_output_caused_by_an_input",
            orphan_output_problems(seen.outputs, seen.inputs + seen.ledger_commands),
            "every output's cause (ce_causationid, or a dead letter's source) is an input",
            "outputs that are unreadable or whose cause is no input",
        ),
        check(
            "gateway_stopped_cleanly",
            [] if run.stopped == "exit code 0" else [Problem(run.stopped)],
            "SIGTERM at the end: exit code 0",
            "the gateway did not stop cleanly on SIGTERM at the end",
        ),
    ]


def _faults_injected(run: FaultRun, plan: list[FaultKind]) -> CheckResult:
    wanted_kills = sum(
        2 if k is FaultKind.RESTORE_KILL else 1 for k in plan if k is not FaultKind.BROKER_RESTART
    )
    wanted_restarts = plan.count(FaultKind.BROKER_RESTART)
    problems = [Problem(error) for error in run.fault_errors]
    if len(run.kills) != wanted_kills:
        problems.append(Problem(f"{len(run.kills)} kills done, {wanted_kills} planned"))
    done_restarts = sum(1 for r in run.broker_restarts if r.up_at is not None)
    if done_restarts != wanted_restarts:
        problems.append(Problem(f"{done_restarts} broker restarts done, {wanted_restarts} planned"))
    if FaultKind.RESTORE_KILL in plan and not any(k.while_restoring for k in run.kills):
        problems.append(Problem("no kill hit a process that was not ready yet (restoring)"))
    return check(
        "faults_injected_as_planned",
        problems,
        f"{len(run.kills)} kills (one while restoring: {FaultKind.RESTORE_KILL in plan}), "
        f"{done_restarts} broker restarts",
        "the faults asked for did not all happen",
    )


def _broker_address_kept(run: FaultRun) -> CheckResult:
    moved = [
        Problem(f"restart {n}: {r.address_before} -> {r.address_after}")
        for n, r in enumerate(run.broker_restarts, 1)
        if r.up_at is not None and r.address_after != r.address_before
    ]
    return check(
        "broker_address_unchanged_across_restarts",
        moved,
        f"the broker came back at {run.gateway_address} each time",
        "the broker came back on other ports; the gateway, given the old address, cannot reach it",
    )


def _recovered(name: str, measured: list[tuple[str, float | None]]) -> CheckResult:
    missing = [
        Problem(f"{what}: no new output committed") for what, seconds in measured if seconds is None
    ]
    return check(
        name,
        missing,
        f"{len(measured)} of {len(measured)} followed by newly committed outputs",
        "no newly committed output within the recovery timeout",
    )


def _never_exited_by_itself(run: FaultRun) -> CheckResult:
    """Exits grouped by their symptom (the exception they died of), with the first of each."""
    exits = run._gateway().unexpected_exits
    by_symptom: dict[str, list[UnexpectedExit]] = {}
    for unexpected in exits:
        by_symptom.setdefault(" | ".join(unexpected.symptom[-2:]), []).append(unexpected)
    return check(
        "gateway_never_exited_by_itself",
        [
            Problem(
                f"{len(group)} exits (first: process {group[0].incarnation}, exit code "
                f"{group[0].exit_code} after {group[0].after_s} s): {symptom or 'no message'}"
            )
            for symptom, group in by_symptom.items()
        ],
        "every process ended by the harness",
        f"the gateway exited by itself {len(exits)} times "
        f"(restarted {RESTART_PAUSE_S:.0f} s later each time)",
    )


def _every_partition_consumed(run: FaultRun, seen: ReadBack) -> CheckResult:
    by_place = {
        (r.topic, r.partition, r.offset): r for r in seen.registry_inputs + seen.ledger_commands
    }
    problems = []
    for entry in run.not_consumed:
        stuck = _next_record(by_place, entry)
        problems.append(Problem(f"{entry.describe()}: {stuck}"))
    return check(
        "every_input_partition_consumed",
        problems,
        "both groups committed the end of every input partition",
        f"partitions not consumed within {run.options.drain_timeout_s:.0f} s (stalled)",
    )


ORDINARY_CASES = {"list", "cast", "ecoa", "form", "lot", "lot_claimed", "request", "ledger.input"}


def _next_record(by_place: dict[tuple[str, int, int], SeenRecord], entry: PartitionProgress) -> str:
    """What waits past the committed offset: how many records, and the unusual ones among
    them (poison, refusals, large records), since one of those is the likely culprit."""
    waiting = [
        record
        for offset in range((entry.committed or 0), entry.end)
        if (record := by_place.get((entry.topic, entry.partition, offset))) is not None
    ]
    unusual = [
        f"{record.case.value if record.case else 'custody move'} at {record.offset} "
        f"({len(record.value or b'')} bytes)"
        for record in waiting
        if record.case is None or record.case.value not in ORDINARY_CASES
    ]
    return f"{len(waiting)} records waiting" + (
        f", among them {', '.join(unusual[:3])}" if unusual else ""
    )


def _every_input_written(planned: Sequence[PlannedRecord], seen: ReadBack) -> CheckResult:
    written = {record.event_id for record in seen.inputs}
    missing = [
        Problem(f"{p.case.value} {p.event_id} on {p.topic}")
        for p in planned
        if p.event_id not in written
    ]
    return check(
        "every_input_written",
        missing,
        f"all {len(planned)} events on their topics",
        "events the harness sent that are not on their topics",
    )


# ---- figures ------------------------------------------------------------------------------


def _figures(
    run: FaultRun, planned: Sequence[PlannedRecord], seen: ReadBack, caused: dict[str, list[Output]]
) -> list[str]:
    sender = run.sender
    lines = [
        f"== gateway faults: {run.prefix.rstrip('-')} (seed {run.options.seed}) ==",
        f"broker: Apache Kafka {run.broker_version} at {run.gateway_address}; "
        f"logs and report in {run.run_dir}",
        f"inputs: {len(planned)} events sent in {run.sending_took_s:.0f} s "
        f"({len(planned) / max(run.sending_took_s, 0.001):.0f}/s)"
        + (f", {sender.resent} sent again after a send error" if sender and sender.resent else ""),
        "  by case: " + _counts(Counter(p.case.value for p in planned)),
        f"outputs: {len(seen.outputs)} committed",
        "  by kind: " + _counts(Counter(o.kind for o in seen.outputs)),
        "poison and refusals: case -> dead letters by reason (expected reason)",
    ]
    for case, reason in DEAD_LETTER_REASON.items():
        inputs = [r for r in seen.inputs if r.case is case]
        letters = Counter(
            o.kind.removeprefix("dead-letter/") for r in inputs for o in caused.get(r.where, ())
        )
        lines.append(
            f"  {case.value:<38} sent {len(inputs):>4}  dead letters "
            f"{_counts(letters) or 'none':<28} ({reason.value})"
        )
    return lines


def _ledger_figures(
    seen: ReadBack, replay: LedgerReplay, caused: dict[str, list[Output]]
) -> list[str]:
    answers: Counter[str] = Counter()
    for record in seen.ledger_commands:
        case = record.case.value if record.case else "custody move (registry)"
        outputs = [*caused.get(record.event_id, ()), *caused.get(record.where, ())]
        answers[f"{case}: {ledger_decision_kind(outputs)}"] += 1
    return [
        f"ledger: {len(seen.ledger_commands)} commands committed on ledger.commands "
        f"({len(seen.harness_ledger_commands)} from the parties); answers:",
        *(f"  {label:<58} {count:>5}" for label, count in sorted(answers.items())),
        f"  accounts with a balance in the uninterrupted run: {len(replay.balances)}",
    ]


def _fault_figures(run: FaultRun) -> list[str]:
    gateway = run._gateway()
    lines = [
        f"faults: {len(run.kills)} kills, {len(run.broker_restarts)} broker restarts, "
        f"{len(gateway.unexpected_exits)} unexpected gateway exits, "
        f"{len(gateway.incarnations)} gateway processes in all",
    ]
    for kill in run.kills:
        ready = _seconds(kill.ready_s) if kill.waited_for_ready else "-"
        if kill.waited_for_ready and kill.ready_s is None:
            ready += f" (last /ready: {kill.last_ready_answer})"
        lines.append(
            f"  kill -9 of process {kill.incarnation} ({kill.note}): ready again after "
            f"{ready}, first new output after {_seconds(kill.recovery_s)}"
        )
    lines.append(
        "  recovery after kill -9 (to the first newly committed output): "
        + _spread([k.recovery_s for k in run.kills])
    )
    lines.append(
        "  ready after a restart (/ready 200): "
        + _spread([k.ready_s for k in run.kills if k.waited_for_ready])
    )
    for number, restart in enumerate(run.broker_restarts, 1):
        lines.append(
            f"  broker restart {number}: outage {_seconds(restart.outage_s)}, first new output "
            f"{_seconds(restart.recovery_s)} after it was back; address "
            f"{restart.address_before} -> {restart.address_after or restart.error}"
        )
    if run.broker_restarts:
        lines.append(
            "  recovery after a broker restart: "
            + _spread([r.recovery_s for r in run.broker_restarts])
        )
    return lines


def _log_figures(run: FaultRun) -> list[str]:
    summary = log_summary([i.log_path for i in run._gateway().incarnations])
    lines = ["gateway logs: warnings and errors (count, first example)"]
    lines += [f"  {count:>6} {label}: {example[:240]}" for label, count, example in summary[:12]]
    return lines if summary else [*lines, "  none"]


def _spread(values: Sequence[float | None]) -> str:
    measured = sorted(v for v in values if v is not None)
    unmeasured = len(values) - len(measured)
    if not measured:
        return f"none measured ({unmeasured} never recovered)" if values else "none"
    text = (
        f"min {measured[0]:.1f} s, median {statistics.median(measured):.1f} s, "
        f"max {measured[-1]:.1f} s over {len(measured)}"
    )
    return text + (f"; {unmeasured} never" if unmeasured else "")


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {count}" for key, count in sorted(counter.items()))


def print_report(report: FaultReport, out: Callable[[str], None] = print) -> None:
    out(report.text())
