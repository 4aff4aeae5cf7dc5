"""The local broker as a project command: up, down, up again; and no JVM left behind.
Restarts under running clients, clean and by SIGKILL: the same address, the data kept."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from contracts.topics import CATALOGUE
from gateway.runtime.settings import Settings
from gateway.tools import local_kafka
from gateway.tools.cli import NO_LOCAL_BROKER
from gateway.tools.fault_process import free_port, is_ready
from gateway.tools.local_kafka import BrokerInfo, LocalKafka, leftover_brokers
from tests.readme_commands import (
    make_is_installed,
    readme_command,
    run_line,
    running_line,
    stopped_by_sigterm,
)
from tests.socket_states import TIME_WAIT, tcp_states_on_local_port

pytestmark = pytest.mark.broker

GATEWAY = Path(sys.executable).parent / "gateway"


def _environment(run_dir: Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("KAFKA_BOOTSTRAP_SERVERS", "GATEWAY_KAFKA_BOOTSTRAP_SERVERS")
    }
    environment.update(GATEWAY_RUN_DIR=str(run_dir), GATEWAY_TOPIC_PREFIX="lifecycle.")
    return environment


def _gateway(run_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY), *arguments],
        env=_environment(run_dir),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _readme(run_dir: Path, command: str) -> subprocess.CompletedProcess[str]:
    """The README's ``command``, run from the repository as it says."""
    return run_line(readme_command(command), environment=_environment(run_dir), timeout_s=240)


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
    """The first round with the README's commands (make kafka-up, gateway run, make
    kafka-status, make kafka-down), the second with `gateway kafka` itself."""
    if not make_is_installed():
        pytest.skip("`make install` has not run in this repository: its targets would install")
    run_dir = tmp_path / "run"
    expected_topics = {f"lifecycle.{spec.name}" for spec in CATALOGUE}

    first = _readme(run_dir, "make kafka-up")
    assert first.returncode == 0, first.stderr
    assert f"Apache Kafka {Settings().kafka_version} at 127.0.0.1:" in first.stdout
    assert f"topics: {len(CATALOGUE)} created, 0 already present" in first.stdout
    bootstrap = _bootstrap_from(first.stdout)
    assert expected_topics <= asyncio.run(_topic_names(bootstrap))
    assert len(leftover_brokers(run_dir)) == 1

    _the_readme_gateway_run_serves_until_sigterm(run_dir, tmp_path / "state")

    status = _readme(run_dir, "make kafka-status")
    assert status.returncode == 0
    assert bootstrap in status.stdout

    down = _readme(run_dir, "make kafka-down")
    assert down.returncode == 0
    assert "local broker stopped" in down.stdout
    assert leftover_brokers(run_dir) == []
    assert _gateway(run_dir, "kafka", "status").returncode == NO_LOCAL_BROKER
    assert _readme(run_dir, "make kafka-status").returncode == 0  # "no local broker" is an answer

    again = _gateway(run_dir, "kafka", "up")
    assert again.returncode == 0, again.stderr
    assert f"topics: 0 created, {len(CATALOGUE)} already present" in again.stdout
    assert expected_topics <= asyncio.run(_topic_names(_bootstrap_from(again.stdout)))

    assert "local broker stopped" in _gateway(run_dir, "kafka", "down").stdout
    assert leftover_brokers(run_dir) == []
    assert "no local broker was running" in _gateway(run_dir, "kafka", "down").stdout


