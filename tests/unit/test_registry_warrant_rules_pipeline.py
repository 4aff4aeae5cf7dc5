"""Issue 11's warrant rules through the registry pipeline (records in, records out, no
Kafka): the scenario files of ``gateway check``, each record decided at its envelope time."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from contracts.base import Contract
from contracts.envelope import decode_body, decode_message
from contracts.warrants import WarrantPending, WarrantRejected
from gateway.processors.registry import Outcome, process_record
from gateway.registry.state import RegistryState
from tests.unit.test_registry_pipeline import NOW, SETTINGS, record_of

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def timed_messages(name: str) -> list[tuple[datetime, Contract]]:
    """Each message of a scenario file with its envelope time."""
    lines = (SCENARIOS / name).read_text(encoding="utf-8").splitlines()
    records = [json.loads(text) for text in lines if text and text[0] != "#"]
    return [
        (
            datetime.fromisoformat(record["envelope"]["time"]),
            decode_body(record["type"], record["body"]),
        )
        for record in records
    ]


def decided(name: str) -> list[Contract]:
    """Every output of the scenario through the pipeline, decoded, in order."""
    state, outputs = RegistryState(), []
    for offset, (now, message) in enumerate(timed_messages(name)):
        result = process_record(state, record_of(message, offset), now=now, settings=SETTINGS)
        assert result.outcome is not Outcome.DEAD_LETTER, result
        state = result.state
        outputs.extend(decode_message(o.headers, o.value).body for o in result.outputs)
    return outputs


def of_type(outputs: list[Contract], message_type: str) -> list[Contract]:
    return [output for output in outputs if message_type == output.MESSAGE_TYPE]


# Item 1: off-specification metal


def test_a_lot_of_a_rejected_ecoa_pends_naming_it_then_expires_through_the_pipeline() -> None:
    outputs = decided("offspec_cast_pending_then_expired.jsonl")
    [pending] = of_type(outputs, "custody.warrant.pending")
    assert isinstance(pending, WarrantPending)
    assert [(v.code, v.field) for v in pending.certificate_violations] == [
        ("ELEMENT_OUT_OF_SPECIFICATION", "ecoa[ECOA-NORDAL-0101].casts[0].chemistry.Cu")
    ]
    [rejected] = of_type(outputs, "custody.warrant.rejected")
    assert isinstance(rejected, WarrantRejected)
    assert [v.code for v in rejected.violations] == [
        "WARRANT_REQUEST_EXPIRED",
        "ELEMENT_OUT_OF_SPECIFICATION",
    ]


def test_a_lot_of_a_rejected_ecoa_is_issued_by_a_valid_one_through_the_pipeline() -> None:
    outputs = decided("offspec_cast_corrected_then_issued.jsonl")
    assert len(of_type(outputs, "custody.warrant.pending")) == 1
    assert len(of_type(outputs, "custody.warrant.issued")) == 1
    assert of_type(outputs, "custody.warrant.rejected") == []


def test_a_request_made_before_its_ecoa_was_rejected_learns_of_the_rejection() -> None:
    listing, batch_1, batch_2, ecoa, form, lot, request, _later = (
        message for _, message in timed_messages("offspec_cast_pending_then_expired.jsonl")
    )
    state = RegistryState()
    outputs: list[Contract] = []
    for offset, message in enumerate([listing, batch_1, batch_2, form, lot, request, ecoa]):
        result = process_record(state, record_of(message, offset), now=NOW, settings=SETTINGS)
        state = result.state
        outputs = [decode_message(o.headers, o.value).body for o in result.outputs]
    assert [o.MESSAGE_TYPE for o in outputs] == [
        "custody.ecoa.rejected",
        "custody.warrant.pending",
        "custody.warrant.state-changed",
    ]
    assert isinstance(outputs[1], WarrantPending)
    assert outputs[1].certificate_violations[0].code == "ELEMENT_OUT_OF_SPECIFICATION"
