"""Exact quantities on the wire (issue 11 item 18): every JSON number read with every digit it
has, written as a JSON number that reads back as the same value, and refused, naming the field
and the limit, when it cannot be carried (NaN, infinities, an exponent bomb, too many digits);
through the envelope, the ledger and registry pipelines, ``gateway check`` and both state
codecs."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter
from pydantic_core import PydanticSerializationError

from contracts.base import Contract
from contracts.clock import ClockTicked
from contracts.custody import CertifiedAccount, CustodyBalanceUpdated
from contracts.dead_letter import DeadLetterRecorded
from contracts.envelope import (
    DecodeErrorKind,
    MessageDecodeError,
    decode_message,
    encode_body,
    envelope_headers,
    new_envelope,
)
from contracts.json_numbers import (
    MAX_DIGITS,
    digits_in_all,
    dump_exact,
    json_number,
    may_lose_digits,
    parse_exact,
)
from contracts.ledger import LedgerPostingAccepted
from contracts.lots import LotArrived
from contracts.schema_export import render_schemas
from contracts.values import AccountingLevel
from contracts.warrants import WarrantIssued
from gateway.ledger import apply_facts
from gateway.ledger.codec import decode_fact, decode_snapshot, encode_chunks, snapshot_items
from gateway.processors.ledger import process_ledger_record
from gateway.processors.records import InputRecord
from gateway.processors.registry import process_record
from gateway.processors.step import Outcome
from gateway.registry import codec
from gateway.registry.core import handle
from gateway.registry.state import RegistryState
from gateway.rulebook.model import load_rulebook
from gateway.tools.check import run_check
from tests.unit.registry_entities import all_entities, entity_values, state_from_entities
from tests.unit.test_ledger_pipeline import (
    SETTINGS,
    balances,
    bodies_of,
    certified_input,
    certified_output,
    record,
    run,
    setup,
)
from tests.unit.test_registry import NOW, RULEBOOK
from tests.unit.test_registry_custody_moves import cancel, claimed_scenario
from tests.unit.test_registry_pipeline import SETTINGS as REGISTRY_SETTINGS
from tests.unit.test_registry_pipeline import record_of

BIG = "12345678901234567"
"""A quantity in kg that a binary float books as 12345678901234568."""
LONG_FRACTION = "12345678901234567.123456"

UNREADABLE = [
    ("NaN", "NaN is not a finite number"),
    ("Infinity", "Infinity is not a finite number"),
    ("-Infinity", "-Infinity is not a finite number"),
    ("1e999999", f"1E+999999 has more than the {MAX_DIGITS} digits a number may have"),
    ("1E-999999", f"1E-999999 has more than the {MAX_DIGITS} digits a number may have"),
    ("1.0000000000000000000000000001", f"more than the {MAX_DIGITS} digits"),
    ("1" + "0" * 5000, f"(5001 characters) has more than the {MAX_DIGITS} digits"),
]
"""A JSON number (or what some producers write as one) and what the refusal says of it."""

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "issued_alloy_lot.jsonl"
CHECK_NOW = datetime(2026, 3, 1, tzinfo=UTC)


# ---- the limits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("0.050", 2),
        ("123.45", 5),
        ("1E+5", 6),
        ("0", 1),
        ("1.0000000000000000000000000000000000", 1),
        (BIG, 17),
        (LONG_FRACTION, 23),
        ("1.000000000000000000000000000000000001", 37),
        ("1E-999999", 999999),
        ("1E+999999", 1000000),
    ],
)
def test_a_number_counts_its_whole_digits_and_decimal_places(text: str, digits: int) -> None:
    assert digits_in_all(Decimal(text)) == digits


@pytest.mark.parametrize(
    "text", ["1.8", "0.0005", "25000", "-12.5", BIG, "99999999999999999999999999.99"]
)
def test_numbers_within_the_limits_are_read_from_any_body(text: str) -> None:
    assert parse_exact(f'{{"kg": {text}}}')["kg"] == Decimal(text)


# ---- reading exactly -------------------------------------------------------------------------


def lot_record(net_weight_kg: str) -> tuple[list[tuple[str, bytes]], bytes]:
    """A lot arrival as it comes on the wire, its net weight written as ``net_weight_kg``."""
    lot = next(body for body in claimed_scenario() if isinstance(body, LotArrived))
    envelope = new_envelope(lot, source="/test", sender_party_id="warehouse", time=NOW)
    value = encode_body(lot).replace(
        b'"net_weight_kg":20000.0', b'"net_weight_kg":' + net_weight_kg.encode()
    )
    assert net_weight_kg.encode() in value
    return envelope_headers(envelope), value


@pytest.mark.parametrize(
    "text", [BIG, LONG_FRACTION, "20000.000000000000000001", "0.29999999999999998", "2.5e-7"]
)
def test_a_weight_pydantic_would_read_through_a_float_is_read_exactly(text: str) -> None:
    body = decode_message(*lot_record(text)).body
    assert isinstance(body, LotArrived)
    assert body.net_weight_kg == Decimal(text)


@pytest.mark.parametrize(("text", "problem"), UNREADABLE)
def test_a_number_that_cannot_be_carried_is_refused_naming_the_field(
    text: str, problem: str
) -> None:
    with pytest.raises(MessageDecodeError) as refused:
        decode_message(*lot_record(text))
    assert refused.value.kind is DecodeErrorKind.SCHEMA_VIOLATION
    assert refused.value.field == "net_weight_kg"
    assert problem in refused.value.message
    assert refused.value.message.startswith("the body breaks its schema: net_weight_kg: ")


PYDANTIC_READS: TypeAdapter[dict[str, Decimal]] = TypeAdapter(dict[str, Decimal])
fractions = st.decimals(allow_nan=False, allow_infinity=False).filter(
    lambda value: digits_in_all(value) <= MAX_DIGITS
)


@given(fractions)
def test_a_number_let_through_to_pydantic_is_one_it_reads_exactly(value: Decimal) -> None:
    for text in (str(value), format(value, "f")):
        body = f'{{"kg": {text}}}'.encode()
        if not may_lose_digits(body):
            assert PYDANTIC_READS.validate_json(body)["kg"] == value, text


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_a_number_let_through_to_pydantic_is_within_the_limits(value: Decimal) -> None:
    for text in (str(value), format(value, "f")):
        if not may_lose_digits(f'{{"kg": {text}}}'.encode()):
            assert digits_in_all(value) <= 16, text


# ---- writing exactly ------------------------------------------------------------------------


def balance_update(delta_kg: Decimal) -> CustodyBalanceUpdated:
    return CustodyBalanceUpdated.build(
        account=CertifiedAccount(
            holder_id="A1",
            material_quality="asi_aluminium",
            level=AccountingLevel.SITE,
            certificate_id="C-A1",
        ),
        posting_id="in-1",
        delta_kg=delta_kg,
        balance_kg=abs(delta_kg),
        occurred_on=date(2026, 3, 2),
        recorded_at=NOW,
    )


@given(fractions)
def test_every_number_is_written_as_a_json_number_that_reads_back_the_same(value: Decimal) -> None:
    body = balance_update(value)
    written = encode_body(body)
    assert written.decode() == body.model_dump_json()
    plain = json.loads(written)  # standard JSON: no NaN, no strings for numbers
    assert isinstance(plain["delta_kg"], int | float)
    headers = envelope_headers(new_envelope(body, source="/t", sender_party_id="l", time=NOW))
    again = decode_message(headers, written).body
    assert isinstance(again, CustodyBalanceUpdated)
    assert (again.delta_kg, again.balance_kg) == (value, abs(value))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("1.80", b"1.8"),
        ("25000", b"25000.0"),  # as before exact numbers: a body's digest is unchanged
        (BIG, BIG.encode()),
        ("-" + LONG_FRACTION, b"-" + LONG_FRACTION.encode()),
    ],
)
def test_a_number_is_written_with_the_digits_it_has(value: str, written: bytes) -> None:
    assert b'"delta_kg":' + written + b"," in encode_body(balance_update(Decimal(value)))


def test_a_number_too_long_for_a_float_is_not_written_lossily_outside_dump_exact() -> None:
    with pytest.raises(ValueError, match="more digits than a float holds"):
        json_number(Decimal(LONG_FRACTION))
    assert json_number(Decimal(BIG)) == int(BIG)
    body = balance_update(Decimal(LONG_FRACTION))
    with pytest.raises(PydanticSerializationError, match="more digits than a float holds"):
        BaseModel.model_dump_json(body)  # pydantic's own dump, not through dump_exact
    with pytest.raises(PydanticSerializationError, match="more digits than a float holds"):
        body.model_dump(mode="json")
    assert dump_exact(lambda: BaseModel.model_dump_json(body).encode()) == encode_body(body)


def test_the_published_schemas_keep_numbers_with_the_bounds_the_contracts_enforce() -> None:
    schema = json.loads(render_schemas()["custody.balance.updated.v2.json"])
    assert schema["properties"]["balance_kg"] == {
        "description": "Balance after the posting, kg.",
        "minimum": 0,
        "title": "Balance Kg",
        "type": "number",
    }
    element = json.loads(render_schemas()["custody.ecoa.created.v1.json"])["$defs"]["ElementLevel"]
    assert (element["properties"]["detected_percent"]["minimum"], 100) == (
        0,
        element["properties"]["detected_percent"]["maximum"],
    )


# ---- the ledger pipeline ---------------------------------------------------------------------


def test_a_quantity_of_17_digits_is_booked_exactly_through_the_ledger_pipeline() -> None:
    state, results, records = run(
        [
            *setup(),
            (certified_input("in-1", BIG), "smelter-a"),
            (certified_output("out-1", "0.000001"), "smelter-a"),
        ]
    )
    assert b'"quantity_kg":' + BIG.encode() in records[-2].value
    booked, taken = results[-2], results[-1]
    assert (booked.outcome, taken.outcome) == (Outcome.BOOKED, Outcome.BOOKED)
    accepted, update = bodies_of(booked)
    assert isinstance(accepted, LedgerPostingAccepted)
    assert isinstance(update, CustodyBalanceUpdated)
    assert (update.delta_kg, update.balance_kg) == (Decimal(BIG), Decimal(BIG))
    assert b'"balance_kg":' + BIG.encode() + b"," in booked.outputs[1].value
    (_, after_output) = bodies_of(taken)
    assert isinstance(after_output, CustodyBalanceUpdated)
    assert after_output.balance_kg == Decimal("12345678901234566.999999")
    assert balances(state) == {"A1/asi_aluminium/S@CERT-A": Decimal("12345678901234566.999999")}
    journal = [value for result in results for _key, value in result.journal]
    assert apply_facts(decode_fact(value) for value in journal) == state
    assert decode_snapshot(encode_chunks(snapshot_items(state), 1_000)) == state


def refused_record(text: str) -> InputRecord:
    good = record(certified_input("in-1", "1000"), 0, "smelter-a")
    value = good.value.replace(b'"quantity_kg":1000.0', b'"quantity_kg":' + text.encode())
    assert text.encode() in value
    return InputRecord(
        good.topic, good.partition, good.offset, good.timestamp_ms, good.key, value, good.headers
    )


def dead_letter_error(outputs: Any) -> Any:
    (letter,) = outputs
    assert letter.topic == "registry.dead-letters"
    body = decode_message(letter.headers, letter.value).body
    assert isinstance(body, DeadLetterRecorded)
    return body.error


@pytest.mark.parametrize(("text", "problem"), UNREADABLE)
def test_a_ledger_command_with_an_unreadable_quantity_is_a_dead_letter_naming_it(
    text: str, problem: str
) -> None:
    state, _, _ = run(setup())
    result = process_ledger_record(state, refused_record(text), now=NOW, settings=SETTINGS)
    assert result.outcome is Outcome.DEAD_LETTER and not result.changed_state
    error = dead_letter_error(result.outputs)
    assert error.field == "quantity_kg"
    assert problem in error.message


# ---- the registry pipeline, gateway check and the registry's state ---------------------------


@pytest.mark.parametrize(("text", "problem"), UNREADABLE[:4])
def test_a_registry_message_with_an_unreadable_weight_is_a_dead_letter_naming_it(
    text: str, problem: str
) -> None:
    lot = next(body for body in claimed_scenario() if isinstance(body, LotArrived))
    good = record_of(lot, 0)
    value = good.value.replace(b'"net_weight_kg":20000.0', b'"net_weight_kg":' + text.encode())
    refused = InputRecord(
        good.topic, good.partition, good.offset, good.timestamp_ms, good.key, value, good.headers
    )
    result = process_record(RegistryState(), refused, now=NOW, settings=REGISTRY_SETTINGS)
    assert result.outcome is Outcome.DEAD_LETTER
    error = dead_letter_error(result.outputs)
    assert error.field == "net_weight_kg"
    assert problem in error.message


def checked(lot_kg: str, first_bundle_kg: str = "1000.0") -> list[dict[str, Any]]:
    """The issued-lot scenario through ``gateway check``, the lot (20 bundles of 1000 kg)
    weighing ``lot_kg`` and its first bundle ``first_bundle_kg``."""
    text = SCENARIO.read_text(encoding="utf-8")
    assert text.count('"net_weight_kg": 20000.0') == 1
    lines = text.replace('"net_weight_kg": 20000.0', f'"net_weight_kg": {lot_kg}').replace(
        '"net_weight_kg": 1000.0', f'"net_weight_kg": {first_bundle_kg}', 1
    )
    sink = io.StringIO()
    run_check(io.StringIO(lines), sink, rulebook=load_rulebook(), now=CHECK_NOW)
    return [parse_exact(line) for line in sink.getvalue().splitlines()]


def decisions(output: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(line["type"], line["body"]) for line in output if "body" in line]


def test_a_weight_with_many_digits_survives_gateway_check_exactly() -> None:
    output = checked("19999.999999999999999999", first_bundle_kg="999.999999999999999999")
    assert not [line for line in output if "error" in line]
    (warrant,) = [body for kind, body in decisions(output) if kind == WarrantIssued.MESSAGE_TYPE]
    assert warrant["document"]["net_weight_kg"] == Decimal("19999.999999999999999999")


def test_gateway_check_compares_the_weights_exactly() -> None:
    """A binary float reads the lot as 20000 kg, the sum of its bundles, and issues it."""
    output = checked("20000.000000000000000001")
    kinds = [kind for kind, _ in decisions(output)]
    assert WarrantIssued.MESSAGE_TYPE not in kinds
    (rejection,) = [body for kind, body in decisions(output) if kind == "custody.warrant.rejected"]
    (violation,) = rejection["violations"]
    assert (violation["code"], violation["field"], violation["observed"]) == (
        "BUNDLES_DO_NOT_ADD_UP",
        "net_weight_kg",
        "20000.000000000000000001 kg",
    )


@pytest.mark.parametrize(("text", "problem"), UNREADABLE[:5])
def test_gateway_check_refuses_an_unreadable_weight_naming_the_field(
    text: str, problem: str
) -> None:
    output = checked(text)
    (error,) = [line["error"] for line in output if "error" in line]
    assert (error["kind"], error["field"]) == ("schema_violation", "net_weight_kg")
    assert problem in error["message"]
    assert not [line for line in output if line.get("type") == WarrantIssued.MESSAGE_TYPE]


LOT_KG = Decimal("19999.999999999999999999")
BUNDLE_KG = Decimal("999.999999999999999999")
BUNDLE_MM = Decimal("1099.999999999999999999")


def measured_lot(lot: LotArrived) -> LotArrived:
    """``lot`` (20 bundles of 1000 kg, 1100 mm long) weighed and measured to 10^-18: its
    last bundle, the makeweight, lighter and shorter by that much. A binary float reads it
    as ``lot``."""
    last = lot.bundles[-1]
    assert last.dimensions is not None
    makeweight = last.model_copy(
        update={
            "net_weight_kg": BUNDLE_KG,
            "dimensions": last.dimensions.model_copy(update={"length_mm": BUNDLE_MM}),
            "is_makeweight": True,
        }
    )
    return lot.model_copy(
        update={"net_weight_kg": LOT_KG, "bundles": (*lot.bundles[:-1], makeweight)}
    )


def test_a_registry_entity_with_long_fractions_survives_the_codec_exactly() -> None:
    *setting, lot, request = claimed_scenario()
    assert isinstance(lot, LotArrived)
    state = RegistryState()
    for message in [*setting, measured_lot(lot), request]:
        state = handle(state, message, now=NOW, rulebook=RULEBOOK).state
    entities = all_entities(state)
    (stored,) = [value for key, value in entities.items() if key.startswith("lot:")]
    assert b'"length_mm":' + str(BUNDLE_MM).encode() + b"," in stored  # a JSON number
    restored = entity_values(state_from_entities(entities))
    assert restored == entity_values(state)
    (arrived,) = [value for key, value in restored.items() if key.startswith("lot:")]
    assert (arrived.net_weight_kg, arrived.bundles[-1].net_weight_kg) == (LOT_KG, BUNDLE_KG)
    assert arrived.bundles[-1].dimensions.length_mm == BUNDLE_MM


def test_every_entity_kind_reads_the_same_through_the_exact_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    *setting, lot, request = claimed_scenario()
    tick = ClockTicked.build(partition=0, ticked_at=NOW)
    messages: list[Contract] = [*setting, request, lot, cancel(), tick]  # pending, then issued
    monkeypatch.setattr(codec, "may_lose_digits", lambda data: True)
    state, kinds = RegistryState(), set()
    for message in messages:
        state = handle(state, message, now=NOW, rulebook=RULEBOOK).state
        entities = all_entities(state)
        kinds |= {key.partition(":")[0] for key in entities}
        assert entity_values(state_from_entities(entities)) == entity_values(state)
    assert kinds == set(codec.KINDS)
