"""The custody moves the registry's own events imply, as ``CustodyMove`` values (each becomes a
``CustodyMove`` for the ledger). Pure: plain values in, a move (or none) out.

Certified metal changes holder three ways, each following from one registry event:

- a lot arrives with a certified claim: from the party that delivered it (``delivered_by``)
  to the receiving warehouse;
- a warrant is issued to a named holder for a lot that arrived with a claim: from the
  warehouse to the holder;
- that warrant is cancelled: from the holder back to the warehouse. The cancelled warrant no
  longer carries the claim; the warehouse books a certified output when it loads the metal out.

A lot without a claim moves nothing, and neither does a warrant whose request named no holder
(nor its cancellation). Each move goes onward from the move before it (the issue from the
arrival, the cancellation from the issue), so the three always agree on quantity, material
quality, level and document. Posting ids follow from the lot and warrant ids, so a replay gives
the same ids and the ledger books each move once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts.custody import CustodyMoveReason
from contracts.lots import LotArrived
from gateway.registry.state import CustodyMove


def arrival_posting_id(lot_id: str) -> str:
    return f"lot-arrival.{lot_id}"


def issue_posting_id(warrant_id: str) -> str:
    return f"warrant-issued.{warrant_id}"


def cancellation_posting_id(warrant_id: str) -> str:
    return f"warrant-cancelled.{warrant_id}"


def utc_date(moment: datetime) -> date:
    """The calendar date of ``moment`` in UTC: the business date of a move."""
    return moment.astimezone(UTC).date()


def arrival_move(lot: LotArrived) -> CustodyMove | None:
    """The lot's net weight moves from whoever delivered it to the warehouse; None when the lot
    carries no certified claim."""
    claim = lot.custody_claim
    if claim is None:
        return None
    return CustodyMove(
        posting_id=arrival_posting_id(lot.lot_id),
        reason=CustodyMoveReason.LOT_ARRIVAL,
        from_holder_id=claim.delivered_by,
        to_holder_id=lot.warehouse_id,
        lot_id=lot.lot_id,
        quantity_kg=lot.net_weight_kg,
        material_quality=claim.material_quality,
        level=claim.level,
        coc_document=claim.coc_document,
        occurred_on=utc_date(lot.arrived_at),
    )


def issue_move(
    arrival: CustodyMove,
    *,
    warrant_id: str,
    holder_id: str | None,
    issued_at: datetime,
) -> CustodyMove | None:
    """What the arrival brought to the warehouse moves on to the warrant's holder; None when
    the request named no holder."""
    if holder_id is None:
        return None
    return _onward(
        arrival,
        posting_id=issue_posting_id(warrant_id),
        reason=CustodyMoveReason.WARRANT_ISSUED,
        to_holder_id=holder_id,
        warrant_id=warrant_id,
        occurred_at=issued_at,
    )


def cancellation_move(issued: CustodyMove, *, cancelled_at: datetime) -> CustodyMove:
    """What the issue moved to the holder returns to the warehouse it came from."""
    warrant_id = issued.warrant_id
    if warrant_id is None:
        raise ValueError(f"custody move {issued.posting_id} names no warrant to cancel")
    return _onward(
        issued,
        posting_id=cancellation_posting_id(warrant_id),
        reason=CustodyMoveReason.WARRANT_CANCELLED,
        to_holder_id=issued.from_holder_id,
        warrant_id=warrant_id,
        occurred_at=cancelled_at,
    )


def _onward(
    previous: CustodyMove,
    *,
    posting_id: str,
    reason: CustodyMoveReason,
    to_holder_id: str,
    warrant_id: str,
    occurred_at: datetime,
) -> CustodyMove:
    return CustodyMove(
        posting_id=posting_id,
        reason=reason,
        from_holder_id=previous.to_holder_id,
        to_holder_id=to_holder_id,
        lot_id=previous.lot_id,
        warrant_id=warrant_id,
        quantity_kg=previous.quantity_kg,
        material_quality=previous.material_quality,
        level=previous.level,
        coc_document=previous.coc_document,
        occurred_on=utc_date(occurred_at),
    )
