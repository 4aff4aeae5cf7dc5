"""The ledger on two partitions of the real broker: custody moves from a smelter site held by
one partition to a warehouse site held by the other, each debited at the source and credited
at the destination through ledger.transfers, booked exactly once across a kill -9 of the
gateway; moves past the smelter's balance are refused and credit nothing; a new instance
restores both partitions from their last snapshot and journal tail."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from consumers.group_progress import wait_until_consumed
from contracts import ledger as wire
from contracts.custody import CustodyBalanceUpdated, CustodyMovementRecorded, CustodyMoveReason
from contracts.envelope import new_envelope
from contracts.topics import CATALOGUE, with_ledger_partitions
from contracts.values import AccountingLevel, PartyRole
from gateway.processors.partitions import partition_of
from gateway.runtime.topic_admin import ensure_topics
from gateway.topology import LEDGER_INPUT, LEDGER_TRANSFERS
from producers.kafka_publisher import EnvelopePublisher
from tests.conftest import BrokerInfo, TestTopics
from tests.integration.ledger_support import (
    EXCHANGE,
    REGISTRY,
    SITE_OPERATOR,
    Q,
    Sent,
    latest_balances,
    read,
)
from tests.integration.ledger_support import certification as alpha_and_beta
from tests.integration.registry_support import (
    free_port,
    registry_settings,
    running_registry,
    start_registry,
    wait_ready,
)

pytestmark = pytest.mark.broker

PARTITIONS = 2
SMELTER, WAREHOUSE = "ALPHA-1", "WH-ROTTERDAM"
FUNDED_KG, MOVE_KG, MOVES = 2_000, 10, 260
"""200 moves fit the smelter's balance; the last 60 are refused, whatever their order."""
BALANCES, DECISIONS = "registry.custody-balances", "registry.ledger-decisions"
ENVIRONMENT = {"GATEWAY_LEDGER_PARTITIONS": str(PARTITIONS), "GATEWAY_LEDGER_SNAPSHOT_EVERY": "40"}


@pytest.fixture
async def ledger_topics(kafka_broker: BrokerInfo) -> AsyncIterator[TestTopics]:
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    catalogue = with_ledger_partitions(CATALOGUE, PARTITIONS)
    await ensure_topics(kafka_broker.bootstrap_servers, catalogue, prefix)
    yield TestTopics(prefix=prefix, bootstrap_servers=kafka_broker.bootstrap_servers)


def certification() -> list[Sent]:
    start = date(2026, 1, 1)
    warehouse: list[Sent] = [
        (
            wire.RegisterCertificate.build(
                posting_id="register-CERT-WH",
                certificate_id="CERT-WH",
                holder_group_id="WH-CO",
                accounting_scope=wire.AccountingScope.SITE_LEVEL,
                effective_on=start,
            ),
            EXCHANGE,
        ),
        (
            wire.RegisterSite.build(
                posting_id=f"register-{WAREHOUSE}",
                site_id=WAREHOUSE,
                operator_party_id="warehouse-rotterdam-07",
                registered_on=start,
            ),
            EXCHANGE,
        ),
        (
            wire.JoinCertificate.build(
                posting_id=f"join-{WAREHOUSE}",
                site_id=WAREHOUSE,
                certificate_id="CERT-WH",
                effective_on=start,
            ),
            EXCHANGE,
        ),
    ]
    return [*alpha_and_beta(), *warehouse]


def funding() -> Sent:
    return (
        wire.RecordCertifiedInput.build(
            posting_id="fund-alpha",
            site_id=SMELTER,
            holder_id=SMELTER,
            material_quality=Q,
            quantity_kg=Decimal(FUNDED_KG),
            level=AccountingLevel.SITE,
            coc_document="COC-FUND",
            occurred_on=date(2026, 3, 1),
        ),
        SITE_OPERATOR,
    )


def moves() -> list[Sent]:
    return [
        (
            CustodyMovementRecorded.build(
                posting_id=f"lot-arrival.L{n}",
                reason=CustodyMoveReason.LOT_ARRIVAL,
                from_holder_id=SMELTER,
                to_holder_id=WAREHOUSE,
                lot_id=f"L{n}",
                quantity_kg=Decimal(MOVE_KG),
                material_quality=Q,
                level=AccountingLevel.SITE,
                coc_document=f"COC-L{n}",
                occurred_on=date(2026, 3, 2),
            ),
            REGISTRY,
        )
        for n in range(MOVES)
    ]


