"""Casts, eCOAs and CBAM forms: decided by the rulebook, emissions attached to the casts' CoAs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from contracts.base import Contract
from contracts.cbam import CbamEmissionsFormSubmitted
from contracts.ecoa import ECoACreated
from contracts.production import ProductionBatchRecorded
from gateway.registry.decision_messages import (
    ecoa_message,
    emissions_attached,
    form_message,
    recorded_cast_message,
)
from gateway.registry.state import BrandEntities, CastEntry, Context, RegistryState, Step
from gateway.registry.warrants import decide_open_requests
from gateway.rulebook.cbam_form import decide_form
from gateway.rulebook.decisions import ECoADecision
from gateway.rulebook.ecoa import decide_ecoa
from gateway.rulebook.recorded_casts import decide_recorded_cast
from gateway.rulebook.state import (
    AcceptedForm,
    BrandAsOf,
    CertifiedCast,
    RecordedCast,
    RejectedCertificate,
    levels_of,
)
from gateway.rulebook.warrantability import form_for_production_year


def record_batch(state: RegistryState, batch: ProductionBatchRecorded, context: Context) -> Step:
    """Record the cast and tell its producer whether it meets its specification and agrees
    with the cast's accepted eCOAs. The brand's open requests are decided again only when
    the record can change a lot's decision (it is off specification or disagrees, replaces
    an earlier record, or its cast already has an eCOA): a first record of a good cast, the
    usual case, reads and writes its one cast entry."""
    cast = RecordedCast(
        cast_reference=batch.cast_reference,
        production_date=batch.production_date,
        contract=batch.contract,
        specification=batch.specification,
        production_filtered=batch.production_filtered,
        chemistry=levels_of(batch.chemistry),
    )
    entry = state.brand(batch.brand).cast(batch.cast_reference)
    if entry.recorded == cast:
        return Step(state, ())  # the same record again: already answered
    decision = decide_recorded_cast(cast, entry.certificates, context.rulebook)
    state = state.with_cast(batch.brand, batch.cast_reference, replace(entry, recorded=cast))
    message = recorded_cast_message(
        decision, brand=batch.brand, rulebook_version=context.rulebook.version, now=context.now
    )
    known_before = entry != CastEntry()
    if decision.accepted and not known_before:
        return Step(state, (message,))
    state, decided = decide_open_requests(state, batch.brand, context)
    return Step(state, (message, *decided))


def decide_ecoa_message(state: RegistryState, ecoa: ECoACreated, context: Context) -> Step:
    brand = state.brand(ecoa.brand)
    decision = decide_ecoa(ecoa, brand, context.rulebook)
    outputs: list[Contract] = [
        ecoa_message(decision, rulebook_version=context.rulebook.version, now=context.now)
    ]
    if not decision.accepted:
        state = _record_rejection(state, ecoa, decision)
        state, decided = decide_open_requests(state, ecoa.brand, context)
        return Step(state, (*outputs, *decided))
    for cast in decision.certified:
        entry = state.brand(ecoa.brand).cast(cast.cast_reference)
        entry = replace(entry, certificates=(*entry.certificates, cast))
        state = state.with_cast(ecoa.brand, cast.cast_reference, entry)
    outputs.extend(_attach_to_casts(state.brand(ecoa.brand), decision.certified, context))
    state, decided = decide_open_requests(state, ecoa.brand, context)
    return Step(state, (*outputs, *decided))


def _record_rejection(
    state: RegistryState, ecoa: ECoACreated, decision: ECoADecision
) -> RegistryState:
    """Each cast the rejected eCOA names keeps it as its latest rejected certificate, so that
    a lot of the cast names what it broke instead of waiting silently."""
    rejected = RejectedCertificate(
        ecoa_id=ecoa.ecoa_id, kind=ecoa.kind, violations=decision.violations
    )
    for reference in dict.fromkeys(cast.cast_reference for cast in ecoa.casts):
        entry = state.brand(ecoa.brand).cast(reference)
        state = state.with_cast(ecoa.brand, reference, replace(entry, rejected=rejected))
    return state


def decide_form_message(
    state: RegistryState, form: CbamEmissionsFormSubmitted, context: Context
) -> Step:
    brand = BrandAsOf(state.brand(form.brand), context.now)
    decision = decide_form(form, brand, context.rulebook, today=context.now.date())
    outputs: list[Contract] = [
        form_message(decision, form, rulebook_version=context.rulebook.version, now=context.now)
    ]
    if not decision.accepted or decision.emissions is None:
        return Step(state, tuple(outputs))
    accepted = AcceptedForm(
        form_id=form.form_id, reporting_year=form.reporting_year, emissions=decision.emissions
    )
    state = state.with_form(form.brand, accepted)
    outputs.extend(
        _attach_to_casts(
            state.brand(form.brand),
            state.certified_casts(form.brand),
            context,
            only_form=accepted,
        )
    )
    state, decided = decide_open_requests(state, form.brand, context)
    return Step(state, (*outputs, *decided))


def _attach_to_casts(
    brand: BrandEntities,
    casts: Iterable[CertifiedCast],
    context: Context,
    only_form: AcceptedForm | None = None,
) -> list[Contract]:
    """Attach the brand's form for each CoA's production year to the CoA (§4.2.1); until
    that year's form exists and its deadline has not passed, the previous year's (Figure 4),
    flagged. One attachment per eCOA and year."""
    cbam = context.rulebook.cbam
    attached: dict[tuple[str, int], Contract] = {}
    for cast in casts:
        if cast.production_date is None or cast.production_date < cbam.notice_date:
            continue
        year = cast.production_date.year
        covering = form_for_production_year(brand, year, cbam, today=context.now.date())
        if covering is None or (only_form is not None and covering[0] != only_form):
            continue
        form, from_previous_year = covering
        attached[(cast.ecoa_id, year)] = emissions_attached(
            ecoa_id=cast.ecoa_id,
            brand=brand.brand,
            form_id=form.form_id,
            reporting_year=form.reporting_year,
            figures=form.emissions,
            from_previous_year=from_previous_year,
            now=context.now,
        )
    return list(attached.values())
