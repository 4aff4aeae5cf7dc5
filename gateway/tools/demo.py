"""``make demo``: the registry and the custody ledger deciding live on a real broker.

It starts a secured local broker of its own (SASL/SCRAM, one principal per party, ACLs from
the parties file; unless ``KAFKA_BOOTSTRAP_SERVERS`` names a broker) and the gateway, lets
the simulated parties (``producers/simulation.py``) play a short story, each connected as
itself and signing with its own key, and prints each decision as it is published: good lots
issued, each kind of rejection, a pending lot resolved by a late eCOA, a suspended brand,
unreadable and forged records set aside as dead letters, a write outside a party's role
refused by the broker, and beside them the custody moves those events imply with the balance
updates they make, an overdrawing sale rejected and a month closed. Then it stops everything
it started. Every run uses topics of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import SecretStr

from consumers.group_progress import wait_until_consumed
from consumers.kafka_access import Broker, client_options
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
from contracts.signatures import SigningKey
from contracts.topics import CATALOGUE, route
from contracts.values import PartyRole
from gateway.readside.tables import SOURCE_TOPICS
from gateway.runtime.app import create_app
from gateway.runtime.logging_setup import configure_json_logging
from gateway.runtime.settings import Settings
from gateway.runtime.topic_admin import ensure_topics
from gateway.tools.demo_lines import describe_output
from gateway.tools.demo_parties import FORGER, DemoParties
from gateway.tools.demo_readside import OUTSIDER, DemoTokens, show_the_parties_views
from gateway.tools.local_kafka import LocalKafka
from gateway.tools.secured_kafka import start_secured
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
        "custody.dead-letter.recorded": 3,
        "custody.movement.recorded": 5,
        "custody.balance.updated": 11,
        "custody.ledger.posting-rejected": 1,
        "custody.ledger.period-closed": 1,
    }
)


@dataclass(frozen=True)
class DemoConnections:
    """How the demo's clients reach the broker: the operator's view (topics, the groups'
    progress, the decisions printed) and each party as itself."""

    operator: Broker
    party: Callable[[str], Broker]
    secured: bool


async def run_demo(settings: Settings, kafka: LocalKafka) -> int:
    """The demo on a secured broker of its own, started in a scratch directory and stopped
    at the end (or on the broker ``KAFKA_BOOTSTRAP_SERVERS`` names, connecting as the
    settings say). The parties' records are signed either way; ``kafka`` gives the broker's
    version and jar cache."""
    configure_json_logging(logging.WARNING)
    # The client's retried warnings and errors (a topic or a broker seconds old, the refused
    # write the demo makes on purpose) are noise in a demo's output.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    prefix = settings.topic_prefix or datetime.now(UTC).strftime("demo-%Y%m%d%H%M%S-")
    tokens = DemoTokens.for_parties(WARRANT_HOLDER, OUTSIDER)
    with tempfile.TemporaryDirectory(prefix="custody-demo-") as scratch:
        root = Path(scratch)
        parties = DemoParties.create(root / "parties", settings.registry_party_id)
        demo_settings = settings.model_copy(
            update={
                "topic_prefix": prefix,
                "state_dir": root / "state",
                "ops_port": 0,
                "readside": True,
                "api_tokens": SecretStr(tokens.settings_json()),
                "parties_file": parties.parties_file,
                "signing_key_file": parties.gateway_key_file,
            }
        )
        if settings.kafka_bootstrap_servers:
            return await _on_the_given_broker(demo_settings, tokens, parties)
        own = replace(kafka, run_dir=root / "broker")
        secured, info, _applied = await asyncio.to_thread(
            start_secured,
            own,
            demo_settings,
            parties_file=parties.parties_file,
            die_with_parent=True,
            log=lambda _line: None,
        )
        try:
            principals = len(secured.parties().parties) + 1
            print(
                f"broker: Apache Kafka {info.version} at {secured.bootstrap_servers}, secured: "
                f"{secured.security_protocol} with SCRAM-SHA-512, {principals} principals "
                f"(the parties and the gateway), {len(secured.acls())} ACLs from the parties file"
            )
            gateway_settings = demo_settings.model_copy(
                update={
                    "kafka_bootstrap_servers": secured.bootstrap_servers,
                    "kafka_security_protocol": secured.security_protocol,
                    "kafka_password_file": secured.secrets.file_of(secured.gateway_principal),
                }
            )
            connections = DemoConnections(
                operator=secured.admin_access(), party=secured.access_for, secured=True
            )
            return await _play(gateway_settings, tokens, parties, connections)
        finally:
            own.stop()
            print("broker: stopped (it was started for this demo)")


async def _on_the_given_broker(settings: Settings, tokens: DemoTokens, parties: DemoParties) -> int:
    access = settings.kafka_access()
    print(f"broker: {access.bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS)")
    report = await ensure_topics(
        access, CATALOGUE, settings.topic_prefix, max_record_bytes=settings.max_record_bytes
    )
    print(f"topics: {len(report.created)} created under the prefix {settings.topic_prefix!r}")
    connections = DemoConnections(
        operator=access, party=lambda _party: access, secured=access.secured
    )
    return await _play(settings, tokens, parties, connections)


async def _play(
    settings: Settings, tokens: DemoTokens, parties: DemoParties, connections: DemoConnections
) -> int:
    operator, prefix = connections.operator, settings.topic_prefix
    app = create_app(settings)
    stop = asyncio.Event()
    registry = await app.start(stop)
    print(f"registry: ready; /metrics and /ready on http://127.0.0.1:{app.ops_port}")
    print(f"parties: each signs with its own Ed25519 key ({parties.parties_file.name})\n")
    seen: Counter[str] = Counter()
    watcher = asyncio.create_task(
        _print_decisions(operator, prefix, settings.registry_party_id, seen)
    )
    try:
        await _tell_the_story(
            PartyProducers(connections.party, prefix, parties.signing_keys),
            secured=connections.secured,
        )
        ingest = [prefix + name for name in REGISTRY_INPUTS]
        await wait_until_consumed(operator, ingest, app.registry_group_id, timeout_s=60)
        ledger_group = app.ledger_group_id
        await wait_until_consumed(operator, [prefix + LEDGER_INPUT], ledger_group, timeout_s=60)
        await asyncio.sleep(1.0)  # let the watcher print the last committed outputs
        watcher.cancel()
        readside = [prefix + name for name in SOURCE_TOPICS]
        group = app.readside_subscription().group_id
        await wait_until_consumed(operator, readside, group, timeout_s=60)
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


class PartyProducers:
    """One idempotent producer per party, each connected as that party (its own principal
    on a secured broker), publishing signed by that party's key."""

    def __init__(
        self, access_of: Callable[[str], Broker], prefix: str, keys: Mapping[str, SigningKey]
    ) -> None:
        self._access_of = access_of
        self._prefix = prefix
        self._keys = keys
        self._producers: dict[str, AIOKafkaProducer] = {}

    async def producer(self, party: str) -> AIOKafkaProducer:
        if party not in self._producers:
            producer = AIOKafkaProducer(
                **client_options(self._access_of(party)), enable_idempotence=True
            )
            await producer.start()
            self._producers[party] = producer
        return self._producers[party]

    async def publisher(self, party: str) -> EnvelopePublisher:
        return EnvelopePublisher(await self.producer(party), self._prefix, signing_keys=self._keys)

    def topic(self, name: str) -> str:
        return self._prefix + name

    def forged_record(
        self, body: Contract, *, claimed: str, signer: str, role: PartyRole
    ) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
        """``body`` with ``claimed`` as its ce_partyid, signed by ``signer``'s own key."""
        spec = route(type(body), role)
        key, value = spec.key_of(body), encode_body(body)
        headers = self._keys[signer].signed_headers(spec.name, key, _headers(body, claimed), value)
        return self.topic(spec.name), key, value, headers

    async def close(self) -> None:
        for producer in self._producers.values():
            await producer.stop()