async def send(topics: TestTopics, messages: Iterable[Sent], pause_s: float = 0.0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers, enable_idempotence=True)
    await producer.start()
    roles = {EXCHANGE: PartyRole.EXCHANGE, REGISTRY: PartyRole.REGISTRY}
    try:
        publisher = EnvelopePublisher(producer, topics.prefix)
        for body, sender in messages:
            envelope = new_envelope(
                body, source="/test", sender_party_id=sender, time=datetime.now(UTC)
            )
            await publisher.publish(body, envelope, roles.get(sender, PartyRole.PRODUCER))
            if pause_s:
                await asyncio.sleep(pause_s)
    finally:
        await producer.stop()


async def settled(topics: TestTopics, timeout_s: float = 90) -> None:
    """Every command consumed, then every hop between partitions it caused."""
    group = f"{topics.prefix}custody-ledger"
    for name in (LEDGER_INPUT, LEDGER_TRANSFERS):
        await wait_until_consumed(
            topics.bootstrap_servers, [topics.prefix + name], group, timeout_s=timeout_s
        )


async def test_a_move_across_ledger_partitions_is_booked_exactly_once_across_kill_9(
    ledger_topics: TestTopics, tmp_path: Path
) -> None:
    topics = ledger_topics
    assert partition_of(SMELTER, PARTITIONS) != partition_of(WAREHOUSE, PARTITIONS)
    state_dir, log, port = tmp_path / "state", tmp_path / "gateway.log", free_port()
    first = start_registry(topics, state_dir, port, log, ENVIRONMENT)
    try:
        await wait_ready(port, first)
        # The directory reaches the other partitions one hop after its decision: each step
        # is sent once the one it depends on is known everywhere.
        for kind in (wire.RegisterCertificate, wire.RegisterSite, wire.JoinCertificate):
            await send(topics, [sent for sent in certification() if isinstance(sent[0], kind)])
            await settled(topics)
        await send(topics, [funding()])
        sending = asyncio.create_task(send(topics, moves(), pause_s=0.01))
        deadline = asyncio.get_running_loop().time() + 60
        while len(await read(topics, BALANCES)) < 60:
            assert not sending.done() or sending.exception() is None
            assert asyncio.get_running_loop().time() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        decided_at_kill = len(await read(topics, DECISIONS))
        await sending
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

    second = start_registry(topics, state_dir, port, log, ENVIRONMENT)
    try:
        await wait_ready(port, second)
        await settled(topics)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, log.read_text()[-3000:]

    decisions = [record.decoded.body for record in await read(topics, DECISIONS)]
    assert decided_at_kill < len(decisions), "the kill did not happen mid-stream"
    move_ids = {body.posting_id for body, _ in moves()}  # type: ignore[attr-defined]
    decided = Counter(d.posting_id for d in decisions if d.posting_id in move_ids)  # type: ignore[attr-defined]
    assert set(decided) == move_ids and set(decided.values()) == {1}, "a move decided twice"
    accepted = {
        d.posting_id for d in decisions if isinstance(d, wire.LedgerPostingAccepted)
    } & move_ids
    assert len(accepted) == FUNDED_KG // MOVE_KG

    updates = [
        body
        for body in (record.decoded.body for record in await read(topics, BALANCES))
        if isinstance(body, CustodyBalanceUpdated)
    ]
    per_entry = Counter((u.posting_id, u.account_key) for u in updates)
    assert set(per_entry.values()) == {1}, "a balance update was published twice"
    smelter, warehouse = f"{SMELTER}/{Q}/S@CERT-ALPHA", f"{WAREHOUSE}/{Q}/S@CERT-WH"
    for posting_id in move_ids:
        booked = {key for (pid, key) in per_entry if pid == posting_id}
        assert booked == ({smelter, warehouse} if posting_id in accepted else set())
    balances = latest_balances(await read(topics, BALANCES))
    assert balances[smelter] == 0 and balances[warehouse] == FUNDED_KG

    # Both partitions rebuilt from Kafka alone, from their snapshots and journal tails.
    settings = registry_settings(topics, tmp_path / "elsewhere").model_copy(
        update={"ledger_partitions": PARTITIONS}
    )
    async with running_registry(settings) as again:
        assert again.ledger is not None
        held = {
            account.text: kg
            for number in range(PARTITIONS)
            for account, kg in again.ledger.state_of(number).balances.items()
        }
    assert held == balances
