"""The simulated parties of the demo and tests, one per role."""

from __future__ import annotations

from collections.abc import Mapping

from contracts.base import Contract
from contracts.topics import CATALOGUE
from contracts.values import PartyRole

DEMO_PARTIES: Mapping[PartyRole, str] = {
    PartyRole.PRODUCER: "smelter-nordal",
    PartyRole.WAREHOUSE: "warehouse-rotterdam-07",
    PartyRole.MEMBER: "member-northsea-metals",
    PartyRole.PERMITTED_PARTY: "inspector-alucheck",
    PartyRole.EXCHANGE: "exchange-listing-desk",
    PartyRole.REGISTRY: "custody-registry",
}


def sender_role_for(message_type: type[Contract]) -> PartyRole:
    """The role that first writes ``message_type`` in the catalogue (its usual sender)."""
    for spec in CATALOGUE:
        if message_type in spec.message_types:
            return spec.writer_roles[0]
    raise LookupError(f"no topic carries {message_type.MESSAGE_TYPE}")


def sender_role_of(body: Contract) -> PartyRole:
    """The role that sends this very message: an eCOA comes from its creator's role."""
    role = getattr(body, "created_by_role", None)
    if isinstance(role, PartyRole):
        return role
    return sender_role_for(type(body))
