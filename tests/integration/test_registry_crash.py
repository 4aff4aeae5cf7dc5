"""kill -9 of the registry process mid-stream, then a restart: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from consumers.record_reader import read_to_end
from contracts.base import Contract
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    REGISTRY_OUTPUTS,
    all_outputs,
    assert_each_brand_decided_once,
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


async def _paced(topics: TestTopics, stories: list[list[Contract]]) -> None:
    """A story at a time, so that the kill lands while the stream is still coming."""
    for story in stories:
        await publish(topics, story)
        await asyncio.sleep(0.05)


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
        sending = asyncio.create_task(_paced(topics, [story[1:] for story in stories]))
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
    assert at_kill < len(records), "the kill did not happen mid-stream"
    assert_each_brand_decided_once(records, BRANDS)
