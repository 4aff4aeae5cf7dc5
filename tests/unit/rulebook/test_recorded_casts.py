"""A producer's recorded cast: checked against its specification by the eCOA's chemistry
rules, compared with what its eCOAs certify, and what a lot of such a cast gets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from decimal import Decimal

from contracts.ecoa import ECoAKind
from contracts.values import MetalContract
from gateway.rulebook.decisions import WarrantOutcome
from gateway.rulebook.model import load_rulebook
from gateway.rulebook.recorded_casts import (
    StatedChemistry,
    agree,
    decide_recorded_cast,
    disagreements,
    recorded_cast_violations,
)
from gateway.rulebook.state import BrandState, CertifiedCast, Levels, RecordedCast, levels_of
from gateway.rulebook.violations import MissingKind
from gateway.violations import Violation
from producers.samples import CASTS as SAMPLE_CASTS
from producers.samples import CHEMISTRY
from tests.unit.rulebook.test_warrantability import CASTS, certify, decide, ingot_lot, nordal

RULEBOOK = load_rulebook()
A380_1: Levels = levels_of(CHEMISTRY[SAMPLE_CASTS[0]])
"""A good A380.1 cast: Cu 3.10 %, Si 8.90 %, Fe 0.78 % ..."""


def with_level(levels: Levels, element: str, level: str) -> Levels:
    return tuple((e, Decimal(level) if e == element else v) for e, v in levels)


def recorded(
    levels: Levels | None = A380_1,
    *,
    specification: str | None = "A380.1",
    contract: MetalContract = MetalContract.ALUMINIUM_ALLOY,
    filtered: bool | None = None,
    reference: str = CASTS[0],
) -> RecordedCast:
    return RecordedCast(reference, date(2025, 6, 10), contract, specification, filtered, levels)


def certificate(
    levels: Levels | None = A380_1,
    *,
    ecoa_id: str = "ECOA-1",
    kind: ECoAKind = ECoAKind.ENHANCED,
    filtered: bool | None = None,
    reference: str = CASTS[0],
) -> CertifiedCast:
    return CertifiedCast(
        ecoa_id, kind, reference, date(2025, 6, 10), "A380.1", date(2025, 6, 15), levels, filtered
    )


def codes(violations: Iterable[Violation]) -> list[tuple[str, str | None]]:
    return [(v.code, v.field) for v in violations]


# Against the specification


def test_a_cast_recorded_within_its_specification_is_accepted_under_its_rule() -> None:
    decision = decide_recorded_cast(recorded(), (), RULEBOOK)
    assert decision.accepted
    assert (decision.specification, decision.rules_applied) == (
        "A380.1",
        ("Aluminium Alloy SCR 1(a)(i)",),
    )


def test_a_level_outside_the_specification_is_named_with_observed_and_allowed() -> None:
    [violation] = recorded_cast_violations(recorded(with_level(A380_1, "Cu", "3.51")), RULEBOOK)
    assert (violation.code, violation.rule, violation.field) == (
        "ELEMENT_OUT_OF_SPECIFICATION",
        "Aluminium Alloy SCR 1(a)(i)",
        "chemistry.Cu",
    )
    assert (violation.observed, violation.allowed) == ("3.51 %", "2-3.5 % (A380.1)")
    assert recorded_cast_violations(recorded(with_level(A380_1, "Cu", "3.5")), RULEBOOK) == ()


def test_a_record_must_show_each_element_its_specification_limits() -> None:
    [violation] = recorded_cast_violations(recorded(A380_1[1:]), RULEBOOK)
    assert (violation.code, violation.rule, violation.field) == (
        "ELEMENT_NOT_REPORTED",
        "Aluminium Alloy SCR 1(a)(i)",
        "chemistry.Cu",
    )
    assert violation.message.startswith("the recorded cast must show the detected level of Cu")


def test_a_record_without_a_specification_of_its_contract_cannot_be_checked() -> None:
    assert codes(recorded_cast_violations(recorded(specification=None), RULEBOOK)) == [
        ("SPECIFICATION_NOT_STATED", "specification")
    ]
    assert codes(recorded_cast_violations(recorded(specification="NA380.1"), RULEBOOK)) == [
        ("SPECIFICATION_NOT_OF_CONTRACT", "specification")
    ]


def test_nasaac_casts_must_be_recorded_as_filtered() -> None:
    nasaac = tuple(
        (element, Decimal(level))
        for element, level in (
            *(("Cu", "3.2"), ("Si", "9.0"), ("Fe", "0.9"), ("Mg", "0.05"), ("Zn", "1.0")),
            *(("Mn", "0.3"), ("Ni", "0.1"), ("Sn", "0.05"), ("Pb", "0.05"), ("Ti", "0.05")),
            ("Cr", "0.05"),
        )
    )
    cast = recorded(nasaac, specification="NA380.1", contract=MetalContract.NASAAC)
    assert codes(recorded_cast_violations(cast, RULEBOOK)) == [
        ("PRODUCTION_NOT_FILTERED", "production_filtered")
    ]
    assert recorded_cast_violations(replace(cast, production_filtered=True), RULEBOOK) == ()


def test_a_cast_whose_chemistry_was_not_kept_is_not_checked() -> None:
    assert recorded_cast_violations(recorded(None, specification=None), RULEBOOK) == ()


# Against the eCOA


def stated(levels: Levels, filtered: bool | None = None) -> StatedChemistry:
    return StatedChemistry(levels, filtered, "as stated")


def test_a_disagreement_is_a_level_both_state_that_is_not_the_same_number() -> None:
    as_written_otherwise = with_level(A380_1, "Cu", "3.1")
    assert agree(stated(A380_1), stated(as_written_otherwise))
    assert agree(stated(A380_1), stated((*A380_1[1:], ("Cr", Decimal("0.01")))))
    differs = stated(with_level(A380_1, "Cu", "3.11"))
    assert not agree(differs, stated(A380_1))
    [violation] = disagreements(differs, stated(A380_1), field="casts[0]", rule="SCR 4.5")
    assert (violation.code, violation.field, violation.observed, violation.allowed) == (
        "CAST_CHEMISTRY_DISAGREES",
        "casts[0].chemistry.Cu",
        "3.11 %",
        "3.1 % (as stated)",
    )


def test_filtration_disagrees_only_where_both_state_it() -> None:
    assert agree(stated(A380_1, True), stated(A380_1, None))
    [violation] = disagreements(stated(A380_1, False), stated(A380_1, True), field="", rule="r")
    assert (violation.field, violation.observed) == ("production_filtered", "not filtered")


def test_a_record_after_its_ecoa_is_compared_with_it_naming_the_ecoa_and_the_creator_rule() -> None:
    other = with_level(A380_1, "Si", "9.2")
    decision = decide_recorded_cast(
        recorded(), (certificate(other, ecoa_id="ECOA-B", kind=ECoAKind.BASIC),), RULEBOOK
    )
    [violation] = decision.violations
    assert (violation.rule, violation.field, violation.allowed) == (
        "SCR 4.5, 4.7(b)",
        "chemistry.Si",
        "9.2 % (certified by eCOA ECOA-B)",
    )
    agreeing = decide_recorded_cast(recorded(), (certificate(),), RULEBOOK)
    assert agreeing.rules_applied == ("Aluminium Alloy SCR 1(a)(i)", "SCR 4.5")


# What a lot of such a cast gets


def brand_with(record: RecordedCast, *certificates: CertifiedCast) -> BrandState:
    brand = nordal()
    return replace(
        brand,
        casts={**brand.casts, record.cast_reference: record},
        certified={**brand.certified, record.cast_reference: certificates},
    )


def test_a_lot_of_a_cast_recorded_off_its_specification_pends_naming_the_record() -> None:
    off = recorded(with_level(A380_1, "Cu", "4.0"))
    decision = decide(ingot_lot(), brand_with(off, certificate(with_level(A380_1, "Cu", "4.0"))))
    assert decision.outcome is WarrantOutcome.PENDING
    assert [(m.kind, m.reference) for m in decision.missing] == [(MissingKind.ECOA, CASTS[0])]
    assert codes(decision.certificate_violations) == [
        ("ELEMENT_OUT_OF_SPECIFICATION", f"recorded_cast[{CASTS[0]}].chemistry.Cu")
    ]


def test_a_lot_is_warranted_on_an_ecoa_that_agrees_with_the_record_not_one_that_does_not() -> None:
    wrong = certificate(with_level(A380_1, "Cu", "3.3"), ecoa_id="ECOA-EARLY")
    held = decide(ingot_lot(), brand_with(recorded(), wrong))
    assert held.outcome is WarrantOutcome.PENDING
    assert codes(held.certificate_violations) == [
        ("CAST_CHEMISTRY_DISAGREES", f"recorded_cast[{CASTS[0]}].chemistry.Cu")
    ]
    right = replace(certificate(ecoa_id="ECOA-LATER"), created_on=date(2025, 7, 1))
    issued = decide(ingot_lot(), brand_with(recorded(), wrong, right))
    assert issued.outcome is WarrantOutcome.ISSUED
    assert issued.terms is not None
    assert "ECOA-LATER" in {c.reference for c in issued.terms.certificates}
    assert "ECOA-EARLY" not in {c.reference for c in issued.terms.certificates}


def test_certificates_of_casts_recorded_without_chemistry_are_not_compared() -> None:
    decision = decide(ingot_lot(), brand_with(recorded(None), *certify([CASTS[0]], "E")[CASTS[0]]))
    assert decision.outcome is WarrantOutcome.ISSUED
