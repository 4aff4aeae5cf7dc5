"""The registry's pure core: one incoming message and the current state in, the new state and
the outgoing messages out. No Kafka, no clock: ``now`` is an input.

``gateway check`` folds a file of messages through ``handle``; the Kafka pipeline runs the
same function. The topology is the ``HANDLERS`` table at the bottom: message type -> handler.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from contracts.base import Contract
from contracts.brands import (
    BrandDelisted,
    BrandListed,
    BrandReinstated,
    BrandSuspended,
    DelistBrand,
    ListBrand,
    ReinstateBrand,
    SuspendBrand,
)
from contracts.cbam import CbamEmissionsFormSubmitted
from contracts.ecoa import ECoACreated
from contracts.lots import LotArrived
from contracts.production import ProductionBatchRecorded
from contracts.warrants import RequestWarrant
from gateway.decision_messages import (
    ecoa_message,
    emissions_attached,
    form_message,
    warrant_id_for,
    warrant_messages,
)
from gateway.rulebook.cbam_form import decide_form
from gateway.rulebook.decisions import WarrantDecision, WarrantOutcome
from gateway.rulebook.ecoa import decide_ecoa
from gateway.rulebook.model import Rulebook
from gateway.rulebook.state import (
    AcceptedForm,
    BrandRecord,
    BrandState,
    BrandStatus,
    CertifiedCast,
    RecordedCast,
)
from gateway.rulebook.violations import Violation
from gateway.rulebook.warrantability import decide_warrant, form_for_production_year


class CommandRefused(ValueError):
    """A command that cannot be carried out in the current state (e.g. suspending a brand
    that was never listed); the text says why and names the rule."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


@dataclass(frozen=True)
class RegistryState:
    brands: Mapping[str, BrandState] = field(default_factory=dict)
    lots: Mapping[str, LotArrived] = field(default_factory=dict)
    open_requests: Mapping[str, RequestWarrant] = field(default_factory=dict)
    """Requests still pending, by lot id: decided again when what they wait for arrives."""
    warrant_decisions: Mapping[str, WarrantDecision] = field(default_factory=dict)
    """The latest decision of every lot's request, by lot id."""
    handled: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """By brand: the ids of the eCOAs, forms and commands already handled, with a digest of
    each body, so that a message delivered again changes nothing."""

    def brand(self, name: str) -> BrandState:
        return self.brands.get(name) or BrandState(brand=name)


@dataclass(frozen=True)
class Step:
    state: RegistryState
    outputs: tuple[Contract, ...]


@dataclass(frozen=True)
class _Context:
    rulebook: Rulebook
    now: datetime


def handle(state: RegistryState, body: Contract, *, now: datetime, rulebook: Rulebook) -> Step:
    """Apply one incoming message; raises ``CommandRefused`` for an impossible command or a
    reused id, and ``LookupError`` for a type the registry does not take in.

    A message whose id was handled before with the same body changes nothing (no outputs):
    delivering it twice is harmless.
    """
    handler = HANDLERS.get(type(body))
    if handler is None:
        raise LookupError(f"the registry does not take {body.MESSAGE_TYPE} as input")
    identity = _identity(body)
    if identity is None:
        return handler(state, body, _Context(rulebook=rulebook, now=now))
    brand, id_field, message_id = identity
    digest = hashlib.sha256(body.model_dump_json().encode("utf-8")).hexdigest()
    handled_before = state.handled.get(brand, {})
    earlier = handled_before.get(message_id)
    if earlier == digest:
        return Step(state, ())
    if earlier is not None:
        raise CommandRefused(
            id_field,
            "message identity",
            f"{id_field} {message_id.split(':', 1)[1]} was already used for another "
            f"{body.MESSAGE_TYPE} message; send a new id for new content",
        )
    step = handler(state, body, _Context(rulebook=rulebook, now=now))
    handled = {**step.state.handled, brand: {**handled_before, message_id: digest}}
    return Step(replace(step.state, handled=handled), step.outputs)


