"""kill -9 of the registry process mid-stream, then a restart: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from consumers.record_reader import read_to_end
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    OUTPUT_TOPICS,
    all_outputs,
    http_get,
    publish,
    scenario_for_brand,
    wait_until_consumed,
)

pytestmark = pytest.mark.broker

GATEWAY = Path(sys.executable).parent / "gateway"
BRANDS = 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_registry(
    topics: TestTopics, state_dir: Path, port: int, log: Path
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": topics.bootstrap_servers,
        "GATEWAY_TOPIC_PREFIX": topics.prefix,
        "GATEWAY_STATE_DIR": str(state_dir),
        "GATEWAY_OPS_PORT": str(port),
        "GATEWAY_LOG_LEVEL": "debug",
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [str(GATEWAY), "run"], env=environment, stdout=sink, stderr=sink, start_new_session=True
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


async def committed_outputs(topics: TestTopics) -> int:
    names = [topics.prefix + name for name in OUTPUT_TOPICS]
    return len(await read_to_end(topics.bootstrap_servers, names))


async def test_kill_9_mid_stream_then_restart_gives_exactly_one_outcome_per_input(
    topics: TestTopics, tmp_path: Path
) -> None:
    state_dir, log = tmp_path / "state", tmp_path / "registry.log"
    port = free_port()
    stories = [scenario_for_brand(n) for n in range(1, BRANDS + 1)]
    first = start_registry(topics, state_dir, port, log)
    try:
        await wait_ready(port, first)
        await publish(topics, [story[0] for story in stories])  # listed before they trade
        sending = asyncio.create_task(
            publish(topics, [message for story in stories for message in story[1:]])
        )
        while await committed_outputs(topics) < BRANDS + 20:
            assert not sending.done() or sending.exception() is None
            await asyncio.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        at_kill = await committed_outputs(topics)
        await sending
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

    second = start_registry(topics, state_dir, port, log)
    try:
        await wait_ready(port, second)
        await wait_until_consumed(topics, f"{topics.prefix}custody-registry", 60)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, log.read_text()[-3000:]

    records = await all_outputs(topics)
    ids = [record.decoded.envelope.id for record in records]
    assert len(ids) == len(set(ids)), "an output was published twice"
    assert at_kill < len(records), "the kill did not happen mid-stream"
    per_kind = Counter(
        (record.decoded.envelope.type, record.decoded.envelope.subject) for record in records
    )
    for number in range(1, BRANDS + 1):
        brand = f"BRAND{number:02}"
        for kind in (
            "custody.brand.listed",
            "custody.ecoa.accepted",
            "custody.cbam-form.accepted",
            "custody.warrant.issued",
        ):
            assert per_kind[(kind, brand)] == 1, (kind, brand)
