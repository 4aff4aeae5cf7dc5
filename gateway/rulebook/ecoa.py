"""eCOA acceptance (SCR 4.1-4.7): who may create which kind, when, and what it must show."""

from __future__ import annotations

from datetime import date

from contracts.ecoa import ECoACreated, ECoAKind
from contracts.values import CastAnalysis, PartyRole
from gateway.rulebook.chemistry import check_chemistry, filtration_violations
from gateway.rulebook.decisions import ECoADecision
from gateway.rulebook.model import ContractRules, Rulebook, Specification
from gateway.rulebook.recorded_casts import (
    StatedChemistry,
    as_recorded,
    disagreement_rule,
    disagreements,
)
from gateway.rulebook.state import (
    BrandView,
    CertifiedCast,
    RecordedCast,
    levels_of,
    normalised_cast_reference,
)
from gateway.violations import Violation

BASIC_CREATORS = frozenset(
    {PartyRole.MEMBER, PartyRole.WAREHOUSE, PartyRole.PRODUCER, PartyRole.PERMITTED_PARTY}
)
PAPER_COA_FIELDS = ("reference", "issued_on", "issuer", "document_sha256")


def decide_ecoa(ecoa: ECoACreated, brand: BrandView, rulebook: Rulebook) -> ECoADecision:
    """Accept or reject an eCOA, listing every rule it breaks."""
    contract = rulebook.contracts[ecoa.contract]
    violations = [
        *_brand_listed(ecoa, brand, contract),
        *_cast_references(ecoa, brand),
        *_creator_and_kind(ecoa, brand, rulebook),
        *_documentation_language(ecoa, contract),
    ]
    specification = rulebook.specifications.get(ecoa.specification_claimed)
    if specification is None or ecoa.specification_claimed not in contract.specifications:
        violations.append(_specification_not_of_contract(ecoa, contract))
    else:
        violations.extend(_quality(ecoa, specification, contract))
    if violations or specification is None:
        return ECoADecision(
            ecoa_id=ecoa.ecoa_id,
            brand=ecoa.brand,
            kind=ecoa.kind,
            violations=tuple(violations),
            certified=(),
        )
    return ECoADecision(
        ecoa_id=ecoa.ecoa_id,
        brand=ecoa.brand,
        kind=ecoa.kind,
        violations=(),
        certified=_certified_casts(ecoa),
        rules_applied=_rules_applied(ecoa, specification, contract, rulebook),
    )


_BASIC_CREATOR_RULES = {
    PartyRole.MEMBER: "SCR 4.4(a)",
    PartyRole.WAREHOUSE: "SCR 4.4(b)",
    PartyRole.PRODUCER: "SCR 4.4(c)",
    PartyRole.PERMITTED_PARTY: "SCR 4.4(d)",
}


def _rules_applied(
    ecoa: ECoACreated, specification: Specification, contract: ContractRules, rulebook: Rulebook
) -> tuple[str, ...]:
    """What an accepted eCOA was accepted under: the brand's listing, the specification, a
    valid eCOA (SCR 4.5), and who may create it: the producer's Enhanced eCOA (SCR 4.6), a
    warehouse's Basic one for metal of unknown production date from the notice date (SCR
    4.3), or a Basic one by one of the SCR 4.4 creators from a paper COA (SCR 4.7(a))."""
    rules = [
        contract.rule("brand_listed"),
        f"{contract.name} {specification.rule}",
        "SCR 4.5",
    ]
    if ecoa.kind is ECoAKind.ENHANCED:
        rules.append("SCR 4.6")
    else:
        unknown_after_notice = ecoa.created_on >= rulebook.cbam.notice_date and any(
            cast.production_date is None for cast in ecoa.casts
        )
        rules.append(
            "SCR 4.3" if unknown_after_notice else _BASIC_CREATOR_RULES[ecoa.created_by_role]
        )
        rules.append("SCR 4.7(a)")
    if ecoa.includes_english:
        rules.append(contract.rule("english"))
    return tuple(rules)


