"""Issue 11's warrant rules through the registry pipeline (records in, records out, no
Kafka): the scenario files of ``gateway check``, each record decided at its envelope time."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.base import Contract
from contracts.ecoa import ECoAAccepted, ECoACreated
from contracts.envelope import decode_body, decode_message
from contracts.topics import route
from contracts.warrants import WarrantIssued, WarrantPending, WarrantRejected
from gateway.processors.records import InputRecord
from gateway.processors.registry import Outcome, process_record
from gateway.registry.core import handle
from gateway.registry.state import PendingWatch, RegistryState, Step
from gateway.rulebook.state import OpenRequest
from producers.parties import DEMO_PARTIES, sender_role_of
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


def sent(body: Contract, offset: int) -> InputRecord:
    """The record as its sender sends it: on its role's topic, by that role's party (an
    eCOA by its creator)."""
    role = sender_role_of(body)
    party = body.created_by if isinstance(body, ECoACreated) else DEMO_PARTIES[role]
    record = record_of(body, offset, sender=party)
    return replace(record, topic=route(type(body), role).name)


def decided(name: str) -> list[Contract]:
    """Every output of the scenario through the pipeline, decoded, in order."""
    state, outputs = RegistryState(), []
    for offset, (now, message) in enumerate(timed_messages(name)):
        result = process_record(state, sent(message, offset), now=now, settings=SETTINGS)
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
        ("CAST_CHEMISTRY_DISAGREES", "ecoa[ECOA-NORDAL-0101].casts[0].chemistry.Cu"),
        ("ELEMENT_OUT_OF_SPECIFICATION", "ecoa[ECOA-NORDAL-0101].casts[0].chemistry.Cu"),
    ]
    [rejected] = of_type(outputs, "custody.warrant.rejected")
    assert isinstance(rejected, WarrantRejected)
    assert [v.code for v in rejected.violations] == [
        "WARRANT_REQUEST_EXPIRED",
        "CAST_CHEMISTRY_DISAGREES",
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
    assert [v.code for v in outputs[1].certificate_violations] == [
        "CAST_CHEMISTRY_DISAGREES",
        "ELEMENT_OUT_OF_SPECIFICATION",
    ]


# Item 2: the rules applied, on the wire


def test_issued_warrants_and_accepted_ecoas_carry_their_basis_through_the_pipeline() -> None:
    outputs = decided("issued_on_basic_ecoas.jsonl")
    accepted = [o for o in outputs if isinstance(o, ECoAAccepted)]
    issued = [o for o in outputs if isinstance(o, WarrantIssued)]
    assert [a.rules_applied[3] for a in accepted] == ["SCR 4.4(a)", "SCR 4.3"]
    assert [i.rules_applied[-2:] for i in issued] == [
        ("SCR 4.4", "§4.1.2"),
        ("SCR 4.3", "§4.1.2"),
    ]
    assert [o.MESSAGE_TYPE for o in outputs].count("custody.ecoa.rejected") == 1


def test_an_issued_warrant_keeps_its_notes_on_the_wire() -> None:
    [issued] = [o for o in decided("issued_alloy_lot.jsonl") if isinstance(o, WarrantIssued)]
    assert issued.notes == ("brand NORDAL's 2025 form used until 2026's is due (§4.3 Figure 4)",)
    assert issued.rules_applied[-2:] == ("SCR 4.2", "§4.3 Figure 4")


# Item 3: the casts' production dates decide SCR 4.2


def test_a_lot_whose_date_contradicts_its_ecoa_is_rejected_through_the_pipeline() -> None:
    outputs = decided("lot_date_contradicts_its_ecoa.jsonl")
    [rejected] = [o for o in outputs if isinstance(o, WarrantRejected)]
    assert [(v.code, v.field) for v in rejected.violations] == [
        ("LOT_PRODUCTION_DATE_NOT_CERTIFIED", "production_date")
    ]
    [pending] = [o for o in outputs if isinstance(o, WarrantPending)]
    assert [m.reference for m in pending.missing] == ["brand NORDAL year 2026"]
    [issued] = [o for o in outputs if isinstance(o, WarrantIssued)]
    assert issued.document.emissions.form_id == "FORM-NORDAL-2025"


# Item 4: near-miss cast references


def test_near_miss_references_are_mismatches_and_real_look_alikes_issue_in_the_pipeline() -> None:
    outputs = decided("near_miss_cast_references.jsonl")
    decisions = [
        o for o in outputs if isinstance(o, WarrantIssued | WarrantRejected | WarrantPending)
    ]
    assert [(type(o).__name__, o.lot_id) for o in decisions] == [
        ("WarrantRejected", "LOT-RTM-0501"),
        ("WarrantIssued", "LOT-RTM-0502"),
        ("WarrantPending", "LOT-RTM-0503"),
    ]
    rejected = decisions[0]
    assert isinstance(rejected, WarrantRejected)
    assert [v.allowed for v in rejected.violations] == ["C26-0101", "C26-0102"]


# Item 5: the brand and casts marked on each bundle


def test_bundles_of_another_brand_or_two_casts_are_rejected_through_the_pipeline() -> None:
    outputs = decided("bundles_of_one_brand_and_batch.jsonl")
    decisions = [o for o in outputs if isinstance(o, WarrantIssued | WarrantRejected)]
    assert [(type(o).__name__, o.lot_id) for o in decisions] == [
        ("WarrantIssued", "LOT-RTM-0601"),
        ("WarrantRejected", "LOT-RTM-0602"),
        ("WarrantRejected", "LOT-RTM-0603"),
        ("WarrantIssued", "LOT-RTM-0604"),
    ]
    rejections = [o.violations for o in decisions if isinstance(o, WarrantRejected)]
    assert [[(v.code, v.rule, v.field) for v in found] for found in rejections] == [
        [("MORE_THAN_ONE_BRAND", "Aluminium Alloy SCR 3.2", "bundles[6].brand")],
        [
            (
                "BUNDLE_OF_MORE_THAN_ONE_BATCH",
                "Aluminium Alloy SCR 3.3",
                "bundles[2].cast_references",
            )
        ],
    ]
    issued = [o for o in decisions if isinstance(o, WarrantIssued)]
    assert [(i.document.bundles, i.document.pieces) for i in issued] == [(20, 2500), (20, 2500)]


# Item 7: re-warranting after a cancellation


def test_a_cancelled_lot_is_warranted_again_with_its_own_ids_through_the_pipeline() -> None:
    outputs = decided("rewarranted_after_cancellation.jsonl")
    issued = [o for o in outputs if isinstance(o, WarrantIssued)]
    assert [i.warrant_id for i in issued] == ["WRT-LOT-RTM-0001", "WRT-LOT-RTM-0001#2"]
    rejected = [o for o in outputs if isinstance(o, WarrantRejected)]
    assert [[v.code for v in r.violations] for r in rejected] == [
        ["LOT_ALREADY_ON_WARRANT"],
        ["BRAND_SUSPENDED"],
    ]


def test_a_request_kept_without_its_receipt_time_pends_from_the_next_message_of_its_brand() -> None:
    listing, batch_1, batch_2, ecoa, form, lot, request, later_cast = (
        message for _, message in timed_messages("offspec_cast_pending_then_expired.jsonl")
    )
    state = RegistryState()
    for message in (listing, batch_1, batch_2, ecoa, lot, request):
        state = handle(state, message, now=NOW, rulebook=SETTINGS.rulebook).state
    kept = state.open_request("LOT-RTM-0001")
    assert kept is not None
    state = state.with_open_request(replace(kept, received_at=None))  # as stored before
    upgraded = NOW + 3 * SETTINGS.rulebook.pending_limit
    step = handle(state, form, now=upgraded, rulebook=SETTINGS.rulebook)
    assert not [o for o in step.outputs if isinstance(o, WarrantRejected)]
    stamped = step.state.open_request("LOT-RTM-0001")
    assert stamped is not None and stamped.received_at == upgraded
    expired = handle(
        step.state,
        later_cast,
        now=upgraded + SETTINGS.rulebook.pending_limit + timedelta(seconds=1),
        rulebook=SETTINGS.rulebook,
    )
    [rejected] = [o for o in expired.outputs if isinstance(o, WarrantRejected)]
    assert rejected.violations[0].code == "WARRANT_REQUEST_EXPIRED"


def test_a_brand_looks_its_open_requests_over_only_once_its_oldest_may_be_overdue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listing, batch_1, batch_2, ecoa, _form, lot, request, later_cast = (
        message for _, message in timed_messages("offspec_cast_pending_then_expired.jsonl")
    )
    limit = SETTINGS.rulebook.pending_limit
    state = RegistryState()
    for message in (listing, batch_1, batch_2, ecoa, lot, request):
        state = handle(state, message, now=NOW, rulebook=SETTINGS.rulebook).state
    watch = state.pending_watch("NORDAL")
    assert watch is not None and watch.oldest_received_at == NOW
    looks: list[str] = []
    listed = RegistryState.open_requests_of

    def counted(self: RegistryState, brand: str) -> list[OpenRequest]:
        looks.append(brand)
        return listed(self, brand)

    monkeypatch.setattr(RegistryState, "open_requests_of", counted)
    casts = iter(range(90, 99))

    def next_cast(now: datetime) -> Step:
        cast = later_cast.model_copy(update={"cast_reference": f"B{next(casts)}"})
        return handle(state, cast, now=now, rulebook=SETTINGS.rulebook)

    def warrant_decisions(step: Step) -> list[Contract]:
        return [o for o in step.outputs if o.MESSAGE_TYPE.startswith("custody.warrant.")]

    step = next_cast(NOW + limit)
    assert (looks, warrant_decisions(step)) == ([], [])
    state = step.state
    step = next_cast(NOW + limit + timedelta(seconds=1))
    [rejected] = [o for o in step.outputs if isinstance(o, WarrantRejected)]
    assert rejected.violations[0].code == "WARRANT_REQUEST_EXPIRED"
    assert looks == ["NORDAL"]
    state = step.state
    assert state.pending_watch("NORDAL") == PendingWatch(None)
    step = next_cast(NOW + 10 * limit)
    assert (looks, warrant_decisions(step)) == (["NORDAL"], [])


def test_a_state_kept_before_the_watch_looks_its_requests_over_at_the_next_message() -> None:
    listing, batch_1, batch_2, ecoa, _form, lot, request, later_cast = (
        message for _, message in timed_messages("offspec_cast_pending_then_expired.jsonl")
    )
    state = RegistryState()
    for message in (listing, batch_1, batch_2, ecoa, lot, request):
        state = handle(state, message, now=NOW, rulebook=SETTINGS.rulebook).state
    state = state.put("watch:NORDAL", None)  # as stored before the watch existed
    limit = SETTINGS.rulebook.pending_limit
    step = handle(state, later_cast, now=NOW + 2 * limit, rulebook=SETTINGS.rulebook)
    [rejected] = [o for o in step.outputs if isinstance(o, WarrantRejected)]
    assert rejected.violations[0].code == "WARRANT_REQUEST_EXPIRED"


# Item 8: the producer's recorded chemistry


def test_a_recorded_cast_is_decided_on_the_topic_its_producer_reads() -> None:
    state = RegistryState()
    by_type: dict[str, set[str]] = {}
    for offset, (now, message) in enumerate(timed_messages("recorded_chemistry.jsonl")):
        result = process_record(state, sent(message, offset), now=now, settings=SETTINGS)
        state = result.state
        for output in result.outputs:
            by_type.setdefault(output.message_type, set()).add(output.topic)
    assert by_type["custody.production-batch.accepted"] == {"registry.ecoa-decisions"}
    assert by_type["custody.production-batch.rejected"] == {"registry.ecoa-decisions"}
    corrected = state.brand("NORDAL").recorded_cast("C26-0202")
    assert corrected is not None
    assert dict(corrected.chemistry or ())["Cu"] == Decimal("3.0")


def test_a_first_good_record_writes_its_cast_alone_and_decides_no_request_again() -> None:
    """The hot path: a good cast recorded before its eCOA touches one entity, however many
    requests of its brand are open."""
    messages = [message for _, message in timed_messages("recorded_chemistry.jsonl")]
    state = RegistryState()
    for offset, message in enumerate(messages[:7]):  # up to the first lot's request: pending
        state = process_record(state, sent(message, offset), now=NOW, settings=SETTINGS).state
    assert state.open_requests_of("NORDAL")
    fresh = messages[1].model_copy(update={"cast_reference": "C26-0999"})
    result = process_record(state, sent(fresh, 99), now=NOW, settings=SETTINGS)
    assert [o.message_type for o in result.outputs] == ["custody.production-batch.accepted"]
    assert set(result.state.changed_since(state)) == {"cast:NORDAL:c260999:C26-0999"}
