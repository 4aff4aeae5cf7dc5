"""Issue 11's ledger rules through the pipeline (wire commands in, decisions and balance
updates out): each with a command it books and one it refuses."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from contracts import ledger as wire
from contracts.base import upcast
from contracts.custody import CustodyBalanceUpdated
from gateway.ledger import ClosePeriod, Period
from gateway.processors.ledger import LedgerProcessed
from gateway.processors.step import Outcome
from tests.unit.ledger.builders import (
    GROUP_LEVEL,
    SITE_LEVEL,
    TAKE,
    G,
    S,
    allocated,
    arrived,
    certificate,
    leave,
    received,
    shipped,
    sold,
)
from tests.unit.ledger.rejection_rows import member, registered, sent
from tests.unit.test_ledger_pipeline import EXCHANGE, balances, bodies_of, run

TWO_CERTIFICATES_OF_HOLDCO = [
    sent(certificate("cert-1", "C-H1", "HOLDCO", GROUP_LEVEL)),
    sent(certificate("cert-2", "C-H2", "HOLDCO", GROUP_LEVEL)),
    *(sent(step) for step in member("X1", "C-H1")),
    *(sent(step) for step in member("X2", "C-H2")),
]


def test_credits_of_one_certificate_are_not_consumed_under_another_of_the_same_holder() -> None:
    state, results, _ = run(
        [
            *TWO_CERTIFICATES_OF_HOLDCO,
            sent(received("in-1", "X1", 100, level=G, holder="HOLDCO")),
            sent(sold("out-x2", "X2", 100, level=G, holder="HOLDCO")),
            sent(sold("out-x1", "X1", 100, level=G, holder="HOLDCO")),
        ]
    )
    booked_input, refused, booked_output = results[-3:]
    (_, update) = bodies_of(booked_input)
    assert isinstance(update, CustodyBalanceUpdated)
    assert update.account.certificate_id == "C-H1"
    assert booked_input.outputs[1].key == b"HOLDCO/asi_aluminium/G@C-H1"
    assert refused.outcome is Outcome.REJECTED
    (rejection,) = bodies_of(refused)
    assert isinstance(rejection, wire.LedgerPostingRejected)
    assert [v.code for v in rejection.violations] == ["OVERDRAW"]
    assert "HOLDCO/asi_aluminium/G@C-H2: available balance 0 kg" in rejection.violations[0].message
    assert booked_output.outcome is Outcome.BOOKED
    assert balances(state) == {"HOLDCO/asi_aluminium/G@C-H1": Decimal(0)}


def test_a_coc_document_is_credited_once_whatever_the_site_and_posting_id() -> None:
    first = replace(received("in-1", "X1", 100, level=G, holder="HOLDCO"), coc_document="COC-9")
    state, results, _ = run(
        [
            *TWO_CERTIFICATES_OF_HOLDCO,
            sent(first),
            sent(replace(first, posting_id="in-2")),
            sent(replace(first, posting_id="in-3", site_id="X2")),
            sent(replace(first, posting_id="in-4", coc_document="COC-10")),
        ]
    )
    assert [r.outcome for r in results[-4:]] == [
        Outcome.BOOKED,
        Outcome.REJECTED,
        Outcome.REJECTED,
        Outcome.BOOKED,
    ]
    for refused in results[-3:-1]:
        (rejection,) = bodies_of(refused)
        assert isinstance(rejection, wire.LedgerPostingRejected)
        (violation,) = rejection.violations
        assert (violation.code, violation.rule) == (
            "COC_DOCUMENT_CREDITED",
            "CoC mass balance: a document's quantity is credited once",
        )
        assert "COC-9 was booked by posting in-1" in violation.message
    assert balances(state) == {"HOLDCO/asi_aluminium/G@C-H1": Decimal(200)}


def test_closing_a_month_for_one_certificate_leaves_the_other_open() -> None:
    march = Period.month(2026, 3)
    late = {"on": date(2026, 3, 20), "level": G, "holder": "HOLDCO"}
    _, results, _ = run(
        [
            *TWO_CERTIFICATES_OF_HOLDCO,
            sent(received("in-1", "X1", 100, **late)),
            sent(received("in-2", "X2", 70, **late)),
            sent(ClosePeriod(posting_id="close-mar", period=march, certificate_id="C-H1")),
            sent(received("late-x2", "X2", 5, **late)),
            sent(received("late-x1", "X1", 5, **late)),
        ]
    )
    close, open_late, closed_late = results[-3:]
    (closed,) = bodies_of(close)
    assert isinstance(closed, wire.LedgerPeriodClosed) and closed.certificate_id == "C-H1"
    assert [(s.account.key, s.closing_kg) for s in closed.statements] == [
        ("HOLDCO/asi_aluminium/G@C-H1", Decimal(100))
    ]
    assert open_late.outcome is Outcome.BOOKED
    assert closed_late.outcome is Outcome.REJECTED
    (rejection,) = bodies_of(closed_late)
    assert isinstance(rejection, wire.LedgerPostingRejected)
    assert [v.code for v in rejection.violations] == ["PERIOD_CLOSED"]


def test_a_version_1_close_naming_no_certificate_closes_every_certificate() -> None:
    version_1 = {
        "schema_version": 1,
        "posting_id": "close-jan",
        "period_kind": "month",
        "period_start": "2026-01-01",
    }
    body = wire.ClosePeriod.model_validate(upcast(wire.ClosePeriod, version_1))
    assert body.certificate_id is None
    state, results, _ = run([*TWO_CERTIFICATES_OF_HOLDCO, (body, EXCHANGE)])
    (closed,) = bodies_of(results[-1])
    assert isinstance(closed, wire.LedgerPeriodClosed) and closed.certificate_id is None
    assert state.closed_through("C-H1") == state.closed_through("C-H2") == date(2026, 1, 31)


def test_a_late_posting_is_decided_by_the_membership_in_force_on_its_date() -> None:
    _, results, _ = run(
        [
            *TWO_CERTIFICATES_OF_HOLDCO,
            sent(certificate("cert-s", "C-S", "SGROUP", SITE_LEVEL)),
            *(sent(step) for step in member("S1", "C-S")),
            sent(received("in-s", "S1", 100)),
            sent(leave("leave-x1", "X1", "C-H1", 10, TAKE)),
            sent(leave("leave-s1", "S1", "C-S", 10, TAKE)),
            sent(received("late-g", "X1", 40, level=G, holder="HOLDCO", on=9)),
            sent(received("late-s", "S1", 40, on=9)),
        ]
    )
    late_g, late_s = results[-2:]
    assert late_g.outcome is Outcome.BOOKED
    (_, update) = bodies_of(late_g)
    assert isinstance(update, CustodyBalanceUpdated)
    assert (update.account.key, update.balance_kg) == ("HOLDCO/asi_aluminium/G@C-H1", 40)
    assert late_s.outcome is Outcome.REJECTED
    (rejection,) = bodies_of(late_s)
    assert isinstance(rejection, wire.LedgerPostingRejected)
    (violation,) = rejection.violations
    assert violation.code == "MEMBERSHIP_ORDER"
    assert "its S balances there were settled then" in violation.message


def test_only_a_nominated_site_of_a_group_certificate_runs_site_level_accounting() -> None:
    state, results, _ = run(
        [
            sent(certificate("cert-3", "C-SUD", "SUDGROUP", GROUP_LEVEL, separate=True)),
            *(sent(step) for step in member("Q1", "C-SUD", nominated=True)),
            *(sent(step) for step in member("U1", "C-SUD")),
            sent(received("in-q", "Q1", 100)),
            sent(received("in-u", "U1", 100)),
            sent(received("in-g", "U1", 500, level=G, holder="SUDGROUP")),
            sent(allocated("alloc-q", "Q1", 200)),
            sent(allocated("back", "Q1", 50, from_level=S, to_level=G)),
        ]
    )
    at_q, at_u, at_group, allocation, back = results[-5:]
    assert (at_q.outcome, at_group.outcome, allocation.outcome) == (Outcome.BOOKED,) * 3
    assert [rejected_codes(r) for r in (at_u, back)] == [
        ["SITE_NOT_NOMINATED"],
        ["SITE_MATERIAL_TO_GROUP"],
    ]
    assert balances(state) == {
        "Q1/asi_aluminium/site/S@C-SUD": Decimal(300),
        "SUDGROUP/asi_aluminium/G@C-SUD": Decimal(300),
    }


def test_a_version_1_join_nominates_no_site() -> None:
    version_1 = {
        "schema_version": 1,
        "posting_id": "join-u",
        "site_id": "U1",
        "certificate_id": "C-H1",
        "effective_on": "2026-03-01",
    }
    body = wire.JoinCertificate.model_validate(upcast(wire.JoinCertificate, version_1))
    assert body.nominated is False
    state, results, _ = run(
        [
            sent(certificate("cert-1", "C-H1", "HOLDCO", GROUP_LEVEL)),
            sent(registered("site-U1", "U1")),
            (body, EXCHANGE),
        ]
    )
    assert results[-1].outcome is Outcome.BOOKED
    membership = state.membership_on("U1", date(2026, 3, 1))
    assert membership is not None and not membership.nominated


def rejected_codes(result: LedgerProcessed) -> list[str]:
    (rejection,) = bodies_of(result)
    assert isinstance(rejection, wire.LedgerPostingRejected)
    return [violation.code for violation in rejection.violations]


def test_a_transfer_is_in_transit_until_its_matching_receipt_credits_the_receiver() -> None:
    dispatch = shipped("transfer-1", "Y1", "Y2", 60)
    state, results, _ = run(
        [
            sent(certificate("cert-y", "C-Y", "YGROUP", SITE_LEVEL)),
            *(sent(step) for step in (*member("Y1", "C-Y"), *member("Y2", "C-Y"))),
            sent(received("in-1", "Y1", 100)),
            sent(dispatch),
            sent(sold("out-y2", "Y2", 10)),
            sent(replace(arrived("receipt-0", dispatch), material_quality="aluminium")),
            sent(arrived("receipt-1", dispatch)),
            sent(arrived("receipt-2", dispatch)),
        ]
    )
    dispatched, in_transit, mismatched, booked, again = results[-5:]
    assert dispatched.outcome is Outcome.BOOKED
    assert [rejected_codes(r) for r in (in_transit, mismatched, again)] == [
        ["OVERDRAW"],
        ["RECEIPT_MISMATCH"],
        ["TRANSFER_ALREADY_RECEIVED"],
    ]
    assert booked.outcome is Outcome.BOOKED
    assert balances(state) == {
        "Y1/asi_aluminium/S@C-Y": Decimal(40),
        "Y2/asi_aluminium/S@C-Y": Decimal(60),
    }
    assert not state.transits
