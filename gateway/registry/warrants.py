"""Lots arriving, warrant requests decided (again when what they wait for arrives, and as
expired when the clock says they pended too long), warrants cancelled, and the custody moves
these imply."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from contracts.base import Contract
from contracts.clock import ClockTicked
from contracts.lots import LotArrived
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
    warrant_id_for,
    warrant_messages,
    warrants_of_id,
)
from gateway.registry.state import (
    Cancellation,
    CommandRefused,
    Context,
    CustodyMove,
    PendingWatch,
    RegistryState,
    Step,
    received_hour,
)
from gateway.rulebook.decisions import WarrantDecision, WarrantOutcome
from gateway.rulebook.state import BrandAsOf, OpenRequest, arrived_lot, open_request
from gateway.rulebook.warrantability import decide_warrant, is_overdue, pended_too_long
from gateway.violations import Violation

CUSTODY_RULE = "CoC: each custody move is booked once"

CANCEL_RULE = "warrant cancellation: an issued warrant, by its warehouse, once"


def lot_arrived(state: RegistryState, lot: LotArrived, context: Context) -> Step:
    """Record the lot; a lot with a certified claim moves custody from whoever delivered it to
    the warehouse (once: the same lot again moves nothing, and a lot whose arrival moved
    custody cannot be announced again with another claim, weight, warehouse or date); a
    request waiting for the lot is decided again."""
    state, moved = _arrival_custody(state, lot)
    state = state.with_lot(arrived_lot(lot))
    request = state.open_request(lot.lot_id)
    if request is None:
        return Step(state, moved)
    state, outputs = _decide(state, request, context)
    return Step(state, (*moved, *outputs))


def _arrival_custody(
    state: RegistryState, lot: LotArrived
) -> tuple[RegistryState, tuple[Contract, ...]]:
    move = arrival_move(lot)
    earlier = state.custody_move(arrival_posting_id(lot.lot_id))
    if earlier is None:
        return (state, ()) if move is None else (state.with_move(move), (move.message(),))
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


def _changed_arrival_field(earlier: CustodyMove, lot: LotArrived) -> str:
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


def request_warrant(state: RegistryState, request: RequestWarrant, context: Context) -> Step:
    """Decide a warehouse's request. The same request again was already answered; a lot whose
    warrant stands is refused; a lot whose warrant was cancelled is decided again under the
    same rules (§4.4 speaks of metal "warranted (or re-warranted)")."""
    previous = state.warrant_decision(request.lot_id)
    if previous is not None and previous.request_id == request.request_id:
        return Step(state, ())  # the same request again: already answered
    standing = standing_warrant_id(state, request.lot_id)
    if previous is not None and standing is not None:
        return Step(state, (_already_on_warrant(request, previous, standing, context),))
    received = open_request(request, received_at=context.now)
    state, outputs = _decide(state, received, context, always_publish=True)
    return Step(state, tuple(outputs))


def standing_warrant_id(state: RegistryState, lot_id: str) -> str | None:
    """The id of the lot's warrant while it stands: issued and not cancelled."""
    warrant = state.lot_warrant(lot_id)
    number = None if warrant is None else warrant.standing_number
    if number is None:
        return None
    warrant_id = warrant_id_for(lot_id, number)
    cancelled = state.cancellation(lot_id)
    if cancelled is not None and cancelled.warrant_id == warrant_id:
        return None
    return warrant_id


def _already_on_warrant(
    request: RequestWarrant, issued: WarrantDecision, warrant_id: str, context: Context
) -> Contract:
    """A lot is on one warrant at a time: a request while its warrant stands is refused."""
    rejection = WarrantDecision(
        request_id=request.request_id,
        lot_id=request.lot_id,
        brand=request.brand,
        outcome=WarrantOutcome.REJECTED,
        violations=(
            Violation(
                code="LOT_ALREADY_ON_WARRANT",
                rule="SCR 4.1",
                field="lot_id",
                observed=request.lot_id,
                allowed="a lot not on a standing warrant",
                message=f"lot {request.lot_id} is already on warrant {warrant_id} "
                f"(request {issued.request_id})",
            ),
        ),
    )
    event, _state_unchanged = warrant_messages(
        rejection, rulebook_version=context.rulebook.version, now=context.now
    )
    return event


