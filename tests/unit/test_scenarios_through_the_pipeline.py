"""The scenario files of ``gateway check``, sent as records through the live pipeline
(``process_record``): each line's decision time is its envelope time, its sender the party
that usually sends it (or the envelope's ``partyid``), and the decisions are the same."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from contracts.base import Contract
from contracts.clock import ClockTicked
from contracts.envelope import (
    decode_body,
    decode_message,
    encode_body,
    envelope_headers,
    new_envelope,
)
from contracts.topics import route
from contracts.warrants import WarrantRejected
from gateway.processors.records import InputRecord
from gateway.processors.registry import Outcome, PipelineSettings, process_record
from gateway.registry.state import RegistryState
from gateway.rulebook.model import Rulebook, load_rulebook
from producers.parties import sender_role_of
from tests.unit.test_check_scenarios import (
    DISAGREES,
    NOT_SUMMARISED,
    NOW,
    SCENARIOS,
    run,
    summary,
)

EXCHANGE = "exchange-listing-desk"
PRODUCER = "smelter-nordal"
REGISTRY = "custody-registry"


def usual_sender(body: dict[str, Any], message_type: str) -> str:
    if message_type.startswith("custody.brand."):
        return EXCHANGE
    for field in ("created_by", "warehouse_id"):
        if field in body:
            return str(body[field])
    return PRODUCER


def records_of(name: str) -> list[tuple[InputRecord, datetime]]:
    records = []
    for offset, text in enumerate((SCENARIOS / name).read_text(encoding="utf-8").splitlines()):
        if not text.strip() or text.startswith("#"):
            continue
        line = json.loads(text)
        body: Contract
        if "tick" in line:  # the registry's clock, written by the gateway itself
            at = datetime.fromisoformat(line["tick"])
            body, sender = ClockTicked.build(partition=0, ticked_at=at), REGISTRY
        else:
            body = decode_body(line["type"], line["body"])
            envelope = line.get("envelope", {})
            at = datetime.fromisoformat(envelope["time"]) if "time" in envelope else NOW
            sender = envelope.get("partyid") or usual_sender(line["body"], line["type"])
        cloud_event = new_envelope(body, source="/test", sender_party_id=sender, time=at)
        record = InputRecord(
            topic=route(type(body), sender_role_of(body)).name,
            partition=0,
            offset=offset,
            timestamp_ms=0,
            key=b"k",
            value=encode_body(body),
            headers=envelope_headers(cloud_event),
        )
        records.append((record, at))
    return records


def pipeline_settings(rulebook: Rulebook) -> PipelineSettings:
    return PipelineSettings(
        rulebook=rulebook,
        registry_party=REGISTRY,
        exchange_parties=frozenset({EXCHANGE}),
        max_value_bytes=64_000,
    )


def pipeline(name: str, rulebook: Rulebook | None = None) -> list[tuple[str, list[str]]]:
    """(type, violation codes and missing references) of every decision the pipeline
    publishes for the file; a dead letter is ("dead letter", [its reason])."""
    settings = pipeline_settings(rulebook or load_rulebook())
    state, decided = RegistryState(), []
    for record, at in records_of(name):
        result = process_record(state, record, now=at, settings=settings)
        state = result.state
        if result.outcome is Outcome.DEAD_LETTER:
            decided.append(("dead letter", [str(result.dead_letter_reason)]))
            continue
        for output in result.outputs:
            message = decode_message(output.headers, output.value)
            if message.envelope.type in NOT_SUMMARISED:
                continue
            codes = [v.code for v in getattr(message.body, "violations", ())]
            codes += [m.reference for m in getattr(message.body, "missing", ())]
            decided.append((message.envelope.type, codes))
    return decided


def test_the_cbam_dates_of_the_source_decide_the_same_through_the_pipeline() -> None:
    missing = ["MANDATORY_FIELD_MISSING", "MANDATORY_FIELD_MISSING"]
    assert pipeline("cbam_dates.jsonl") == [
        ("custody.brand.listed", []),
        ("custody.cbam-form.rejected", missing),
        ("custody.cbam-form.rejected", missing),
    ]
    assert pipeline("cbam_dates.jsonl", load_rulebook(verification_start=date(2026, 1, 1))) == [
        ("custody.brand.listed", []),
        ("custody.cbam-form.accepted", []),
        ("custody.cbam-form.rejected", missing),
    ]


def test_the_cbam_dates_the_exchange_moves_decide_the_same_through_the_pipeline() -> None:
    moved = load_rulebook(
        first_form_deadline=date(2025, 6, 15), verification_start=date(2027, 1, 1)
    )
    assert pipeline("cbam_dates.jsonl", moved) == [
        ("custody.brand.listed", []),
        ("custody.cbam-form.accepted", []),
        ("custody.cbam-form.accepted", []),
    ]


def test_every_scenario_file_decides_the_same_through_the_pipeline() -> None:
    """The documented files whose every line is decided: check and pipeline agree."""
    for path in sorted(Path(SCENARIOS).glob("*.jsonl")):
        if path.name in ("malformed_lines.jsonl", "sender_identity.jsonl"):
            continue
        checked = [(kind, codes) for _, kind, codes in summary(run(path.name)[0])]
        assert pipeline(path.name) == checked, path.name


def test_an_implausible_form_is_refused_through_the_pipeline_and_the_corrected_one_attached() -> (
    None
):
    assert pipeline("cbam_plausibility.jsonl") == [
        ("custody.brand.listed", []),
        ("custody.ecoa.accepted", []),
        ("custody.cbam-form.rejected", ["EMISSIONS_IMPLAUSIBLE", "EMISSIONS_IMPLAUSIBLE"]),
        ("custody.cbam-form.rejected", ["METHODOLOGY_NOT_EU"]),
        ("custody.cbam-form.accepted", []),
        ("custody.emissions.attached", []),
    ]


def test_the_sender_rules_of_a_dry_run_are_the_pipeline_s() -> None:
    """Where ``gateway check`` gives an error of kind sender_not_permitted the pipeline sets
    the record aside for the same reason; everything else is the same decision."""
    checked = []
    for _, kind, codes in summary(run("sender_identity.jsonl")[0]):
        checked.append(
            ("dead letter", ["sender_not_permitted"]) if kind == "error" else (kind, codes)
        )
    assert pipeline("sender_identity.jsonl") == checked
    assert checked[1:4] == [
        ("custody.cbam-form.rejected", ["SENDER_NOT_PERMITTED"]),
        ("custody.ecoa.rejected", ["SENDER_NOT_PERMITTED"]),
        ("dead letter", ["sender_not_permitted"]),
    ]


def test_the_pipeline_cites_the_rulebook_for_a_wrong_uploader() -> None:
    settings = pipeline_settings(load_rulebook())
    state, rules = RegistryState(), []
    for record, at in records_of("sender_identity.jsonl")[:5]:
        result = process_record(state, record, now=at, settings=settings)
        state = result.state
        for output in result.outputs:
            body = decode_message(output.headers, output.value).body
            rules += [v.rule for v in getattr(body, "violations", ())]
    assert rules == ["§4.2.1", "SCR 4.6"]


def test_a_delisting_takes_effect_at_its_time_through_the_pipeline() -> None:
    assert pipeline("delisting_notice.jsonl") == [
        ("custody.brand.listed", []),
        ("custody.ecoa.accepted", []),
        ("custody.cbam-form.accepted", []),
        ("custody.emissions.attached", []),
        ("custody.brand.delisted", []),
        ("custody.warrant.issued", []),
        ("custody.warrant.rejected", ["BRAND_DELISTED"]),
    ]


def test_a_quiet_brands_request_is_expired_by_the_clock_through_the_pipeline() -> None:
    assert pipeline("quiet_brand_expired_by_the_clock.jsonl")[-2:] == [
        ("custody.warrant.pending", ["C26-0101", "C26-0102"]),
        (
            "custody.warrant.rejected",
            ["WARRANT_REQUEST_EXPIRED", DISAGREES, "ELEMENT_OUT_OF_SPECIFICATION"],
        ),
    ]


def test_a_tick_from_another_party_is_set_aside_and_decides_nothing() -> None:
    settings = pipeline_settings(load_rulebook())
    state = RegistryState()
    records = records_of("quiet_brand_expired_by_the_clock.jsonl")
    for record, at in records[:-3]:
        state = process_record(state, record, now=at, settings=settings).state
    expiring, at = records[-2]
    forged = replace(
        expiring,
        headers=[
            (name, b"warehouse-rotterdam-07" if name == "ce_partyid" else value)
            for name, value in expiring.headers
        ],
    )
    result = process_record(state, forged, now=at, settings=settings)
    assert result.outcome is Outcome.DEAD_LETTER
    assert result.dead_letter_reason == "sender_not_permitted"
    assert result.state is state
    genuine = process_record(state, expiring, now=at, settings=settings)
    [rejected] = [
        decoded.body
        for decoded in (decode_message(o.headers, o.value) for o in genuine.outputs)
        if decoded.envelope.type == "custody.warrant.rejected"
    ]
    assert isinstance(rejected, WarrantRejected)
    assert rejected.violations[0].code == "WARRANT_REQUEST_EXPIRED"