async def _tell_the_story(parties: PartyProducers, *, secured: bool) -> None:
    try:
        story = demo_story()
        for number, act in enumerate(story, start=1):
            print(f"[{number}] {act.title}")
            for body in act.messages:
                role = sender_role_of(body)
                sender = act.sent_by or DEMO_PARTIES[role]
                publisher = await parties.publisher(sender)
                await publisher.publish(body, _envelope(body, sender), role)
            await asyncio.sleep(0.8)
        print(f"[{len(story) + 1}] unreadable, unauthorised and forged records arrive")
        await _send_unreadable(parties)
        if secured:
            await _write_outside_the_role(parties)
        await asyncio.sleep(0.8)
    finally:
        await parties.close()


async def _send_unreadable(parties: PartyProducers) -> None:
    """A cast whose header is not UTF-8; a lot announced by a warehouse that does not hold
    it (its body names another warehouse); and the same warehouse announcing a lot as the
    other warehouse (its own signature, the other's ce_partyid)."""
    smelter = DEMO_PARTIES[PartyRole.PRODUCER]
    batch = cast("NORDAL", "C26-0999")
    headers = [
        (name, value if name != "ce_source" else b"/parties/\xffnordal")
        for name, value in _headers(batch, smelter)
    ]
    await (await parties.producer(smelter)).send_and_wait(
        parties.topic("producer.production-batches"),
        key=b"NORDAL",
        value=encode_body(batch),
        headers=headers,
    )
    stray = lot("NORDAL", "LOT-RTM-0099", ["C26-0101"])
    forger = await parties.publisher(FORGER)
    await forger.publish(stray, _envelope(stray, FORGER), PartyRole.WAREHOUSE)
    forged = lot("NORDAL", "LOT-RTM-0098", ["C26-0101"])
    topic, key, value, headers = parties.forged_record(
        forged, claimed=DEMO_PARTIES[PartyRole.WAREHOUSE], signer=FORGER, role=PartyRole.WAREHOUSE
    )
    await (await parties.producer(FORGER)).send_and_wait(
        topic, key=key, value=value, headers=headers
    )


