"""kill -9 of the registry process mid-stream, then a restart: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from consumers.record_reader import read_to_end
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    REGISTRY_OUTPUTS,
    all_outputs,
    free_port,
    publish,
    scenario_for_brand,
    start_registry,
    wait_ready,
    wait_until_consumed,
)

pytestmark = pytest.mark.broker

BRANDS = 40


async def committed_outputs(topics: TestTopics) -> int:
    names = [topics.prefix + name for name in REGISTRY_OUTPUTS]
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
