"""The broker ACLs derived from the parties file and the topic catalogue."""

from __future__ import annotations

import pytest

from contracts.broker_acls import (
    AclEntry,
    GatewayGrant,
    Operation,
    PatternType,
    ResourceType,
    broker_acls,
)
from contracts.parties import PartiesFile, PartyEntry, Role
from contracts.topics import CATALOGUE
from contracts.values import PartyRole

PARTIES = PartiesFile(
    parties=(
        PartyEntry(id="smelter-nordal", roles=(Role.PRODUCER,)),
        PartyEntry(id="warehouse-rotterdam-07", roles=(Role.WAREHOUSE,)),
        PartyEntry(id="member-northsea-metals", roles=(Role.MEMBER,)),
        PartyEntry(id="inspector-alucheck", roles=(Role.PERMITTED_PARTY,)),
        PartyEntry(id="exchange-listing-desk", roles=(Role.EXCHANGE,)),
        PartyEntry(id="holder-fjord-capital", roles=(Role.HOLDER,)),
        PartyEntry(id="importer-rhein-alu", roles=(Role.IMPORTER,)),
    )
)
GATEWAY = GatewayGrant("custody-registry")
ACLS = broker_acls(PARTIES, GATEWAY, topic_prefix="p-")
INGEST = [spec.name for spec in CATALOGUE if PartyRole.REGISTRY not in spec.writer_roles]
EMISSIONS = ("registry.cbam-form-decisions", "registry.ecoa-decisions", "registry.cbam-reports")


def topics(party: str, operation: Operation) -> set[str]:
    return {
        acl.resource_name.removeprefix("p-")
        for acl in ACLS
        if acl.principal == f"User:{party}"
        and acl.resource_type is ResourceType.TOPIC
        and acl.operation is operation
    }


def test_every_entry_allows_and_topics_are_literal_and_prefixed() -> None:
    assert all(acl.allow for acl in ACLS)
    topic_acls = [acl for acl in ACLS if acl.resource_type is ResourceType.TOPIC]
    assert all(acl.pattern is PatternType.LITERAL for acl in topic_acls)
    assert all(acl.resource_name.startswith("p-") for acl in topic_acls)
    assert not [acl for acl in ACLS if acl.resource_type is ResourceType.CLUSTER]


def test_a_party_writes_only_its_roles_ingest_topics() -> None:
    assert topics("smelter-nordal", Operation.WRITE) == {
        "producer.production-batches",
        "producer.ecoas",
        "producer.cbam-forms",
        "ledger.commands",
    }
    assert topics("warehouse-rotterdam-07", Operation.WRITE) == {
        "warehouse.lot-arrivals",
        "warehouse.warrant-requests",
        "warehouse.ecoas",
        "ledger.commands",
    }
    assert topics("member-northsea-metals", Operation.WRITE) == {"member.ecoas"}
    assert topics("inspector-alucheck", Operation.WRITE) == {"member.ecoas"}
    assert topics("exchange-listing-desk", Operation.WRITE) == {
        "exchange.brand-commands",
        "ledger.commands",
    }
    assert topics("holder-fjord-capital", Operation.WRITE) == set()
    assert topics("importer-rhein-alu", Operation.WRITE) == set()


def test_what_each_party_reads() -> None:
    followers = {"registry.warrant-state", "registry.brand-status"}
    assert topics("holder-fjord-capital", Operation.READ) == followers
    assert topics("importer-rhein-alu", Operation.READ) == followers
    assert topics("warehouse-rotterdam-07", Operation.READ) == followers
    assert topics("member-northsea-metals", Operation.READ) == followers
    assert topics("smelter-nordal", Operation.READ) == {"registry.brand-status"}
    # A permitted party is no member: only what every role reads.
    assert topics("inspector-alucheck", Operation.READ) == {"registry.brand-status"}


def test_only_the_exchange_reads_topics_carrying_emissions_or_decisions() -> None:
    readers = {
        acl.principal
        for acl in ACLS
        if acl.operation is Operation.READ
        and acl.resource_name.removeprefix("p-")
        in (*EMISSIONS, "registry.warrant-decisions", "registry.custody-balances")
    }
    assert readers == {"User:exchange-listing-desk", "User:custody-registry"}


def test_a_party_consumes_only_in_groups_starting_with_its_id_and_a_dot() -> None:
    groups = {acl for acl in ACLS if acl.resource_type is ResourceType.GROUP}
    assert (
        AclEntry(
            "User:holder-fjord-capital",
            ResourceType.GROUP,
            "holder-fjord-capital.",
            PatternType.PREFIXED,
            Operation.READ,
        )
        in groups
    )
    for party in PARTIES:
        assert {acl.resource_name for acl in groups if acl.principal == f"User:{party.id}"} == {
            f"{party.id}."
        }


def test_the_gateway_never_writes_an_ingest_topic() -> None:
    writes = topics("custody-registry", Operation.WRITE)
    assert not writes & set(INGEST)
    assert {"registry.clock", "ledger.transfers", "ledger.commands"} <= writes
    assert "registry.warrant-decisions" in writes
    assert topics("custody-registry", Operation.READ) == {spec.name for spec in CATALOGUE}
    assert topics("custody-registry", Operation.DESCRIBE) == {spec.name for spec in CATALOGUE}


def test_the_gateways_groups_and_transactional_ids_carry_the_topic_prefix() -> None:
    own = {
        (acl.resource_type, acl.resource_name, acl.pattern, acl.operation)
        for acl in ACLS
        if acl.principal == "User:custody-registry" and acl.resource_type is not ResourceType.TOPIC
    }
    assert own == {
        (ResourceType.GROUP, "p-custody-", PatternType.PREFIXED, Operation.READ),
        (ResourceType.TRANSACTIONAL_ID, "p-custody-", PatternType.PREFIXED, Operation.WRITE),
        (ResourceType.TRANSACTIONAL_ID, "p-custody-", PatternType.PREFIXED, Operation.DESCRIBE),
    }


def test_the_gateways_reads_can_be_narrowed() -> None:
    acls = broker_acls(PARTIES, GatewayGrant("gw", reads={"registry.clock"}))
    reads = {
        a.resource_name
        for a in acls
        if a.principal == "User:gw" and a.operation == "READ" and a.resource_type == "TOPIC"
    }
    assert reads == {"registry.clock"}


def test_a_party_named_like_the_gateway_is_refused() -> None:
    parties = PartiesFile(parties=(PartyEntry(id="custody-registry", roles=(Role.HOLDER,)),))
    with pytest.raises(ValueError, match="gateway's own principal"):
        broker_acls(parties, GATEWAY)
