"""The sender a record proves: its signature against the keys the exchange registered.

With a parties file, a record on a topic parties write must be signed (``ce_signedby``,
``ce_signature``; see :mod:`contracts.signatures`) by a key of the party its ``ce_partyid``
names. A record that is unsigned, signed by an unknown party, altered after signing, or signed
by one party while claiming another is set aside as a dead letter naming both parties. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.parties import PartiesFile
from contracts.signatures import signature_problem
from contracts.topics import TopicSpec
from contracts.values import PartyRole
from gateway.processors.records import InputRecord


@dataclass(frozen=True)
class SigningKeys:
    """The public keys records must be signed with: each party's from the parties file, and
    the gateway's own (for what it writes on a topic parties write too)."""

    public_keys_of: Mapping[str, tuple[bytes, ...]]


@dataclass(frozen=True)
class Unauthenticated:
    """Why a record does not prove its sender: the message, and the header at fault."""

    message: str
    field: str


def needs_signature(topic: TopicSpec) -> bool:
    """Whether records on ``topic`` must be signed: a topic some party writes (a topic only
    the gateway writes is closed to every other principal by the broker's ACLs)."""
    return topic.writer_roles != (PartyRole.REGISTRY,)


def authentication_refusal(
    record: InputRecord, claimed_sender: str, keys: SigningKeys
) -> Unauthenticated | None:
    """Why ``record`` is not proven to come from ``claimed_sender`` (its ``ce_partyid``), or
    None when its signature verifies with a key of that very party."""
    signer, problem = signature_problem(
        record.topic,
        record.key,
        record.headers,
        record.value,
        keys.public_keys_of,
    )
    if problem is not None:
        return Unauthenticated(
            f"sender {claimed_sender} (ce_partyid) is not proven: {problem.message}",
            problem.header,
        )
    if signer != claimed_sender:
        return Unauthenticated(
            f"ce_partyid claims {claimed_sender}, but the record is signed by {signer}: a "
            "party sends only as itself",
            "ce_partyid",
        )
    return None


def signing_keys_of(parties: PartiesFile, **more: tuple[bytes, ...]) -> SigningKeys:
    """The keys of every party in ``parties``, with ``more`` (the gateway's own) added."""
    keys = {party.id: party.public_keys() for party in parties}
    keys.update(more)
    return SigningKeys(keys)
