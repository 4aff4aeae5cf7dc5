"""Exact quantities on the real broker (issue 11 item 18): a 17-digit quantity booked by the
ledger to the kilogram, on the balances topic and after a restore from Kafka alone; a command
whose quantity is NaN or an exponent bomb set aside as a dead letter naming it; and a lot
weighed and measured to 10^-18 warranted with that weight and restored from the changelog
with its figures."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from contracts import ledger as wire
from contracts.custody import CustodyBalanceUpdated
from contracts.dead_letter import DeadLetterRecorded
from contracts.envelope import encode_body, envelope_headers, new_envelope
from contracts.lots import LotArrived
from contracts.values import AccountingLevel
from contracts.warrants import WarrantIssued
from gateway.registry import codec
from gateway.topology import LEDGER_INPUT
from tests.conftest import TestTopics
from tests.integration.ledger_support import (
    SITE_OPERATOR,
    Q,
    certification,
    raw_records,
    read,
    send,
    wait_until_booked,
)
from tests.integration.registry_support import (
    all_outputs,
    publish,
    registry_settings,
    running_registry,
    stored_entities,
    wait_until_consumed,
)
from tests.unit.test_exact_numbers import BUNDLE_MM, LOT_KG, measured_lot
from tests.unit.test_registry import scenario_messages

pytestmark = pytest.mark.broker

BIG = "12345678901234567"
"""kg; a binary float books it as 12345678901234568."""
BALANCES = "registry.custody-balances"
DECISIONS = "registry.ledger-decisions"
DEAD_LETTERS = "registry.dead-letters"


def certified_input(posting_id: str, kg: str) -> wire.RecordCertifiedInput:
    return wire.RecordCertifiedInput.build(
        posting_id=posting_id,
        site_id="ALPHA-1",
        holder_id="ALPHA-1",
        material_quality=Q,
        quantity_kg=Decimal(kg),
        level=AccountingLevel.SITE,
        coc_document=f"COC-{posting_id}",
        occurred_on=date(2026, 3, 2),
    )


async def send_by_hand(topics: TestTopics, quantities: list[str]) -> None:
    """Certified inputs whose quantity is written as given, in plain bytes (no contract would
    write NaN or 1e999999)."""
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers)
    await producer.start()
    try:
        for index, text in enumerate(quantities):
            body = certified_input(f"by-hand-{index}", "1000")
            envelope = new_envelope(
                body, source="/test", sender_party_id=SITE_OPERATOR, time=datetime.now(UTC)
            )
            value = encode_body(body).replace(
                b'"quantity_kg":1000.0', b'"quantity_kg":' + text.encode()
            )
            assert text.encode() in value
            await producer.send_and_wait(
                topics.prefix + LEDGER_INPUT,
                key=b"ALPHA-1",
                value=value,
                headers=envelope_headers(envelope),
            )
    finally:
        await producer.stop()


async def test_a_17_digit_quantity_is_booked_exactly_and_unreadable_ones_are_dead_letters(
    topics: TestTopics, tmp_path: Path
) -> None:
    async with running_registry(registry_settings(topics, tmp_path / "state")) as app:
        await send(topics, [*certification(), (certified_input("in-big", BIG), SITE_OPERATOR)])
        await send_by_hand(topics, ["NaN", "1e999999", "1.0000000000000000000000000001"])
        await wait_until_booked(topics, app.ledger_group_id)

    sent = [r for r in await raw_records(topics, LEDGER_INPUT) if b"in-big" in r.value]
    assert b'"quantity_kg":' + BIG.encode() + b"," in sent[0].value
    decisions = [record.decoded.body for record in await read(topics, DECISIONS)]
    accepted = [d for d in decisions if isinstance(d, wire.LedgerPostingAccepted)]
    assert "in-big" in [d.posting_id for d in accepted]
    (update,) = [
        record.decoded.body
        for record in await read(topics, BALANCES)
        if isinstance(record.decoded.body, CustodyBalanceUpdated)
        and record.decoded.body.posting_id == "in-big"
    ]
    assert (update.delta_kg, update.balance_kg) == (Decimal(BIG), Decimal(BIG))
    on_the_topic = [r for r in await raw_records(topics, BALANCES) if b"in-big" in r.value]
    assert b'"balance_kg":' + BIG.encode() + b"," in on_the_topic[0].value

    letters = [record.decoded.body for record in await read(topics, DEAD_LETTERS)]
    assert all(isinstance(letter, DeadLetterRecorded) for letter in letters)
    errors = [letter.error for letter in letters if isinstance(letter, DeadLetterRecorded)]
    assert [(error.kind.value, error.field) for error in errors] == [
        ("schema_violation", "quantity_kg")
    ] * 3
    assert "NaN is not a finite number" in errors[0].message
    assert "1E+999999 has more than the 28 digits" in errors[1].message
    assert "has more than the 28 digits" in errors[2].message

    # Rebuilt from Kafka alone: the journal restores the balance to the kilogram.
    async with running_registry(registry_settings(topics, tmp_path / "elsewhere")) as again:
        assert again.ledger is not None
        restored = {
            account.holder_id: kg for account, kg in again.ledger.state_of(0).balances.items()
        }
    assert restored == {"ALPHA-1": Decimal(BIG)}


async def test_a_lot_measured_to_10_18_is_warranted_and_restored_with_its_figures(
    topics: TestTopics, tmp_path: Path
) -> None:
    *setting, lot, request = scenario_messages()
    assert isinstance(lot, LotArrived)
    state_dir = tmp_path / "state"
    async with running_registry(registry_settings(topics, state_dir)) as app:
        await publish(topics, [*setting, measured_lot(lot), request])
        await wait_until_consumed(topics, app.registry_group_id)

    (issued,) = [r for r in await all_outputs(topics) if isinstance(r.decoded.body, WarrantIssued)]
    assert isinstance(issued.decoded.body, WarrantIssued)
    assert issued.decoded.body.document.net_weight_kg == LOT_KG
    stored = stored_entities(state_dir)
    (lot_entity,) = [
        (key, value)
        for held in stored.values()
        for key, value in held.items()
        if key.startswith("lot:")
    ]
    assert b'"length_mm":' + str(BUNDLE_MM).encode() + b"," in lot_entity[1]

    shutil.rmtree(state_dir)  # restored from the changelog alone
    async with running_registry(registry_settings(topics, state_dir)):
        pass
    assert stored_entities(state_dir) == stored
    arrived = codec.decode(*lot_entity)
    assert (arrived.net_weight_kg, arrived.bundles[-1].dimensions.length_mm) == (LOT_KG, BUNDLE_MM)
