"""Casts, eCOAs and CBAM forms: decided by the rulebook, emissions attached to the casts' CoAs."""

from __future__ import annotations

from dataclasses import replace

from contracts.base import Contract
from contracts.cbam import CbamEmissionsFormSubmitted
from contracts.ecoa import ECoACreated
from contracts.production import ProductionBatchRecorded
from gateway.registry.decision_messages import (
    ecoa_message,
    emissions_attached,
    form_message,
)
from gateway.registry.state import Context, RegistryState, Step, with_brand
from gateway.registry.warrants import decide_open_requests
from gateway.rulebook.cbam_form import decide_form
from gateway.rulebook.ecoa import decide_ecoa
from gateway.rulebook.state import (
    AcceptedForm,
    BrandState,
    CertifiedCast,
    RecordedCast,
)
from gateway.rulebook.warrantability import form_for_production_year


def record_batch(state: RegistryState, batch: ProductionBatchRecorded, context: Context) -> Step:
    cast = RecordedCast(
        cast_reference=batch.cast_reference,
        production_date=batch.production_date,
        contract=batch.contract,
        specification=batch.specification,
        production_filtered=batch.production_filtered,
    )
    brand = state.brand(batch.brand)
    brand = replace(brand, casts={**brand.casts, batch.cast_reference: cast})
    return Step(with_brand(state, brand), ())


def decide_ecoa_message(state: RegistryState, ecoa: ECoACreated, context: Context) -> Step:
    brand = state.brand(ecoa.brand)
    decision = decide_ecoa(ecoa, brand, context.rulebook)
    outputs: list[Contract] = [
        ecoa_message(decision, rulebook_version=context.rulebook.version, now=context.now)
    ]
    if not decision.accepted:
        return Step(state, tuple(outputs))
    certified = dict(brand.certified)
    for cast in decision.certified:
        certified[cast.cast_reference] = (*certified.get(cast.cast_reference, ()), cast)
    brand = replace(brand, certified=certified)
    outputs.extend(_attach_to_casts(brand, decision.certified, context))
    state, decided = decide_open_requests(with_brand(state, brand), ecoa.brand, context)
    return Step(state, (*outputs, *decided))


def decide_form_message(
    state: RegistryState, form: CbamEmissionsFormSubmitted, context: Context
) -> Step:
    brand = state.brand(form.brand)
    decision = decide_form(form, brand, context.rulebook, today=context.now.date())
    outputs: list[Contract] = [
        form_message(decision, rulebook_version=context.rulebook.version, now=context.now)
    ]
    if not decision.accepted or decision.emissions is None:
        return Step(state, tuple(outputs))
    accepted = AcceptedForm(
        form_id=form.form_id, reporting_year=form.reporting_year, emissions=decision.emissions
    )
    brand = replace(brand, forms={**brand.forms, form.reporting_year: accepted})
    every_cast = tuple(cast for casts in brand.certified.values() for cast in casts)
    outputs.extend(_attach_to_casts(brand, every_cast, context, only_form=accepted))
    state, decided = decide_open_requests(with_brand(state, brand), form.brand, context)
    return Step(state, (*outputs, *decided))


def _attach_to_casts(
    brand: BrandState,
    casts: tuple[CertifiedCast, ...],
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
