"""Records near and over the size limits, through a running gateway on the real broker: each
ends as one dead letter (with its value kept only up to the cap), and the records behind
it on the same partition are decided."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from consumers.record_reader import ReadRecord
from contracts.dead_letter import DeadLetterRecorded
from contracts.envelope import MessageDecodeError, encode_body, envelope_headers, new_envelope
from contracts.ledger import LedgerPostingAccepted
from contracts.topics import CATALOGUE
from gateway.processors.records import DEFAULT_KEPT_VALUE_BYTES
from gateway.runtime.topic_admin import ensure_topics
from gateway.topology import LEDGER_INPUT
from tests.conftest import TestTopics
from tests.integration.ledger_support import certification, read, send, wait_until_booked
from tests.integration.registry_support import (
    all_outputs,
    publish,
    registry_settings,
    running_registry,
    types_of,
    wait_until_consumed,
)
from tests.unit.test_registry import scenario_messages

pytestmark = pytest.mark.broker

KIB = 1024


def _batch_value(total_bytes: int) -> tuple[list[tuple[str, bytes]], bytes]:
    """A production batch's headers, and a body padded to ``total_bytes`` (a site id no
    contract accepts at that length)."""
    batch = scenario_messages()[1]
    envelope = new_envelope(
        batch, source="/t", sender_party_id="smelter-nordal", time=datetime.now(UTC)
    )
    body = json.loads(encode_body(batch))
    padding = total_bytes - len(json.dumps({**body, "site_id": ""}).encode())
    value = json.dumps({**body, "site_id": "x" * padding}).encode()
    assert len(value) == total_bytes
    return envelope_headers(envelope), value


async def _send_raw(
    topics: TestTopics, topic: str, key: bytes, values: list[tuple[list[tuple[str, bytes]], bytes]]
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=topics.bootstrap_servers, max_request_size=8 * 1024 * KIB
    )
    await producer.start()
    try:
        for headers, value in values:
            await producer.send_and_wait(
                topics.prefix + topic, key=key, value=value, headers=headers
            )
    finally:
        await producer.stop()


def _letters(records: list[ReadRecord]) -> list[DeadLetterRecorded]:
    """The dead letters among ``records`` (ledger.commands, read with the registry's outputs,
    also holds the raw records this test sent)."""
    letters = []
    for record in records:
        with contextlib.suppress(MessageDecodeError):
            if isinstance(record.decoded.body, DeadLetterRecorded):
                letters.append(record.decoded.body)
    return letters


async def test_refused_records_near_the_default_limit_become_capped_dead_letters(
    topics: TestTopics, tmp_path: Path
) -> None:
    near = _batch_value(800 * KIB)  # decoded, refused by the contract: its letter is capped
    over = _batch_value(1_040_000)  # over GATEWAY_MAX_MESSAGE_BYTES (1,000,000), under 1 MiB
    listing, _batch, _form, ecoa = scenario_messages()[:4]
    settings = registry_settings(topics, tmp_path / "state").model_copy(
        update={"exchange_party_ids": "exchange-listing-desk"}
    )
    async with running_registry(settings) as app:
        await publish(topics, [listing])
        await _send_raw(topics, "producer.production-batches", b"NORDAL", [near, over])
        await _send_raw(topics, LEDGER_INPUT, b"huge", [near])
        await publish(topics, [ecoa])  # behind the refused ones on the same partition number
        await send(topics, certification()[:1])  # behind the refused one on the ledger
        await wait_until_consumed(topics, app.registry_group_id)
        await wait_until_booked(topics, app.ledger_group_id)
        assert app.ready
    records = [r for r in await all_outputs(topics) if r.topic != topics.prefix + LEDGER_INPUT]
    letters = _letters(records)
    assert sorted((letter.source.topic, letter.error.kind.value) for letter in letters) == [
        (LEDGER_INPUT, "schema_violation"),
        ("producer.production-batches", "oversized"),
        ("producer.production-batches", "schema_violation"),
    ]
    originals = {len(near[1]): near[1], len(over[1]): over[1]}
    for letter in letters:
        kept = letter.original_value
        assert kept is not None and kept.truncated
        original = originals[kept.size_bytes]
        assert kept.sha256 == hashlib.sha256(original).hexdigest()
        assert base64.b64decode(kept.kept_base64) == original[:DEFAULT_KEPT_VALUE_BYTES]
    assert "custody.ecoa.accepted" in types_of(records)
    decisions = await read(topics, "registry.ledger-decisions")
    assert any(isinstance(r.decoded.body, LedgerPostingAccepted) for r in decisions)


async def test_a_5_mb_record_with_raised_limits_ends_as_one_outcome(
    kafka_broker: object, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topics = TestTopics(prefix=f"t{uuid.uuid4().hex[:10]}-", bootstrap_servers=bootstrap)
    limit = 8 * 1024 * KIB
    await ensure_topics(bootstrap, CATALOGUE, topics.prefix, max_record_bytes=limit)
    huge = _batch_value(5 * 1024 * KIB)
    listing, _batch, _form, ecoa = scenario_messages()[:4]
    settings = registry_settings(topics, tmp_path / "state").model_copy(
        update={"max_message_bytes": 6 * 1024 * KIB, "max_record_bytes": limit}
    )
    async with running_registry(settings) as app:
        await publish(topics, [listing])
        await _send_raw(topics, "producer.production-batches", b"NORDAL", [huge])
        await publish(topics, [ecoa])
        await wait_until_consumed(topics, app.registry_group_id)
    records = await all_outputs(topics)
    (letter,) = _letters(records)
    assert letter.error.kind.value == "schema_violation"
    assert letter.original_value is not None
    assert letter.original_value.size_bytes == len(huge[1]) and letter.original_value.truncated
    assert "custody.ecoa.accepted" in types_of(records)
