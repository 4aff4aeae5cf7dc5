"""A brand with 100,000 casts on the real broker: every cast recorded and certified, then a
lot of it decided normally, and no changelog record anywhere near Kafka's record limit.

Before the state was cut into small entities, a brand's whole history was one changelog
record: past about 3,000 certified casts it no longer fitted, and its partition stopped.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from consumers.record_reader import committed_records, partitions_of
from contracts.base import Contract
from contracts.envelope import new_envelope
from contracts.warrants import WarrantIssued, WarrantRejected
from producers.kafka_publisher import EnvelopePublisher
from producers.parties import DEMO_PARTIES, sender_role_for
from producers.simulation import cast, cbam_form, enhanced_ecoa, list_brand, lot, request
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    all_outputs,
    registry_settings,
    running_registry,
    wait_until_consumed,
)

pytestmark = pytest.mark.broker

BRAND = "BIGBRAND"
CASTS = 100_000
CASTS_PER_ECOA = 10
ENTITY_LIMIT = 64 * 1024


def reference(number: int) -> str:
    return f"C26-{number:06}"


def big_brand() -> list[Contract]:
    references = [reference(n) for n in range(CASTS)]
    ecoas = [
        enhanced_ecoa(BRAND, f"ECOA-{BRAND}-{n:05}", references[n : n + CASTS_PER_ECOA])
        for n in range(0, CASTS, CASTS_PER_ECOA)
    ]
    return [
        list_brand(BRAND),
        cbam_form(BRAND),
        *(cast(BRAND, ref) for ref in references),
        *ecoas,
    ]


async def publish_fast(topics: TestTopics, messages: list[Contract]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=topics.bootstrap_servers, linger_ms=20, max_batch_size=262_144
    )
    await producer.start()
    try:
        now = datetime.now(UTC)
        await EnvelopePublisher(producer, topics.prefix).publish_all(
            (
                body,
                new_envelope(
                    body,
                    source="/test",
                    sender_party_id=DEMO_PARTIES[sender_role_for(type(body))],
                    time=now,
                ),
                sender_role_for(type(body)),
            )
            for body in messages
        )
    finally:
        await producer.stop()


async def test_a_brand_with_100000_casts_is_decided_normally(
    topics: TestTopics, tmp_path: Path
) -> None:
    settings = registry_settings(topics, tmp_path / "state")
    last = [reference(CASTS - 2), reference(CASTS - 1)]
    near_miss = reference(CASTS - 1).replace("-", " ")
    lots = [lot(BRAND, "LOT-BIG-1", last), lot(BRAND, "LOT-BIG-2", [near_miss])]
    requests = [request(BRAND, "REQ-BIG-1", "LOT-BIG-1"), request(BRAND, "REQ-BIG-2", "LOT-BIG-2")]
    async with running_registry(settings) as app:
        began = time.perf_counter()
        await publish_fast(topics, big_brand())
        await wait_until_consumed(topics, app.registry_group_id, timeout_s=600)
        drained = time.perf_counter() - began
        await publish_fast(topics, [*lots, *requests])
        await wait_until_consumed(topics, app.registry_group_id, timeout_s=60)
    print(f"\n{CASTS} casts and {CASTS // CASTS_PER_ECOA} eCOAs of one brand: {drained:.1f} s")

    outputs = await all_outputs(topics)
    bodies = [record.decoded.body for record in outputs]
    counts = Counter(type(body).__name__ for body in bodies)
    assert counts["ECoAAccepted"] == CASTS // CASTS_PER_ECOA, counts
    assert counts["DeadLetterRecorded"] == 0, counts
    issued = [b for b in bodies if isinstance(b, WarrantIssued)]
    assert [b.lot_id for b in issued] == ["LOT-BIG-1"]
    [rejected] = [b for b in bodies if isinstance(b, WarrantRejected)]
    assert rejected.lot_id == "LOT-BIG-2"
    assert [(v.code, v.allowed) for v in rejected.violations] == [
        ("CAST_REFERENCE_NOT_IDENTICAL", reference(CASTS - 1))
    ]

    changelog = topics.prefix + "registry.state-changelog"
    partitions = await partitions_of(topics.bootstrap_servers, [changelog])
    read = await committed_records(
        topics.bootstrap_servers, dict.fromkeys(partitions, 0), timeout_s=120
    )
    largest = max(len(record.value or b"") + len(record.key or b"") for record in read.records)
    print(f"{len(read.records)} changelog records, the largest {largest} bytes")
    assert largest < ENTITY_LIMIT
