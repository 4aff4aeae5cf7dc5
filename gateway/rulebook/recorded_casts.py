"""A producer's recorded cast, held to the eCOA's chemistry rules: against the specification
it was cast to (SCR 1(a)), and against what its eCOAs certify (SCR 4.5, 4.7(b)).

A disagreement is a level of an element that both the record and the eCOA state and that is
not the same number, or a filtration both state differently. No tolerance: the source gives
none, and limits are compared exactly too. An element only one of them states is not a
disagreement (a record may hold more elements than the certificate shows; whether the eCOA
shows each element its specification limits is SCR 4.5's own check). Each check reads one
cast and its few certificates: its cost does not grow with the brand's casts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from contracts.ecoa import ECoAKind
from gateway.rulebook.chemistry import check_chemistry, filtration_violations
from gateway.rulebook.decisions import RecordedCastDecision
from gateway.rulebook.model import Rulebook
from gateway.rulebook.state import CertifiedCast, Levels, RecordedCast
from gateway.violations import Violation, shown

CHEMISTRY_DISAGREES = "CAST_CHEMISTRY_DISAGREES"


@dataclass(frozen=True)
class StatedChemistry:
    """What one document states of a cast's chemistry, and how a message names it."""

    levels: Levels
    production_filtered: bool | None
    stated_by: str
    """E.g. "recorded for cast C26-0101", "certified by eCOA ECOA-1"."""


def as_recorded(recorded: RecordedCast) -> StatedChemistry | None:
    if recorded.chemistry is None:
        return None
    return StatedChemistry(
        recorded.chemistry,
        recorded.production_filtered,
        f"recorded for cast {recorded.cast_reference}",
    )


def as_certified(certificate: CertifiedCast) -> StatedChemistry | None:
    if certificate.chemistry is None:
        return None
    return StatedChemistry(
        certificate.chemistry,
        certificate.production_filtered,
        f"certified by eCOA {certificate.ecoa_id}",
    )


def disagreement_rule(kind: ECoAKind) -> str:
    """The eCOA must show the detected levels (SCR 4.5); a Basic eCOA's creator must enter
    the correct information (SCR 4.7(b))."""
    return "SCR 4.5" if kind is ECoAKind.ENHANCED else "SCR 4.5, 4.7(b)"


def _differing_levels(
    observed: StatedChemistry, expected: StatedChemistry
) -> list[tuple[str, Decimal, Decimal]]:
    """(element, observed level, expected level) of each element both state differently."""
    stated = dict(expected.levels)
    return [
        (element, level, other)
        for element, level in observed.levels
        if (other := stated.get(element)) is not None and other != level
    ]


def _filtration_differs(observed: StatedChemistry, expected: StatedChemistry) -> bool:
    filtered, other = observed.production_filtered, expected.production_filtered
    return filtered is not None and other is not None and filtered != other


def agree(one: StatedChemistry, other: StatedChemistry) -> bool:
    return not _differing_levels(one, other) and not _filtration_differs(one, other)


def disagreements(
    observed: StatedChemistry, expected: StatedChemistry, *, field: str, rule: str
) -> list[Violation]:
    """Where ``observed`` (the message decided, at ``field``) disagrees with ``expected``."""
    prefix = f"{field}." if field else ""
    found = [
        Violation(
            code=CHEMISTRY_DISAGREES,
            rule=rule,
            field=f"{prefix}chemistry.{element}",
            observed=f"{shown(level)} %",
            allowed=f"{shown(other)} % ({expected.stated_by})",
            message=f"{element} is {shown(level)} % {observed.stated_by} but "
            f"{shown(other)} % {expected.stated_by}; the eCOA must show the detected "
            "levels of the cast",
        )
        for element, level, other in _differing_levels(observed, expected)
    ]
    if _filtration_differs(observed, expected):
        found.append(
            Violation(
                code=CHEMISTRY_DISAGREES,
                rule=rule,
                field=f"{prefix}production_filtered",
                observed=_filtered(observed),
                allowed=f"{_filtered(expected)} ({expected.stated_by})",
                message=f"production is {_filtered(observed)} {observed.stated_by} but "
                f"{_filtered(expected)} {expected.stated_by}",
            )
        )
    return found


def _filtered(chemistry: StatedChemistry) -> str:
    return "filtered" if chemistry.production_filtered else "not filtered"


