"""Running the registry against the session broker, and talking to it like the parties do."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer, TopicPartition

from consumers.group_progress import wait_until_consumed as consumed
from consumers.record_reader import ReadRecord, end_offsets, read_records, read_to_end
from consumers.state_store import SqliteStateStore
from contracts.base import Contract
from contracts.envelope import new_envelope
from contracts.lots import LotArrived
from gateway.runtime.app import GatewayApp, create_app
from gateway.runtime.settings import Settings
from gateway.topology import REGISTRY_INPUTS, REGISTRY_OUTPUTS
from producers.kafka_publisher import EnvelopePublisher
from producers.parties import DEMO_PARTIES, sender_role_for
from tests.conftest import TestTopics
from tests.unit.test_registry import scenario_messages


def registry_settings(topics: TestTopics, state_dir: Path) -> Settings:
    return Settings(
        kafka_bootstrap_servers=topics.bootstrap_servers,
        topic_prefix=topics.prefix,
        state_dir=state_dir,
        ops_port=0,
        readside=False,
    )


@contextlib.asynccontextmanager
async def running_registry(
    settings: Settings,
    timeout_s: float = 60,
    clock: Callable[[], datetime] | None = None,
    *,
    engines: bool = True,
) -> AsyncIterator[GatewayApp]:
    """The gateway running in this process until the block ends; with ``engines=False`` only
    the read side and the HTTP API, as ``gateway serve`` runs them."""
    app = create_app(settings) if clock is None else create_app(settings, clock=clock)
    stop = asyncio.Event()
    task = await app.start(stop, engines=engines, timeout_s=timeout_s)
    try:
        yield app
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def publish(topics: TestTopics, messages: Iterable[Contract]) -> list[str]:
    """Send each message as its usual sender would; return the event ids."""
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers, enable_idempotence=True)
    await producer.start()
    ids = []
    try:
        publisher = EnvelopePublisher(producer, topics.prefix)
        for body in messages:
            role = sender_role_for(type(body))
            envelope = new_envelope(
                body, source="/test", sender_party_id=DEMO_PARTIES[role], time=datetime.now(UTC)
            )
            await publisher.publish(body, envelope, role)
            ids.append(envelope.id)
    finally:
        await producer.stop()
    return ids


async def outputs_from_start(
    topics: TestTopics, *, expected: int, timeout_s: float = 30
) -> list[ReadRecord]:
    names = [topics.prefix + name for name in REGISTRY_OUTPUTS]
    start: dict[TopicPartition, int] = dict.fromkeys(
        await end_offsets(topics.bootstrap_servers, names), 0
    )
    return await read_records(
        topics.bootstrap_servers, start, expected=expected, timeout_s=timeout_s
    )


def types_of(records: Iterable[ReadRecord]) -> list[str]:
    return [record.decoded.envelope.type for record in records]


INGEST_TOPIC_NAMES = list(REGISTRY_INPUTS)


async def wait_until_consumed(topics: TestTopics, group_id: str, timeout_s: float = 60) -> None:
    await consumed(
        topics.bootstrap_servers,
        [topics.prefix + name for name in INGEST_TOPIC_NAMES],
        group_id,
        timeout_s=timeout_s,
    )


async def all_outputs(topics: TestTopics) -> list[ReadRecord]:
    """Every committed record on the registry's output topics, read to their end."""
    return await read_to_end(
        topics.bootstrap_servers, [topics.prefix + n for n in REGISTRY_OUTPUTS]
    )


def scenario_for_brand(number: int) -> list[Contract]:
    """The issued-lot scenario for brand BRANDnn, with ids of its own (a lot's bundles are
    marked with the brand too)."""
    brand = f"BRAND{number:02}"
    renamed: list[Contract] = []
    for message in scenario_messages():
        update: dict[str, object] = {"brand": brand}
        for field in ("command_id", "ecoa_id", "form_id", "lot_id", "request_id"):
            if field in type(message).model_fields:
                update[field] = f"{getattr(message, field)}-{brand}"
        if isinstance(message, LotArrived):
            update["bundles"] = tuple(
                bundle.model_copy(update={"brand": brand}) for bundle in message.bundles
            )
        renamed.append(message.model_copy(update=update))
    return renamed


async def http_get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.decode("utf-8").partition("\r\n\r\n")
    return int(head.split(" ", 2)[1]), body


GATEWAY = Path(sys.executable).parent / "gateway"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_registry(
    topics: TestTopics,
    state_dir: Path,
    port: int,
    log: Path,
    extra_environment: dict[str, str] | None = None,
    command: str = "run",
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": topics.bootstrap_servers,
        "GATEWAY_TOPIC_PREFIX": topics.prefix,
        "GATEWAY_STATE_DIR": str(state_dir),
        "GATEWAY_OPS_PORT": str(port),
        "GATEWAY_READSIDE": "false",
        "GATEWAY_LOG_LEVEL": "debug",
        **(extra_environment or {}),
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [str(GATEWAY), command],
            env=environment,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )


async def wait_ready(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        assert process.poll() is None, "the registry exited"
        try:
            status, _ = await http_get(port, "/ready")
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("the registry did not become ready")


def assert_each_brand_decided_once(records: Sequence[ReadRecord], brands: int) -> None:
    """No output twice, and each of ``scenario_for_brand(1..brands)``'s decisions once."""
    ids = [record.decoded.envelope.id for record in records]
    assert len(ids) == len(set(ids)), "an output was published twice"
    per_kind = Counter(
        (record.decoded.envelope.type, record.decoded.envelope.subject) for record in records
    )
    for number in range(1, brands + 1):
        brand = f"BRAND{number:02}"
        for kind in (
            "custody.brand.listed",
            "custody.ecoa.accepted",
            "custody.cbam-form.accepted",
            "custody.warrant.issued",
        ):
            decided = sorted((k, n) for k, n in per_kind.items() if k[1] == brand)
            assert per_kind[(kind, brand)] == 1, (kind, brand, "the brand's outputs:", decided)


def stored_entities(state_dir: Path) -> dict[int, dict[str, bytes]]:
    """Every entity the registry's local store holds, by partition (the gateway stopped)."""
    store = SqliteStateStore(state_dir / "registry.sqlite3")
    try:
        held: dict[int, dict[str, bytes]] = {}
        for partition in range(64):
            keys = store.keys_with_prefix(partition, "")
            if keys:
                held[partition] = {key: store.get(partition, key) or b"" for key in keys}
        return held
    finally:
        store.close()
