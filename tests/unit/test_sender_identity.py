"""Only the party a message speaks for may send it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.base import Contract
from contracts.clock import ClockTicked
from contracts.ecoa import ECoAKind
from contracts.topics import TOPICS_BY_NAME
from contracts.values import PartyRole
from gateway.processors.sender_identity import ingest_topic_of, sender_violation
from gateway.registry.state import RegistryState
from gateway.violations import Violation
from tests.unit.test_registry import RULEBOOK, after, scenario_messages
from tests.unit.test_registry_custody_moves import cancel

MESSAGES = {type(m).__name__: m for m in scenario_messages()}
LISTED, _ = after([MESSAGES["ListBrand"]])
EXCHANGE = frozenset({"exchange-listing-desk"})
REGISTRY = "custody-registry"


def violation(topic: str, sender: str, body: Contract, state: RegistryState) -> Violation | None:
    return sender_violation(
        TOPICS_BY_NAME[topic],
        sender,
        body,
        state,
        rulebook=RULEBOOK,
        exchange_parties=EXCHANGE,
        registry_party=REGISTRY,
    )


def check(topic: str, sender: str, body: Contract, state: RegistryState = LISTED) -> str | None:
    found = violation(topic, sender, body, state)
    return None if found is None else f"{found.code} {found.field} {found.allowed}"


def rule_of(topic: str, sender: str, body: Contract, state: RegistryState = LISTED) -> str | None:
    found = violation(topic, sender, body, state)
    return None if found is None else found.rule


@pytest.mark.parametrize(
    ("topic", "sender", "name", "expected"),
    [
        ("producer.production-batches", "smelter-nordal", "ProductionBatchRecorded", None),
        (
            "producer.production-batches",
            "smelter-other",
            "ProductionBatchRecorded",
            "SENDER_NOT_PERMITTED ce_partyid smelter-nordal",
        ),
        ("producer.ecoas", "smelter-nordal", "ECoACreated", None),
        (
            "producer.ecoas",
            "smelter-other",
            "ECoACreated",
            "SENDER_NOT_PERMITTED ce_partyid smelter-nordal",
        ),
        (
            "warehouse.ecoas",
            "smelter-nordal",
            "ECoACreated",
            "SENDER_NOT_PERMITTED created_by_role warehouse",
        ),
        ("producer.cbam-forms", "smelter-nordal", "CbamEmissionsFormSubmitted", None),
        (
            "producer.cbam-forms",
            "smelter-other",
            "CbamEmissionsFormSubmitted",
            "SENDER_NOT_PERMITTED ce_partyid smelter-nordal",
        ),
        ("warehouse.lot-arrivals", "warehouse-rotterdam-07", "LotArrived", None),
        (
            "warehouse.lot-arrivals",
            "warehouse-antwerp-02",
            "LotArrived",
            "SENDER_NOT_PERMITTED warehouse_id warehouse-rotterdam-07",
        ),
        ("warehouse.warrant-requests", "warehouse-rotterdam-07", "RequestWarrant", None),
        (
            "warehouse.warrant-requests",
            "smelter-nordal",
            "RequestWarrant",
            "SENDER_NOT_PERMITTED warehouse_id warehouse-rotterdam-07",
        ),
        ("exchange.brand-commands", "exchange-listing-desk", "ListBrand", None),
        (
            "exchange.brand-commands",
            "smelter-nordal",
            "ListBrand",
            "SENDER_NOT_PERMITTED ce_partyid exchange-listing-desk",
        ),
    ],
)
def test_sender_rule(topic: str, sender: str, name: str, expected: str | None) -> None:
    assert check(topic, sender, MESSAGES[name]) == expected


def test_before_a_brand_is_listed_its_producer_is_not_known_and_the_rules_decide() -> None:
    batch = MESSAGES["ProductionBatchRecorded"]
    assert check("producer.production-batches", "anyone", batch, RegistryState()) is None


def test_writer_roles_of_member_ecoas() -> None:
    assert TOPICS_BY_NAME["member.ecoas"].writer_roles == (
        PartyRole.MEMBER,
        PartyRole.PERMITTED_PARTY,
    )


def test_a_warrant_cancellation_comes_only_from_the_warehouse_it_names() -> None:
    assert check("warehouse.warrant-requests", "warehouse-rotterdam-07", cancel()) is None
    assert (
        check("warehouse.warrant-requests", "warehouse-antwerp-02", cancel())
        == "SENDER_NOT_PERMITTED warehouse_id warehouse-rotterdam-07"
    )


@pytest.mark.parametrize(
    ("topic", "sender", "body", "rule"),
    [
        ("producer.cbam-forms", "smelter-other", MESSAGES["CbamEmissionsFormSubmitted"], "§4.2.1"),
        ("producer.ecoas", "smelter-other", MESSAGES["ECoACreated"], "SCR 4.6"),
        (
            "producer.ecoas",
            "smelter-other",
            MESSAGES["ECoACreated"].model_copy(update={"kind": ECoAKind.BASIC}),
            "SCR 4.4(c)",
        ),
        (
            "producer.production-batches",
            "smelter-other",
            MESSAGES["ProductionBatchRecorded"],
            "sender identity",
        ),
        (
            "warehouse.lot-arrivals",
            "warehouse-antwerp-02",
            MESSAGES["LotArrived"],
            "sender identity",
        ),
        ("exchange.brand-commands", "smelter-nordal", MESSAGES["ListBrand"], "sender identity"),
    ],
)
def test_a_wrong_sender_is_refused_under_the_rulebook_rule_where_it_has_one(
    topic: str, sender: str, body: Contract, rule: str
) -> None:
    assert rule_of(topic, sender, body) == rule


def test_the_topic_of_a_message_without_a_record_follows_its_sender_role() -> None:
    ecoa = MESSAGES["ECoACreated"]
    assert ingest_topic_of(ecoa).name == "producer.ecoas"
    member = ecoa.model_copy(update={"created_by_role": PartyRole.MEMBER})
    assert ingest_topic_of(member).name == "member.ecoas"
    assert ingest_topic_of(MESSAGES["LotArrived"]).name == "warehouse.lot-arrivals"


def test_only_the_gateways_own_party_writes_the_registrys_clock() -> None:
    tick = ClockTicked.build(partition=0, ticked_at=datetime(2026, 3, 2, tzinfo=UTC))
    assert check("registry.clock", REGISTRY, tick) is None
    assert check("registry.clock", "warehouse-rotterdam-07", tick) == (
        "SENDER_NOT_PERMITTED ce_partyid custody-registry"
    )
