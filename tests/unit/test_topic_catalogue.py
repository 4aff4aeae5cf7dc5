"""The topic catalogue is consistent with the contracts."""

from __future__ import annotations

import pytest

from contracts.base import Contract
from contracts.message_types import MESSAGE_TYPES
from contracts.topics import CATALOGUE, CleanupPolicy, NoRoute, TopicSpec, route
from contracts.values import PartyRole
from producers.parties import sender_role_for
from producers.samples import sample_messages


def test_topic_names_are_unique() -> None:
    names = [spec.name for spec in CATALOGUE]
    assert len(names) == len(set(names))


def test_every_message_type_travels_on_some_topic() -> None:
    carried = {t for spec in CATALOGUE for t in spec.message_types}
    assert carried == set(MESSAGE_TYPES.values())


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda spec: spec.name)
def test_every_message_on_a_topic_has_its_key(spec: TopicSpec) -> None:
    samples = {type(body): body for body in sample_messages()}
    for message_type in spec.message_types:
        key = spec.key_of(samples[message_type])
        assert key, f"{message_type.__name__} gives an empty key on {spec.name}"


def test_ingest_topics_for_brand_local_decisions_are_keyed_by_brand() -> None:
    ingest = [spec for spec in CATALOGUE if PartyRole.REGISTRY not in spec.writer_roles]
    assert ingest
    for spec in ingest:
        assert spec.key == "brand", spec.name
        assert spec.partitions == CATALOGUE[0].partitions, spec.name


def test_current_state_topics_are_compacted() -> None:
    compacted = {spec.name for spec in CATALOGUE if spec.cleanup_policy is CleanupPolicy.COMPACT}
    assert compacted == {
        "registry.brand-status",
        "registry.warrant-state",
        "registry.custody-balances",
        "registry.state-changelog",
        "registry.ledger-snapshots",
    }


@pytest.mark.parametrize("body", sample_messages(), ids=lambda body: body.MESSAGE_TYPE)
def test_each_message_routes_from_its_usual_sender(body: Contract) -> None:
    spec = route(type(body), sender_role_for(type(body)))
    assert type(body) in spec.message_types


def test_a_role_cannot_route_what_it_may_not_write() -> None:
    lot_arrival = next(t for t in MESSAGE_TYPES.values() if t.__name__ == "LotArrived")
    with pytest.raises(NoRoute, match="producer"):
        route(lot_arrival, PartyRole.PRODUCER)


def test_ecoas_have_an_ingest_topic_per_sending_role() -> None:
    ecoa = next(t for t in MESSAGE_TYPES.values() if t.__name__ == "ECoACreated")
    topics = {
        route(ecoa, role).name
        for role in (
            PartyRole.PRODUCER,
            PartyRole.WAREHOUSE,
            PartyRole.MEMBER,
            PartyRole.PERMITTED_PARTY,
        )
    }
    assert topics == {"producer.ecoas", "warehouse.ecoas", "member.ecoas"}
