"""Talking to the custody ledger on the session broker: a site-level and a group-level
certificate, a stream of material postings, and reading balances and decisions back."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from consumers.batches import input_record
from consumers.group_progress import wait_until_consumed
from consumers.record_reader import ReadRecord, read_to_end
from contracts import ledger as wire
from contracts.base import Contract
from contracts.custody import CustodyBalanceUpdated
from contracts.envelope import new_envelope
from contracts.topics import TOPICS_BY_NAME
from contracts.values import AccountingLevel, PartyRole
from gateway.ledger import LedgerState
from gateway.processors.ledger import LedgerSettings, process_ledger_record
from gateway.topology import LEDGER_INPUT
from producers.kafka_publisher import EnvelopePublisher
from producers.parties import DEMO_PARTIES
from tests.conftest import TestTopics

EXCHANGE = DEMO_PARTIES[PartyRole.EXCHANGE]
REGISTRY = "custody-registry"
Q = "asi_aluminium"
SITE_OPERATOR = "smelter-alpha"
GROUP_OPERATOR = "smelter-beta"
LEDGER_SETTINGS = LedgerSettings(
    registry_party=REGISTRY, exchange_parties=frozenset({EXCHANGE}), max_value_bytes=1_000_000
)
Sent = tuple[Contract, str]


def certification() -> list[Sent]:
    """CERT-ALPHA keeps site-level accounts for ALPHA-1 and ALPHA-2; CERT-BETA keeps one
    group-level account for GROUP-BETA, used by BETA-1."""
    start = date(2026, 1, 1)
    sent: list[Sent] = []
    for certificate, group, scope in (
        ("CERT-ALPHA", "GROUP-ALPHA", wire.AccountingScope.SITE_LEVEL),
        ("CERT-BETA", "GROUP-BETA", wire.AccountingScope.GROUP_LEVEL),
    ):
        sent.append(
            (
                wire.RegisterCertificate.build(
                    posting_id=f"register-{certificate}",
                    certificate_id=certificate,
                    holder_group_id=group,
                    accounting_scope=scope,
                    effective_on=start,
                ),
                EXCHANGE,
            )
        )
    for site, operator, certificate in (
        ("ALPHA-1", SITE_OPERATOR, "CERT-ALPHA"),
        ("ALPHA-2", SITE_OPERATOR, "CERT-ALPHA"),
        ("BETA-1", GROUP_OPERATOR, "CERT-BETA"),
    ):
        sent.append(
            (
                wire.RegisterSite.build(
                    posting_id=f"register-{site}",
                    site_id=site,
                    operator_party_id=operator,
                    registered_on=start,
                ),
                EXCHANGE,
            )
        )
        sent.append(
            (
                wire.JoinCertificate.build(
                    posting_id=f"join-{site}",
                    site_id=site,
                    certificate_id=certificate,
                    effective_on=start,
                ),
                EXCHANGE,
            )
        )
    return sent


def material_stream(count: int, seed: int) -> list[Sent]:
    """Inputs, outputs (some overdrawing) and transfers (each dispatched and received) at
    random, always the same for a seed."""
    chooser = random.Random(seed)
    sent: list[Sent] = []
    for index in range(count):
        kind = chooser.choice(["in", "in", "out", "out", "transfer", "group_in", "group_out"])
        kg = Decimal(chooser.randrange(100, 5000))
        day = date(2026, 3, 1 + index * 28 // count)
        site = chooser.choice(["ALPHA-1", "ALPHA-2"])
        body: Contract
        if kind in ("in", "out"):
            fields = {
                "posting_id": f"{kind}-{index}",
                "site_id": site,
                "holder_id": site,
                "material_quality": Q,
                "quantity_kg": kg,
                "level": AccountingLevel.SITE,
                "occurred_on": day,
            }
            body = (
                wire.RecordCertifiedInput.build(**fields, coc_document=f"COC-{index}")
                if kind == "in"
                else wire.RecordCertifiedOutput.build(**fields, claim_document=f"INV-{index}")
            )
            sent.append((body, SITE_OPERATOR))
        elif kind == "transfer":
            body = wire.RecordPhysicalTransfer.build(
                posting_id=f"transfer-{index}",
                from_site=site,
                to_site="ALPHA-2" if site == "ALPHA-1" else "ALPHA-1",
                material_quality=Q,
                quantity_kg=kg,
                level=AccountingLevel.SITE,
                transport_document=f"CMR-{index}",
                occurred_on=day,
            )
            receipt = wire.RecordTransferReceipt.build(
                posting_id=f"receipt-{index}",
                **body.model_dump(
                    include={
                        "transport_document",
                        "from_site",
                        "to_site",
                        "material_quality",
                        "quantity_kg",
                        "level",
                        "occurred_on",
                    }
                ),
            )
            sent += [(body, SITE_OPERATOR), (receipt, SITE_OPERATOR)]
        else:
            fields = {
                "posting_id": f"{kind}-{index}",
                "site_id": "BETA-1",
                "holder_id": "GROUP-BETA",
                "material_quality": Q,
                "quantity_kg": kg,
                "level": AccountingLevel.GROUP,
                "occurred_on": day,
            }
            body = (
                wire.RecordCertifiedInput.build(**fields, coc_document=f"COC-{index}")
                if kind == "group_in"
                else wire.RecordCertifiedOutput.build(**fields, claim_document=f"INV-{index}")
            )
            sent.append((body, GROUP_OPERATOR))
    return sent


async def send(topics: TestTopics, messages: Iterable[Sent]) -> None:
    """Publish each command on ledger.commands as the given party."""
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers, enable_idempotence=True)
    await producer.start()
    try:
        publisher = EnvelopePublisher(producer, topics.prefix)
        for body, sender in messages:
            envelope = new_envelope(
                body, source="/test", sender_party_id=sender, time=datetime.now(UTC)
            )
            role = PartyRole.EXCHANGE if sender == EXCHANGE else PartyRole.PRODUCER
            await publisher.publish(body, envelope, role)
    finally:
        await producer.stop()


async def wait_until_booked(topics: TestTopics, group_id: str, timeout_s: float = 90) -> None:
    await wait_until_consumed(
        topics.bootstrap_servers, [topics.prefix + LEDGER_INPUT], group_id, timeout_s=timeout_s
    )


async def read(topics: TestTopics, name: str) -> list[ReadRecord]:
    return await read_to_end(topics.bootstrap_servers, [topics.prefix + name])


def latest_balances(records: Sequence[ReadRecord]) -> dict[str, Decimal]:
    """What the compacted balances topic says: the last update of every account."""
    latest: dict[str, Decimal] = {}
    for record in records:
        body = record.decoded.body
        assert isinstance(body, CustodyBalanceUpdated)
        latest[body.account_key] = body.balance_kg
    return latest


def state_balances(state: LedgerState) -> dict[str, Decimal]:
    return {account.text: kg for account, kg in state.balances.items()}


async def raw_records(topics: TestTopics, name: str) -> list[ConsumerRecord]:
    """Every committed record of a topic, as bytes, from its beginning: partition by
    partition, each in its order."""
    reader = AIOKafkaConsumer(
        bootstrap_servers=topics.bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await reader.start()
    records: list[ConsumerRecord] = []
    try:
        count = TOPICS_BY_NAME[name].partitions  # the test topics are the catalogue's
        partitions = [TopicPartition(topics.prefix + name, number) for number in range(count)]
        reader.assign(partitions)
        ends = await reader.end_offsets(partitions)
        for partition in partitions:
            reader.seek(partition, 0)
            while await reader.position(partition) < ends[partition]:
                batch = await reader.getmany(partition, timeout_ms=500)
                records.extend(batch.get(partition, []))
    finally:
        await reader.stop()
    return records


def replayed(records: Sequence[ConsumerRecord]) -> LedgerState:
    """The ledger's input topic from its beginning, folded through the pure pipeline."""
    state = LedgerState()
    for record in records:
        state = process_ledger_record(
            state,
            input_record(record, "", topic=LEDGER_INPUT),
            now=datetime.now(UTC),
            settings=LEDGER_SETTINGS,
            publish=False,
        ).state
    return state
