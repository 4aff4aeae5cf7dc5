"""Issue 11: what a warrant decision says about its casts' certificates and its dates: the
rejected eCOA of a cast, the pending limit (item 1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from contracts.ecoa import ECoAKind
from gateway.rulebook.decisions import WarrantDecision, WarrantOutcome
from gateway.rulebook.state import (
    BrandState,
    OpenRequest,
    RejectedCertificate,
    open_request,
)
from gateway.rulebook.state import (
    arrived_lot as arrived,
)
from gateway.rulebook.warrantability import decide_warrant
from gateway.violations import Violation
from tests.unit.rulebook.test_warrantability import (
    CASTS,
    RULEBOOK,
    TODAY,
    ingot_lot,
    nordal,
    request,
    standard_certificates,
)

COPPER_ABOVE_MAXIMUM = Violation(
    code="ELEMENT_OUT_OF_SPECIFICATION",
    rule="Aluminium Alloy SCR 1(a)(i)",
    field="casts[0].chemistry.Cu",
    observed="4.5 %",
    allowed="2-3.5 % (A380.1)",
    message="Cu is 4.5 %, outside 2-3.5 %",
)
REJECTED = RejectedCertificate(
    ecoa_id="ECOA-NRD-9", kind=ECoAKind.ENHANCED, violations=(COPPER_ABOVE_MAXIMUM,)
)
RECEIVED = datetime(2026, 1, 21, 9, tzinfo=UTC)


def brand_with_rejected_first_cast(*, also_accepted: bool = False) -> BrandState:
    certified = standard_certificates()
    if not also_accepted:
        certified = {cast: found for cast, found in certified.items() if cast != CASTS[0]}
    return replace(nordal(certified=certified), rejected={CASTS[0]: REJECTED})


def the_request() -> OpenRequest:
    return open_request(request(), received_at=RECEIVED)


def test_a_cast_whose_only_ecoa_was_rejected_pends_naming_the_broken_rule() -> None:
    decision = decide_warrant(
        the_request(), arrived(ingot_lot()), brand_with_rejected_first_cast(), RULEBOOK, today=TODAY
    )
    assert decision.outcome is WarrantOutcome.PENDING
    [item] = decision.missing
    assert item.reference == CASTS[0]
    assert "ECOA-NRD-9 was rejected: ELEMENT_OUT_OF_SPECIFICATION" in item.message
    [finding] = decision.certificate_violations
    assert (finding.rule, finding.field, finding.observed, finding.allowed) == (
        "Aluminium Alloy SCR 1(a)(i)",
        "ecoa[ECOA-NRD-9].casts[0].chemistry.Cu",
        "4.5 %",
        "2-3.5 % (A380.1)",
    )


def test_a_rejected_ecoa_of_a_cast_that_also_has_an_accepted_one_is_not_reported() -> None:
    decision = decide_warrant(
        the_request(),
        arrived(ingot_lot()),
        brand_with_rejected_first_cast(also_accepted=True),
        RULEBOOK,
        today=TODAY,
    )
    assert decision.outcome is WarrantOutcome.ISSUED
    assert decision.certificate_violations == ()


def test_a_request_pends_up_to_the_limit_and_is_rejected_as_expired_after_it() -> None:
    limit = RULEBOOK.pending_limit

    def decide(now: datetime) -> WarrantDecision:
        return decide_warrant(
            the_request(),
            arrived(ingot_lot()),
            brand_with_rejected_first_cast(),
            RULEBOOK,
            today=now.date(),
            now=now,
        )

    assert decide(RECEIVED + limit).outcome is WarrantOutcome.PENDING
    expired = decide(RECEIVED + limit + timedelta(seconds=1))
    assert expired.outcome is WarrantOutcome.REJECTED
    assert [(v.code, v.rule) for v in expired.violations] == [
        ("WARRANT_REQUEST_EXPIRED", "SCR 4.1 (pending limit)"),
        ("ELEMENT_OUT_OF_SPECIFICATION", "Aluminium Alloy SCR 1(a)(i)"),
    ]
    assert expired.violations[0].allowed == "<= 30 days pending"
    assert expired.violations[0].message.endswith(f"for: {CASTS[0]}")


def test_the_limit_does_not_touch_a_request_that_can_be_decided() -> None:
    late = RECEIVED + timedelta(days=400)
    issued = decide_warrant(
        the_request(), arrived(ingot_lot()), nordal(), RULEBOOK, today=TODAY, now=late
    )
    assert issued.outcome is WarrantOutcome.ISSUED


def test_a_request_kept_without_its_receipt_time_pends_from_its_requested_at() -> None:
    kept = replace(the_request(), received_at=None)
    assert kept.pending_since == kept.requested_at
    expired = decide_warrant(
        kept,
        None,
        nordal(),
        RULEBOOK,
        today=TODAY,
        now=kept.requested_at + RULEBOOK.pending_limit + timedelta(microseconds=1),
    )
    assert [v.code for v in expired.violations] == ["WARRANT_REQUEST_EXPIRED"]