def recorded_cast_violations(recorded: RecordedCast, rulebook: Rulebook) -> tuple[Violation, ...]:
    """The recorded cast against the specification it states it was cast to, by the rules an
    eCOA's chemistry is held to; none for a cast whose chemistry was not kept."""
    if recorded.chemistry is None:
        return ()
    contract = rulebook.contracts[recorded.contract]
    quality_rule = contract.rule("quality")
    designation = recorded.specification
    if designation is None:
        return (
            Violation(
                code="SPECIFICATION_NOT_STATED",
                rule=quality_rule,
                field="specification",
                observed=None,
                allowed=", ".join(contract.specifications),
                message=f"cast {recorded.cast_reference} states no specification it was cast "
                "to, so its chemistry cannot be shown to meet one",
            ),
        )
    specification = rulebook.specifications.get(designation)
    if specification is None or designation not in contract.specifications:
        return (
            Violation(
                code="SPECIFICATION_NOT_OF_CONTRACT",
                rule=quality_rule,
                field="specification",
                observed=designation,
                allowed=", ".join(contract.specifications),
                message=f"{designation} is not a specification of the {contract.name} contract",
            ),
        )
    rule = f"{contract.name} {specification.rule}"
    found = check_chemistry(
        specification,
        dict(recorded.chemistry),
        field="chemistry",
        rule=rule,
        shown_in="the recorded cast",
        unreported_rule=rule,
    )
    found.extend(
        filtration_violations(
            specification,
            recorded.production_filtered,
            field="production_filtered",
            rule=quality_rule,
            cast_reference=recorded.cast_reference,
        )
    )
    return tuple(found)


def agreeing(
    recorded: RecordedCast | None, certificates: tuple[CertifiedCast, ...]
) -> tuple[CertifiedCast, ...]:
    """The certificates whose chemistry agrees with the cast's record (all of them when the
    record's or a certificate's chemistry is not known)."""
    stated = None if recorded is None else as_recorded(recorded)
    if stated is None:
        return certificates
    return tuple(
        certificate
        for certificate in certificates
        if (certified := as_certified(certificate)) is None or agree(stated, certified)
    )


def lot_findings(
    recorded: RecordedCast, certificates: tuple[CertifiedCast, ...], rulebook: Rulebook
) -> tuple[Violation, ...]:
    """What keeps a recorded cast from backing a warrant: its record off its specification,
    or a disagreement with every accepted eCOA of the cast (named with the first accepted),
    each field prefixed with the recorded cast."""
    found = list(recorded_cast_violations(recorded, rulebook))
    stated = as_recorded(recorded)
    if not found and stated is not None and certificates and not agreeing(recorded, certificates):
        first = certificates[0]
        certified = as_certified(first)
        if certified is not None:
            found = disagreements(stated, certified, field="", rule=disagreement_rule(first.kind))
    prefix = f"recorded_cast[{recorded.cast_reference}]"
    return tuple(
        replace(
            violation,
            field=f"{prefix}.{violation.field}" if violation.field else prefix,
            message=f"cast {recorded.cast_reference} as recorded: {violation.message}",
        )
        for violation in found
    )


def decide_recorded_cast(
    recorded: RecordedCast, certificates: Iterable[CertifiedCast], rulebook: Rulebook
) -> RecordedCastDecision:
    """Check a cast as its producer recorded it (its chemistry kept): against its
    specification, and against every accepted eCOA of the cast already there (the record
    may come after its eCOA)."""
    violations = list(recorded_cast_violations(recorded, rulebook))
    stated = as_recorded(recorded)
    compared = False
    for certificate in certificates:
        certified = as_certified(certificate)
        if stated is None or certified is None:
            continue
        compared = True
        violations.extend(
            disagreements(stated, certified, field="", rule=disagreement_rule(certificate.kind))
        )
    if violations or recorded.specification is None:
        return RecordedCastDecision(recorded.cast_reference, tuple(violations))
    contract = rulebook.contracts[recorded.contract]
    specification = rulebook.specifications[recorded.specification]
    rules = [f"{contract.name} {specification.rule}"]
    if specification.filtration_required:
        rules.append(contract.rule("quality"))
    if compared:
        rules.append("SCR 4.5")
    return RecordedCastDecision(
        recorded.cast_reference,
        (),
        specification=recorded.specification,
        rules_applied=tuple(dict.fromkeys(rules)),
    )
