"""Turns the rulebook's decisions (plain values) into the registry's outgoing messages."""

from __future__ import annotations

import re
from datetime import datetime

from contracts.cbam import (
    CbamEmissionsFormSubmitted,
    CbamFormAccepted,
    CbamFormRejected,
    EmissionsAttached,
)
from contracts.ecoa import ECoAAccepted, ECoARejected
from contracts.production import ProductionBatchAccepted, ProductionBatchRejected
from contracts.values import EmissionsSummary, MissingItem, MissingItemKind, RuleViolation
from contracts.warrants import (
    CertificateOfAnalysisReference,
    WarrantDocument,
    WarrantEmissions,
    WarrantIssued,
    WarrantPending,
    WarrantRejected,
    WarrantState,
    WarrantStateChanged,
)
from gateway.rulebook.decisions import (
    ECoADecision,
    FormDecision,
    RecordedCastDecision,
    WarrantDecision,
    WarrantOutcome,
    WarrantTerms,
)
from gateway.rulebook.state import EmissionsFigures
from gateway.rulebook.violations import Missing
from gateway.violations import Violation

WarrantMessage = WarrantIssued | WarrantRejected | WarrantPending


def warrant_id_for(lot_id: str, number: int = 1) -> str:
    """A lot's warrants are numbered: the first's id is ``WRT-<lot>`` (as before lots could
    be warranted again), the n-th's ``WRT-<lot>#<n>``; a replay gives the same ids."""
    suffix = "" if number == 1 else f"{_NUMBER_MARK}{number}"
    return f"{_WARRANT_ID_PREFIX}{lot_id}{suffix}"


def warrants_of_id(warrant_id: str) -> list[tuple[str, int]]:
    """Every (lot, number) whose warrant would have this id: the first warrant of a lot, and
    the n-th of the lot before a ``#<n>`` suffix (a lot id may itself hold ``#``)."""
    if not warrant_id.startswith(_WARRANT_ID_PREFIX):
        return []
    named = warrant_id[len(_WARRANT_ID_PREFIX) :]
    found = [(named, 1)] if named else []
    lot_id, mark, number = named.rpartition(_NUMBER_MARK)
    if mark and lot_id and number.isdigit() and int(number) >= 2 and number[0] != "0":
        found.append((lot_id, int(number)))
    return found


_NUMBER_MARK = "#"
_WARRANT_ID_PREFIX = "WRT-"


def rule_violation(violation: Violation) -> RuleViolation:
    return RuleViolation(
        code=violation.code,
        rule=violation.rule,
        field=violation.field or "(message)",
        observed=violation.observed,
        allowed=violation.allowed,
        message=violation.message,
    )


def missing_item(missing: Missing) -> MissingItem:
    return MissingItem(
        kind=MissingItemKind(missing.kind.value),
        reference=missing.reference,
        rule=missing.rule,
        message=missing.message,
    )


def emissions_summary(figures: EmissionsFigures) -> EmissionsSummary:
    return EmissionsSummary(
        direct_tco2e_per_t=figures.direct,
        indirect_tco2e_per_t=figures.indirect,
        total_tco2e_per_t=figures.total,
        direct_is_default_value=figures.direct_is_default,
        indirect_is_default_value=figures.indirect_is_default,
        alloying_as_primary=figures.alloying_as_primary,
    )


def ecoa_message(
    decision: ECoADecision, *, rulebook_version: str, now: datetime
) -> ECoAAccepted | ECoARejected:
    if decision.accepted:
        return ECoAAccepted.build(
            ecoa_id=decision.ecoa_id,
            brand=decision.brand,
            kind=decision.kind,
            cast_references=tuple(cast.cast_reference for cast in decision.certified),
            rules_applied=decision.rules_applied,
            rulebook_version=rulebook_version,
            decided_at=now,
        )
    return ECoARejected.build(
        ecoa_id=decision.ecoa_id,
        brand=decision.brand,
        violations=tuple(rule_violation(v) for v in decision.violations),
        rulebook_version=rulebook_version,
        decided_at=now,
    )


def recorded_cast_message(
    decision: RecordedCastDecision, *, brand: str, rulebook_version: str, now: datetime
) -> ProductionBatchAccepted | ProductionBatchRejected:
    if decision.specification is not None and decision.accepted:
        return ProductionBatchAccepted.build(
            brand=brand,
            cast_reference=decision.cast_reference,
            specification=decision.specification,
            rules_applied=decision.rules_applied,
            rulebook_version=rulebook_version,
            decided_at=now,
        )
    return ProductionBatchRejected.build(
        brand=brand,
        cast_reference=decision.cast_reference,
        violations=tuple(rule_violation(v) for v in decision.violations),
        rulebook_version=rulebook_version,
        decided_at=now,
    )