def _identity(body: Contract) -> tuple[str, str, str] | None:
    """(brand, id field, namespaced id) of a message whose id makes it unique."""
    if isinstance(body, ECoACreated):
        return body.brand, "ecoa_id", f"ecoa:{body.ecoa_id}"
    if isinstance(body, CbamEmissionsFormSubmitted):
        return body.brand, "form_id", f"form:{body.form_id}"
    if isinstance(body, ListBrand | SuspendBrand | ReinstateBrand | DelistBrand):
        return body.brand, "command_id", f"command:{body.command_id}"
    return None


# ---- brands ---------------------------------------------------------------------------------


def _with_brand(state: RegistryState, brand: BrandState) -> RegistryState:
    return replace(state, brands={**state.brands, brand.brand: brand})


def _list_brand(state: RegistryState, command: ListBrand, context: _Context) -> Step:
    record = BrandRecord(
        brand=command.brand,
        producer_id=command.producer_id,
        country_of_origin=command.country_of_origin,
        contracts=command.contracts,
        status=BrandStatus.LISTED,
    )
    event = BrandListed.build(
        command_id=command.command_id,
        brand=command.brand,
        producer_id=command.producer_id,
        country_of_origin=command.country_of_origin,
        contracts=command.contracts,
        effective_at=command.effective_at,
    )
    brand = replace(state.brand(command.brand), record=record)
    return Step(_with_brand(state, brand), (event,))


def _existing_record(state: RegistryState, brand: str, action: str) -> BrandRecord:
    record = state.brand(brand).record
    if record is None:
        raise CommandRefused("brand", "§4.4", f"cannot {action} brand {brand}: it is not listed")
    return record


def _with_status(
    state: RegistryState, record: BrandRecord, status: BrandStatus, reason: str | None
) -> RegistryState:
    updated = replace(record, status=status, status_reason=reason)
    return _with_brand(state, replace(state.brand(record.brand), record=updated))


def _suspend_brand(state: RegistryState, command: SuspendBrand, context: _Context) -> Step:
    record = _existing_record(state, command.brand, "suspend")
    if record.status is BrandStatus.DELISTED:
        raise CommandRefused(
            "brand", "§4.4", f"cannot suspend brand {command.brand}: it is delisted"
        )
    event = BrandSuspended.build(
        command_id=command.command_id,
        brand=command.brand,
        reason=command.reason,
        effective_at=command.effective_at,
    )
    return Step(_with_status(state, record, BrandStatus.SUSPENDED, command.reason), (event,))


def _reinstate_brand(state: RegistryState, command: ReinstateBrand, context: _Context) -> Step:
    record = _existing_record(state, command.brand, "reinstate")
    if record.status is not BrandStatus.SUSPENDED:
        raise CommandRefused(
            "brand",
            "§4.4",
            f"cannot reinstate brand {command.brand}: it is {record.status.value}, not suspended",
        )
    event = BrandReinstated.build(
        command_id=command.command_id,
        brand=command.brand,
        reason=command.reason,
        effective_at=command.effective_at,
    )
    return Step(_with_status(state, record, BrandStatus.LISTED, None), (event,))


def _delist_brand(state: RegistryState, command: DelistBrand, context: _Context) -> Step:
    record = _existing_record(state, command.brand, "delist")
    event = BrandDelisted.build(
        command_id=command.command_id,
        brand=command.brand,
        reason=command.reason,
        notice_period_days=command.notice_period_days,
        effective_at=command.effective_at,
    )
    return Step(_with_status(state, record, BrandStatus.DELISTED, command.reason), (event,))


# ---- casts, eCOAs and forms -----------------------------------------------------------------


def _record_batch(state: RegistryState, batch: ProductionBatchRecorded, context: _Context) -> Step:
    cast = RecordedCast(
        cast_reference=batch.cast_reference,
        production_date=batch.production_date,
        contract=batch.contract,
        specification=batch.specification,
        production_filtered=batch.production_filtered,
    )
    brand = state.brand(batch.brand)
    brand = replace(brand, casts={**brand.casts, batch.cast_reference: cast})
    return Step(_with_brand(state, brand), ())


