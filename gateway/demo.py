"""``make demo``: one message of every family through a real broker, read back and checked.

Until the registry exists, this is the main job: the simulated parties publish a sample of
every message family with its envelope on the catalogue's topics, the records are read back
(read_committed) and decoded through the contracts, and a summary says what flowed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from consumers.record_reader import ReadRecord, end_offsets, read_records
from contracts.envelope import MessageDecodeError, new_envelope
from contracts.topics import CATALOGUE
from gateway.local_kafka import BrokerInfo, LocalKafka
from gateway.settings import Settings
from gateway.topic_admin import ensure_topics
from producers.kafka_publisher import EnvelopePublisher, Published
from producers.parties import DEMO_PARTIES, sender_role_for
from producers.samples import sample_messages


async def run_demo(settings: Settings, kafka: LocalKafka) -> int:
    broker, started_here = _broker_for_demo(settings, kafka)
    try:
        print(f"broker: Apache Kafka {broker.version} at {broker.bootstrap_servers}")
        return await _publish_and_read_back(broker.bootstrap_servers, settings.topic_prefix)
    finally:
        if started_here:
            kafka.stop()
            print("broker: stopped (it was started for this demo)")


def _broker_for_demo(settings: Settings, kafka: LocalKafka) -> tuple[BrokerInfo, bool]:
    if settings.kafka_bootstrap_servers:
        return BrokerInfo(settings.kafka_bootstrap_servers, version="(external)"), False
    running = kafka.status()
    if running is not None:
        return running, False
    return kafka.start(), True


async def _publish_and_read_back(bootstrap: str, prefix: str) -> int:
    report = await ensure_topics(bootstrap, CATALOGUE, prefix)
    print(f"topics: {len(report.created)} created, {len(report.already_present)} already present")
    topic_names = [prefix + spec.name for spec in CATALOGUE]
    start = await end_offsets(bootstrap, topic_names)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    sent: dict[str, tuple[Published, object]] = {}
    began = time.monotonic()
    try:
        publisher = EnvelopePublisher(producer, prefix)
        for body in sample_messages():
            role = sender_role_for(type(body))
            envelope = new_envelope(
                body,
                source=f"/parties/{DEMO_PARTIES[role]}",
                sender_party_id=DEMO_PARTIES[role],
                time=datetime.now(UTC),
            )
            published = await publisher.publish(body, envelope, role)
            sent[envelope.id] = (published, body)
    finally:
        await producer.stop()

    records = await read_records(bootstrap, start, expected=len(sent), timeout_s=30)
    elapsed = time.monotonic() - began
    return _summarise(sent, records, elapsed)


def _summarise(
    sent: dict[str, tuple[Published, object]], records: list[ReadRecord], elapsed: float
) -> int:
    intact = 0
    print(f"\n{'message type':<42} {'topic':<30} {'part':>4} {'offset':>6}  result")
    for record in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        if isinstance(record.outcome, MessageDecodeError):
            result = f"REFUSED: {record.outcome}"
            message_type = "?"
        else:
            envelope, body = record.outcome.envelope, record.outcome.body
            original = sent.get(envelope.id)
            same = original is not None and original[1] == body
            intact += same
            result = f"intact, from {envelope.sender_party_id}" if same else "DIFFERS from sent"
            message_type = envelope.type
        print(
            f"{message_type:<42} {record.topic:<30} {record.partition:>4} {record.offset:>6}  "
            f"{result}"
        )
    print(
        f"\n{len(sent)} messages sent, {len(records)} read back, {intact} intact "
        f"({elapsed:.2f} s through the broker)"
    )
    return 0 if intact == len(sent) == len(records) else 1