def _decide(
    state: RegistryState,
    request: OpenRequest,
    context: Context,
    *,
    always_publish: bool = False,
) -> tuple[RegistryState, list[Contract]]:
    lot = state.lot(request.lot_id)
    decision = decide_warrant(
        request,
        lot,
        BrandAsOf(state.brand(request.brand), context.now),
        context.rulebook,
        today=context.now.date(),
        now=context.now,
    )
    previous = state.warrant_decision(request.lot_id)
    if decision.outcome is WarrantOutcome.PENDING:
        state = state.with_open_request(request)
    else:
        state = state.without_open_request(request.lot_id)
    state = state.with_warrant_decision(decision, request.warrant_holder_id)
    if decision == previous and not always_publish:
        return state, []
    warrant = state.lot_warrant(request.lot_id)
    number = None if warrant is None else warrant.standing_number
    warrant_id = None if number is None else warrant_id_for(request.lot_id, number)
    messages: list[Contract] = list(
        warrant_messages(
            decision,
            rulebook_version=context.rulebook.version,
            now=context.now,
            warrant_id=warrant_id,
            warrant_holder_id=request.warrant_holder_id,
            warehouse_id=None if lot is None else lot.warehouse_id,
        )
    )
    if warrant_id is not None:
        state, moved = _issue_custody(state, request, warrant_id, context)
        messages.extend(moved)
    return state, messages


def _issue_custody(
    state: RegistryState, request: OpenRequest, warrant_id: str, context: Context
) -> tuple[RegistryState, tuple[Contract, ...]]:
    """Whatever input issues the warrant (the request, or the lot, eCOA or form a pending
    request waited for), the custody the lot's arrival brought to the warehouse moves on to
    the holder the request named. Nothing moves for a lot without a claim or a request
    without a holder."""
    arrival = state.custody_move(arrival_posting_id(request.lot_id))
    if arrival is None:
        return state, ()
    move = issue_move(
        arrival,
        warrant_id=warrant_id,
        holder_id=request.warrant_holder_id,
        issued_at=context.now,
    )
    if move is None or state.custody_move(move.posting_id) is not None:
        return state, ()
    return state.with_move(move), (move.message(),)


def cancel_warrant(state: RegistryState, cancel: CancelWarrant, context: Context) -> Step:
    """Cancel an issued warrant at its lot's warehouse's request: the warrant is cancelled and
    the lot's current state says so; custody its issue moved to the holder returns to the
    warehouse (the cancelled warrant no longer carries the claim; the warehouse books a
    certified output when it loads the metal out). A warrant whose issue moved nothing moves
    nothing back. Refused (``CommandRefused`` naming the field) for an unknown warrant, one
    not issued or already cancelled, or one of another lot, brand or warehouse."""
    issued = _warrant_to_cancel(state, cancel)
    warrant_id = cancel.warrant_id
    lot = state.lot(cancel.lot_id)
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
            warrant_holder_id=_holder_of(state, cancel.lot_id, warrant_id),
            warehouse_id=None if lot is None else lot.warehouse_id,
            updated_at=context.now,
        ),
    ]
    state = state.with_cancellation(Cancellation.of(cancel))
    issue = state.custody_move(issue_posting_id(warrant_id))
    if issue is not None:
        move = cancellation_move(issue, cancelled_at=context.now)
        state = state.with_move(move)
        outputs.append(move.message())
    return Step(state, tuple(outputs))


def _holder_of(state: RegistryState, lot_id: str, warrant_id: str) -> str | None:
    """Whom the lot's standing warrant was issued to; for one issued before the registry
    kept it, the holder its issue moved custody to, if it moved any."""
    warrant = state.lot_warrant(lot_id)
    if warrant is not None and warrant.holder_id is not None:
        return warrant.holder_id
    issue = state.custody_move(issue_posting_id(warrant_id))
    return None if issue is None else issue.to_holder_id


def _warrant_to_cancel(state: RegistryState, cancel: CancelWarrant) -> WarrantDecision:
    """The issued decision of the warrant ``cancel`` names, or ``CommandRefused`` saying which
    field is wrong."""
    warrant_id, lot_id = cancel.warrant_id, cancel.lot_id
    numbers = [number for lot, number in warrants_of_id(warrant_id) if lot == lot_id]
    if not numbers:
        owner = _lot_of_warrant(state, warrant_id)
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
    [number] = numbers
    warrant = state.lot_warrant(lot_id)
    if warrant is None or number > warrant.issued:
        decision = None if warrant is None else warrant.decision
        where = "no request was made" if decision is None else f"it is {decision.outcome.value}"
        raise CommandRefused(
            "warrant_id",
            CANCEL_RULE,
            f"cannot cancel warrant {warrant_id}: it was not issued (lot {lot_id}: {where})",
        )
    if standing_warrant_id(state, lot_id) != warrant_id:
        earlier = state.cancellation(lot_id)
        by = (
            f" (cancellation {earlier.cancellation_id})"
            if earlier is not None and earlier.warrant_id == warrant_id
            else ""
        )
        raise CommandRefused(
            "warrant_id",
            CANCEL_RULE,
            f"cannot cancel warrant {warrant_id}: it was already cancelled{by}",
        )
    decision = warrant.decision
    if decision.brand != cancel.brand:
        raise CommandRefused(
            "brand",
            CANCEL_RULE,
            f"cannot cancel warrant {warrant_id}: it is of brand {decision.brand}, not "
            f"{cancel.brand}",
        )
    lot = state.lot(lot_id)
    if lot is not None and lot.warehouse_id != cancel.warehouse_id:
        raise CommandRefused(
            "warehouse_id",
            CANCEL_RULE,
            f"cannot cancel warrant {warrant_id}: lot {lot_id} is at warehouse "
            f"{lot.warehouse_id}, not {cancel.warehouse_id}",
        )
    return decision


