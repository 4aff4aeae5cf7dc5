"""Custody moves and warrant cancellations through the registry pipeline, without Kafka: the
moves are published on the ledger's command topic with the registry's other outputs, and a
cancellation that cannot be carried out is a dead letter naming the field."""

from __future__ import annotations

import json

from contracts.base import Contract
from contracts.custody import CustodyMovementRecorded
from contracts.envelope import decode_message
from contracts.topics import route
from contracts.values import PartyRole
from contracts.warrants import CancelWarrant
from gateway.processors.records import InputRecord
from gateway.processors.registry import process_record
from gateway.processors.step import Outcome
from tests.unit.test_registry_custody_moves import (
    LOT,
    WAREHOUSE,
    WARRANT,
    cancel,
    claimed_scenario,
)
from tests.unit.test_registry_pipeline import NOW, SETTINGS, record_of, run_all


def records_of(messages: list[Contract]) -> list[InputRecord]:
    """Each message as its usual sender sends it (a cancellation from the lot's warehouse)."""
    return [
        record_of(m, i, WAREHOUSE if isinstance(m, CancelWarrant) else None)
        for i, m in enumerate(messages)
    ]


def test_custody_moves_go_on_the_ledger_commands_keyed_by_the_holder_they_debit() -> None:
    messages = [*claimed_scenario(), cancel()]
    records = records_of(messages)
    results = run_all(records)
    assert all(result.outcome is Outcome.DECIDED for result in results)
    ledger_topic = route(CustodyMovementRecorded, PartyRole.REGISTRY).name
    assert ledger_topic == "ledger.commands"
    published = [
        (index, output)
        for index, result in enumerate(results)
        for output in result.outputs
        if output.message_type == CustodyMovementRecorded.MESSAGE_TYPE
    ]
    assert [index for index, _output in published] == [5, 6, 7]
    moves = []
    for index, output in published:
        decoded = decode_message(output.headers, output.value)
        cause = decode_message(records[index].headers, records[index].value).envelope
        assert isinstance(decoded.body, CustodyMovementRecorded)
        # keyed by the holder it debits: it lands on the ledger partition holding that holder
        assert output.topic == ledger_topic
        assert output.key == decoded.body.from_holder_id.encode()
        moves.append(decoded.body.posting_id)
        assert decoded.envelope.causation_id == cause.id
        assert decoded.envelope.sender_party_id == SETTINGS.registry_party
    assert moves == [
        f"lot-arrival.{LOT}",
        f"warrant-issued.{WARRANT}",
        f"warrant-cancelled.{WARRANT}",
    ]


def test_the_cancellation_decisions_go_where_the_other_warrant_decisions_go() -> None:
    messages = [*claimed_scenario(), cancel()]
    results = run_all(records_of(messages))
    topics = [(output.message_type, output.topic) for output in results[-1].outputs]
    assert topics == [
        ("custody.warrant.cancelled", "registry.warrant-decisions"),
        ("custody.warrant.state-changed", "registry.warrant-state"),
        ("custody.movement.recorded", "ledger.commands"),
    ]


def test_a_cancellation_of_an_unknown_warrant_is_a_dead_letter_naming_the_field() -> None:
    messages = claimed_scenario()
    results = run_all(records_of(messages))
    refused = cancel(warrant_id="WRT-LOT-NOWHERE")
    result = process_record(
        results[-1].state, record_of(refused, 9, WAREHOUSE), now=NOW, settings=SETTINGS
    )
    assert result.outcome is Outcome.DEAD_LETTER
    assert result.state == results[-1].state
    [letter] = result.outputs
    assert letter.topic == "registry.dead-letters"
    error = json.loads(letter.value)["error"]
    assert (error["kind"], error["field"]) == ("command_refused", "warrant_id")
    assert "no such warrant" in error["message"]


def test_a_cancellation_sent_by_another_warehouse_is_a_dead_letter() -> None:
    messages = claimed_scenario()
    results = run_all(records_of(messages))
    result = process_record(
        results[-1].state,
        record_of(cancel(), 9, "warehouse-antwerp-02"),
        now=NOW,
        settings=SETTINGS,
    )
    assert result.outcome is Outcome.DEAD_LETTER
    assert result.dead_letter_reason == "sender_not_permitted"
    error = json.loads(result.outputs[0].value)["error"]
    assert error["field"] == "warehouse_id"


def test_the_same_cancellation_record_twice_is_already_handled_the_second_time() -> None:
    messages = [*claimed_scenario(), cancel()]
    records = records_of(messages)
    results = run_all([*records, records[-1]])
    assert results[-2].outcome is Outcome.DECIDED
    assert results[-1].outcome is Outcome.ALREADY_HANDLED
    assert results[-1].outputs == ()
