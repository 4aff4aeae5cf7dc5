"""The local broker as a project command: up, down, up again; and no JVM left behind."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import CATALOGUE
from gateway.runtime.settings import Settings
from gateway.tools.local_kafka import BrokerInfo, leftover_brokers

pytestmark = pytest.mark.broker

GATEWAY = Path(sys.executable).parent / "gateway"


def _gateway(run_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("KAFKA_BOOTSTRAP_SERVERS", "GATEWAY_KAFKA_BOOTSTRAP_SERVERS")
    }
    environment.update(GATEWAY_RUN_DIR=str(run_dir), GATEWAY_TOPIC_PREFIX="lifecycle.")
    return subprocess.run(
        [str(GATEWAY), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


async def _topic_names(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def _bootstrap_from(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("KAFKA_BOOTSTRAP_SERVERS=")]
    assert lines, output
    return lines[-1].split("=", 1)[1]


def test_up_down_and_up_again_is_clean(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    expected_topics = {f"lifecycle.{spec.name}" for spec in CATALOGUE}

    first = _gateway(run_dir, "kafka", "up")
    assert first.returncode == 0, first.stderr
    assert f"Apache Kafka {Settings().kafka_version} at 127.0.0.1:" in first.stdout
    assert f"topics: {len(CATALOGUE)} created, 0 already present" in first.stdout
    bootstrap = _bootstrap_from(first.stdout)
    assert expected_topics <= asyncio.run(_topic_names(bootstrap))
    assert len(leftover_brokers(run_dir)) == 1

    status = _gateway(run_dir, "kafka", "status")
    assert status.returncode == 0
    assert bootstrap in status.stdout

    down = _gateway(run_dir, "kafka", "down")
    assert down.returncode == 0
    assert "local broker stopped" in down.stdout
    assert leftover_brokers(run_dir) == []
    assert _gateway(run_dir, "kafka", "status").returncode == 3

    again = _gateway(run_dir, "kafka", "up")
    assert again.returncode == 0, again.stderr
    assert f"topics: 0 created, {len(CATALOGUE)} already present" in again.stdout
    assert expected_topics <= asyncio.run(_topic_names(_bootstrap_from(again.stdout)))

    assert "local broker stopped" in _gateway(run_dir, "kafka", "down").stdout
    assert leftover_brokers(run_dir) == []
    assert "no local broker was running" in _gateway(run_dir, "kafka", "down").stdout


def test_the_broker_dies_with_a_killed_parent(tmp_path: Path) -> None:
    run_dir = tmp_path / "orphan"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from gateway.tools.local_kafka import LocalKafka\n"
            "from gateway.runtime.settings import Settings\n"
            f"settings = Settings(run_dir=Path({str(run_dir)!r}))\n"
            "LocalKafka.from_settings(settings).start(die_with_parent=True, log=lambda _: None)\n"
            "print('started', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "started"
        assert len(leftover_brokers(run_dir)) == 1
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 20
    while leftover_brokers(run_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leftover_brokers(run_dir) == []


def test_an_existing_broker_is_used_when_kafka_bootstrap_servers_is_set(
    tmp_path: Path, kafka_broker: BrokerInfo
) -> None:
    run_dir = tmp_path / "unused"
    environment = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers}
    environment.update(GATEWAY_RUN_DIR=str(run_dir), GATEWAY_TOPIC_PREFIX="external.")

    up = subprocess.run(
        [str(GATEWAY), "kafka", "up"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert up.returncode == 0, up.stderr
    assert f"using the broker at {kafka_broker.bootstrap_servers}" in up.stdout
    assert f"topics: {len(CATALOGUE)} created" in up.stdout
    assert {f"external.{spec.name}" for spec in CATALOGUE} <= asyncio.run(
        _topic_names(kafka_broker.bootstrap_servers)
    )
    assert leftover_brokers(run_dir) == []
    assert not run_dir.exists()