def form_message(
    decision: FormDecision,
    form: CbamEmissionsFormSubmitted,
    *,
    rulebook_version: str,
    now: datetime,
) -> CbamFormAccepted | CbamFormRejected:
    """The decision on ``form``; an accepted one carries what the read side shows of the form
    (its verification only when it was verified)."""
    if decision.emissions is not None and decision.accepted:
        verifier = form.verifier
        return CbamFormAccepted.build(
            form_id=decision.form_id,
            brand=decision.brand,
            reporting_year=decision.reporting_year,
            emissions=emissions_summary(decision.emissions),
            notes=decision.notes,
            producer_name=form.producer_name,
            installation_id=form.installation_id,
            installation_name=form.installation_name,
            installation_country=_country_of(form.un_locode),
            cn_codes=tuple(
                dict.fromkeys(p.cn_code for p in form.products if p.cn_code is not None)
            ),
            verifier_name=None if verifier is None else verifier.company_name,
            accreditation_body=None if verifier is None else verifier.accreditation_body,
            level_of_assurance=None if verifier is None else form.level_of_assurance,
            carbon_prices_paid=form.carbon_prices_paid,
            permission_to_publish=form.permission_to_publish is True,
            reporting_period=form.reporting_period,
            rulebook_version=rulebook_version,
            decided_at=now,
        )
    return CbamFormRejected.build(
        form_id=decision.form_id,
        brand=decision.brand,
        reporting_year=decision.reporting_year,
        violations=tuple(rule_violation(v) for v in decision.violations),
        rulebook_version=rulebook_version,
        decided_at=now,
    )


def _country_of(un_locode: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 country code a UN/LOCODE starts with ("NO" of "NO SUN"); None
    when there is no code or it does not start with two capital letters."""
    if un_locode is None or _COUNTRY_CODE.match(un_locode) is None:
        return None
    return un_locode[:2]


_COUNTRY_CODE = re.compile(r"[A-Z]{2}")


def emissions_attached(
    *,
    ecoa_id: str,
    brand: str,
    form_id: str,
    reporting_year: int,
    figures: EmissionsFigures,
    from_previous_year: bool,
    now: datetime,
) -> EmissionsAttached:
    return EmissionsAttached.build(
        ecoa_id=ecoa_id,
        brand=brand,
        reporting_year=reporting_year,
        form_id=form_id,
        emissions=emissions_summary(figures),
        flagged_previous_year=from_previous_year,
        attached_at=now,
    )


def warrant_messages(
    decision: WarrantDecision,
    *,
    rulebook_version: str,
    now: datetime,
    warrant_id: str | None = None,
    warrant_holder_id: str | None = None,
    warehouse_id: str | None = None,
) -> tuple[WarrantMessage, WarrantStateChanged]:
    """The decision event and the lot's new current state (for the compacted topic); an
    issued warrant has ``warrant_id`` (the lot's first by default) and names the holder its
    request named. The state names ``warehouse_id``, the warehouse the lot arrived at (None
    while no arrival is known)."""
    issued_id = warrant_id or warrant_id_for(decision.lot_id)
    violations = tuple(rule_violation(v) for v in decision.violations)
    missing = tuple(missing_item(m) for m in decision.missing)
    event: WarrantMessage
    if decision.outcome is WarrantOutcome.ISSUED and decision.terms is not None:
        event = WarrantIssued.build(
            warrant_id=issued_id,
            lot_id=decision.lot_id,
            request_id=decision.request_id,
            document=_document(decision.terms),
            issued_at=now,
            rulebook_version=rulebook_version,
            warrant_holder_id=warrant_holder_id,
            rules_applied=decision.rules_applied,
            notes=decision.notes,
        )
    elif decision.outcome is WarrantOutcome.PENDING:
        event = WarrantPending.build(
            request_id=decision.request_id,
            lot_id=decision.lot_id,
            brand=decision.brand,
            missing=missing,
            certificate_violations=tuple(
                rule_violation(v) for v in decision.certificate_violations
            ),
            rulebook_version=rulebook_version,
            decided_at=now,
        )
    else:
        event = WarrantRejected.build(
            request_id=decision.request_id,
            lot_id=decision.lot_id,
            brand=decision.brand,
            violations=violations,
            rulebook_version=rulebook_version,
            decided_at=now,
        )
    state = WarrantStateChanged.build(
        lot_id=decision.lot_id,
        brand=decision.brand,
        warrant_id=issued_id if decision.outcome is WarrantOutcome.ISSUED else None,
        request_id=decision.request_id,
        state=WarrantState(decision.outcome.value),
        violations=violations,
        missing=missing,
        warrant_holder_id=(
            warrant_holder_id if decision.outcome is WarrantOutcome.ISSUED else None
        ),
        warehouse_id=warehouse_id,
        updated_at=now,
    )
    return event, state


def _document(terms: WarrantTerms) -> WarrantDocument:
    attached = terms.emissions
    return WarrantDocument(
        contract=terms.contract,
        brand=terms.brand,
        country_of_origin=terms.country_of_origin,
        shape=terms.shape,
        certificates_of_analysis=tuple(
            CertificateOfAnalysisReference(issued_on=c.issued_on, reference=c.reference)
            for c in terms.certificates
        ),
        net_weight_kg=terms.net_weight_kg,
        bundles=terms.bundles,
        pieces=terms.pieces,
        warning_clause=terms.warning_clause,
        emissions=WarrantEmissions(
            form_id=attached.form_id,
            reporting_year=attached.reporting_year,
            from_previous_year=attached.from_previous_year,
            summary=emissions_summary(attached.figures),
        ),
    )