def _certified_casts(ecoa: ECoACreated) -> tuple[CertifiedCast, ...]:
    return tuple(
        CertifiedCast(
            ecoa_id=ecoa.ecoa_id,
            kind=ecoa.kind,
            cast_reference=cast.cast_reference,
            production_date=cast.production_date,
            specification=ecoa.specification_claimed,
            created_on=ecoa.created_on,
            chemistry=levels_of(cast.chemistry),
            production_filtered=cast.production_filtered,
        )
        for cast in ecoa.casts
    )


def _brand_listed(ecoa: ECoACreated, brand: BrandView, contract: ContractRules) -> list[Violation]:
    if brand.record is None:
        return [
            Violation(
                code="BRAND_NOT_LISTED",
                rule=contract.rule("brand_listed"),
                field="brand",
                observed=ecoa.brand,
                allowed="a brand listed as good delivery",
                message=f"brand {ecoa.brand} is not listed",
            )
        ]
    if ecoa.contract not in brand.record.contracts:
        return [
            Violation(
                code="BRAND_NOT_LISTED_FOR_CONTRACT",
                rule=contract.rule("brand_listed"),
                field="contract",
                observed=ecoa.contract.value,
                allowed=", ".join(c.value for c in brand.record.contracts),
                message=f"brand {ecoa.brand} is not listed for the {contract.name} contract",
            )
        ]
    return []


def _specification_not_of_contract(ecoa: ECoACreated, contract: ContractRules) -> Violation:
    return Violation(
        code="SPECIFICATION_NOT_OF_CONTRACT",
        rule=contract.rule("quality"),
        field="specification_claimed",
        observed=ecoa.specification_claimed,
        allowed=", ".join(contract.specifications),
        message=f"{ecoa.specification_claimed} is not a specification of the "
        f"{contract.name} contract",
    )


def _quality(
    ecoa: ECoACreated, specification: Specification, contract: ContractRules
) -> list[Violation]:
    found: list[Violation] = []
    cutoff = specification.warrants_created_until
    if cutoff is not None and ecoa.created_on > cutoff:
        found.append(
            Violation(
                code="SPECIFICATION_NO_LONGER_APPLIES",
                rule=f"{contract.name} {specification.rule}",
                field="specification_claimed",
                observed=f"{specification.designation}, eCOA created {ecoa.created_on}",
                allowed=f"only for warrants created up to {cutoff}",
                message=f"{specification.designation} applies only to warrants created up to "
                f"{cutoff}",
            )
        )
    for index, cast in enumerate(ecoa.casts):
        detected = {level.element: level.detected_percent for level in cast.chemistry}
        found.extend(
            check_chemistry(
                specification,
                detected,
                field=f"casts[{index}].chemistry",
                rule=f"{contract.name} {specification.rule}",
            )
        )
        found.extend(
            filtration_violations(
                specification,
                cast.production_filtered,
                field=f"casts[{index}].production_filtered",
                rule=contract.rule("quality"),
                cast_reference=cast.cast_reference,
            )
        )
    return found


def _cast_references(ecoa: ECoACreated, brand: BrandView) -> list[Violation]:
    found: list[Violation] = []
    seen: set[str] = set()
    for index, cast in enumerate(ecoa.casts):
        field = f"casts[{index}].cast_reference"
        if cast.cast_reference in seen:
            found.append(
                Violation(
                    code="DUPLICATE_CAST_REFERENCE",
                    rule="SCR 4.5",
                    field=field,
                    observed=cast.cast_reference,
                    allowed="each cast once",
                    message=f"cast {cast.cast_reference} is listed twice",
                )
            )
        seen.add(cast.cast_reference)
        recorded = brand.recorded_cast(cast.cast_reference)
        near = None if recorded is not None else _recorded_read_as(brand, cast.cast_reference)
        if near is not None:
            found.append(
                Violation(
                    code="CAST_REFERENCE_NOT_IDENTICAL",
                    rule="SCR 4.5",
                    field=field,
                    observed=cast.cast_reference,
                    allowed=near.cast_reference,
                    message=f"cast {cast.cast_reference} differs from the producer's recorded "
                    f"cast {near.cast_reference}; the references must be identical",
                )
            )
        if (
            recorded is not None
            and cast.production_date is not None
            and cast.production_date != recorded.production_date
        ):
            found.append(
                Violation(
                    code="CAST_PRODUCTION_DATE_MISMATCH",
                    rule="SCR 4.5",
                    field=f"casts[{index}].production_date",
                    observed=str(cast.production_date),
                    allowed=str(recorded.production_date),
                    message=f"cast {cast.cast_reference} was recorded as produced on "
                    f"{recorded.production_date}",
                )
            )
        if recorded is not None:
            found.extend(_chemistry_not_as_recorded(ecoa, index, cast, recorded))
    return found


