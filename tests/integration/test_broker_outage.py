"""A running `gateway run` and a broker that goes away: started before its broker, the
gateway waits; the broker stopped and started under load, nothing stops and every input has
its one outcome; killed during an outage, SIGTERM still exits 0 with no traceback.

These tests start a broker of their own (in a temporary run directory), since they stop it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contracts.topics import CATALOGUE
from gateway.runtime.topic_admin import ensure_topics
from gateway.tools.local_kafka import LocalKafka
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    GATEWAY,
    all_outputs,
    assert_each_brand_decided_once,
    free_port,
    http_get,
    publish,
    scenario_for_brand,
    wait_until_consumed,
)

pytestmark = pytest.mark.broker

BRANDS = 16


@pytest.fixture
async def own_topics(own_broker: LocalKafka) -> AsyncIterator[TestTopics]:
    info = own_broker.start(die_with_parent=True)
    prefix = f"o{uuid.uuid4().hex[:10]}-"
    await ensure_topics(info.bootstrap_servers, CATALOGUE, prefix)
    yield TestTopics(prefix=prefix, bootstrap_servers=info.bootstrap_servers)


def _start_gateway(
    topics: TestTopics, tmp_path: Path, port: int, level: str = "info"
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": topics.bootstrap_servers,
        "GATEWAY_TOPIC_PREFIX": topics.prefix,
        "GATEWAY_STATE_DIR": str(tmp_path / "state"),
        "GATEWAY_OPS_PORT": str(port),
        "GATEWAY_READSIDE": "false",
        "GATEWAY_INSTANCE_ID": "outage-test",
        "GATEWAY_LOG_LEVEL": level,
    }
    sink = (tmp_path / "gateway.log").open("ab")
    return subprocess.Popen(
        [str(GATEWAY), "run"], env=environment, stdout=sink, stderr=sink, start_new_session=True
    )


async def _ready_status(port: int) -> int | None:
    try:
        status, _ = await http_get(port, "/ready")
    except OSError:
        return None
    return status


async def _wait_for_ready(port: int, expected: int, timeout_s: float = 90) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if await _ready_status(port) == expected:
            return time.monotonic() - began
        await asyncio.sleep(0.2)
    raise TimeoutError(f"/ready did not answer {expected} within {timeout_s} s")


def _log_lines(tmp_path: Path) -> list[dict[str, object]]:
    """Every line of the gateway's stdout and stderr, each of which must be one JSON object."""
    lines = []
    for line in (tmp_path / "gateway.log").read_text(errors="replace").splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            parsed = None
        assert isinstance(parsed, dict) and "event" in parsed, f"not a JSON log line: {line}"
        lines.append(parsed)
    return lines


def _log_events(tmp_path: Path) -> list[str]:
    return [str(line["event"]) for line in _log_lines(tmp_path)]


def _stop(process: subprocess.Popen[bytes], tmp_path: Path) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        status = process.wait(timeout=45)
    except subprocess.TimeoutExpired:
        process.kill()  # never leave a gateway behind, even when the test fails
        process.wait()
        raise
    log = (tmp_path / "gateway.log").read_text(errors="replace")
    assert status == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


async def test_the_gateway_waits_for_its_broker_and_rides_out_a_restart_under_load(
    own_broker: LocalKafka, own_topics: TestTopics, tmp_path: Path
) -> None:
    port = free_port()
    own_broker.stop()
    gateway = _start_gateway(own_topics, tmp_path, port)
    try:
        # started before its broker: alive, not ready, waiting
        await _wait_for_ready(port, 503, timeout_s=30)
        await asyncio.sleep(3)
        assert gateway.poll() is None, "gateway run exited while its broker was down"
        own_broker.start(die_with_parent=True)
        await _wait_for_ready(port, 200)

        stories = [scenario_for_brand(n) for n in range(1, BRANDS + 1)]
        await publish(own_topics, [story[0] for story in stories])
        # listed before they trade (across topics Kafka gives no order, and a rewind after a
        # failed transaction reads each topic again on its own)
        await wait_until_consumed(own_topics, f"{own_topics.prefix}custody-registry", 120)
        half = [m for story in stories[: BRANDS // 2] for m in story[1:]]
        await publish(own_topics, half)

        own_broker.restart(die_with_parent=True)  # under the running gateway
        info = own_broker.status()
        assert info is not None and info.bootstrap_servers == own_topics.bootstrap_servers
        await publish(own_topics, [m for story in stories[BRANDS // 2 :] for m in story[1:]])
        await wait_until_consumed(own_topics, f"{own_topics.prefix}custody-registry", 120)
        assert gateway.poll() is None
        assert await _ready_status(port) == 200
    finally:
        _stop(gateway, tmp_path)
    assert_each_brand_decided_once(await all_outputs(own_topics), BRANDS)
    lines = _log_lines(tmp_path)
    events = [line["event"] for line in lines]
    assert events.count("broker_unreachable") <= 3  # once per outage, not once per retry
    assert "broker_reachable" in events
    decided = [line for line in lines if line["event"] == "record_decided"]
    assert len(decided) >= BRANDS * len(stories[0]), "each decision is logged at info"
    assert all(line["level"] == "info" and line["correlation_id"] for line in decided)
    assert all(re.fullmatch(r"[a-z.-]+/\d+/\d+", str(line["source"])) for line in decided)


async def test_sigterm_during_an_outage_exits_0_and_the_next_run_catches_up(
    own_broker: LocalKafka, own_topics: TestTopics, tmp_path: Path
) -> None:
    port = free_port()
    stories = [scenario_for_brand(n) for n in range(1, 5)]
    # at debug, the client's own warnings during the outage come through too: as JSON,
    # each repeated one cut to a line per window with the count
    gateway = _start_gateway(own_topics, tmp_path, port, level="debug")
    try:
        await _wait_for_ready(port, 200)
        await publish(own_topics, [story[0] for story in stories])
        await wait_until_consumed(own_topics, f"{own_topics.prefix}custody-registry", 120)
        await publish(own_topics, [m for story in stories for m in story[1:]])
        own_broker.kill()
        await _wait_for_ready(port, 503, timeout_s=30)
        began = time.monotonic()
    finally:
        _stop(gateway, tmp_path)
    assert time.monotonic() - began < 45
    library = [line for line in _log_lines(tmp_path) if line.get("logger")]
    assert library, "the client's warnings during the outage are logged, as JSON"
    per_message = Counter(str(line["event"]) for line in library if "repeated" not in line)
    assert max(per_message.values()) <= 3, per_message.most_common(3)
    own_broker.start(die_with_parent=True)
    again = _start_gateway(own_topics, tmp_path, port)
    try:
        await _wait_for_ready(port, 200)
        await wait_until_consumed(own_topics, f"{own_topics.prefix}custody-registry", 120)
    finally:
        _stop(again, tmp_path)
    assert_each_brand_decided_once(await all_outputs(own_topics), 4)