def _lot_of_warrant(state: RegistryState, warrant_id: str) -> str | None:
    """The lot that was issued a warrant with this id."""
    for lot_id, number in warrants_of_id(warrant_id):
        warrant = state.lot_warrant(lot_id)
        if warrant is not None and warrant.issued >= number:
            return lot_id
    return None


def decide_open_requests(
    state: RegistryState, brand: str, context: Context
) -> tuple[RegistryState, list[Contract]]:
    outputs: list[Contract] = []
    for request in state.open_requests_of(brand):
        state, decided = _decide(state, request, context)
        outputs.extend(decided)
    return state, outputs


def expire_overdue_requests(
    state: RegistryState, brand: str, context: Context
) -> tuple[RegistryState, list[Contract]]:
    """Reject, as expired, the brand's requests pending past the rulebook's limit, before
    a message of the brand is decided (the clock's ticks expire them on time; a message
    between two ticks must not be decided against a request already overdue). It looks the
    open requests over only once the brand's oldest may be overdue (``PendingWatch``). A
    request kept before the registry recorded when it took requests in pends from now."""
    watch = state.pending_watch(brand)
    if watch is not None and (
        watch.oldest_received_at is None
        or not pended_too_long(watch.oldest_received_at, context.rulebook, now=context.now)
    ):
        return state, []
    outputs: list[Contract] = []
    still_open: list[datetime] = []
    for request in state.open_requests_of(brand):
        if request.received_at is None:
            request = replace(request, received_at=context.now)
            state = state.with_open_request(request)
        elif is_overdue(request, context.rulebook, now=context.now):
            state, decided = _decide(state, request, context)
            outputs.extend(decided)
            if state.open_request(request.lot_id) is None:
                continue
        if request.received_at is not None:
            still_open.append(request.received_at)
    oldest = min(still_open, default=None)
    return state.with_pending_watch(brand, PendingWatch(oldest)), outputs


def clock_ticked(state: RegistryState, tick: ClockTicked, context: Context) -> Step:
    """Reject, as expired, every open request of the partition pending past the limit at the
    tick's time: the earlier of the time it states and ``context.now`` (a tick cannot run
    ahead of the registry's clock). Only the hours of the index since the last tick's
    horizon are read, never every brand; a tick repeated, or older than the last, decides
    nothing. The first tick looks every open request over once, and indexes those kept
    before the index existed."""
    context = replace(context, now=min(tick.ticked_at, context.now))
    horizon = context.now - context.rulebook.pending_limit
    earlier = state.clock_horizon()
    if earlier is None:
        state, outputs = _first_look(state, context)
    elif horizon <= earlier:
        return Step(state, ())
    else:
        state, outputs = _expire_taken_in(state, earlier, horizon, context)
    return Step(state.with_clock_horizon(horizon), tuple(outputs))


def _expire_taken_in(
    state: RegistryState, since: datetime, horizon: datetime, context: Context
) -> tuple[RegistryState, list[Contract]]:
    """Expire the open requests taken in before ``horizon``, reading the index's hours from
    the one of ``since`` (the last tick's horizon) on."""
    outputs: list[Contract] = []
    for hour in _hours(since, horizon):
        for lot_id, received in list(state.received_in_hour(hour)):
            if received >= horizon:
                continue  # not due yet: its request is not read
            request = state.open_request(lot_id)
            if request is not None and is_overdue(request, context.rulebook, now=context.now):
                state, decided = _decide(state, request, context)
                outputs.extend(decided)
    return state, outputs


def _first_look(state: RegistryState, context: Context) -> tuple[RegistryState, list[Contract]]:
    outputs: list[Contract] = []
    for request in list(state.all_open_requests()):
        if request.received_at is None:
            state = state.with_open_request(replace(request, received_at=context.now))
            continue
        state = state.with_request_indexed(request)
        if is_overdue(request, context.rulebook, now=context.now):
            state, decided = _decide(state, request, context)
            outputs.extend(decided)
    return state, outputs


def _hours(since: datetime, until: datetime) -> list[str]:
    """The index's hours from the one of ``since`` to the one of ``until``, both included."""
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour <= until:
        hours.append(received_hour(hour))
        hour += timedelta(hours=1)
    return hours
