"""The custody ledger on the real broker: every command booked exactly once, one balance
update per posting on the compacted balances topic, rejections with reasons, the state rebuilt
from Kafka alone, and a kill -9 mid-stream changing no balance."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from contracts import ledger as wire
from contracts.custody import CustodyBalanceUpdated
from contracts.values import AccountingLevel
from gateway.ledger import AccountKey, LedgerState, Level, apply_facts
from gateway.ledger.codec import decode_fact
from gateway.topology import LEDGER_INPUT
from tests.conftest import TestTopics
from tests.integration.ledger_support import (
    SITE_OPERATOR,
    certification,
    latest_balances,
    material_stream,
    raw_records,
    read,
    replayed,
    send,
    state_balances,
    wait_until_booked,
)
from tests.integration.registry_support import (
    free_port,
    registry_settings,
    running_registry,
    start_registry,
    wait_ready,
)

pytestmark = pytest.mark.broker

BALANCES = "registry.custody-balances"
DECISIONS = "registry.ledger-decisions"


async def test_every_command_is_decided_once_and_the_balances_topic_matches_the_ledger(
    topics: TestTopics, tmp_path: Path
) -> None:
    stream = material_stream(120, seed=5)
    settings = registry_settings(topics, tmp_path / "state")
    async with running_registry(settings) as app:
        group = app.ledger_group_id
        await send(topics, [*certification(), *stream])
        await send(topics, stream[:10])  # a redelivery of the first ten: already handled
        await wait_until_booked(topics, group)
        assert app.ledger is not None
        state = app.ledger.state_of(0)
    decisions = [record.decoded.body for record in await read(topics, DECISIONS)]
    posting_ids = [body.posting_id for body in decisions]  # type: ignore[attr-defined]
    assert Counter(posting_ids) == Counter(
        body.posting_id  # type: ignore[attr-defined]
        for body, _ in [*certification(), *stream]
    )
    rejected = [d for d in decisions if isinstance(d, wire.LedgerPostingRejected)]
    assert rejected, "the stream overdraws now and then"
    assert all(
        "available balance" in d.violations[0].message
        for d in rejected
        if d.violations[0].code == "OVERDRAW"
    )
    updates = await read(topics, BALANCES)
    assert latest_balances(updates) == state_balances(state)
    assert all(kg >= 0 for kg in state.balances.values())
    assert {record.key for record in updates} == {
        account.text.encode() for account in state.balances
    }

    # Rebuilt from Kafka alone: a new instance (no local files) replays the journal.
    async with running_registry(registry_settings(topics, tmp_path / "elsewhere")) as again:
        assert again.ledger is not None
        assert again.ledger.state_of(0) == state


async def test_replaying_the_input_topic_from_the_beginning_reproduces_every_balance(
    topics: TestTopics, tmp_path: Path
) -> None:
    settings = registry_settings(topics, tmp_path / "state")
    async with running_registry(settings) as app:
        await send(topics, [*certification(), *material_stream(80, seed=11)])
        await wait_until_booked(topics, app.ledger_group_id)
    inputs = await raw_records(topics, LEDGER_INPUT)
    published = latest_balances(await read(topics, BALANCES))
    assert state_balances(replayed(inputs)) == published
    assert len(published) >= 3


async def test_a_posting_from_someone_other_than_the_sites_operator_is_rejected_on_the_topic(
    topics: TestTopics, tmp_path: Path
) -> None:
    (first_input, _sender) = next(
        sent for sent in material_stream(20, seed=3) if sent[1] == SITE_OPERATOR
    )
    async with running_registry(registry_settings(topics, tmp_path / "state")) as app:
        await send(topics, [*certification(), (first_input, "smelter-intruder")])
        await wait_until_booked(topics, app.ledger_group_id)
        assert app.ledger is not None
        assert app.ledger.state_of(0).balances == {}
    rejection = (await read(topics, DECISIONS))[-1].decoded.body
    assert isinstance(rejection, wire.LedgerPostingRejected)
    assert rejection.violations[0].code == "SENDER_NOT_PERMITTED"
    assert rejection.violations[0].observed == "smelter-intruder"


async def test_kill_9_mid_stream_then_restart_gives_the_balances_of_an_uninterrupted_run(
    topics: TestTopics, tmp_path: Path
) -> None:
    state_dir, log = tmp_path / "state", tmp_path / "gateway.log"
    port = free_port()
    stream = material_stream(600, seed=23)
    first = start_registry(topics, state_dir, port, log)
    try:
        await wait_ready(port, first)
        await send(topics, certification())
        sending = asyncio.create_task(send(topics, stream))
        while len(await read(topics, BALANCES)) < 60:
            assert not sending.done() or sending.exception() is None
            await asyncio.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        decided_at_kill = len(await read(topics, DECISIONS))
        await sending
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

    second = start_registry(topics, state_dir, port, log)
    try:
        await wait_ready(port, second)
        await wait_until_booked(topics, f"{topics.prefix}custody-ledger")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, log.read_text()[-3000:]

    decisions = await read(topics, DECISIONS)
    assert decided_at_kill < len(decisions), "the kill did not happen mid-stream"
    per_posting = Counter(record.decoded.body.posting_id for record in decisions)  # type: ignore[attr-defined]
    assert set(per_posting.values()) == {1}, "a command was decided twice"
    assert len(per_posting) == len(certification()) + len(stream)
    updates = await read(topics, BALANCES)
    per_entry = Counter(
        (body.posting_id, body.account_key)
        for body in (record.decoded.body for record in updates)
        if isinstance(body, CustodyBalanceUpdated)
    )
    assert set(per_entry.values()) == {1}, "a balance update was published twice"
    uninterrupted: LedgerState = replayed(await raw_records(topics, LEDGER_INPUT))
    assert latest_balances(updates) == state_balances(uninterrupted)


JOURNAL = "registry.ledger-journal"
WRITTEN_BEFORE_CERTIFICATE_ACCOUNTS = (
    b'{"v":2,"id":"reg-c","t":"RegisterCertificate","d":"00","on":"2026-01-01","k":"accepted",'
    b'"certs":[["C-OLD","OLDGROUP","group_level",false]]}',
    b'{"v":2,"id":"reg-s","t":"RegisterSite","d":"01","on":"2026-01-01","k":"accepted",'
    b'"recs":[["OLD-1",null,"smelter-old",[]]]}',
    b'{"v":2,"id":"join","t":"JoinCertificate","d":"02","on":"2026-01-01","k":"accepted",'
    b'"recs":[["OLD-1","C-OLD","smelter-old",[["C-OLD","2026-01-01",null]]]]}',
    b'{"v":2,"id":"in-1","t":"CertifiedInput","d":"03","on":"2026-02-02","k":"accepted",'
    b'"deltas":[["OLDGROUP","asi_aluminium","G","100","100"]],"sites":["OLD-1"]}',
    b'{"v":2,"id":"close","t":"ClosePeriod","d":"04","on":"2026-02-28","k":"accepted",'
    b'"close":["month","2026-02-01"]}',
)
"""A journal the previous version wrote: its accounts and its close name no certificate."""


async def test_a_journal_written_before_accounts_named_their_certificate_restores_and_books_on(
    topics: TestTopics, tmp_path: Path
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers)
    await producer.start()
    try:
        for number, fact in enumerate(WRITTEN_BEFORE_CERTIFICATE_ACCOUNTS):
            await producer.send_and_wait(
                topics.prefix + JOURNAL, fact, key=f"fact-{number}".encode(), partition=0
            )
    finally:
        await producer.stop()
    old_account = AccountKey("OLDGROUP", "asi_aluminium", Level.GROUP, "C-OLD")
    expected = apply_facts(decode_fact(fact) for fact in WRITTEN_BEFORE_CERTIFICATE_ACCOUNTS)
    assert expected.balances == {old_account: Decimal(100)}
    sale = wire.RecordCertifiedOutput.build(
        posting_id="out-1",
        site_id="OLD-1",
        holder_id="OLDGROUP",
        material_quality="asi_aluminium",
        quantity_kg=Decimal(30),
        level=AccountingLevel.GROUP,
        claim_document="INV-1",
        occurred_on=date(2026, 3, 3),
    )
    late = sale.model_copy(update={"posting_id": "late-1", "occurred_on": date(2026, 2, 27)})
    async with running_registry(registry_settings(topics, tmp_path / "state")) as app:
        assert app.ledger is not None
        assert app.ledger.state_of(0) == expected
        assert app.ledger.state_of(0).closed_through("C-OLD") == date(2026, 2, 28)
        await send(topics, [(sale, "smelter-old"), (late, "smelter-old")])
        await wait_until_booked(topics, app.ledger_group_id)
        assert app.ledger.state_of(0).balances == {old_account: Decimal(70)}
    decisions = [record.decoded.body for record in await read(topics, DECISIONS)]
    assert [type(d).__name__ for d in decisions] == [
        "LedgerPostingAccepted",
        "LedgerPostingRejected",
    ]
    assert decisions[1].violations[0].code == "PERIOD_CLOSED"  # type: ignore[attr-defined]
    updates = await read(topics, BALANCES)
    assert [record.key for record in updates] == [b"OLDGROUP/asi_aluminium/G@C-OLD"]
