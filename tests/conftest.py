"""Test fixtures: one real Kafka broker per session, unique topics and group per test; one
real PostgreSQL server per session for the read side's store (``tests.postgres_support``).

Where a Docker engine answers, the broker is the ``apache/kafka`` image through testcontainers
(``tests.kafka_containers``); otherwise, as on these machines, the local broker from Maven
jars. The broker is started on first use only (pure unit tests never start it), and its JVM is
ended at session teardown; if pytest itself is killed, Linux kills the JVM with it
(parent-death signal). At session end, any broker JVM of this session still alive fails the
run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from contracts.topics import CATALOGUE, TopicSpec
from gateway.runtime.settings import Settings
from gateway.runtime.topic_admin import ensure_topics
from gateway.tools.local_kafka import BrokerInfo, LocalKafka, leftover_brokers
from tests.kafka_containers import apache_kafka_container, docker_engine_answers
from tests.postgres_support import PostgresServer, PostgresUnavailable, remove, start_postgres

_started_run_dirs: list[Path] = []
_server_lines: list[str] = []


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    settings = Settings()
    if settings.kafka_bootstrap_servers:
        info = BrokerInfo(bootstrap_servers=settings.kafka_bootstrap_servers, version="external")
        _server_lines.append(
            f"Kafka broker used by this session: external at {info.bootstrap_servers}"
        )
        yield info
        return
    if docker_engine_answers():
        with apache_kafka_container(settings.kafka_version) as info:
            _server_lines.append(f"Kafka broker used by this session: {info.describe()}")
            yield info
        return
    run_dir = tmp_path_factory.mktemp("kafka")
    broker = LocalKafka.from_settings(settings.model_copy(update={"run_dir": run_dir}))
    _started_run_dirs.append(run_dir)
    info = broker.start(die_with_parent=True)
    _server_lines.append(f"Kafka broker used by this session: {info.describe()}")
    try:
        yield info
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this session's own, started on first use; the tests that need
    it are skipped, with the reason, when none can be had."""
    began = time.monotonic()
    try:
        server = start_postgres()
    except PostgresUnavailable as why:
        pytest.skip(f"no PostgreSQL server for the tests: {why}")
    _server_lines.append(
        f"PostgreSQL server used by this session: {server.binary_dir.parent.name} "
        f"at 127.0.0.1:{server.port} (started in {time.monotonic() - began:.1f} s)"
    )
    try:
        yield server
    finally:
        remove(server)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A local broker of the test's own, in a fresh run directory, not started yet (for tests
    that stop, kill or restart it). It is stopped at teardown, which fails if its JVM
    survives, and the session end checks it too."""
    run_dir = tmp_path / "own-broker"
    broker = LocalKafka.from_settings(Settings().model_copy(update={"run_dir": run_dir}))
    _started_run_dirs.append(run_dir)
    yield broker
    broker.stop()
    assert leftover_brokers(run_dir) == []


@dataclass(frozen=True)
class TestTopics:
    """The catalogue's topics under one test's unique prefix."""

    __test__ = False

    prefix: str
    bootstrap_servers: str

    def name(self, spec: TopicSpec) -> str:
        return self.prefix + spec.name


@pytest.fixture
async def topics(kafka_broker: BrokerInfo) -> AsyncIterator[TestTopics]:
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    await ensure_topics(kafka_broker.bootstrap_servers, CATALOGUE, prefix)
    yield TestTopics(prefix=prefix, bootstrap_servers=kafka_broker.bootstrap_servers)


@pytest.fixture
def group_id() -> str:
    return f"test-group-{uuid.uuid4().hex[:10]}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _server_lines:
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    survivors = [pid for run_dir in _started_run_dirs for pid in leftover_brokers(run_dir)]
    if survivors:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nbroker JVMs still running after the session: pids {survivors}")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        help="also run the tests marked long (the short fault run, the tiny benchmarks)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests are `make test-long`'s: `make test` keeps to its 15 minutes."""
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="long: `make test-long` (pytest --long) runs it")
    for item in items:
        if item.get_closest_marker("long") is not None:
            item.add_marker(skip)
