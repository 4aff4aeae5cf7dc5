"""The registry's pure core: one incoming message and the current state in, the new state and
the outgoing messages out. No Kafka, no clock: ``now`` is an input.

``gateway check`` folds a file of messages through ``handle``; the Kafka pipeline runs the
same function. ``HANDLERS`` at the bottom maps each message type to its handler: brands in
``brands``, casts, eCOAs and forms in ``certificates``, lots, requests and cancellations in
``warrants``; the state they share is in ``state``.

Besides its decisions, the registry emits the custody moves its own events imply
(``gateway.registry.custody_moves``), in the same step as the event: a lot arriving with a
certified claim, a warrant issued to a named holder for such a lot, and that warrant cancelled. They
travel to the ledger in the registry's transaction, so each is published exactly once. A lot
without a claim, or a request naming no holder, moves nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from contracts.base import Contract
from contracts.brands import (
    DelistBrand,
    ListBrand,
    ReinstateBrand,
    SuspendBrand,
)
from contracts.cbam import CbamEmissionsFormSubmitted
from contracts.clock import ClockTicked
from contracts.ecoa import ECoACreated
from contracts.lots import LotArrived
from contracts.production import ProductionBatchRecorded
from contracts.warrants import (
    CancelWarrant,
    RequestWarrant,
)
from gateway.registry.brands import delist_brand, list_brand, reinstate_brand, suspend_brand
from gateway.registry.certificates import decide_ecoa_message, decide_form_message, record_batch
from gateway.registry.state import CANONICAL_DIGEST, CommandRefused, Context, RegistryState, Step
from gateway.registry.warrants import (
    cancel_warrant,
    clock_ticked,
    expire_overdue_requests,
    lot_arrived,
    request_warrant,
)
from gateway.rulebook.model import Rulebook


def handle(
    state: RegistryState,
    body: Contract,
    *,
    now: datetime,
    rulebook: Rulebook,
    digest: str | None = None,
) -> Step:
    """Apply one incoming message; raises ``CommandRefused`` for an impossible command or a
    reused id, and ``LookupError`` for a type the registry does not take in.

    A message whose id was handled before with the same body changes nothing (no outputs):
    delivering it twice is harmless. ``digest`` tells one content from another (the
    pipeline computes it once from the record; by default ``body_digest``).
    """
    handler = HANDLERS.get(type(body))
    if handler is None:
        raise LookupError(f"the registry does not take {body.MESSAGE_TYPE} as input")
    context = Context(rulebook=rulebook, now=now)
    if isinstance(body, ClockTicked):
        return clock_ticked(state, body, context)
    identity = _identity(body)
    if identity is None:
        return _with_expiries(state, body, context, handler)
    brand, id_field, message_id = identity
    if digest is None:
        digest = body_digest(body)
    earlier = state.handled_digest(brand, message_id)
    if earlier is not None and _same_content(earlier, digest, body):
        return Step(state, ())
    if earlier is not None:
        raise CommandRefused(
            id_field,
            "message identity",
            f"{id_field} {message_id.split(':', 1)[1]} was already used for another "
            f"{body.MESSAGE_TYPE} message; send a new id for new content",
        )
    step = _with_expiries(state, body, context, handler)
    return Step(step.state.with_handled(brand, message_id, digest), step.outputs)


def _with_expiries(
    state: RegistryState, body: Contract, context: Context, handler: Handler
) -> Step:
    """The brand's requests pending past the limit are rejected as expired before the
    message is decided (as the clock's ticks reject them between the brand's messages)."""
    state, expired = expire_overdue_requests(state, _brand_of(body), context)
    step = handler(state, body, context)
    return Step(step.state, (*expired, *step.outputs))


def _brand_of(body: Contract) -> str:
    """The brand every input the registry takes is of (its partition key)."""
    brand = getattr(body, "brand", None)
    if not isinstance(brand, str):
        raise LookupError(f"{body.MESSAGE_TYPE} names no brand")
    return brand


def body_digest(body: Contract) -> str:
    """What tells one content of a message id from another, for a body without its record
    (``gateway check``): the digest of its canonical JSON."""
    return CANONICAL_DIGEST + hashlib.sha256(body.model_dump_json().encode("utf-8")).hexdigest()


def record_digest(value: bytes) -> str:
    """The same, from the record's bytes as they came (computed once, no re-serialising): a
    redelivery is byte for byte the same record."""
    return _RECORD + hashlib.sha256(value).hexdigest()


_RECORD = "bytes:"


def _same_content(earlier: str, digest: str, body: Contract) -> bool:
    """A digest of the canonical JSON (from ``gateway check``, or kept from version 0 of the
    state) is compared with the body's own."""
    if earlier == digest:
        return True
    return earlier.startswith(CANONICAL_DIGEST) and earlier == body_digest(body)


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


Handler = Callable[[RegistryState, Any, Context], Step]

HANDLERS: Mapping[type[Contract], Handler] = {
    ListBrand: list_brand,
    SuspendBrand: suspend_brand,
    ReinstateBrand: reinstate_brand,
    DelistBrand: delist_brand,
    ProductionBatchRecorded: record_batch,
    ECoACreated: decide_ecoa_message,
    CbamEmissionsFormSubmitted: decide_form_message,
    LotArrived: lot_arrived,
    RequestWarrant: request_warrant,
    CancelWarrant: cancel_warrant,
    ClockTicked: clock_ticked,
}
