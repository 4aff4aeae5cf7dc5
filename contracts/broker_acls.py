"""The broker's ACLs, derived from the parties file and the topic catalogue (pure data).

A party is the principal ``User:<id>``. It may:

- write (WRITE, DESCRIBE) the topics whose ``writer_roles`` include one of its roles,
  matching ``Role`` to ``PartyRole`` by value (holders and importers write nothing);
- read (READ, DESCRIBE) the topics whose ``subscriber_roles`` include one of its roles,
  matching ``Role`` to ``ReaderRole`` by value. A permitted party (an inspector, a
  laboratory) is no member: it reads only the topics open to every role;
- consume in groups whose id starts with its own id and a dot, e.g.
  ``holder-fjord-capital.warrant-feed`` (GROUP READ, PREFIXED; the dot keeps ``member-a``
  out of the groups of ``member-ab``).

The gateway's principal reads the topics it consumes, writes only the topics the catalogue
lists ``PartyRole.REGISTRY`` as a writer of (never an ingest topic that only parties
write), describes every catalogue topic, and uses groups and transactional ids starting with
its group prefixes (``custody-`` after the topic prefix: ``custody-registry``,
``custody-ledger-0``, ``custody-readside-...``). An idempotent producer needs no cluster
permission on Kafka 3.x (KIP-679): WRITE on a topic is enough.

Nothing else is allowed: the broker runs with ``allow.everyone.if.no.acl.found=false``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from contracts.parties import PartiesFile, PartyEntry, Role
from contracts.topics import CATALOGUE, ReaderRole, TopicSpec
from contracts.values import PartyRole

GATEWAY_GROUP_PREFIX = "custody-"
"""What the gateway's consumer groups and transactional ids start with, after the topic
prefix (``{topic_prefix}{group}`` and ``{topic_prefix}{group}-{partition}``)."""


class ResourceType(StrEnum):
    TOPIC = "TOPIC"
    GROUP = "GROUP"
    TRANSACTIONAL_ID = "TRANSACTIONAL_ID"
    CLUSTER = "CLUSTER"


class PatternType(StrEnum):
    LITERAL = "LITERAL"
    PREFIXED = "PREFIXED"


class Operation(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    DESCRIBE = "DESCRIBE"


@dataclass(frozen=True, order=True)
class AclEntry:
    """One ACL: ``principal`` may (or, with ``allow`` False, may not) do ``operation`` on
    the resources named ``resource_name`` (exactly, or every name starting with it)."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    pattern: PatternType
    operation: Operation
    allow: bool = True


@dataclass(frozen=True)
class GatewayGrant:
    """The gateway's principal and what it uses. ``reads`` are catalogue topic names
    (without the prefix); None means every catalogue topic."""

    principal: str
    group_prefixes: tuple[str, ...] = (GATEWAY_GROUP_PREFIX,)
    reads: Collection[str] | None = None


def principal_of(name: str) -> str:
    return f"User:{name}"


def group_prefix_of(party: PartyEntry) -> str:
    """What a party's consumer group ids must start with."""
    return f"{party.id}."


def _writer_roles(party: PartyEntry) -> set[PartyRole]:
    values = {role.value for role in PartyRole}
    return {PartyRole(role.value) for role in party.roles if role.value in values}


def _reader_roles(party: PartyEntry) -> set[ReaderRole]:
    values = {role.value for role in ReaderRole}
    return {ReaderRole(role.value) for role in party.roles if role.value in values}


def _open_to_all(spec: TopicSpec) -> bool:
    return set(ReaderRole) <= set(spec.subscriber_roles)


def party_writes(party: PartyEntry, catalogue: Sequence[TopicSpec] = CATALOGUE) -> list[str]:
    """The catalogue topics (unprefixed) a party may write."""
    roles = _writer_roles(party)
    return [spec.name for spec in catalogue if roles & set(spec.writer_roles)]


def party_reads(party: PartyEntry, catalogue: Sequence[TopicSpec] = CATALOGUE) -> list[str]:
    """The catalogue topics (unprefixed) a party may read."""
    roles = _reader_roles(party)
    permitted = Role.PERMITTED_PARTY in party.roles
    return [
        spec.name
        for spec in catalogue
        if roles & set(spec.subscriber_roles) or (permitted and _open_to_all(spec))
    ]


def _topic_entries(
    principal: str, names: Sequence[str], prefix: str, operations: Sequence[Operation]
) -> list[AclEntry]:
    return [
        AclEntry(principal, ResourceType.TOPIC, prefix + name, PatternType.LITERAL, operation)
        for name in names
        for operation in operations
    ]


def party_acls(
    party: PartyEntry, catalogue: Sequence[TopicSpec] = CATALOGUE, topic_prefix: str = ""
) -> list[AclEntry]:
    principal = principal_of(party.id)
    writes = _topic_entries(
        principal,
        party_writes(party, catalogue),
        topic_prefix,
        (Operation.WRITE, Operation.DESCRIBE),
    )
    reads = _topic_entries(
        principal,
        party_reads(party, catalogue),
        topic_prefix,
        (Operation.READ, Operation.DESCRIBE),
    )
    group = AclEntry(
        principal, ResourceType.GROUP, group_prefix_of(party), PatternType.PREFIXED, Operation.READ
    )
    return [*writes, *reads, group]


def gateway_acls(
    grant: GatewayGrant, catalogue: Sequence[TopicSpec] = CATALOGUE, topic_prefix: str = ""
) -> list[AclEntry]:
    principal = principal_of(grant.principal)
    every = [spec.name for spec in catalogue]
    reads = every if grant.reads is None else [name for name in every if name in grant.reads]
    writes = [spec.name for spec in catalogue if PartyRole.REGISTRY in spec.writer_roles]
    entries = [
        *_topic_entries(principal, every, topic_prefix, (Operation.DESCRIBE,)),
        *_topic_entries(principal, reads, topic_prefix, (Operation.READ,)),
        *_topic_entries(principal, writes, topic_prefix, (Operation.WRITE,)),
    ]
    for group_prefix in grant.group_prefixes:
        name = topic_prefix + group_prefix
        entries.append(
            AclEntry(principal, ResourceType.GROUP, name, PatternType.PREFIXED, Operation.READ)
        )
        entries.extend(
            AclEntry(principal, ResourceType.TRANSACTIONAL_ID, name, PatternType.PREFIXED, op)
            for op in (Operation.WRITE, Operation.DESCRIBE)
        )
    return entries


def broker_acls(
    parties: PartiesFile,
    gateway: GatewayGrant,
    catalogue: Sequence[TopicSpec] = CATALOGUE,
    topic_prefix: str = "",
) -> frozenset[AclEntry]:
    """Every ACL of a secured broker: the gateway's and each party's."""
    if gateway.principal in parties.by_id():
        raise ValueError(f"the parties file lists {gateway.principal}, the gateway's own principal")
    entries = gateway_acls(gateway, catalogue, topic_prefix)
    for party in parties:
        entries.extend(party_acls(party, catalogue, topic_prefix))
    return frozenset(entries)
