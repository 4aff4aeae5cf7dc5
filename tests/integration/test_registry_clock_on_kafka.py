"""The registry's clock on the real broker: a gateway process with a pending limit of a few
seconds and a tick every second rejects a quiet brand's request as expired exactly once, by
a tick, also when the process is killed (kill -9) before and after the expiry; the
registry's other decisions are those of ``gateway check``."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from consumers.record_reader import ReadRecord, read_to_end
from contracts.warrants import WarrantRejected
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    all_outputs,
    free_port,
    http_get,
    publish,
    registry_settings,
    running_registry,
    start_registry,
    wait_ready,
    wait_until_consumed,
)
from tests.unit.test_check_scenarios import NOT_SUMMARISED, run, summary
from tests.unit.test_registry_warrant_rules_pipeline import timed_messages

pytestmark = pytest.mark.broker

PENDING_LIMIT_S = 10
CLOCK = {
    "GATEWAY_WARRANT_PENDING_LIMIT": f"PT{PENDING_LIMIT_S}S",
    "GATEWAY_CLOCK_TICK_EVERY": "PT1S",
}
SCENE = [message for _, message in timed_messages("offspec_cast_pending_then_expired.jsonl")][:-1]
"""The pending lot's scene, without the later cast of its brand: the brand goes quiet."""


def expired(records: Sequence[ReadRecord]) -> list[ReadRecord]:
    return [r for r in records if isinstance(r.decoded.body, WarrantRejected)]


async def ticks(topics: TestTopics) -> list[ReadRecord]:
    return await read_to_end(topics.bootstrap_servers, [topics.prefix + "registry.clock"])


async def wait_for_expiry(topics: TestTopics, timeout_s: float = 60) -> list[ReadRecord]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        found = expired(await all_outputs(topics))
        if found:
            return found
        await asyncio.sleep(0.5)
    raise TimeoutError("no request was rejected as expired")


def decided(records: Sequence[ReadRecord]) -> Counter[tuple[str, tuple[str, ...]]]:
    """(type, violation codes and missing references) of each decision, as summarised."""
    found: Counter[tuple[str, tuple[str, ...]]] = Counter()
    for record in records:
        body = record.decoded.body
        if body.MESSAGE_TYPE in NOT_SUMMARISED:
            continue
        codes = [v.code for v in getattr(body, "violations", ())]
        codes += [m.reference for m in getattr(body, "missing", ())]
        found[(body.MESSAGE_TYPE, tuple(codes))] += 1
    return found


def checked() -> Counter[tuple[str, tuple[str, ...]]]:
    """What ``gateway check`` decides for the same scene and a tick past the limit."""
    records, _ = run("quiet_brand_expired_by_the_clock.jsonl")
    return Counter((kind, tuple(codes)) for _, kind, codes in summary(records))


def killed(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


async def test_a_quiet_brands_request_expires_by_a_tick_exactly_once_across_kill_9(
    topics: TestTopics, tmp_path: Path
) -> None:
    state_dir, log, port = tmp_path / "state", tmp_path / "gateway.log", free_port()
    group = f"{topics.prefix}custody-registry"
    first = start_registry(topics, state_dir, port, log, CLOCK)
    try:
        await wait_ready(port, first)
        await publish(topics, SCENE)
        await wait_until_consumed(topics, group)
        assert not expired(await all_outputs(topics)), "expired before the limit"
    finally:
        killed(first)  # pending, before its limit: the next process must expire it

    second = start_registry(topics, state_dir, port, log, CLOCK)
    try:
        await wait_ready(port, second)
        [rejected] = await wait_for_expiry(topics)
        await asyncio.sleep(3)  # three more ticks decide nothing more
        status, metrics = await http_get(port, "/metrics")
        assert status == 200
        assert "custody_gateway_requests_expired_by_tick_total 1.0" in metrics
    finally:
        killed(second)  # after the expiry: it must not be decided again

    third = start_registry(topics, state_dir, port, log, CLOCK)
    try:
        await wait_ready(port, third)
        await asyncio.sleep(4)  # ticks of the restarted process, past the limit
    finally:
        third.send_signal(signal.SIGTERM)
        assert third.wait(timeout=30) == 0, log.read_text()[-3000:]

    records = await all_outputs(topics)
    assert [r.decoded.envelope.id for r in expired(records)] == [rejected.decoded.envelope.id]
    tick_ids = {tick.decoded.envelope.id for tick in await ticks(topics)}
    assert rejected.decoded.envelope.causation_id in tick_ids, "not expired by a tick"
    body = rejected.decoded.body
    assert isinstance(body, WarrantRejected)
    assert body.violations[0].allowed == f"<= 0:00:{PENDING_LIMIT_S:02d} pending"
    assert decided(records) == checked()


async def test_a_tick_every_second_expires_a_quiet_request_while_the_gateway_runs(
    topics: TestTopics, tmp_path: Path
) -> None:
    settings = registry_settings(topics, tmp_path / "state").model_copy(
        update={
            "warrant_pending_limit": timedelta(seconds=3),
            "clock_tick_every": timedelta(seconds=1),
        }
    )
    async with running_registry(settings) as app:
        await publish(topics, SCENE)
        await wait_until_consumed(topics, app.registry_group_id)
        [rejected] = await wait_for_expiry(topics, timeout_s=30)
        await asyncio.sleep(2)
    records = await all_outputs(topics)
    assert [r.decoded.envelope.id for r in expired(records)] == [rejected.decoded.envelope.id]
    assert decided(records) == checked()
    counted = app.metrics.render().decode()
    assert "custody_gateway_requests_expired_by_tick_total 1.0" in counted
    [written] = re.findall(r"^custody_gateway_clock_ticks_written_total (\S+)$", counted, re.M)
    [handled] = re.findall(r"^custody_gateway_clock_ticks_total (\S+)$", counted, re.M)
    assert float(written) >= float(handled) >= 3