def _chemistry_not_as_recorded(
    ecoa: ECoACreated, index: int, cast: CastAnalysis, recorded: RecordedCast
) -> list[Violation]:
    """The eCOA must show the levels its cast's producer recorded (SCR 4.5; a Basic eCOA's
    creator must enter the correct information, SCR 4.7(b))."""
    expected = as_recorded(recorded)
    if expected is None:
        return []
    certified = StatedChemistry(
        levels_of(cast.chemistry), cast.production_filtered, f"certified by eCOA {ecoa.ecoa_id}"
    )
    return disagreements(
        certified, expected, field=f"casts[{index}]", rule=disagreement_rule(ecoa.kind)
    )


def _recorded_read_as(brand: BrandView, cast_reference: str) -> RecordedCast | None:
    """A recorded cast of the brand whose reference reads the same as ``cast_reference``."""
    for reference in brand.casts_read_as(normalised_cast_reference(cast_reference)):
        recorded = brand.recorded_cast(reference)
        if recorded is not None:
            return recorded
    return None


def _creator_and_kind(ecoa: ECoACreated, brand: BrandView, rulebook: Rulebook) -> list[Violation]:
    notice = rulebook.cbam.notice_date
    producer_id = brand.record.producer_id if brand.record else None
    by_the_producer = ecoa.created_by_role is PartyRole.PRODUCER and ecoa.created_by == producer_id
    if ecoa.kind is ECoAKind.ENHANCED:
        if by_the_producer:
            return []
        return [
            Violation(
                code="ENHANCED_NOT_BY_PRODUCER",
                rule="SCR 4.6",
                field="created_by",
                observed=f"{ecoa.created_by} ({ecoa.created_by_role.value})",
                allowed=f"{producer_id or 'the brand producer'} (producer)",
                message="an Enhanced eCOA may only be created by the producer of the metal",
            )
        ]
    found: list[Violation] = []
    if ecoa.created_by_role is PartyRole.PRODUCER and not by_the_producer:
        found.append(
            Violation(
                code="BASIC_CREATOR_NOT_PERMITTED",
                rule="SCR 4.4(c)",
                field="created_by",
                observed=ecoa.created_by,
                allowed=f"{producer_id or 'the brand producer'}",
                message="a producer may create a Basic eCOA only for its own metal",
            )
        )
    if ecoa.created_by_role not in BASIC_CREATORS:
        found.append(
            Violation(
                code="BASIC_CREATOR_NOT_PERMITTED",
                rule="SCR 4.4",
                field="created_by_role",
                observed=ecoa.created_by_role.value,
                allowed=", ".join(sorted(role.value for role in BASIC_CREATORS)),
                message=f"a {ecoa.created_by_role.value} may not create a Basic eCOA",
            )
        )
    if ecoa.created_by_role is PartyRole.PRODUCER and any(
        cast.production_date is not None and cast.production_date >= notice for cast in ecoa.casts
    ):
        found.append(
            Violation(
                code="PRODUCER_ECOA_MUST_BE_ENHANCED",
                rule="SCR 4.6",
                field="kind",
                observed="basic",
                allowed="enhanced",
                message=f"every eCOA a producer creates for metal produced on or after "
                f"{notice} must be Enhanced",
            )
        )
    for index, cast in enumerate(ecoa.casts):
        found.extend(_basic_allowed_for_cast(ecoa, index, cast, brand, notice))
    found.extend(_paper_coa(ecoa))
    return found


