"""``gateway bench``: run the named scenarios one after the other on one broker, print each
one's tables as it finishes, and write them all to ``--json`` when asked."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import textwrap
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import gateway.tools.bench
from gateway.runtime.settings import Settings
from gateway.tools.bench.framework import BenchContext, BenchError, positive_int
from gateway.tools.bench.pipes import DEFAULT_BATCH_BYTES
from gateway.tools.bench.scenarios import SCENARIOS
from gateway.tools.bench.tables import render_all
from gateway.tools.local_kafka import LocalKafka


def description() -> str:
    """For ``gateway bench --help``: what it does and its scenarios."""
    lines = [(gateway.tools.bench.__doc__ or "").strip(), "", "scenarios:"]
    lines += [
        textwrap.fill(
            scenario.summary, width=88, initial_indent=f"  {name:<12}", subsequent_indent=" " * 14
        )
        for name, scenario in SCENARIOS.items()
    ]
    return "\n".join(lines)


def default_scenarios() -> list[str]:
    return [name for name, scenario in SCENARIOS.items() if scenario.by_default]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scenarios",
        nargs="*",
        type=_scenario_name,
        metavar="SCENARIO",
        help=f"which to run, of {', '.join(SCENARIOS)} (default: {' '.join(default_scenarios())})",
    )
    parser.add_argument(
        "--repeat",
        type=positive_int,
        default=3,
        help="repetitions of the throughput drains (3); latency has --latency-repeat",
    )
    parser.add_argument("--json", type=Path, help="also write every table to this JSON file")
    parser.add_argument(
        "--pipe-batch-bytes",
        type=positive_int,
        default=DEFAULT_BATCH_BYTES,
        help="the bare pipes' producer batch size (16384: aiokafka's default, as the "
        "gateway's producers)",
    )
    for scenario in SCENARIOS.values():
        scenario.add_arguments(parser.add_argument_group(scenario.name, scenario.summary))


def _scenario_name(text: str) -> str:
    if text not in SCENARIOS:
        raise argparse.ArgumentTypeError(f"no scenario {text!r}; there are {', '.join(SCENARIOS)}")
    return text


async def run_bench(settings: Settings, kafka: LocalKafka, arguments: argparse.Namespace) -> int:
    names = list(dict.fromkeys(arguments.scenarios or default_scenarios()))
    names.sort(key=list(SCENARIOS).index)
    broker, started_here = kafka.broker_for(settings)
    try:
        run_id = uuid.uuid4().hex[:6]
        context = BenchContext(
            bootstrap_servers=broker.bootstrap_servers,
            broker_version=broker.version,
            settings=settings,
            work_dir=settings.run_dir.resolve() / "bench" / run_id,
            repeat=arguments.repeat,
            run_id=run_id,
            pipe_batch_bytes=arguments.pipe_batch_bytes,
            broker_pid=broker.pid,
        )
        began = datetime.now(UTC)
        header = _header(context, began)
        if started_here:
            header[-1] += " (started for this run, stopped at its end)"
        print("\n".join(header), flush=True)
        results: dict[str, object] = {}
        failed: list[str] = []
        for name in names:
            scenario = SCENARIOS[name]
            print(f"\n== {name}: {scenario.summary}", flush=True)
            try:
                tables = await scenario.run(context, arguments)
            except BenchError as error:
                print(f"{name}: not measured: {error}", file=sys.stderr, flush=True)
                failed.append(name)
                results[name] = {"error": str(error)}
                continue
            print(render_all(tables), flush=True)
            results[name] = [table.as_json() for table in tables]
        if arguments.json is not None:
            _write_json(arguments.json, began, header, arguments, results)
        print(f"\nlogs of the processes started: {context.work_dir}")
        return 1 if failed else 0
    finally:
        if started_here:
            kafka.stop()


def _header(context: BenchContext, began: datetime) -> list[str]:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"gateway bench {began:%Y-%m-%d %H:%M} UTC",
        f"machine: {machine()}; load average {load}",
        f"broker: Apache Kafka {context.broker_version} at {context.bootstrap_servers}",
    ]


def machine() -> str:
    model = _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "?"
    memory = _proc_field("/proc/meminfo", "MemTotal")
    gib = f", {int(memory.split()[0]) / 2**20:.1f} GiB" if memory else ""
    return (
        f"{platform.node()}, {os.cpu_count()} CPUs ({model}){gib}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def _proc_field(path: str, name: str) -> str | None:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def _write_json(
    path: Path,
    began: datetime,
    header: Sequence[str],
    arguments: argparse.Namespace,
    results: dict[str, object],
) -> None:
    document = {
        "date": began.isoformat(),
        "header": list(header),
        "arguments": {key: _plain(value) for key, value in vars(arguments).items()},
        "scenarios": results,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _plain(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
