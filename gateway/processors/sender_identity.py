"""Who may send what: the envelope's sender party against the topic and the body.

A broker cannot tell a consumer who produced a record, so the registry checks what it can:
the party named in the envelope (``ce_partyid``) must be the party the body speaks for (the
warehouse of a lot, a warrant request or a warrant cancellation, the creator of an eCOA), and
only a brand's own producer may send that brand's casts, Enhanced eCOAs and CBAM forms; only
the gateway's own party writes what the registry writes for itself (its clock's ticks).
With a parties file, the sender is first proven (:mod:`gateway.processors.signed_senders`):
the record must be signed by a key the exchange registered for the party ``ce_partyid``
names; the broker's ACLs keep each principal to its roles' topics. The rules below then hold
for a party that is who it says it is.

The registry pipeline and ``gateway check`` (a line that states its sender) apply these same
functions, against the state before the message. Where the rulebook says who may send, its
rule is cited (a brand's form: §4.2.1; an Enhanced eCOA: SCR 4.6; a producer's Basic eCOA:
SCR 4.4(c)); the rest is the gateway's own "sender identity".
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime

from contracts.base import Contract
from contracts.cbam import CbamEmissionsFormSubmitted
from contracts.ecoa import ECoACreated, ECoAKind
from contracts.lots import LotArrived
from contracts.production import ProductionBatchRecorded
from contracts.topics import CATALOGUE, TopicSpec
from contracts.values import PartyRole
from contracts.warrants import CancelWarrant, RequestWarrant
from gateway.registry.decision_messages import ecoa_message, form_message
from gateway.registry.state import RegistryState
from gateway.rulebook.decisions import ECoADecision, FormDecision
from gateway.rulebook.model import Rulebook
from gateway.violations import Violation

SENDER_RULE = "sender identity"


def sender_violation(
    topic: TopicSpec,
    sender: str,
    body: Contract,
    state: RegistryState,
    *,
    rulebook: Rulebook,
    exchange_parties: Set[str],
    registry_party: str,
) -> Violation | None:
    """Why ``sender`` may not send ``body`` on ``topic``, or None when it may."""
    if topic.writer_roles == (PartyRole.REGISTRY,) and sender != registry_party:
        return _refused(
            sender,
            registry_party,
            f"only the gateway's own party {registry_party} writes {topic.name}",
            "ce_partyid",
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
                rule=_producer_rule(body, rulebook),
            )
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
    if PartyRole.EXCHANGE in topic.writer_roles and sender not in exchange_parties:
        return _refused(
            sender,
            ", ".join(sorted(exchange_parties)),
            "brand listing commands come only from the exchange's listing parties",
            "ce_partyid",
        )
    return None


def sender_rejection(
    body: Contract, refusal: Violation, *, rulebook_version: str, now: datetime
) -> Contract | None:
    """The decision an eCOA or a form from a sender who may not send it gets (the sender reads
    those decisions); None for any other message, which is set aside."""
    if isinstance(body, ECoACreated):
        return ecoa_message(
            ECoADecision(body.ecoa_id, body.brand, body.kind, (refusal,), ()),
            rulebook_version=rulebook_version,
            now=now,
        )
    if isinstance(body, CbamEmissionsFormSubmitted):
        return form_message(
            FormDecision(body.form_id, body.brand, body.reporting_year, (refusal,), None),
            body,
            rulebook_version=rulebook_version,
            now=now,
        )
    return None


def ingest_topic_of(body: Contract) -> TopicSpec:
    """The topic a message is sent on when no record says (``gateway check``): an eCOA on
    its creator's role's topic, anything else on the one ingest topic that carries it."""
    carrying = [spec for spec in CATALOGUE if type(body) in spec.message_types]
    if not carrying:
        raise LookupError(f"no topic carries {body.MESSAGE_TYPE}")
    if isinstance(body, ECoACreated):
        for spec in carrying:
            if body.created_by_role in spec.writer_roles:
                return spec
    return carrying[0]


def _producer_rule(body: Contract, rulebook: Rulebook) -> str:
    """The rulebook's rule on who may send what a brand's producer sends."""
    if isinstance(body, CbamEmissionsFormSubmitted):
        return rulebook.cbam.rules["brand_uploads"]
    if isinstance(body, ECoACreated):
        return "SCR 4.6" if body.kind is ECoAKind.ENHANCED else "SCR 4.4(c)"
    return SENDER_RULE


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


def _refused(
    sender: str, allowed: str, message: str, field: str, *, rule: str = SENDER_RULE
) -> Violation:
    return Violation(
        code="SENDER_NOT_PERMITTED",
        rule=rule,
        field=field,
        observed=sender,
        allowed=allowed,
        message=message,
    )