def _decide_ecoa(state: RegistryState, ecoa: ECoACreated, context: _Context) -> Step:
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
    state, decided = _decide_open_requests(_with_brand(state, brand), ecoa.brand, context)
    return Step(state, (*outputs, *decided))


def _decide_form(state: RegistryState, form: CbamEmissionsFormSubmitted, context: _Context) -> Step:
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
    state, decided = _decide_open_requests(_with_brand(state, brand), form.brand, context)
    return Step(state, (*outputs, *decided))


def _attach_to_casts(
    brand: BrandState,
    casts: tuple[CertifiedCast, ...],
    context: _Context,
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


# ---- lots and warrants ----------------------------------------------------------------------


def _lot_arrived(state: RegistryState, lot: LotArrived, context: _Context) -> Step:
    state = replace(state, lots={**state.lots, lot.lot_id: lot})
    request = state.open_requests.get(lot.lot_id)
    if request is None:
        return Step(state, ())
    state, outputs = _decide(state, request, context)
    return Step(state, tuple(outputs))


def _request_warrant(state: RegistryState, request: RequestWarrant, context: _Context) -> Step:
    previous = state.warrant_decisions.get(request.lot_id)
    if previous is not None and previous.request_id == request.request_id:
        return Step(state, ())  # the same request again: already answered
    if previous is not None and previous.outcome is WarrantOutcome.ISSUED:
        return Step(state, (_already_on_warrant(request, previous, context),))
    state, outputs = _decide(state, request, context, always_publish=True)
    return Step(state, tuple(outputs))


def _already_on_warrant(
    request: RequestWarrant, issued: WarrantDecision, context: _Context
) -> Contract:
    violation = Violation(
        code="LOT_ALREADY_ON_WARRANT",
        rule="SCR 4.1",
        field="lot_id",
        observed=request.lot_id,
        allowed="a lot not yet on warrant",
        message=f"lot {request.lot_id} is already on warrant {warrant_id_for(request.lot_id)} "
        f"(request {issued.request_id})",
    )
    rejection = WarrantDecision(
        request_id=request.request_id,
        lot_id=request.lot_id,
        brand=request.brand,
        outcome=WarrantOutcome.REJECTED,
        violations=(violation,),
    )
    event, _state_unchanged = warrant_messages(
        rejection, rulebook_version=context.rulebook.version, now=context.now
    )
    return event


def _decide(
    state: RegistryState,
    request: RequestWarrant,
    context: _Context,
    *,
    always_publish: bool = False,
) -> tuple[RegistryState, list[Contract]]:
    decision = decide_warrant(
        request,
        state.lots.get(request.lot_id),
        state.brand(request.brand),
        context.rulebook,
        today=context.now.date(),
    )
    previous = state.warrant_decisions.get(request.lot_id)
    open_requests = dict(state.open_requests)
    if decision.outcome is WarrantOutcome.PENDING:
        open_requests[request.lot_id] = request
    else:
        open_requests.pop(request.lot_id, None)
    state = replace(
        state,
        open_requests=open_requests,
        warrant_decisions={**state.warrant_decisions, request.lot_id: decision},
    )
    if decision == previous and not always_publish:
        return state, []
    messages = warrant_messages(
        decision, rulebook_version=context.rulebook.version, now=context.now
    )
    return state, list(messages)


def _decide_open_requests(
    state: RegistryState, brand: str, context: _Context
) -> tuple[RegistryState, list[Contract]]:
    outputs: list[Contract] = []
    for request in [r for r in state.open_requests.values() if r.brand == brand]:
        state, decided = _decide(state, request, context)
        outputs.extend(decided)
    return state, outputs


Handler = Callable[[RegistryState, Any, _Context], Step]

HANDLERS: Mapping[type[Contract], Handler] = {
    ListBrand: _list_brand,
    SuspendBrand: _suspend_brand,
    ReinstateBrand: _reinstate_brand,
    DelistBrand: _delist_brand,
    ProductionBatchRecorded: _record_batch,
    ECoACreated: _decide_ecoa,
    CbamEmissionsFormSubmitted: _decide_form,
    LotArrived: _lot_arrived,
    RequestWarrant: _request_warrant,
}
