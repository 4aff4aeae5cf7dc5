"""One record through the registry pipeline, without Kafka: decisions or a dead letter."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from contracts.base import Contract
from contracts.brands import SuspendBrand
from contracts.ecoa import ECoACreated
from contracts.envelope import decode_message, encode_body, envelope_headers, new_envelope
from contracts.topics import route
from gateway.processors.records import InputRecord
from gateway.processors.registry import (
    Outcome,
    PipelineSettings,
    process_record,
)
from gateway.registry.state import RegistryState
from producers.parties import sender_role_for
from producers.samples import sample_messages
from tests.unit.test_registry import RULEBOOK, scenario_messages

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
SETTINGS = PipelineSettings(
    rulebook=RULEBOOK,
    registry_party="custody-registry",
    exchange_parties=frozenset({"exchange-listing-desk"}),
    max_value_bytes=64_000,
)
SENDERS = {
    "ListBrand": "exchange-listing-desk",
    "LotArrived": "warehouse-rotterdam-07",
    "RequestWarrant": "warehouse-rotterdam-07",
}


def record_of(body: Contract, offset: int, sender: str | None = None) -> InputRecord:
    party = sender or SENDERS.get(type(body).__name__, "smelter-nordal")
    envelope = new_envelope(body, source="/test", sender_party_id=party, time=NOW)
    return InputRecord(
        topic=route(type(body), sender_role_for(type(body))).name,
        partition=1,
        offset=offset,
        timestamp_ms=1_700_000_000_000,
        key=b"NORDAL",
        value=encode_body(body),
        headers=envelope_headers(envelope),
    )


def run_all(records: list[InputRecord]) -> list:  # type: ignore[type-arg]
    state, results = RegistryState(), []
    for record in records:
        result = process_record(state, record, now=NOW, settings=SETTINGS)
        state = result.state
        results.append(result)
    return results


def test_the_scenario_through_the_pipeline_issues_the_warrant_with_causation() -> None:
    records = [record_of(m, i) for i, m in enumerate(scenario_messages())]
    results = run_all(records)
    assert all(r.outcome is not Outcome.DEAD_LETTER for r in results)
    last = results[-1].outputs
    assert [o.topic for o in last] == ["registry.warrant-decisions", "registry.warrant-state"]
    decoded = decode_message(last[0].headers, last[0].value)
    request_envelope = decode_message(records[-1].headers, records[-1].value).envelope
    assert decoded.envelope.causation_id == request_envelope.id
    assert decoded.envelope.correlation_id == request_envelope.correlation_id
    assert decoded.envelope.sender_party_id == "custody-registry"
    assert last[0].key == b"NORDAL"


def test_output_ids_are_the_same_when_the_same_input_is_processed_again() -> None:
    records = [record_of(m, i) for i, m in enumerate(scenario_messages())]
    first = run_all(records)[-1].outputs
    again = run_all(records)[-1].outputs
    assert [dict(o.headers)["ce_id"] for o in first] == [dict(o.headers)["ce_id"] for o in again]


def poison(kind: str) -> InputRecord:
    good = record_of(scenario_messages()[0], 7)
    headers = list(good.headers)
    value = good.value
    if kind == "undecodable":
        value = b"\xff{not json"
    elif kind == "header_not_utf8":
        headers = [(k, v if k != "ce_partyid" else b"\xfe\xff") for k, v in headers]
    elif kind == "missing_header":
        headers = [(k, v) for k, v in headers if k != "ce_type"]
    elif kind == "unknown_type":
        headers = [(k, v if k != "ce_type" else b"custody.nothing") for k, v in headers]
    elif kind == "schema_violation":
        body = json.loads(good.value or b"{}")
        body["brand"] = ""
        value = json.dumps(body).encode()
    elif kind == "oversized":
        value = b" " * 70_000
    elif kind == "not_an_input":  # a real registry decision, sent on an ingest topic
        issued = next(m for m in sample_messages() if m.MESSAGE_TYPE == "custody.warrant.issued")
        envelope = new_envelope(issued, source="/x", sender_party_id="smelter-nordal", time=NOW)
        headers, value = envelope_headers(envelope), encode_body(issued)
    return InputRecord(
        topic=good.topic,
        partition=good.partition,
        offset=good.offset,
        timestamp_ms=good.timestamp_ms,
        key=good.key,
        value=value,
        headers=headers,
    )


@pytest.mark.parametrize(
    "kind",
    [
        "undecodable",
        "header_not_utf8",
        "missing_header",
        "unknown_type",
        "schema_violation",
        "oversized",
        "not_an_input",
    ],
)
def test_a_poison_record_becomes_one_dead_letter_with_its_bytes_and_origin(kind: str) -> None:
    record = poison(kind)
    result = process_record(RegistryState(), record, now=NOW, settings=SETTINGS)
    assert result.outcome is Outcome.DEAD_LETTER
    assert result.state == RegistryState()
    [letter] = result.outputs
    assert letter.topic == "registry.dead-letters"
    body = json.loads(letter.value)
    assert body["error"]["kind"] == kind
    assert body["source"] == {
        "topic": record.topic,
        "partition": 1,
        "offset": 7,
        "timestamp_ms": 1_700_000_000_000,
    }
    assert record.value is not None
    kept = base64.b64decode(body["original_value"]["kept_base64"])
    assert record.value.startswith(kept)
    assert body["original_value"]["size_bytes"] == len(record.value)
    # Only the oversized value (70,000 bytes) is longer than the 64 KiB a letter keeps.
    assert body["original_value"]["truncated"] is (kind == "oversized")
    assert [h["key"] for h in body["original_headers"]] == [k for k, _ in record.headers]


def test_a_refused_command_is_a_dead_letter_with_the_reason() -> None:
    command = SuspendBrand.build(command_id="S-9", brand="GHOST", reason="late", effective_at=NOW)
    result = process_record(
        RegistryState(),
        record_of(command, 3, "exchange-listing-desk"),
        now=NOW,
        settings=SETTINGS,
    )
    [letter] = result.outputs
    error = json.loads(letter.value)["error"]
    assert (error["kind"], error["field"]) == ("command_refused", "brand")
    assert "not listed" in error["message"]


def test_an_ecoa_from_the_wrong_sender_is_rejected_with_the_reason() -> None:
    messages = scenario_messages()
    results = run_all([record_of(messages[0], 0)])
    ecoa = next(m for m in messages if type(m).__name__ == "ECoACreated")
    result = process_record(
        results[-1].state, record_of(ecoa, 1, "smelter-impostor"), now=NOW, settings=SETTINGS
    )
    [rejection] = result.outputs
    assert rejection.topic == "registry.ecoa-decisions"
    [violation] = json.loads(rejection.value)["violations"]
    assert violation["code"] == "SENDER_NOT_PERMITTED"


def test_a_lot_arrival_from_the_wrong_warehouse_is_a_dead_letter() -> None:
    lot = next(m for m in scenario_messages() if type(m).__name__ == "LotArrived")
    result = process_record(
        RegistryState(), record_of(lot, 5, "warehouse-elsewhere"), now=NOW, settings=SETTINGS
    )
    assert result.outcome is Outcome.DEAD_LETTER
    assert result.dead_letter_reason == "sender_not_permitted"


def test_the_same_record_twice_is_already_handled_the_second_time() -> None:
    messages = scenario_messages()
    records = [record_of(m, i) for i, m in enumerate(messages)]
    results = run_all([*records, records[3]])
    assert results[3].outcome is Outcome.DECIDED
    assert results[-1].outcome is Outcome.ALREADY_HANDLED
    assert results[-1].outputs == ()


def test_a_message_id_is_handled_once_per_content_of_its_record() -> None:
    """Duplicates are told by a digest of the record's bytes: the same bytes again are
    already handled; the same id with other content is refused, naming the id field."""
    messages = scenario_messages()
    records = [record_of(m, i) for i, m in enumerate(messages)]
    ecoa = records[3]
    assert ecoa.value is not None
    changed = json.loads(ecoa.value)
    changed["created_on"] = "2026-02-12"
    other = replace(ecoa, value=json.dumps(changed).encode())
    results = run_all([*records[:4], replace(ecoa, offset=99), other])
    assert results[-2].outcome is Outcome.ALREADY_HANDLED
    assert results[-1].outcome is Outcome.DEAD_LETTER
    assert results[-1].dead_letter_reason == "command_refused"


def test_a_digest_kept_from_version_0_still_recognises_its_message() -> None:
    """Version 0 digested the canonical JSON; a message handled then is still a duplicate."""
    from gateway.registry.codec import canonical_digest
    from gateway.registry.core import body_digest

    messages = scenario_messages()
    ecoa = messages[3]
    assert isinstance(ecoa, ECoACreated)
    state = run_all([record_of(m, i) for i, m in enumerate(messages[:3])])[-1].state
    hex_digest = body_digest(ecoa).split(":", 1)[1]
    state = state.with_handled(ecoa.brand, f"ecoa:{ecoa.ecoa_id}", canonical_digest(hex_digest))
    result = process_record(state, record_of(ecoa, 3), now=NOW, settings=SETTINGS)
    assert result.outcome is Outcome.ALREADY_HANDLED


def test_a_decided_record_carries_its_correlation_id_for_the_logs() -> None:
    record = record_of(scenario_messages()[0], 0)
    envelope = decode_message(record.headers, record.value).envelope
    result = process_record(RegistryState(), record, now=NOW, settings=SETTINGS)
    assert (result.correlation_id, result.event_id) == (envelope.correlation_id, envelope.id)
