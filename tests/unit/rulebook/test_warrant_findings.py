"""Issue 11: what a warrant decision says about its casts' certificates and its dates: the
rejected eCOA of a cast, the pending limit (item 1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.ecoa import ECoACreated, ECoAKind
from contracts.values import PartyRole
from gateway.rulebook.decisions import WarrantDecision, WarrantOutcome
from gateway.rulebook.ecoa import decide_ecoa
from gateway.rulebook.state import (
    BrandState,
    OpenRequest,
    RejectedCertificate,
    near_miss_forms,
    open_request,
)
from gateway.rulebook.state import (
    arrived_lot as arrived,
)
from gateway.rulebook.warrantability import decide_warrant
from gateway.violations import Violation
from tests.unit.rulebook.test_ecoa import RULEBOOK as ECOA_RULEBOOK
from tests.unit.rulebook.test_ecoa import basic, enhanced
from tests.unit.rulebook.test_ecoa import brand as ecoa_brand
from tests.unit.rulebook.test_ecoa import cast as ecoa_cast
from tests.unit.rulebook.test_warrantability import (
    CASTS,
    RULEBOOK,
    TODAY,
    certify,
    ingot_lot,
    make_bundles,
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


def test_a_request_kept_without_its_receipt_time_does_not_expire() -> None:
    kept = replace(the_request(), received_at=None)
    long_after = kept.requested_at + 10 * RULEBOOK.pending_limit
    decision = decide_warrant(kept, None, nordal(), RULEBOOK, today=TODAY, now=long_after)
    assert decision.outcome is WarrantOutcome.PENDING


# Item 2: every decision names the rules it applied, issued ones included


def issued_basis(decision: WarrantDecision) -> tuple[str, ...]:
    assert decision.outcome is WarrantOutcome.ISSUED
    return tuple(rule for rule in decision.rules_applied if not rule.startswith("Aluminium"))


def certified_as(
    kind: ECoAKind, *, produced: date | None, created_on: date = date(2025, 6, 15)
) -> BrandState:
    certificates = {
        cast: tuple(
            replace(certificate, kind=kind, production_date=produced, created_on=created_on)
            for certificate in found
        )
        for cast, found in standard_certificates().items()
    }
    if produced is None:
        return nordal(certified=certificates, recorded=())
    return nordal(certified=certificates, produced=produced)


@pytest.mark.parametrize(
    ("kind", "produced", "created_on", "lot_produced", "expected"),
    [
        # Enhanced eCOA + the production year's form (SCR 4.2)
        (ECoAKind.ENHANCED, date(2025, 6, 10), date(2025, 6, 15), date(2025, 6, 10), "SCR 4.2"),
        # produced before the notice date: defaults (§4.1.2), Basic by an SCR 4.4 creator
        (ECoAKind.BASIC, date(2024, 6, 10), date(2025, 6, 15), date(2024, 6, 10), "SCR 4.4"),
        # unknown production date from the notice date: a warehouse's Basic (SCR 4.3)
        (ECoAKind.BASIC, None, date(2025, 6, 15), None, "SCR 4.3"),
        # the producer's Enhanced eCOA of earlier metal (SCR 4.6)
        (ECoAKind.ENHANCED, date(2024, 6, 10), date(2025, 6, 15), date(2024, 6, 10), "SCR 4.6"),
    ],
)
def test_an_issued_warrant_names_the_basis_of_its_certificates_and_emissions(
    kind: ECoAKind,
    produced: date | None,
    created_on: date,
    lot_produced: date | None,
    expected: str,
) -> None:
    decision = decide_warrant(
        the_request(),
        arrived(ingot_lot(production_date=lot_produced)),
        certified_as(kind, produced=produced, created_on=created_on),
        RULEBOOK,
        today=TODAY,
    )
    emissions = "SCR 4.2" if expected == "SCR 4.2" else "§4.1.2"
    assert issued_basis(decision) == tuple(dict.fromkeys(("§4.4", "SCR 4.1", expected, emissions)))


def test_the_previous_years_form_is_named_with_figure_4_until_the_deadline() -> None:
    produced = date(2026, 1, 10)
    decision = decide_warrant(
        the_request(),
        arrived(ingot_lot(production_date=produced)),
        certified_as(ECoAKind.ENHANCED, produced=produced),
        RULEBOOK,
        today=TODAY,
    )
    assert issued_basis(decision) == ("§4.4", "SCR 4.1", "SCR 4.2", "§4.3 Figure 4")
    assert decision.notes == ("brand NORDAL's 2025 form used until 2026's is due (§4.3 Figure 4)",)


def test_a_decision_other_than_issued_names_no_basis() -> None:
    pending = decide_warrant(the_request(), None, nordal(), RULEBOOK, today=TODAY)
    assert pending.rules_applied == ()


@pytest.mark.parametrize(
    ("ecoa", "expected"),
    [
        (enhanced(), ("SCR 4.5", "SCR 4.6")),
        (basic(), ("SCR 4.5", "SCR 4.4(a)", "SCR 4.7(a)")),
        (
            basic(created_by="inspector-1", created_by_role=PartyRole.PERMITTED_PARTY),
            ("SCR 4.5", "SCR 4.4(d)", "SCR 4.7(a)"),
        ),
        (
            basic(
                created_by="WH-1",
                created_by_role=PartyRole.WAREHOUSE,
                lot_id="LOT-1",
                casts=(ecoa_cast(produced=None),),
            ),
            ("SCR 4.5", "SCR 4.3", "SCR 4.7(a)"),
        ),
    ],
)
def test_an_accepted_ecoa_names_the_rules_it_was_accepted_under(
    ecoa: ECoACreated, expected: tuple[str, ...]
) -> None:
    decision = decide_ecoa(ecoa, ecoa_brand(), ECOA_RULEBOOK)
    assert decision.accepted
    assert decision.rules_applied[:2] == (
        "Aluminium Alloy SCR 1(c)",
        "Aluminium Alloy SCR 1(a)(i)",
    )
    assert decision.rules_applied[2:-1] == expected
    assert decision.rules_applied[-1] == "Aluminium Alloy SCR 5.9"  # includes English


def test_a_rejected_ecoa_names_no_basis() -> None:
    decision = decide_ecoa(basic(paper_coa=None), ecoa_brand(), ECOA_RULEBOOK)
    assert not decision.accepted
    assert decision.rules_applied == ()


# Item 3: SCR 4.2 follows the casts' certified and recorded production dates


def test_a_lot_stated_before_the_notice_date_with_casts_certified_after_is_rejected() -> None:
    produced = date(2025, 6, 10)  # nordal()'s casts: certified and recorded so
    decision = decide_warrant(
        the_request(),
        arrived(ingot_lot(production_date=date(2024, 12, 1))),
        nordal(forms={}),
        RULEBOOK,
        today=TODAY,
    )
    assert decision.outcome is WarrantOutcome.REJECTED
    [violation] = decision.violations
    assert (violation.code, violation.rule, violation.observed, violation.allowed) == (
        "LOT_PRODUCTION_DATE_NOT_CERTIFIED",
        "SCR 4.1, 4.2",
        "2024-12-01",
        f"{produced} (the casts' certified and recorded production dates)",
    )


def test_a_lot_without_a_stated_date_is_decided_by_its_casts_dates() -> None:
    pending = decide_warrant(
        the_request(),
        arrived(ingot_lot(production_date=None)),
        nordal(forms={}),
        RULEBOOK,
        today=TODAY,
    )
    assert pending.outcome is WarrantOutcome.PENDING
    assert [(m.reference, m.rule) for m in pending.missing] == [
        ("brand NORDAL year 2025", "SCR 4.2")
    ]


def test_a_stated_date_within_the_casts_dates_is_no_finding() -> None:
    certified = {
        **certify(CASTS[:2], "ECOA-A", produced=date(2025, 6, 1)),
        **certify(CASTS[2:], "ECOA-B", produced=date(2025, 6, 20)),
    }
    brand = nordal(certified=certified, recorded=())
    within = arrived(ingot_lot(production_date=date(2025, 6, 10)))
    outside = arrived(ingot_lot(production_date=date(2025, 6, 21)))
    assert decide_warrant(the_request(), within, brand, RULEBOOK, today=TODAY).violations == ()
    rejected = decide_warrant(the_request(), outside, brand, RULEBOOK, today=TODAY)
    assert [(v.code, v.allowed) for v in rejected.violations] == [
        (
            "LOT_PRODUCTION_DATE_NOT_CERTIFIED",
            "2025-06-01 to 2025-06-20 (the casts' certified and recorded production dates)",
        )
    ]


def test_a_recorded_date_after_the_notice_date_asks_an_enhanced_ecoa_of_a_basic_one() -> None:
    """The warehouse's Basic eCOA of unknown production date (SCR 4.3) does not make SCR 4.2
    go away when the producer recorded the cast as produced after the notice date."""
    basic_unknown = certify(CASTS, "ECOA-WH-1", kind=ECoAKind.BASIC, produced=None)
    decision = decide_warrant(
        the_request(),
        arrived(ingot_lot(production_date=None)),
        nordal(certified=basic_unknown),
        RULEBOOK,
        today=TODAY,
    )
    assert decision.outcome is WarrantOutcome.PENDING
    assert {(m.kind.value, m.rule) for m in decision.missing} == {("enhanced_ecoa", "SCR 4.2")}


def test_basic_ecoas_of_casts_produced_before_the_notice_date_need_no_enhanced_one() -> None:
    early = date(2024, 6, 10)
    basic = certify(CASTS, "ECOA-M-1", kind=ECoAKind.BASIC, produced=early)
    decision = decide_warrant(
        the_request(),
        arrived(ingot_lot(production_date=None)),
        nordal(certified=basic, produced=early, forms={}),
        RULEBOOK,
        today=TODAY,
    )
    assert decision.outcome is WarrantOutcome.ISSUED
    assert decision.terms is not None and decision.terms.emissions.form_id is None


# Item 4: near-miss cast references


@pytest.mark.parametrize(
    ("marked", "meant"),
    [
        ("NRD-25-1O1", "NRD-25-101"),  # letter O for zero
        ("NRD-25-I01", "NRD-25-101"),  # capital I for one
        ("NRD-25-l01", "NRD-25-101"),  # small l for one
        ("NRD-25-110", "NRD-25-101"),  # two adjacent characters transposed
        ("NRD-52-101", "NRD-25-101"),
        ("nrd 25 101", "NRD-25-101"),  # case, spaces and hyphens, as before
    ],
)
def test_a_reference_one_slip_from_a_known_cast_is_a_mismatch_naming_it(
    marked: str, meant: str
) -> None:
    casts = (marked, *CASTS[1:])
    the_lot = ingot_lot(
        cast_references=casts, bundles=make_bundles(20, pieces=125, piece_kg="8", casts=casts)
    )
    decision = decide_warrant(the_request(), arrived(the_lot), nordal(), RULEBOOK, today=TODAY)
    assert decision.outcome is WarrantOutcome.REJECTED
    assert [(v.code, v.field, v.observed, v.allowed) for v in decision.violations] == [
        ("CAST_REFERENCE_NOT_IDENTICAL", "cast_references[0]", marked, meant)
    ]


def test_real_casts_that_look_alike_are_each_their_own() -> None:
    """B10 and B1O both certified: a lot of both is issued; B1O only recorded, not yet
    certified, waits for its eCOA rather than being read as B10."""
    casts = ("B10", "B1O")
    the_lot = ingot_lot(
        cast_references=casts, bundles=make_bundles(20, pieces=125, piece_kg="8", casts=casts)
    )
    both = nordal(certified=certify(casts, "ECOA-B"), recorded=casts)
    issued = decide_warrant(the_request(), arrived(the_lot), both, RULEBOOK, today=TODAY)
    assert issued.outcome is WarrantOutcome.ISSUED
    one = nordal(certified=certify(casts[:1], "ECOA-B"), recorded=casts)
    pending = decide_warrant(the_request(), arrived(the_lot), one, RULEBOOK, today=TODAY)
    assert pending.outcome is WarrantOutcome.PENDING
    assert [m.reference for m in pending.missing] == ["B1O"]


def test_a_reference_alike_to_several_casts_names_them_all() -> None:
    casts = ("B1O", "CAST-9")
    the_lot = ingot_lot(
        cast_references=casts, bundles=make_bundles(20, pieces=125, piece_kg="8", casts=casts)
    )
    brand = nordal(certified=certify(("B10", "BIO", "CAST-9"), "ECOA-B"), recorded=())
    decision = decide_warrant(the_request(), arrived(the_lot), brand, RULEBOOK, today=TODAY)
    assert [v.allowed for v in decision.violations] == ["B10, BIO"]


def test_the_forms_one_slip_away_are_look_alikes_and_adjacent_transpositions() -> None:
    assert set(near_miss_forms("B-1O")) == {"bio", "blo", "b10", "bo1", "1bo"}
    assert near_miss_forms("AA") == ()
