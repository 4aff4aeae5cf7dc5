"""The fault test's checks, on records made here: each check passes on a good outcome and
fails on each kind of bad one (a check that cannot fail is a defect)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.base import Contract
from contracts.brands import BrandListed
from contracts.dead_letter import (
    DeadLetterError,
    DeadLetterReason,
    DeadLetterRecorded,
    SourceRecord,
)
from contracts.envelope import (
    MessageDecodeError,
    decode_message,
    encode_body,
    envelope_headers,
    new_envelope,
)
from contracts.production import ProductionBatchAccepted
from contracts.topics import route
from contracts.values import MetalContract, PartyRole
from gateway.ledger import LedgerState
from gateway.processors.ledger import LedgerSettings, process_ledger_record
from gateway.processors.records import InputRecord
from gateway.tools import fault_outcomes
from gateway.tools.fault_outcomes import (
    RULES,
    Output,
    SeenRecord,
    balance_problems,
    duplicate_output_problems,
    latest_balances,
    ledger_output_problems,
    orphan_output_problems,
    outputs_by_cause,
    read_output,
    registry_outcome_problems,
    replay_ledger,
)
from gateway.tools.fault_workload import (
    CASE_HEADER,
    DEAD_LETTER_REASON,
    PlannedRecord,
    build_workload,
)
from gateway.tools.faults import FaultKind, FaultOptions, fault_plan, fault_triggers
from producers.simulation import list_brand

NOW = datetime(2026, 3, 1, tzinfo=UTC)
LEDGER = LedgerSettings(
    registry_party="custody-registry",
    exchange_parties=frozenset({"exchange-listing-desk"}),
    max_value_bytes=1_000_000,
)


def seen(planned: PlannedRecord, offset: int, partition: int = 0) -> SeenRecord:
    return SeenRecord(
        planned.topic, partition, offset, 0, planned.key, planned.value, tuple(planned.headers)
    )


def output(body: Contract, cause: str, event_id: str) -> Output:
    spec = route(type(body), PartyRole.REGISTRY)
    envelope = new_envelope(
        body,
        source="/test",
        sender_party_id="custody-registry",
        time=NOW,
        causation_id=cause,
        event_id=event_id,
    )
    record = SeenRecord(
        spec.name, 0, 0, 0, spec.key_of(body), encode_body(body), tuple(envelope_headers(envelope))
    )
    return read_output(record)


def listed(brand: str) -> BrandListed:
    return BrandListed.build(
        command_id=f"LIST-{brand}",
        brand=brand,
        producer_id="smelter-nordal",
        country_of_origin="Norway",
        contracts=(MetalContract.ALUMINIUM_ALLOY,),
        effective_at=NOW,
    )


def dead_letter(source: SeenRecord, reason: DeadLetterReason, event_id: str) -> Output:
    letter = DeadLetterRecorded.build(
        original_value=None,
        original_key=None,
        original_headers=(),
        original_header_count=0,
        error=DeadLetterError(kind=reason, message="refused"),
        source=SourceRecord(
            topic=source.topic, partition=source.partition, offset=source.offset, timestamp_ms=0
        ),
        dead_lettered_at=NOW,
    )
    return output(letter, source.where, event_id)


def workload() -> list[PlannedRecord]:
    return build_workload(400, seed=3)


def first_of(case_value: str) -> PlannedRecord:
    return next(record for record in workload() if record.case.value == case_value)


# ---- the registry's rule per case ---------------------------------------------------------


def test_a_listing_needs_exactly_one_brand_listed() -> None:
    listing = seen(first_of("list"), offset=0)
    one = [output(listed("FB1"), listing.event_id, "out-1")]
    two = [*one, output(listed("FB1"), listing.event_id, "out-2")]
    assert registry_outcome_problems([listing], outputs_by_cause(one)) == []
    for outcome in ([], two):
        (problem,) = registry_outcome_problems([listing], outputs_by_cause(outcome))
        assert "expected exactly one of ['custody.brand.listed']" in problem.text


def test_a_cast_must_get_its_decision_and_a_duplicate_nothing() -> None:
    cast = seen(first_of("cast"), offset=0)
    (unanswered,) = registry_outcome_problems([cast], {})
    assert "custody.production-batch.accepted" in unanswered.text
    checked = ProductionBatchAccepted.build(
        brand="FB1",
        cast_reference="FB1-C1",
        specification="A380.1",
        rules_applied=("Aluminium Alloy SCR 1(a)(i)",),
        rulebook_version="2026.1",
        decided_at=NOW,
    )
    decided = outputs_by_cause([output(checked, cast.event_id, "out-1")])
    assert registry_outcome_problems([cast], decided) == []
    duplicate = seen(first_of("duplicate"), offset=1)
    assert registry_outcome_problems([duplicate], {}) == []
    caused = outputs_by_cause([output(listed("FB1"), duplicate.event_id, "out-2")])
    (problem,) = registry_outcome_problems([duplicate], caused)
    assert "expected no output" in problem.text


def test_a_poison_record_needs_one_dead_letter_with_its_reason_at_its_position() -> None:
    poison = seen(first_of("poison.bad_json"), offset=7, partition=2)
    right = [dead_letter(poison, DeadLetterReason.UNDECODABLE, "dl-1")]
    wrong_reason = [dead_letter(poison, DeadLetterReason.SCHEMA_VIOLATION, "dl-1")]
    elsewhere = SeenRecord(poison.topic, 2, 8, 0, None, None, poison.headers)
    wrong_place = [dead_letter(elsewhere, DeadLetterReason.UNDECODABLE, "dl-1")]
    assert registry_outcome_problems([poison], outputs_by_cause(right)) == []
    for outcome in (wrong_reason, wrong_place, []):
        assert registry_outcome_problems([poison], outputs_by_cause(outcome)), outcome


def test_a_record_sent_twice_is_one_input_whose_copies_each_need_a_dead_letter() -> None:
    original = seen(first_of("poison.bad_json"), offset=1)
    again = SeenRecord(original.topic, 0, 2, 0, original.key, original.value, original.headers)
    letters = [
        dead_letter(original, DeadLetterReason.UNDECODABLE, "dl-1"),
        dead_letter(again, DeadLetterReason.UNDECODABLE, "dl-2"),
    ]
    assert registry_outcome_problems([original, again], outputs_by_cause(letters)) == []
    assert registry_outcome_problems([original, again], outputs_by_cause(letters[:1]))


def test_every_case_of_the_workload_has_a_rule_or_is_judged_by_the_ledger() -> None:
    cases = {record.case for record in build_workload(3_000, seed=5)}
    unruled = {case for case in cases if case not in RULES}
    assert all(case.value.startswith("ledger.") for case in unruled), unruled
    assert set(DEAD_LETTER_REASON) <= cases


def test_an_input_without_the_harness_label_is_reported() -> None:
    body = list_brand("FB1")
    envelope = new_envelope(body, source="/x", sender_party_id="exchange-listing-desk", time=NOW)
    stranger = SeenRecord(
        "exchange.brand-commands",
        0,
        0,
        0,
        b"FB1",
        encode_body(body),
        tuple(envelope_headers(envelope)),
    )
    (problem,) = registry_outcome_problems([stranger], {})
    assert CASE_HEADER in problem.text


# ---- outputs in general -------------------------------------------------------------------


def test_an_output_id_seen_twice_is_a_duplicate() -> None:
    first = output(listed("FB1"), "in-1", "out-1")
    assert duplicate_output_problems([first]) == []
    assert len(duplicate_output_problems([first, output(listed("FB1"), "in-1", "out-1")])) == 1


def test_an_output_whose_cause_is_no_input_is_an_orphan() -> None:
    listing = seen(first_of("list"), offset=0)
    mine = output(listed("FB1"), listing.event_id, "out-1")
    stray = output(listed("FB2"), "nobody", "out-2")
    assert orphan_output_problems([mine], [listing]) == []
    (problem,) = orphan_output_problems([mine, stray], [listing])
    assert "nobody" in problem.text


# ---- the ledger against its fold ----------------------------------------------------------


def ledger_commands() -> list[SeenRecord]:
    records = [r for r in workload() if r.topic == "ledger.commands"]
    usable = [r for r in records if r.case.value in ("ledger.setup", "ledger.input", "ledger.sale")]
    return [seen(record, offset) for offset, record in enumerate(usable)]


def uninterrupted_outputs(commands: list[SeenRecord]) -> list[Output]:
    """What an uninterrupted run publishes for ``commands``, as if read back in order."""
    state, outputs = LedgerState(), []
    for record in commands:
        processed = process_ledger_record(
            state,
            InputRecord(
                record.topic, 0, record.offset, 0, record.key, record.value, record.headers
            ),
            now=NOW,
            settings=LEDGER,
        )
        state = processed.state
        outputs += [
            read_output(
                SeenRecord(o.topic, 0, len(outputs) + n, 0, o.key, o.value, tuple(o.headers))
            )
            for n, o in enumerate(processed.outputs)
        ]
    return outputs


def test_the_ledger_outputs_of_an_uninterrupted_run_pass_and_any_difference_fails() -> None:
    commands = ledger_commands()
    replay = replay_ledger(commands, LEDGER)
    published = uninterrupted_outputs(commands)
    assert len(published) > len(commands), "decisions and balance updates"
    assert ledger_output_problems(commands, replay, outputs_by_cause(published)) == []
    missing = published[1:]
    doubled = [*published, published[0]]
    assert ledger_output_problems(commands, replay, outputs_by_cause(missing))
    assert ledger_output_problems(commands, replay, outputs_by_cause(doubled))


def test_balances_compare_the_last_update_of_each_account_with_the_fold() -> None:
    commands = ledger_commands()
    replay = replay_ledger(commands, LEDGER)
    published = latest_balances(uninterrupted_outputs(commands))
    assert published and balance_problems(published, replay.balances) == []
    account = next(iter(published))
    assert balance_problems({**published, account: published[account] + 1}, replay.balances)
    assert balance_problems({}, replay.balances)


def test_a_command_the_pure_pipeline_raises_on_is_reported_and_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commands = ledger_commands()
    doomed = commands[3]

    def raising_on_one(state: LedgerState, record: InputRecord, **options: Any) -> Any:
        if record.offset == doomed.offset:
            raise ValueError("rule text too long")
        return process_ledger_record(state, record, **options)

    monkeypatch.setattr(fault_outcomes, "process_ledger_record", raising_on_one)
    replay = replay_ledger(commands, LEDGER)
    (problem,) = replay.raised
    assert problem.text == f"ledger.setup at {doomed.where}: ValueError: rule text too long"
    assert doomed.event_id not in replay.expected
    assert commands[4].event_id in replay.expected


# ---- the workload and the faults ----------------------------------------------------------


def test_the_workload_is_the_same_for_a_seed_and_has_the_size_asked() -> None:
    first, again = build_workload(500, seed=9), build_workload(500, seed=9)
    assert len(first) == 500
    assert [r.event_id for r in first] == [r.event_id for r in again]
    assert [r.event_id for r in build_workload(500, seed=10)] != [r.event_id for r in first]
    assert len({r.event_id for r in first}) == 500


def test_each_unreadable_poison_kind_fails_to_decode_for_the_reason_it_is_named_after() -> None:
    readable_refusals = {"not_an_input", "sender_not_permitted", "command_refused"}
    for record in build_workload(1_000, seed=2):
        reason = DEAD_LETTER_REASON.get(record.case)
        if reason is None or reason.value in readable_refusals:
            continue
        try:
            decode_message(record.headers, record.value, max_value_bytes=1_000_000)
        except MessageDecodeError as error:
            assert error.kind.value == reason.value, record.case
        else:
            raise AssertionError(f"{record.case} decoded")


def test_the_large_records_sit_around_the_size_limit() -> None:
    sizes = {
        r.case.value: len(r.value) for r in build_workload(1_000, seed=2) if len(r.value) > 10**5
    }
    assert sizes == {
        "edge.under_limit": 990_000,
        "poison.over_limit": 1_010_000,
        "poison.large_refused": 800_000,
    }


def test_the_fault_plan_has_the_kills_asked_one_pair_while_restoring_and_the_restarts() -> None:
    plan = fault_plan(FaultOptions(kills=10, broker_restarts=2), random.Random(1))
    assert Counter(plan) == {
        FaultKind.KILL: 8,
        FaultKind.RESTORE_KILL: 1,
        FaultKind.BROKER_RESTART: 2,
    }
    assert fault_plan(FaultOptions(kills=1, broker_restarts=0), random.Random(1)) == [
        FaultKind.KILL
    ]
    assert FaultKind.BROKER_RESTART not in fault_plan(
        FaultOptions(broker_restarts=2, own_broker=False), random.Random(1)
    )


def test_faults_happen_in_turn_within_the_stream() -> None:
    triggers = fault_triggers(11, 20_000, random.Random(4))
    assert triggers == sorted(triggers)
    assert len(set(triggers)) == 11
    assert triggers[0] >= 0.05 * 20_000 and triggers[-1] <= 0.85 * 20_000
