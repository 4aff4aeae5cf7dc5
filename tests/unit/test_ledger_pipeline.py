"""One ledger.commands record through the ledger pipeline, without Kafka: booked (acceptance and
balance updates), rejected with reasons, already handled, or a dead letter; and the journal
rebuilds the state."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import ledger as wire
from contracts.base import Contract
from contracts.custody import CustodyBalanceUpdated, CustodyMovementRecorded, CustodyMoveReason
from contracts.envelope import decode_message, encode_body, envelope_headers, new_envelope
from contracts.lots import LotArrived
from contracts.values import AccountingLevel
from gateway.ledger import LedgerState, apply_facts
from gateway.ledger.codec import decode_fact
from gateway.processors.ledger import (
    LedgerProcessed,
    LedgerSettings,
    process_ledger_record,
)
from gateway.processors.records import InputRecord
from gateway.processors.step import Outcome
from producers.samples import sample_messages

NOW = datetime(2026, 3, 31, 18, tzinfo=UTC)
EXCHANGE = "exchange-listing-desk"
REGISTRY = "custody-registry"
SETTINGS = LedgerSettings(
    registry_party=REGISTRY, exchange_parties=frozenset({EXCHANGE}), max_value_bytes=64_000
)
Q = "asi_aluminium"
S, G = AccountingLevel.SITE, AccountingLevel.GROUP


def record(body: Contract, offset: int, sender: str) -> InputRecord:
    envelope = new_envelope(body, source="/test", sender_party_id=sender, time=NOW)
    return InputRecord(
        topic="ledger.commands",
        partition=0,
        offset=offset,
        timestamp_ms=1_774_000_000_000,
        key=str(getattr(body, "posting_id", "x")).encode(),
        value=encode_body(body),
        headers=envelope_headers(envelope),
    )


def run(
    bodies: list[tuple[Contract, str]], state: LedgerState | None = None
) -> tuple[LedgerState, list[LedgerProcessed], list[InputRecord]]:
    current = state or LedgerState()
    results, records = [], []
    for offset, (body, sender) in enumerate(bodies):
        rec = record(body, offset, sender)
        result = process_ledger_record(current, rec, now=NOW, settings=SETTINGS)
        current = result.state
        results.append(result)
        records.append(rec)
    return current, results, records


def setup(
    scope: wire.AccountingScope = wire.AccountingScope.SITE_LEVEL,
) -> list[tuple[Contract, str]]:
    """A certificate with two smelter sites (operated by "smelter-a"), and a warehouse with its
    own single-site certificate."""
    start = date(2026, 1, 1)
    bodies: list[tuple[Contract, str]] = [
        (
            wire.RegisterCertificate.build(
                posting_id="cert-a",
                certificate_id="CERT-A",
                holder_group_id="GROUP-A",
                accounting_scope=scope,
                effective_on=start,
            ),
            EXCHANGE,
        ),
        (
            wire.RegisterCertificate.build(
                posting_id="cert-wh",
                certificate_id="CERT-WH",
                holder_group_id="WH-CO",
                accounting_scope=wire.AccountingScope.SITE_LEVEL,
                effective_on=start,
            ),
            EXCHANGE,
        ),
    ]
    for site, operator, certificate in (
        ("A1", "smelter-a", "CERT-A"),
        ("A2", "smelter-a", "CERT-A"),
        ("WH1", "warehouse-1", "CERT-WH"),
    ):
        bodies.append(
            (
                wire.RegisterSite.build(
                    posting_id=f"site-{site}",
                    site_id=site,
                    operator_party_id=operator,
                    registered_on=start,
                ),
                EXCHANGE,
            )
        )
        bodies.append(
            (
                wire.JoinCertificate.build(
                    posting_id=f"join-{site}",
                    site_id=site,
                    certificate_id=certificate,
                    effective_on=start,
                ),
                EXCHANGE,
            )
        )
    return bodies


def certified_input(posting_id: str, kg: str, site: str = "A1", day: int = 2) -> Contract:
    return wire.RecordCertifiedInput.build(
        posting_id=posting_id,
        site_id=site,
        holder_id=site,
        material_quality=Q,
        quantity_kg=Decimal(kg),
        level=S,
        coc_document=f"COC-{posting_id}",
        occurred_on=date(2026, 3, day),
    )


def certified_output(posting_id: str, kg: str, site: str = "A1", day: int = 3) -> Contract:
    return wire.RecordCertifiedOutput.build(
        posting_id=posting_id,
        site_id=site,
        holder_id=site,
        material_quality=Q,
        quantity_kg=Decimal(kg),
        level=S,
        claim_document=f"INV-{posting_id}",
        occurred_on=date(2026, 3, day),
    )


def bodies_of(result: LedgerProcessed) -> list[Contract]:
    return [decode_message(o.headers, o.value).body for o in result.outputs]


def balances(state: LedgerState) -> dict[str, Decimal]:
    return {account.text: kg for account, kg in state.balances.items()}


def test_a_booked_input_answers_with_an_acceptance_and_one_balance_update_per_account() -> None:
    state, results, _ = run([*setup(), (certified_input("in-1", "1000"), "smelter-a")])
    last = results[-1]
    assert last.outcome is Outcome.BOOKED and last.changed_state
    accepted, update = bodies_of(last)
    assert isinstance(accepted, wire.LedgerPostingAccepted)
    assert [a.holder_id for a in accepted.accounts] == ["A1"]
    assert isinstance(update, CustodyBalanceUpdated)
    assert (update.delta_kg, update.balance_kg, update.account.level) == (
        Decimal(1000),
        Decimal(1000),
        S,
    )
    assert [o.topic for o in last.outputs] == [
        "registry.ledger-decisions",
        "registry.custody-balances",
    ]
    assert last.outputs[1].key == b"A1/asi_aluminium/S@CERT-A"
    assert balances(state) == {"A1/asi_aluminium/S@CERT-A": Decimal(1000)}


def test_an_overdrawing_output_is_rejected_with_the_available_balance() -> None:
    bodies = [
        *setup(),
        (certified_input("in-1", "1000"), "smelter-a"),
        (certified_output("out-1", "1200"), "smelter-a"),
    ]
    state, results, _ = run(bodies)
    last = results[-1]
    assert last.outcome is Outcome.REJECTED
    (rejection,) = bodies_of(last)
    assert isinstance(rejection, wire.LedgerPostingRejected)
    (violation,) = rejection.violations
    assert violation.code == "OVERDRAW" and violation.field == "quantity_kg"
    assert "available balance 1000 kg" in violation.message
    assert last.changed_state  # the ledger remembers the refused id
    assert balances(state) == {"A1/asi_aluminium/S@CERT-A": Decimal(1000)}


def test_the_same_command_again_is_already_handled_and_publishes_nothing() -> None:
    bodies = [*setup(), (certified_input("in-1", "1000"), "smelter-a")]
    state, _, _ = run(bodies)
    again, results, _ = run([(certified_input("in-1", "1000"), "smelter-a")], state)
    assert results[0].outcome is Outcome.ALREADY_HANDLED
    assert results[0].outputs == () and not results[0].changed_state
    assert again is state


def test_a_used_posting_id_with_other_content_is_rejected_and_changes_nothing() -> None:
    state, _, _ = run([*setup(), (certified_input("in-1", "1000"), "smelter-a")])
    after, results, _ = run([(certified_input("in-1", "999"), "smelter-a")], state)
    (rejection,) = bodies_of(results[0])
    assert isinstance(rejection, wire.LedgerPostingRejected)
    assert rejection.violations[0].code == "POSTING_ID_REUSED"
    assert not results[0].changed_state and after is state


def test_only_a_sites_operator_posts_its_material() -> None:
    state, results, _ = run([*setup(), (certified_input("in-1", "1000"), "warehouse-1")])
    (rejection,) = bodies_of(results[-1])
    assert isinstance(rejection, wire.LedgerPostingRejected)
    violation = rejection.violations[0]
    assert (violation.code, violation.field, violation.observed) == (
        "SENDER_NOT_PERMITTED",
        "ce_partyid",
        "warehouse-1",
    )
    assert "only site A1's operator" in violation.message
    assert balances(state) == {} and not results[-1].changed_state


def test_certification_comes_from_the_exchange_and_custody_moves_from_the_registry() -> None:
    register = wire.RegisterSite.build(
        posting_id="site-X", site_id="X", operator_party_id="x", registered_on=date(2026, 1, 1)
    )
    move = lot_arrival_move("LOT-1", "500")
    _, results, _ = run([(register, "smelter-a"), (move, "warehouse-1")])
    codes = [bodies_of(r)[0].violations[0].code for r in results]  # type: ignore[attr-defined]
    assert codes == ["SENDER_NOT_PERMITTED", "SENDER_NOT_PERMITTED"]
    _, results, _ = run([(register, EXCHANGE)])
    assert results[0].outcome is Outcome.BOOKED


def lot_arrival_move(lot_id: str, kg: str, source: str = "A1") -> CustodyMovementRecorded:
    return CustodyMovementRecorded.build(
        posting_id=f"lot-arrival.{lot_id}",
        reason=CustodyMoveReason.LOT_ARRIVAL,
        from_holder_id=source,
        to_holder_id="WH1",
        lot_id=lot_id,
        quantity_kg=Decimal(kg),
        material_quality=Q,
        level=S,
        coc_document=f"COC-{lot_id}",
        occurred_on=date(2026, 3, 5),
    )


def test_a_registry_custody_move_takes_credits_from_the_deliverer_to_the_warehouse() -> None:
    bodies = [
        *setup(),
        (certified_input("in-1", "1000"), "smelter-a"),
        (lot_arrival_move("LOT-1", "600"), REGISTRY),
        (lot_arrival_move("LOT-2", "600"), REGISTRY),
    ]
    state, results, _ = run(bodies)
    assert results[-2].outcome is Outcome.BOOKED
    updates = [b for b in bodies_of(results[-2]) if isinstance(b, CustodyBalanceUpdated)]
    assert [(u.account.holder_id, u.delta_kg) for u in updates] == [
        ("A1", Decimal(-600)),
        ("WH1", Decimal(600)),
    ]
    assert results[-1].outcome is Outcome.REJECTED  # only 400 kg left at A1
    assert balances(state) == {
        "A1/asi_aluminium/S@CERT-A": Decimal(400),
        "WH1/asi_aluminium/S@CERT-WH": Decimal(600),
    }


def close(posting_id: str, start: date, kind: wire.PeriodKind = wire.PeriodKind.MONTH) -> Contract:
    return wire.ClosePeriod.build(posting_id=posting_id, period_kind=kind, period_start=start)


def test_closing_a_month_publishes_the_reconciliation_of_every_account() -> None:
    bodies = [
        *setup(),
        (certified_input("in-1", "1000"), "smelter-a"),
        (certified_output("out-1", "300"), "smelter-a"),
        (close("close-2026-03", date(2026, 3, 1)), EXCHANGE),
        (certified_input("late", "5", day=31), "smelter-a"),
    ]
    _, results, _ = run(bodies)
    (closed,) = bodies_of(results[-2])
    assert isinstance(closed, wire.LedgerPeriodClosed)
    assert closed.period_end == date(2026, 3, 31)
    (statement,) = closed.statements
    assert (statement.opening_kg, statement.in_kg, statement.out_kg, statement.closing_kg) == (
        Decimal(0),
        Decimal(1000),
        Decimal(300),
        Decimal(700),
    )
    (late,) = bodies_of(results[-1])
    assert late.violations[0].code == "PERIOD_CLOSED"  # type: ignore[attr-defined]


def test_a_period_is_named_by_its_first_day_and_closes_once() -> None:
    bodies = [
        *setup(),
        (close("bad", date(2026, 3, 15)), EXCHANGE),
        (close("first", date(2026, 3, 1)), EXCHANGE),
        (close("second", date(2026, 3, 1)), EXCHANGE),
    ]
    _, results, _ = run(bodies)
    first_bad, ok, again = (bodies_of(r)[0] for r in results[-3:])
    assert first_bad.violations[0].code == "PERIOD_START"  # type: ignore[attr-defined]
    assert first_bad.violations[0].field == "period_start"  # type: ignore[attr-defined]
    assert isinstance(ok, wire.LedgerPeriodClosed)
    assert again.violations[0].code == "PERIOD_NOT_CLOSABLE"  # type: ignore[attr-defined]


def test_unreadable_records_and_strangers_on_the_topic_become_dead_letters() -> None:
    good = record(certified_input("in-1", "1"), 0, "smelter-a")
    broken = InputRecord("ledger.commands", 0, 1, None, None, b"{not json", good.headers)
    lot = next(m for m in sample_messages() if isinstance(m, LotArrived))
    stranger = record(lot, 2, "warehouse-1")
    for rec, reason in ((broken, "undecodable"), (stranger, "not_an_input")):
        result = process_ledger_record(LedgerState(), rec, now=NOW, settings=SETTINGS)
        assert result.outcome is Outcome.DEAD_LETTER
        assert result.dead_letter_reason is not None and result.dead_letter_reason.value == reason
        (letter,) = result.outputs
        assert letter.topic == "registry.dead-letters"
        assert json.loads(letter.value)["source"]["offset"] == rec.offset


def test_every_sample_ledger_command_is_taken_by_the_pipeline() -> None:
    commands = [
        m for m in sample_messages() if type(m) in (*wire.LEDGER_COMMANDS, CustodyMovementRecorded)
    ]
    assert len(commands) >= 12
    for offset, body in enumerate(commands):
        result = process_ledger_record(
            LedgerState(), record(body, offset, EXCHANGE), now=NOW, settings=SETTINGS
        )
        assert result.outcome in (Outcome.BOOKED, Outcome.REJECTED)


@st.composite
def command_streams(draw: st.DrawFn) -> list[tuple[Contract, str]]:
    """Inputs, outputs, transfers and closes at random over the setup, with repeats."""
    steps: list[tuple[Contract, str]] = []
    for index in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["in", "out", "transfer", "close", "repeat"]))
        kg = str(draw(st.integers(1, 900)))
        site = draw(st.sampled_from(["A1", "A2"]))
        day = draw(st.integers(1, 28))
        body: Contract
        if kind == "in":
            body = certified_input(f"in-{index}", kg, site, day)
        elif kind == "out":
            body = certified_output(f"out-{index}", kg, site, day)
        elif kind == "transfer":
            body = wire.RecordPhysicalTransfer.build(
                posting_id=f"tr-{index}",
                from_site=site,
                to_site="A2" if site == "A1" else "A1",
                material_quality=Q,
                quantity_kg=Decimal(kg),
                level=S,
                transport_document=f"CMR-{index}",
                occurred_on=date(2026, 3, day),
            )
        elif kind == "close":
            body = close(f"close-{index}", date(2026, draw(st.integers(1, 3)), 1))
        elif steps:
            steps.append(steps[draw(st.integers(0, len(steps) - 1))])
            continue
        else:
            continue
        steps.append((body, EXCHANGE if kind == "close" else "smelter-a"))
    return steps


@settings(max_examples=60, deadline=None)
@given(command_streams())
def test_applying_the_journaled_facts_rebuilds_the_state_exactly(
    stream: list[tuple[Contract, str]],
) -> None:
    state, results, _records = run([*setup(), *stream])
    journal = [value for result in results for _key, value in result.journal]
    assert all(result.journal for result in results if result.changed_state)
    assert apply_facts(decode_fact(value) for value in journal) == state
    assert all(kg >= 0 for kg in state.balances.values())
    booked = [
        body
        for result in results
        for body in bodies_of(result)
        if isinstance(body, CustodyBalanceUpdated)
    ]
    for account, kg in state.balances.items():
        assert kg == sum(
            (
                u.delta_kg
                for u in booked
                if u.account.holder_id == account.holder_id
                and u.account.level.value == account.level.value
            ),
            Decimal(0),
        )


def test_a_posting_that_does_not_say_s_or_g_is_set_aside_naming_the_field() -> None:
    good = record(certified_input("in-1", "1"), 0, "smelter-a")
    body = json.loads(good.value or b"{}")
    del body["level"]
    unlevelled = InputRecord(
        "ledger.commands", 0, 1, None, good.key, json.dumps(body).encode(), good.headers
    )
    result = process_ledger_record(LedgerState(), unlevelled, now=NOW, settings=SETTINGS)
    assert result.outcome is Outcome.DEAD_LETTER
    assert result.dead_letter_reason is not None
    assert result.dead_letter_reason.value == "schema_violation"
    (letter,) = result.outputs
    error = json.loads(letter.value)["error"]
    assert error["field"] == "level" and "level" in error["message"]
