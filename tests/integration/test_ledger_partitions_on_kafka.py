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
from collections.abc import AsyncIterator, Iterable, Sequence
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


async def killed_mid_stream(
    topics: TestTopics,
    tmp_path: Path,
    steps: Sequence[Sequence[Sent]],
    stream: Sequence[Sent],
    *,
    pause_s: float,
    kill_at: tuple[str, int],
) -> int:
    """Run ``gateway run`` on two ledger partitions: send each step once the one before is
    consumed with every hop it caused, then stream the rest and ``kill -9`` the gateway once
    ``kill_at`` names that many records on that topic; a second instance takes over and
    settles everything. The decisions on the topic at the kill."""
    state_dir, log, port = tmp_path / "state", tmp_path / "gateway.log", free_port()
    first = start_registry(topics, state_dir, port, log, ENVIRONMENT)
    try:
        await wait_ready(port, first)
        for step in steps:
            await send(topics, step)
            await settled(topics)
        sending = asyncio.create_task(send(topics, stream, pause_s=pause_s))
        deadline = asyncio.get_running_loop().time() + 60
        topic, count = kill_at
        while len(await read(topics, topic)) < count:
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
    return decided_at_kill


def certification_steps() -> list[list[Sent]]:
    """The directory reaches the other partitions one hop after its decision: each step is
    sent once the one it depends on is known everywhere."""
    kinds = (wire.RegisterCertificate, wire.RegisterSite, wire.JoinCertificate)
    return [[sent for sent in certification() if isinstance(sent[0], kind)] for kind in kinds]


async def test_a_move_across_ledger_partitions_is_booked_exactly_once_across_kill_9(
    ledger_topics: TestTopics, tmp_path: Path
) -> None:
    topics = ledger_topics
    assert partition_of(SMELTER, PARTITIONS) != partition_of(WAREHOUSE, PARTITIONS)
    decided_at_kill = await killed_mid_stream(
        topics,
        tmp_path,
        [*certification_steps(), [funding()]],
        moves(),
        pause_s=0.01,
        kill_at=(BALANCES, 60),
    )

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


SHARED_DOCUMENTS, INPUT_KG = 60, 10
SITES = {1: (SMELTER, SITE_OPERATOR), 0: (WAREHOUSE, "warehouse-rotterdam-07")}
"""ALPHA-1 is held by partition 1, WH-ROTTERDAM by partition 0."""


def shared_document_inputs() -> tuple[list[Sent], list[Sent]]:
    """Inputs naming 60 CoC documents at the sites of both partitions. First, each even
    document booked once at the site away from its home, so that the home claims it; then
    each document named three more times, alternately at the two sites, close together so
    that the postings meet on the way."""

    def booked(posting_id: str, document: int, partition: int) -> Sent:
        site, operator = SITES[partition]
        body = wire.RecordCertifiedInput.build(
            posting_id=posting_id,
            site_id=site,
            holder_id=site,
            material_quality=Q,
            quantity_kg=Decimal(INPUT_KG),
            level=AccountingLevel.SITE,
            coc_document=f"COC-S{document}",
            occurred_on=date(2026, 3, 3),
        )
        return body, operator

    homes = [partition_of(f"coc:COC-S{n}", PARTITIONS) for n in range(SHARED_DOCUMENTS)]
    away_first = [booked(f"away-{n}", n, 1 - homes[n]) for n in range(0, SHARED_DOCUMENTS, 2)]
    racing = [
        booked(f"shared-{n}-{i}", n, (homes[n] + n + i) % 2)
        for n in range(SHARED_DOCUMENTS)
        for i in range(3)
    ]
    return away_first, racing


async def test_a_coc_document_named_on_both_partitions_is_credited_once_across_kill_9(
    ledger_topics: TestTopics, tmp_path: Path
) -> None:
    topics = ledger_topics
    homes = {partition_of(f"coc:COC-S{n}", PARTITIONS) for n in range(SHARED_DOCUMENTS)}
    assert homes == {0, 1}, "documents homed on both partitions"
    away_first, racing = shared_document_inputs()
    decided_at_kill = await killed_mid_stream(
        topics,
        tmp_path,
        [*certification_steps(), away_first],
        racing,
        pause_s=0.005,
        kill_at=(DECISIONS, len(away_first) + 40),
    )

    inputs: dict[str, wire.RecordCertifiedInput] = {}
    for body, _sender in [*away_first, *racing]:
        assert isinstance(body, wire.RecordCertifiedInput)
        inputs[body.posting_id] = body
    decisions = [
        record.decoded.body
        for record in await read(topics, DECISIONS)
        if getattr(record.decoded.body, "posting_id", None) in inputs
    ]
    assert Counter(d.posting_id for d in decisions) == Counter(set(inputs)), "decided twice"  # type: ignore[attr-defined]
    assert decided_at_kill < len(decisions), "the kill did not happen mid-stream"
    accepted = [d.posting_id for d in decisions if isinstance(d, wire.LedgerPostingAccepted)]
    booked_away = {inputs[f"away-{n}"].posting_id for n in range(0, SHARED_DOCUMENTS, 2)}
    assert booked_away <= set(accepted), "each booked through its home's claim"
    credited = Counter(inputs[posting_id].coc_document for posting_id in accepted)
    assert credited == Counter({f"COC-S{n}": 1 for n in range(SHARED_DOCUMENTS)})
    for refused in decisions:
        if isinstance(refused, wire.LedgerPostingRejected):
            assert [v.code for v in refused.violations] == ["COC_DOCUMENT_CREDITED"]
    balances = latest_balances(await read(topics, BALANCES))
    assert sum(balances.values()) == SHARED_DOCUMENTS * INPUT_KG

    settings = registry_settings(topics, tmp_path / "elsewhere").model_copy(
        update={"ledger_partitions": PARTITIONS}
    )
    async with running_registry(settings) as again:
        assert again.ledger is not None
        states = [again.ledger.state_of(number) for number in range(PARTITIONS)]
    held = {account.text: kg for state in states for account, kg in state.balances.items()}
    assert held == balances
    claimed = {c.posting_id for state in states for c in state.document_claims.values()}
    site_partition = {site: number for number, (site, _operator) in SITES.items()}
    credited_away = {
        posting_id
        for posting_id in accepted
        if site_partition[inputs[posting_id].site_id]
        != partition_of(f"coc:{inputs[posting_id].coc_document}", PARTITIONS)
    }
    assert booked_away <= credited_away
    assert claimed == credited_away, "the homes' claims restored from Kafka"
