"""The registry's pure core: one incoming message and the current state in, the new state and
the outgoing messages out. No Kafka, no clock: ``now`` is an input.

``gateway check`` folds a file of messages through ``handle``; the Kafka pipeline runs the
same function. The topology is the ``HANDLERS`` table at the bottom: message type -> handler.

Besides its decisions, the registry emits the custody moves its own events imply
(``gateway.registry.custody_moves``), in the same step as the event: a lot arriving with a certified
claim, a warrant issued to a named holder for such a lot, and that warrant cancelled. They
travel to the ledger in the registry's transaction, so each is published exactly once. A lot
without a claim, or a request naming no holder, moves nothing.
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
from contracts.custody import CustodyMovementRecorded
from contracts.ecoa import ECoACreated
from contracts.lots import LotArrived
from contracts.production import ProductionBatchRecorded
from contracts.warrants import (
    CancelWarrant,
    RequestWarrant,
    WarrantCancelled,
    WarrantState,
    WarrantStateChanged,
)
from gateway.registry.custody_moves import (
    arrival_move,
    arrival_posting_id,
    cancellation_move,
    issue_move,
    issue_posting_id,
)
from gateway.registry.decision_messages import (
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
from gateway.rulebook.warrantability import decide_warrant, form_for_production_year
from gateway.violations import Violation

CUSTODY_RULE = "CoC: each custody move is booked once"
CANCEL_RULE = "warrant cancellation: an issued warrant, by its warehouse, once"


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
    cancellations: Mapping[str, CancelWarrant] = field(default_factory=dict)
    """The cancellation of every cancelled warrant, by lot id (one warrant per lot)."""
    custody_moves: Mapping[str, CustodyMovementRecorded] = field(default_factory=dict)
    """The custody moves emitted, by posting id: each is emitted once, the issue moves on what
    the arrival moved, and a cancellation returns what the issue moved."""

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
    if isinstance(body, CancelWarrant):
        return body.brand, "cancellation_id", f"cancellation:{body.cancellation_id}"
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
    """Record the lot; a lot with a certified claim moves custody from whoever delivered it to
    the warehouse (once: the same lot again moves nothing, and a lot whose arrival moved
    custody cannot be announced again with another claim, weight, warehouse or date); a
    request waiting for the lot is decided again."""
    state, moved = _arrival_custody(state, lot)
    state = replace(state, lots={**state.lots, lot.lot_id: lot})
    request = state.open_requests.get(lot.lot_id)
    if request is None:
        return Step(state, moved)
    state, outputs = _decide(state, request, context)
    return Step(state, (*moved, *outputs))


def _arrival_custody(
    state: RegistryState, lot: LotArrived
) -> tuple[RegistryState, tuple[Contract, ...]]:
    move = arrival_move(lot)
    earlier = state.custody_moves.get(arrival_posting_id(lot.lot_id))
    if earlier is None:
        return (state, ()) if move is None else (_with_move(state, move), (move,))
    if move == earlier:
        return state, ()
    field_name = _changed_arrival_field(earlier, lot)
    raise CommandRefused(
        field_name,
        CUSTODY_RULE,
        f"lot {lot.lot_id}'s arrival already moved {earlier.quantity_kg} kg of "
        f"{earlier.material_quality} ({earlier.level.value}) from {earlier.from_holder_id} to "
        f"{earlier.to_holder_id} on {earlier.occurred_on} (posting {earlier.posting_id}); "
        f"announced again, its {field_name} cannot change",
    )


def _changed_arrival_field(earlier: CustodyMovementRecorded, lot: LotArrived) -> str:
    """The field of a re-announced lot that contradicts the custody its arrival moved."""
    if earlier.quantity_kg != lot.net_weight_kg:
        return "net_weight_kg"
    if earlier.to_holder_id != lot.warehouse_id:
        return "warehouse_id"
    if lot.custody_claim is None or earlier.from_holder_id != lot.custody_claim.delivered_by:
        return "custody_claim"
    if (earlier.material_quality, earlier.level, earlier.coc_document) != (
        lot.custody_claim.material_quality,
        lot.custody_claim.level,
        lot.custody_claim.coc_document,
    ):
        return "custody_claim"
    return "arrived_at"


def _with_move(state: RegistryState, move: CustodyMovementRecorded) -> RegistryState:
    return replace(state, custody_moves={**state.custody_moves, move.posting_id: move})


def _request_warrant(state: RegistryState, request: RequestWarrant, context: _Context) -> Step:
    previous = state.warrant_decisions.get(request.lot_id)
    if previous is not None and previous.request_id == request.request_id:
        return Step(state, ())  # the same request again: already answered
    if previous is not None and previous.outcome is WarrantOutcome.ISSUED:
        cancelled = state.cancellations.get(request.lot_id)
        return Step(state, (_already_on_warrant(request, previous, cancelled, context),))
    state, outputs = _decide(state, request, context, always_publish=True)
    return Step(state, tuple(outputs))


def _already_on_warrant(
    request: RequestWarrant,
    issued: WarrantDecision,
    cancelled: CancelWarrant | None,
    context: _Context,
) -> Contract:
    """A lot is placed on warrant once: while its warrant stands, and after it was cancelled
    (a warrant's id follows from its lot's, and the cancelled metal leaves the warehouse)."""
    warrant_id = warrant_id_for(request.lot_id)
    if cancelled is None:
        violation = Violation(
            code="LOT_ALREADY_ON_WARRANT",
            rule="SCR 4.1",
            field="lot_id",
            observed=request.lot_id,
            allowed="a lot not yet on warrant",
            message=f"lot {request.lot_id} is already on warrant {warrant_id} "
            f"(request {issued.request_id})",
        )
    else:
        violation = Violation(
            code="LOT_WARRANT_CANCELLED",
            rule="SCR 4.1",
            field="lot_id",
            observed=request.lot_id,
            allowed="a lot never placed on warrant",
            message=f"lot {request.lot_id}'s warrant {warrant_id} was cancelled "
            f"(cancellation {cancelled.cancellation_id}); a lot is placed on warrant once",
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
    messages: list[Contract] = list(
        warrant_messages(
            decision,
            rulebook_version=context.rulebook.version,
            now=context.now,
            warrant_holder_id=request.warrant_holder_id,
        )
    )
    if decision.outcome is WarrantOutcome.ISSUED:
        state, moved = _issue_custody(state, request, context)
        messages.extend(moved)
    return state, messages


def _issue_custody(
    state: RegistryState, request: RequestWarrant, context: _Context
) -> tuple[RegistryState, tuple[Contract, ...]]:
    """Whatever input issues the warrant (the request, or the lot, eCOA or form a pending
    request waited for), the custody the lot's arrival brought to the warehouse moves on to
    the holder the request named. Nothing moves for a lot without a claim or a request
    without a holder."""
    arrival = state.custody_moves.get(arrival_posting_id(request.lot_id))
    if arrival is None:
        return state, ()
    warrant_id = warrant_id_for(request.lot_id)
    move = issue_move(
        arrival,
        warrant_id=warrant_id,
        holder_id=request.warrant_holder_id,
        issued_at=context.now,
    )
    if move is None or move.posting_id in state.custody_moves:
        return state, ()
    return _with_move(state, move), (move,)


def _cancel_warrant(state: RegistryState, cancel: CancelWarrant, context: _Context) -> Step:
    """Cancel an issued warrant at its lot's warehouse's request: the warrant is cancelled and
    the lot's current state says so; custody its issue moved to the holder returns to the
    warehouse (the cancelled warrant no longer carries the claim; the warehouse books a
    certified output when it loads the metal out). A warrant whose issue moved nothing moves
    nothing back. Refused (``CommandRefused`` naming the field) for an unknown warrant, one
    not issued or already cancelled, or one of another lot, brand or warehouse."""
    issued = _warrant_to_cancel(state, cancel)
    warrant_id = cancel.warrant_id
    outputs: list[Contract] = [
        WarrantCancelled.build(
            warrant_id=warrant_id,
            lot_id=cancel.lot_id,
            brand=cancel.brand,
            reason=cancel.reason,
            cancelled_at=context.now,
        ),
        WarrantStateChanged.build(
            lot_id=cancel.lot_id,
            brand=cancel.brand,
            warrant_id=warrant_id,
            request_id=issued.request_id,
            state=WarrantState.CANCELLED,
            cancellation_reason=cancel.reason,
            updated_at=context.now,
        ),
    ]
    state = replace(state, cancellations={**state.cancellations, cancel.lot_id: cancel})
    issue = state.custody_moves.get(issue_posting_id(warrant_id))
    if issue is not None:
        move = cancellation_move(issue, cancelled_at=context.now)
        state = _with_move(state, move)
        outputs.append(move)
    return Step(state, tuple(outputs))


def _warrant_to_cancel(state: RegistryState, cancel: CancelWarrant) -> WarrantDecision:
    """The issued decision of the warrant ``cancel`` names, or ``CommandRefused`` saying which
    field is wrong."""
    warrant_id, lot_id = cancel.warrant_id, cancel.lot_id
    if warrant_id_for(lot_id) != warrant_id:
        owner = next(
            (
                lot
                for lot, decision in state.warrant_decisions.items()
                if decision.outcome is WarrantOutcome.ISSUED and warrant_id_for(lot) == warrant_id
            ),
            None,
        )
        if owner is None:
            raise CommandRefused(
                "warrant_id", CANCEL_RULE, f"cannot cancel warrant {warrant_id}: no such warrant"
            )
        raise CommandRefused(
            "lot_id",
            CANCEL_RULE,
            f"cannot cancel warrant {warrant_id} for lot {lot_id}: it is the warrant of lot "
            f"{owner}",
        )
    decision = state.warrant_decisions.get(lot_id)
    if decision is None or decision.outcome is not WarrantOutcome.ISSUED:
        where = "no request was made" if decision is None else f"it is {decision.outcome.value}"
        raise CommandRefused(
            "warrant_id",
            CANCEL_RULE,
            f"cannot cancel warrant {warrant_id}: it was not issued (lot {lot_id}: {where})",
        )
    earlier = state.cancellations.get(lot_id)
    if earlier is not None:
        raise CommandRefused(
            "warrant_id",
            CANCEL_RULE,
            f"cannot cancel warrant {warrant_id}: it was already cancelled (cancellation "
            f"{earlier.cancellation_id})",
        )
    if decision.brand != cancel.brand:
        raise CommandRefused(
            "brand",
            CANCEL_RULE,
            f"cannot cancel warrant {warrant_id}: it is of brand {decision.brand}, not "
            f"{cancel.brand}",
        )
    lot = state.lots.get(lot_id)
    if lot is not None and lot.warehouse_id != cancel.warehouse_id:
        raise CommandRefused(
            "warehouse_id",
            CANCEL_RULE,
            f"cannot cancel warrant {warrant_id}: lot {lot_id} is at warehouse "
            f"{lot.warehouse_id}, not {cancel.warehouse_id}",
        )
    return decision


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
    CancelWarrant: _cancel_warrant,
}