def _the_readme_gateway_run_serves_until_sigterm(run_dir: Path, state_dir: Path) -> None:
    """`.venv/bin/gateway run` on the local broker `make kafka-up` started: ready, then a
    SIGTERM ends it with status 0, every stderr line a JSON object."""
    port = free_port()
    environment = {
        **_environment(run_dir),
        "GATEWAY_STATE_DIR": str(state_dir),
        "GATEWAY_OPS_PORT": str(port),
    }
    line = readme_command(".venv/bin/gateway run")
    with running_line(line, environment=environment) as gateway:
        deadline = time.monotonic() + 90
        while not asyncio.run(is_ready(port)):
            assert gateway.poll() is None, gateway.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "gateway run: not ready within 90 s"
            time.sleep(0.3)
        err = stopped_by_sigterm(gateway)
    events = [json.loads(line)["event"] for line in err.splitlines()]
    assert (events[0], events[-1]) == ("gateway_starting", "gateway_stopped"), events


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


# ---- restarts: the same address, the same data -------------------------------------------

TOPIC = "restarts"


def _quiet(_: str) -> None:
    """Swallows the broker's progress lines."""


def _port_of(bootstrap: str) -> int:
    return int(bootstrap.rsplit(":", 1)[1])


async def _until(condition: Callable[[], object], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        await asyncio.sleep(0.05)


async def _create_topic(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def _read_from_the_beginning(bootstrap: str) -> list[int]:
    """Every record value in the topic, read by a new consumer up to the end offset."""
    partition = TopicPartition(TOPIC, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        values: list[int] = []
        async with asyncio.timeout(30):
            while await consumer.position(partition) < end:
                batches = await consumer.getmany(partition, timeout_ms=1000)
                values += [int(record.value or b"") for record in batches.get(partition, [])]
        return values
    finally:
        await consumer.stop()


@dataclass
class _Traffic:
    """What a producer sending numbered records in a loop had acknowledged, and what a
    consumer reading them the whole time received."""

    acknowledged: list[int] = field(default_factory=list)
    received: set[int] = field(default_factory=set)

    def acknowledged_since(self, count: int) -> list[int]:
        return self.acknowledged[count:]


async def _send_in_a_loop(
    producer: AIOKafkaProducer, traffic: _Traffic, stop: asyncio.Event
) -> None:
    number = 0
    while not stop.is_set():
        try:
            await producer.send_and_wait(TOPIC, str(number).encode())
        except KafkaError:
            pass  # the broker is away: this number is not acknowledged, nor expected back
        else:
            traffic.acknowledged.append(number)
        number += 1
        await asyncio.sleep(0.01)


async def _receive_in_a_loop(
    consumer: AIOKafkaConsumer, traffic: _Traffic, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=200)
        traffic.received.update(int(r.value or b"") for rs in batches.values() for r in rs)


async def _stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """aiokafka 0.14's fetcher re-raises the CancelledError of a fetch it cancels while that
    fetch waits to retry (the broker being down): it would hide a test's own failure."""
    with contextlib.suppress(asyncio.CancelledError):
        await consumer.stop()


@contextlib.asynccontextmanager
async def _traffic_to(bootstrap: str) -> AsyncIterator[_Traffic]:
    """A producer and a consumer connected to ``bootstrap``, sending and receiving until the
    block ends; the failure of either loop fails the block."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    traffic, stop = _Traffic(), asyncio.Event()
    async with contextlib.AsyncExitStack() as clients:
        await producer.start()
        clients.push_async_callback(producer.stop)
        await consumer.start()
        clients.push_async_callback(_stop_consumer, consumer)
        consumer.assign([TopicPartition(TOPIC, 0)])
        await consumer.seek_to_beginning()
        loops = [
            asyncio.create_task(_send_in_a_loop(producer, traffic, stop)),
            asyncio.create_task(_receive_in_a_loop(consumer, traffic, stop)),
        ]
        try:
            yield traffic
        finally:
            stop.set()
            await asyncio.gather(*loops)


async def _flows_again(traffic: _Traffic, what: str) -> None:
    """Wait until 20 more records are acknowledged and every acknowledged one received."""
    count = len(traffic.acknowledged)
    await _until(
        lambda: (
            len(traffic.acknowledged_since(count)) >= 20
            and traffic.received >= set(traffic.acknowledged)
        ),
        f"records acknowledged and received {what}",
    )


async def test_running_clients_find_a_stopped_and_started_broker_at_the_same_address(
    own_broker: LocalKafka,
) -> None:
    first = await asyncio.to_thread(own_broker.start, die_with_parent=True, log=_quiet)
    bootstrap, client_port = first.bootstrap_servers, _port_of(first.bootstrap_servers)
    await _create_topic(bootstrap)

    async with _traffic_to(bootstrap) as traffic:
        await _flows_again(traffic, "before any restart")
        written_before_restarts = list(traffic.acknowledged)

        await asyncio.to_thread(own_broker.stop)
        await _until(
            lambda: TIME_WAIT in tcp_states_on_local_port(client_port),
            "the stopped broker's connections in TIME_WAIT on its port",
            timeout_s=10,
        )
        assert not local_kafka._port_is_unused(client_port), "a plain bind would be refused"
        began = time.monotonic()
        second = await asyncio.to_thread(own_broker.start, die_with_parent=True, log=_quiet)
        assert second.bootstrap_servers == bootstrap
        assert second.pid != first.pid
        await _flows_again(traffic, f"{time.monotonic() - began:.1f} s after start()")

        began = time.monotonic()
        third = await asyncio.to_thread(own_broker.restart, die_with_parent=True, log=_quiet)
        assert third.bootstrap_servers == bootstrap
        assert third.pid != second.pid
        await _flows_again(traffic, f"{time.monotonic() - began:.1f} s after restart()")

    assert traffic.received >= set(traffic.acknowledged)
    on_disk = set(await _read_from_the_beginning(bootstrap))
    assert on_disk >= set(written_before_restarts)
    assert on_disk >= set(traffic.acknowledged)


def _start_from_a_thread_that_ends(broker: LocalKafka) -> BrokerInfo:
    """Start the broker with ``die_with_parent`` from a thread that has ended when this
    returns (as asyncio.to_thread's workers end with their loop): the JVM must outlive it."""
    with ThreadPoolExecutor(max_workers=1) as one_thread:
        started = one_thread.submit(broker.start, die_with_parent=True, log=_quiet)
    return started.result()


async def _send_numbered(producer: AIOKafkaProducer, first: int, count: int) -> list[int]:
    numbers = list(range(first, first + count))
    for number in numbers:
        await producer.send_and_wait(TOPIC, str(number).encode())
    return numbers


async def test_a_broker_killed_with_sigkill_comes_back_at_the_same_address_with_its_data(
    own_broker: LocalKafka,
) -> None:
    first = await asyncio.to_thread(own_broker.start, die_with_parent=True, log=_quiet)
    bootstrap, run_dir = first.bootstrap_servers, own_broker.run_dir
    await _create_topic(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        written = await _send_numbered(producer, 0, 10)
        assert first.pid is not None
        assert leftover_brokers(run_dir) == [first.pid]
        os.kill(first.pid, signal.SIGKILL)  # and start() at once: it is still exiting

        running = await asyncio.to_thread(_start_from_a_thread_that_ends, own_broker)
        assert running.bootstrap_servers == bootstrap
        assert running.pid != first.pid
        assert await _read_from_the_beginning(bootstrap) == written
        written += await _send_numbered(producer, len(written), 10)  # it reconnected

        assert running.pid is not None
        assert own_broker.kill()
        assert not local_kafka._is_alive(running.pid), "kill() returns once the JVM is gone"
        assert local_kafka._port_is_free(_port_of(bootstrap))
        assert own_broker.ports_file.exists()
        assert (run_dir / "data" / "meta.properties").exists()
        assert own_broker.status() is None
        after_kill = await asyncio.to_thread(own_broker.start, die_with_parent=True, log=_quiet)
        assert after_kill.bootstrap_servers == bootstrap
        written += await _send_numbered(producer, len(written), 10)
        assert await _read_from_the_beginning(bootstrap) == written
    finally:
        await producer.stop()