def _basic_allowed_for_cast(
    ecoa: ECoACreated, index: int, cast: CastAnalysis, brand: BrandView, notice: date
) -> list[Violation]:
    field = f"casts[{index}]"
    certificates = brand.certificates_of(cast.cast_reference)
    if cast.production_date is not None:
        found = []
        if cast.production_date >= notice and ecoa.created_by_role is not PartyRole.PRODUCER:
            found.append(
                Violation(
                    code="BASIC_FOR_METAL_PRODUCED_AFTER_NOTICE",
                    rule="SCR 4.2",
                    field=f"{field}.production_date",
                    observed=str(cast.production_date),
                    allowed=f"before {notice}",
                    message=f"cast {cast.cast_reference} was produced on or after {notice}: "
                    "only an Enhanced eCOA by its producer makes it warrantable",
                )
            )
        if any(certificate.kind is ECoAKind.ENHANCED for certificate in certificates):
            found.append(
                Violation(
                    code="BASIC_WHERE_ENHANCED_EXISTS",
                    rule="SCR 4.4",
                    field=f"{field}.cast_reference",
                    observed=cast.cast_reference,
                    allowed="a cast without an Enhanced eCOA",
                    message=f"cast {cast.cast_reference} already has an Enhanced eCOA by "
                    "its producer",
                )
            )
        return found
    if ecoa.created_on < notice:
        return []
    # From the notice date, a cast of unknown production date: SCR 4.3.
    found = []
    if ecoa.created_by_role is not PartyRole.WAREHOUSE or ecoa.lot_id is None:
        found.append(
            Violation(
                code="UNKNOWN_PRODUCTION_DATE_NOT_BY_WAREHOUSE",
                rule="SCR 4.3",
                field=f"{field}.production_date",
                observed=f"unknown; created by a {ecoa.created_by_role.value}"
                + ("" if ecoa.lot_id else ", no lot_id"),
                allowed="a warehouse's Basic eCOA for its lot (lot_id given)",
                message="from the notice date, a Basic eCOA for metal of unknown production "
                "date may be created only by the warehouse holding the lot",
            )
        )
    if certificates:
        found.append(
            Violation(
                code="BASIC_WHERE_ECOA_EXISTS",
                rule="SCR 4.3",
                field=f"{field}.cast_reference",
                observed=cast.cast_reference,
                allowed="a cast not accompanied by an eCOA",
                message=f"cast {cast.cast_reference} already has eCOA {certificates[0].ecoa_id}",
            )
        )
    return found


def _paper_coa(ecoa: ECoACreated) -> list[Violation]:
    if ecoa.paper_coa is None:
        return [
            Violation(
                code="PAPER_COA_MISSING",
                rule="SCR 4.7(a)",
                field="paper_coa",
                observed=None,
                allowed="the uploaded paper COA: " + ", ".join(PAPER_COA_FIELDS),
                message="a Basic eCOA is made from the complete and correct paper COA, "
                "which is missing",
            )
        ]
    return [
        Violation(
            code="PAPER_COA_INCOMPLETE",
            rule="SCR 4.7(a)",
            field=f"paper_coa.{name}",
            observed=None,
            allowed="present",
            message=f"the paper COA's {name.replace('_', ' ')} is missing",
        )
        for name in PAPER_COA_FIELDS
        if getattr(ecoa.paper_coa, name) is None
    ]


def _documentation_language(ecoa: ECoACreated, contract: ContractRules) -> list[Violation]:
    if ecoa.includes_english is not False:
        return []
    return [
        Violation(
            code="DOCUMENTATION_NOT_IN_ENGLISH",
            rule=contract.rule("english"),
            field="includes_english",
            observed="false",
            allowed="true",
            message="all documentation for placing metal on warrant must include English",
        )
    ]
