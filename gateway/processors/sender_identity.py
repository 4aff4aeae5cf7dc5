"""Who may send what: the envelope's sender party against the topic and the body.

A broker cannot tell a consumer who produced a record, so the registry checks what it can:
the party named in the envelope (``ce_partyid``) must be the party the body speaks for (the
warehouse of a lot, a warrant request or a warrant cancellation, the creator of an eCOA), and
only a brand's own producer may send that brand's casts, Enhanced eCOAs and CBAM forms.
Broker-level authentication (one principal per party, ACLs per ingest topic) plugs in
underneath without changing these rules.
"""

from __future__ import annotations

from collections.abc import Set

from contracts.base import Contract
from contracts.cbam import CbamEmissionsFormSubmitted
from contracts.ecoa import ECoACreated
from contracts.lots import LotArrived
from contracts.production import ProductionBatchRecorded
from contracts.topics import TopicSpec
from contracts.values import PartyRole
from contracts.warrants import CancelWarrant, RequestWarrant
from gateway.registry.state import RegistryState
from gateway.violations import Violation

SENDER_RULE = "sender identity"


def sender_violation(
    topic: TopicSpec,
    sender: str,
    body: Contract,
    state: RegistryState,
    *,
    exchange_parties: Set[str],
) -> Violation | None:
    """Why ``sender`` may not send ``body`` on ``topic``, or None when it may."""
    claimed = _claimed_sender(body)
    if claimed is not None and claimed != sender:
        field, party = _claimed_field(body), claimed
        return _refused(
            sender,
            party,
            f"the envelope's sender {sender} is not the {field} {party} the message speaks for",
            field,
        )
    if isinstance(body, ECoACreated) and body.created_by_role not in topic.writer_roles:
        return _refused(
            sender,
            " or ".join(role.value for role in topic.writer_roles),
            f"a {body.created_by_role.value} may not create eCOAs on {topic.name}",
            "created_by_role",
        )
    if PartyRole.PRODUCER in topic.writer_roles and _speaks_for_brand(body):
        record = state.brand(_brand_of(body)).record
        if record is not None and record.producer_id != sender:
            return _refused(
                sender,
                record.producer_id,
                f"only brand {record.brand}'s producer {record.producer_id} may send its "
                f"{body.MESSAGE_TYPE} messages",
                "ce_partyid",
            )
    if PartyRole.EXCHANGE in topic.writer_roles and sender not in exchange_parties:
        return _refused(
            sender,
            ", ".join(sorted(exchange_parties)),
            "brand listing commands come only from the exchange's listing parties",
            "ce_partyid",
        )
    return None


def _claimed_field(body: Contract) -> str:
    if isinstance(body, ECoACreated):
        return "created_by"
    return "warehouse_id"


def _claimed_sender(body: Contract) -> str | None:
    """The party the body itself says it comes from."""
    if isinstance(body, ECoACreated):
        return body.created_by
    if isinstance(body, LotArrived | RequestWarrant | CancelWarrant):
        return body.warehouse_id
    return None


def _speaks_for_brand(body: Contract) -> bool:
    return isinstance(body, ProductionBatchRecorded | CbamEmissionsFormSubmitted | ECoACreated)


def _brand_of(body: Contract) -> str:
    assert isinstance(body, ProductionBatchRecorded | CbamEmissionsFormSubmitted | ECoACreated)
    return body.brand


def _refused(sender: str, allowed: str, message: str, field: str) -> Violation:
    return Violation(
        code="SENDER_NOT_PERMITTED",
        rule=SENDER_RULE,
        field=field,
        observed=sender,
        allowed=allowed,
        message=message,
    )