async def _write_outside_the_role(parties: PartyProducers) -> None:
    """A warehouse writing a producer's topic: the broker itself refuses it."""
    warehouse = DEMO_PARTIES[PartyRole.WAREHOUSE]
    topic = parties.topic("producer.ecoas")
    producer = await parties.producer(warehouse)
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"NORDAL"), 20)
    except Exception as error:  # the broker's refusal is the point here
        refusal = type(error).__name__
        print(f"      refused by the broker: {warehouse} may not write {topic} ({refusal})")
    else:
        raise RuntimeError(f"the broker let {warehouse} write {topic}")


def _envelope(body: Contract, sender: str) -> Envelope:
    return new_envelope(
        body, source=f"/parties/{sender}", sender_party_id=sender, time=datetime.now(UTC)
    )


def _headers(body: Contract, sender: str) -> list[tuple[str, bytes]]:
    return envelope_headers(_envelope(body, sender))


async def _print_decisions(
    bootstrap: Broker, prefix: str, registry_party: str, seen: Counter[str]
) -> None:
    """Print what the registry and the ledger publish (not the parties' own commands that
    share ``ledger.commands`` with the registry's custody moves)."""
    topics = [prefix + name for name in dict.fromkeys((*REGISTRY_OUTPUTS, *LEDGER_OUTPUTS))]
    partitions = list(await end_offsets(bootstrap, topics))
    consumer = AIOKafkaConsumer(
        **client_options(bootstrap), enable_auto_commit=False, isolation_level="read_committed"
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
