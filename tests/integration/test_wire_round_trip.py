"""Every message family through the real broker with its envelope, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer

from consumers.record_reader import end_offsets, read_records
from contracts.envelope import (
    DecodeErrorKind,
    MessageDecodeError,
    encode_body,
    envelope_headers,
    new_envelope,
)
from contracts.message_types import MESSAGE_TYPES
from contracts.production import ProductionBatchRecorded
from contracts.topics import CATALOGUE, route
from producers.kafka_publisher import EnvelopePublisher
from producers.parties import DEMO_PARTIES, sender_role_for
from producers.samples import sample_messages
from tests.conftest import TestTopics

pytestmark = pytest.mark.broker

HAND_BUILT_BATCH = b"""{
  "schema_version": 1,
  "brand": "NORDAL",
  "cast_reference": "C-2026-0417",
  "production_date": "2026-02-14",
  "site_id": "NO-SUN-01",
  "contract": "aluminium_alloy",
  "specification": "A380.1",
  "chemistry": [
    {"element": "Cu", "detected_percent": 3.1},
    {"element": "Si", "detected_percent": 9.2},
    {"element": "Fe", "detected_percent": 0.80}
  ],
  "shape": "ingot",
  "pieces": 1000,
  "total_net_weight_kg": 7000,
  "piece_weight_kg": 7.0,
  "piece_dimensions": {"length_mm": 700, "width_mm": 100, "height_mm": 60}
}"""

HAND_BUILT_HEADERS = [
    ("ce_id", b"0b0f7f8e-6c1e-4a8e-9d51-2f7d3c1b9a01"),
    ("ce_source", b"/parties/smelter-nordal/mes"),
    ("ce_type", b"custody.production-batch.recorded"),
    ("ce_specversion", b"1.0"),
    ("ce_time", b"2026-02-14T18:05:00Z"),
    ("ce_subject", b"NORDAL"),
    ("ce_correlationid", b"shift-2026-02-14-B"),
    ("ce_partyid", b"smelter-nordal"),
    ("content-type", b"application/json"),
]


async def _producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    return producer


async def test_every_message_family_round_trips_with_its_envelope(topics: TestTopics) -> None:
    samples = sample_messages()
    assert {type(body) for body in samples} == set(MESSAGE_TYPES.values())
    start = await end_offsets(topics.bootstrap_servers, [topics.name(s) for s in CATALOGUE])
    sent = {}
    producer = await _producer(topics.bootstrap_servers)
    try:
        publisher = EnvelopePublisher(producer, topics.prefix)
        for body in samples:
            role = sender_role_for(type(body))
            envelope = new_envelope(
                body,
                source=f"/parties/{DEMO_PARTIES[role]}",
                sender_party_id=DEMO_PARTIES[role],
                time=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
            )
            published = await publisher.publish(body, envelope, role)
            sent[envelope.id] = (envelope, body, published, topics.name(route(type(body), role)))
    finally:
        await producer.stop()

    records = await read_records(topics.bootstrap_servers, start, expected=len(sent))

    assert len(records) == len(samples)
    for record in records:
        decoded = record.decoded
        envelope, body, published, topic = sent[decoded.envelope.id]
        assert decoded.envelope == envelope
        assert decoded.body == body
        assert record.topic == topic
        assert (record.partition, record.offset) == (published.partition, published.offset)
        assert record.key == published.key


async def test_a_record_built_by_hand_in_plain_json_is_accepted(topics: TestTopics) -> None:
    topic = topics.prefix + "producer.production-batches"
    start = await end_offsets(topics.bootstrap_servers, [topic])
    producer = await _producer(topics.bootstrap_servers)
    try:
        await producer.send_and_wait(
            topic, key=b"NORDAL", value=HAND_BUILT_BATCH, headers=HAND_BUILT_HEADERS
        )
    finally:
        await producer.stop()

    [record] = await read_records(topics.bootstrap_servers, start, expected=1)

    decoded = record.decoded
    assert isinstance(decoded.body, ProductionBatchRecorded)
    assert decoded.body.cast_reference == "C-2026-0417"
    assert [level.element for level in decoded.body.chemistry] == ["Cu", "Si", "Fe"]
    assert decoded.body.chemistry[2].detected_percent == Decimal("0.80")
    assert decoded.envelope.sender_party_id == "smelter-nordal"
    assert decoded.envelope.correlation_id == "shift-2026-02-14-B"
    assert decoded.envelope.time == datetime(2026, 2, 14, 18, 5, tzinfo=UTC)


async def test_refused_records_name_the_header_or_field(topics: TestTopics) -> None:
    topic = topics.prefix + "producer.production-batches"
    start = await end_offsets(topics.bootstrap_servers, [topic])
    bad_header = [(n, v) for n, v in HAND_BUILT_HEADERS if n != "ce_partyid"]
    bad_header.append(("ce_partyid", b"smelter-\xff-nordal"))
    bad_chemistry = HAND_BUILT_BATCH.replace(
        b'"detected_percent": 9.2', b'"detected_percent": -9.2'
    )
    good = sample_messages()[0]
    good_envelope = new_envelope(
        good, source="/parties/x", sender_party_id="smelter-nordal", time=datetime.now(UTC)
    )
    producer = await _producer(topics.bootstrap_servers)
    try:
        for headers, value in [
            (bad_header, HAND_BUILT_BATCH),
            (HAND_BUILT_HEADERS, bad_chemistry),
            (envelope_headers(good_envelope), encode_body(good)),
        ]:
            await producer.send_and_wait(topic, key=b"NORDAL", value=value, headers=headers)
    finally:
        await producer.stop()

    records = await read_records(topics.bootstrap_servers, start, expected=3)
    outcomes = [r.outcome for r in sorted(records, key=lambda r: r.offset)]

    assert isinstance(outcomes[0], MessageDecodeError)
    assert outcomes[0].kind is DecodeErrorKind.HEADER_NOT_UTF8
    assert outcomes[0].field == "ce_partyid"
    assert isinstance(outcomes[1], MessageDecodeError)
    assert outcomes[1].kind is DecodeErrorKind.SCHEMA_VIOLATION
    assert outcomes[1].field == "chemistry[1].detected_percent"
    assert not isinstance(outcomes[2], MessageDecodeError)
    assert outcomes[2].body == good
