"""``make demo``: the registry and the custody ledger deciding live on a real broker.

It starts the local broker (unless one is up or ``KAFKA_BOOTSTRAP_SERVERS`` is set) and the
gateway, lets the simulated parties (``producers/simulation.py``) play a short story, and
prints each decision as it is published: good lots issued, each kind of rejection, a pending
lot resolved by a late eCOA, a suspended brand, unreadable records set aside as dead letters,
and beside them the custody moves those events imply with the balance updates they make, an
overdrawing sale rejected and a month closed. Then it stops everything it started. Every run
uses topics of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import SecretStr

from consumers.group_progress import wait_until_consumed
from consumers.record_reader import end_offsets
from contracts.base import Contract
from contracts.envelope import (
    Envelope,
    MessageDecodeError,
    decode_message,
    encode_body,
    envelope_headers,
    new_envelope,
)
from contracts.topics import CATALOGUE
from contracts.values import PartyRole
from gateway.readside.tables import SOURCE_TOPICS
from gateway.runtime.app import create_app
from gateway.runtime.logging_setup import configure_json_logging
from gateway.runtime.settings import Settings
from gateway.runtime.topic_admin import ensure_topics
from gateway.tools.demo_lines import describe_output
from gateway.tools.demo_readside import OUTSIDER, DemoTokens, show_the_parties_views
from gateway.tools.local_kafka import LocalKafka
from gateway.topology import LEDGER_INPUT, LEDGER_OUTPUTS, REGISTRY_INPUTS, REGISTRY_OUTPUTS
from producers.kafka_publisher import EnvelopePublisher
from producers.parties import DEMO_PARTIES, sender_role_of
from producers.simulation import WARRANT_HOLDER, cast, demo_story, lot

EXPECTED = Counter(
    {
        "custody.warrant.issued": 2,
        "custody.warrant.rejected": 2,
        "custody.ecoa.rejected": 1,
        "custody.cbam-form.rejected": 1,
        "custody.dead-letter.recorded": 2,
        "custody.movement.recorded": 5,
        "custody.balance.updated": 11,
        "custody.ledger.posting-rejected": 1,
        "custody.ledger.period-closed": 1,
    }
)


async def run_demo(settings: Settings, kafka: LocalKafka) -> int:
    configure_json_logging(logging.WARNING)
    # The client's retried warnings (a topic seconds old) are noise in a demo's output.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    broker, started_here = kafka.broker_for(settings)
    try:
        print(f"broker: Apache Kafka {broker.version} at {broker.bootstrap_servers}")
        prefix = settings.topic_prefix or datetime.now(UTC).strftime("demo-%Y%m%d%H%M%S-")
        tokens = DemoTokens.for_parties(WARRANT_HOLDER, OUTSIDER)
        with tempfile.TemporaryDirectory(prefix="custody-demo-") as state:
            demo_settings = settings.model_copy(
                update={
                    "kafka_bootstrap_servers": broker.bootstrap_servers,
                    "topic_prefix": prefix,
                    "state_dir": Path(state),
                    "ops_port": 0,
                    "readside": True,
                    "api_tokens": SecretStr(tokens.settings_json()),
                }
            )
            return await _play(demo_settings, tokens)
    finally:
        if started_here:
            kafka.stop()
            print("broker: stopped (it was started for this demo)")


async def _play(settings: Settings, tokens: DemoTokens) -> int:
    bootstrap, prefix = settings.kafka_bootstrap_servers or "", settings.topic_prefix
    report = await ensure_topics(
        bootstrap, CATALOGUE, prefix, max_record_bytes=settings.max_record_bytes
    )
    print(f"topics: {len(report.created)} created under the prefix {prefix!r}")
    app = create_app(settings)
    stop = asyncio.Event()
    registry = await app.start(stop)
    print(f"registry: ready; /metrics and /ready on http://127.0.0.1:{app.ops_port}\n")
    seen: Counter[str] = Counter()
    watcher = asyncio.create_task(
        _print_decisions(bootstrap, prefix, settings.registry_party_id, seen)
    )
    try:
        await _tell_the_story(bootstrap, prefix)
        ingest = [prefix + name for name in REGISTRY_INPUTS]
        await wait_until_consumed(bootstrap, ingest, app.registry_group_id, timeout_s=60)
        ledger_group = app.ledger_group_id
        await wait_until_consumed(bootstrap, [prefix + LEDGER_INPUT], ledger_group, timeout_s=60)
        await asyncio.sleep(1.0)  # let the watcher print the last committed outputs
        watcher.cancel()
        readside = [prefix + name for name in SOURCE_TOPICS]
        group = app.readside_subscription().group_id
        await wait_until_consumed(bootstrap, readside, group, timeout_s=60)
        views = await show_the_parties_views(
            f"http://127.0.0.1:{app.ops_port}", tokens, WARRANT_HOLDER
        )
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        stop.set()
        await registry
    if not views.complete:
        print("\nthe demo expected the holder's view, a refused look-up and the report")
        return 1
    return _summarise(seen)


async def _tell_the_story(bootstrap: str, prefix: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        publisher = EnvelopePublisher(producer, prefix)
        story = demo_story()
        for number, act in enumerate(story, start=1):
            print(f"[{number}] {act.title}")
            for body in act.messages:
                role = sender_role_of(body)
                sender = act.sent_by or DEMO_PARTIES[role]
                await publisher.publish(body, _envelope(body, sender), role)
            await asyncio.sleep(0.8)
        print(f"[{len(story) + 1}] unreadable and unauthorised records arrive")
        await _send_unreadable(producer, prefix)
        await asyncio.sleep(0.8)
    finally:
        await producer.stop()


async def _send_unreadable(producer: AIOKafkaProducer, prefix: str) -> None:
    """A cast whose header is not UTF-8, and a lot announced by a warehouse that does not
    hold it (its body names another warehouse)."""
    batch = cast("NORDAL", "C26-0999")
    headers = [
        (name, value if name != "ce_source" else b"/parties/\xffnordal")
        for name, value in _headers(batch, DEMO_PARTIES[PartyRole.PRODUCER])
    ]
    await producer.send_and_wait(
        prefix + "producer.production-batches",
        key=b"NORDAL",
        value=encode_body(batch),
        headers=headers,
    )
    stray = lot("NORDAL", "LOT-RTM-0099", ["C26-0101"])
    await producer.send_and_wait(
        prefix + "warehouse.lot-arrivals",
        key=b"NORDAL",
        value=encode_body(stray),
        headers=_headers(stray, "warehouse-antwerp-02"),
    )


def _envelope(body: Contract, sender: str) -> Envelope:
    return new_envelope(
        body, source=f"/parties/{sender}", sender_party_id=sender, time=datetime.now(UTC)
    )


def _headers(body: Contract, sender: str) -> list[tuple[str, bytes]]:
    return envelope_headers(_envelope(body, sender))


async def _print_decisions(
    bootstrap: str, prefix: str, registry_party: str, seen: Counter[str]
) -> None:
    """Print what the registry and the ledger publish (not the parties' own commands that
    share ``ledger.commands`` with the registry's custody moves)."""
    topics = [prefix + name for name in dict.fromkeys((*REGISTRY_OUTPUTS, *LEDGER_OUTPUTS))]
    partitions = list(await end_offsets(bootstrap, topics))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    try:
                        decoded = decode_message(list(record.headers), record.value)
                    except MessageDecodeError as error:
                        print(f"      (unreadable output: {error})")
                        continue
                    if decoded.envelope.sender_party_id != registry_party:
                        continue
                    seen[decoded.envelope.type] += 1
                    line = describe_output(decoded.body)
                    if line:
                        print(f"      {line}")
    finally:
        await consumer.stop()


def _summarise(seen: Counter[str]) -> int:
    print("\nwhat the registry published:")
    for message_type, count in sorted(seen.items()):
        print(f"  {count:>3}  {message_type}")
    missing = {kind: n for kind, n in EXPECTED.items() if seen[kind] < n}
    if missing:
        print(f"\nthe demo expected more of: {missing}")
        return 1
    print("\nevery kind of decision was made; the registry and the parties stopped cleanly")
    return 0
