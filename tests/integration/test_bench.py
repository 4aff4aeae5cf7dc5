"""`gateway bench throughput`, tiny: a 2,000-record backlog drained once by each of the four
contestants (the registry as its own `gateway run` process, and as two) on the session's
broker, and by the registry's step alone in-process. Only that the figures are there and
positive: timings are never asserted (shared, noisy machines).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.tools.local_kafka import BrokerInfo

pytestmark = [pytest.mark.broker, pytest.mark.long]

CONTESTANTS = ("bare aiokafka pipe", "transactional aiokafka pipe", "registry (gateway run)")
PAIR = "registry, 2 processes"
STEP_ALONE = "registry step alone, no Kafka"
RATIOS = ("registry / transactional", "registry / bare")
PAIR_RATIOS = ("registry x2 / transactional", "registry x2 / bare")
DRAIN = ("drain min", "drain med", "drain max")
START = ("start min", "start med", "start max")


@pytest.mark.timeout(300)
def test_bench_throughput_prints_positive_figures(kafka_broker: BrokerInfo, tmp_path: Path) -> None:
    figures = tmp_path / "bench.json"
    command = [sys.executable, "-m", "gateway.tools.cli", "bench", "throughput"]
    options = ["--backlog", "2000", "--repeat", "1", "--warmup", "0", "--json", str(figures)]
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "GATEWAY_RUN_DIR": str(tmp_path / "run"),
    }
    done = subprocess.run(
        [*command, *options], env=environment, capture_output=True, text=True, timeout=280
    )
    assert done.returncode == 0, done.stdout + done.stderr

    summary, details = json.loads(figures.read_text())["scenarios"]["throughput"]
    rows = {row[""]: row for row in summary["rows"]}
    assert set(rows) == {*CONTESTANTS, PAIR, STEP_ALONE, *RATIOS, *PAIR_RATIOS}
    for label in rows:
        assert label in done.stdout  # printed as a table

    def positive(label: str, column: str) -> None:
        value = rows[label][column]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (label, column)

    for label in (*CONTESTANTS, *RATIOS):
        for column in (*DRAIN, *START):
            positive(label, column)
    for label in (PAIR, *PAIR_RATIOS):
        # The pair's group may settle only after so small a backlog is done: no drain figure.
        for column in START:
            positive(label, column)
    for column in DRAIN:  # the step alone: records per second of the fold, no start-up
        positive(STEP_ALONE, column)
    for label in (*CONTESTANTS, PAIR):
        assert rows[label]["ready s"] > 0
    for label in (*CONTESTANTS, PAIR, *RATIOS, *PAIR_RATIOS):
        positive(label, "per CPU s")
    assert [row["records"] for row in details["rows"]] == [2000] * 4


@pytest.mark.timeout(300)
def test_bench_restore_and_state_size_print_positive_figures(
    kafka_broker: BrokerInfo, tmp_path: Path
) -> None:
    figures = tmp_path / "bench.json"
    command = [sys.executable, "-m", "gateway.tools.cli", "bench", "restore", "state-size"]
    options = ["--ecoas", "2000", "--casts", "10,200", "--brands", "2,100", "--rounds", "20"]
    options += ["--state-repeat", "2"]
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "GATEWAY_RUN_DIR": str(tmp_path / "run"),
    }
    done = subprocess.run(
        [*command, *options, "--json", str(figures)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    scenarios = json.loads(figures.read_text())["scenarios"]
    [restored] = scenarios["restore"][0]["rows"]
    assert restored["records"] == 4000  # a cast and a handled id per eCOA
    for column in ("cold s", "warm s", "cold RSS MiB", "store MiB"):
        assert restored[column] > 0, column
    sizes = {row["state grows in"]: row for row in scenarios["state-size"][0]["rows"]}
    assert set(sizes) == {"casts in one brand", "brands in the partition"}
    for row in sizes.values():
        assert row["small µs"] > 0 and row["large µs"] > 0
        assert 0 < row["ratio min"] <= row["ratio"] <= row["ratio max"]
