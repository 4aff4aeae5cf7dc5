"""The example holder subscriber on the real broker: it sees the issue and the cancellation of
its own warrant, nothing of another holder's, and nothing of an aborted transaction, which a
read_uncommitted consumer does see."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from consumers.warrant_state_subscriber import TOPIC, holder_feed
from contracts.envelope import encode_body, envelope_headers, new_envelope
from contracts.values import Identifier
from contracts.warrants import WarrantState, WarrantStateChanged
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    publish,
    registry_settings,
    running_registry,
    wait_until_consumed,
)
from tests.integration.test_registry_on_kafka import group_of
from tests.readme_commands import readme_command, running_line, stopped_by_sigterm
from tests.unit.test_registry_custody_moves import HOLDER, LOT, cancel, claimed_scenario

pytestmark = pytest.mark.broker

ABORTED_LOT = "LOT-NEVER-COMMITTED"
OTHER_LOT, OTHER_HOLDER = "LOT-OF-ANOTHER", "member-k-trading"


def state_record(lot: str, holder: Identifier) -> tuple[bytes, list[tuple[str, bytes]]]:
    body = WarrantStateChanged.build(
        lot_id=lot,
        brand="NORDAL",
        warrant_id=f"WRT-{lot}",
        request_id=f"REQ-{lot}",
        state=WarrantState.ISSUED,
        warrant_holder_id=holder,
        warehouse_id="warehouse-rotterdam-07",
        updated_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    envelope = new_envelope(
        body, source="urn:test", sender_party_id="custody-registry", time=body.updated_at
    )
    return encode_body(body), envelope_headers(envelope)


async def write_in_transaction(topics: TestTopics, lot: str, holder: str, *, commit: bool) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=topics.bootstrap_servers, transactional_id=f"{topics.prefix}test-{lot}"
    )
    await producer.start()
    try:
        value, headers = state_record(lot, holder)
        await producer.begin_transaction()
        await producer.send_and_wait(
            topics.prefix + TOPIC, value, key=lot.encode(), headers=headers
        )
        if commit:
            await producer.commit_transaction()
        else:
            await producer.abort_transaction()
    finally:
        await producer.stop()


async def lots_read_uncommitted(topics: TestTopics) -> set[str]:
    consumer = AIOKafkaConsumer(
        topics.prefix + TOPIC,
        bootstrap_servers=topics.bootstrap_servers,
        auto_offset_reset="earliest",
        isolation_level="read_uncommitted",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=3000)
    finally:
        await consumer.stop()
    return {record.key.decode() for records in batches.values() for record in records}


async def test_the_holder_feed_sees_its_own_committed_changes_only(
    topics: TestTopics, tmp_path: Path
) -> None:
    async with running_registry(registry_settings(topics, tmp_path / "state")) as app:
        await publish(topics, claimed_scenario())
        await wait_until_consumed(topics, group_of(app))
        await write_in_transaction(topics, ABORTED_LOT, HOLDER, commit=False)
        await write_in_transaction(topics, OTHER_LOT, OTHER_HOLDER, commit=True)
        await publish(topics, [cancel()])
        await wait_until_consumed(topics, group_of(app))

    seen: list[dict[str, Any]] = []
    cancelled = asyncio.Event()

    def on_change(change: dict[str, Any]) -> None:
        seen.append(change)
        if change["state"] == "cancelled":
            cancelled.set()

    feed = holder_feed(
        topics.bootstrap_servers,
        holder_id=HOLDER,
        group_id=f"{topics.prefix}holder-feed",
        on_change=on_change,
        topic_prefix=topics.prefix,
    )
    await feed.start()
    try:
        await asyncio.wait_for(cancelled.wait(), timeout=30)
        await asyncio.sleep(1)  # and nothing more comes
    finally:
        await feed.stop()
    assert [(c["lot_id"], c["state"]) for c in seen] == [(LOT, "issued"), (LOT, "cancelled")]
    assert seen[0]["warehouse_id"] == "warehouse-rotterdam-07"
    # what the read_committed setting keeps out: a default consumer reads the aborted record
    assert ABORTED_LOT in await lots_read_uncommitted(topics)

    printed = await asyncio.to_thread(the_readme_command_prints, topics, 2)
    assert [(c["lot_id"], c["state"]) for c in printed] == [(LOT, "issued"), (LOT, "cancelled")]


def the_readme_command_prints(topics: TestTopics, changes: int) -> list[dict[str, Any]]:
    """The README's subscriber command, run as shown (on the session's broker and with the
    test's topic prefix): its first ``changes`` lines, then SIGTERM ends it with status 0."""
    line = readme_command(".venv/bin/python -m consumers.warrant_state_subscriber")
    line = line.replace("localhost:9092", topics.bootstrap_servers)
    with running_line(f"{line} --topic-prefix {topics.prefix}") as process:
        assert process.stdout is not None
        printed = [json.loads(process.stdout.readline()) for _ in range(changes)]
        stopped_by_sigterm(process, timeout_s=30)
    return printed
