"""Issue 11's ledger rules through the pipeline (wire commands in, decisions and balance
updates out): each with a command it books and one it refuses."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from contracts import ledger as wire
from contracts.custody import CustodyBalanceUpdated
from gateway.processors.step import Outcome
from tests.unit.ledger.builders import GROUP_LEVEL, G, certificate, received, sold
from tests.unit.ledger.rejection_rows import member, sent
from tests.unit.test_ledger_pipeline import balances, bodies_of, run

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
