"""The session's broker from a container, where a Docker engine answers.

Where ``docker_engine_answers()`` (the engine's ``/_ping`` at ``DOCKER_HOST``, or the default
socket), the broker fixture runs the ``apache/kafka`` image of the configured version through
testcontainers; otherwise it starts the local broker from Maven jars, as everywhere a Docker
client has no engine behind it (these machines). testcontainers' own Kafka module is built
for Confluent's images, so the Apache image is started as a generic container, configured as
a single KRaft node like the local broker (replication factors 1, one partition for the
offsets and transaction logs, no initial rebalance delay).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

from gateway.tools.local_kafka import BrokerInfo

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
_PING = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"


def docker_engine_answers(docker_host: str | None = None, timeout_s: float = 2.0) -> bool:
    """Whether a Docker engine answers its API's ping (HTTP 200 ``OK``) at ``docker_host``
    (default: ``DOCKER_HOST``, else the local socket). A client without an engine, a socket
    nobody listens on, or anything that answers otherwise is no engine."""
    address = docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    url = urlparse(address)
    try:
        if url.scheme == "unix":
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connection.settimeout(timeout_s)
            connection.connect(url.path)
        elif url.scheme in ("tcp", "http"):
            connection = socket.create_connection(
                (url.hostname or "127.0.0.1", url.port or 2375), timeout=timeout_s
            )
        else:
            return False
        with connection:
            connection.sendall(_PING)
            answer = b""
            while len(answer) < 4096:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return False
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    return len(status) >= 2 and status[1] == b"200" and body.strip() == b"OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def apache_kafka_container(version: str) -> Iterator[BrokerInfo]:
    """``apache/kafka:<version>`` as a single KRaft node, its client port on a free host
    port it advertises; removed at the end."""
    from testcontainers.core.container import DockerContainer  # only with an engine

    port = _free_port()
    container = (
        DockerContainer(f"apache/kafka:{version}")
        .with_bind_ports(9092, port)
        .with_envs(
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093",
            KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://127.0.0.1:{port}",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@127.0.0.1:9093",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS="1",
            KAFKA_MIN_INSYNC_REPLICAS="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
            KAFKA_MESSAGE_MAX_BYTES="2097152",
        )
    )
    began = time.monotonic()
    container.start()
    try:
        _wait_for_port(port, timeout_s=120)
        yield BrokerInfo(
            bootstrap_servers=f"127.0.0.1:{port}",
            version=f"{version} (apache/kafka via testcontainers)",
            started_in_s=round(time.monotonic() - began, 1),
        )
    finally:
        container.stop()


def _wait_for_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the Kafka container's port {port} did not open in {timeout_s} s")
