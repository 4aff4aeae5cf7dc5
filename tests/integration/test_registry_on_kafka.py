"""The registry on the real broker: flows, duplicates, poison records, restarts."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from consumers.record_reader import ReadRecord
from contracts.custody import CustodyMovementRecorded
from contracts.dead_letter import DeadLetterRecorded
from contracts.envelope import encode_body, envelope_headers, new_envelope
from contracts.topics import CATALOGUE
from contracts.warrants import WarrantIssued, WarrantStateChanged
from gateway.registry import codec
from gateway.registry.state import RegistryState
from gateway.runtime.app import GatewayApp
from gateway.runtime.topic_admin import ensure_topics
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    all_outputs,
    http_get,
    publish,
    registry_settings,
    running_registry,
    scenario_for_brand,
    stored_entities,
    types_of,
    wait_until_consumed,
)
from tests.unit.registry_entities import entity_values
from tests.unit.test_registry import scenario_messages
from tests.unit.test_registry_changelog import (
    fold,
    history,
    the_rest,
    version_0_records,
    without_what_version_0_lacked,
)

pytestmark = pytest.mark.broker


def group_of(app: GatewayApp) -> str:
    return app.registry_group_id


def final_warrant_states(records: list[ReadRecord]) -> dict[str, str]:
    states = {}
    for record in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        body = record.decoded.body
        if isinstance(body, WarrantStateChanged):
            states[body.lot_id] = body.state.value
    return states


async def wait_for_split(first: GatewayApp, second: GatewayApp, timeout_s: float = 60) -> None:
    """Until the group has rebalanced over both instances and each holds some partitions."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        assert first.registry is not None and second.registry is not None
        if (
            first.registry.ready
            and second.registry.ready
            and first.registry.owned_partitions
            and (second.registry.owned_partitions)
        ):
            return
        if loop.time() > deadline:
            raise TimeoutError("the two instances did not share the partitions")
        await asyncio.sleep(0.2)


async def test_a_good_lot_is_issued_through_kafka(topics: TestTopics, tmp_path: Path) -> None:
    async with running_registry(registry_settings(topics, tmp_path / "state")) as app:
        await publish(topics, scenario_messages())
        await wait_until_consumed(topics, group_of(app))
        assert app.ops_port is not None
        ready_status, ready_body = await http_get(app.ops_port, "/ready")
        _, metrics = await http_get(app.ops_port, "/metrics")
        asyncapi_status, _ = await http_get(app.ops_port, "/asyncapi.json")
    assert ready_status == 200
    assert json.loads(ready_body)["checks"] == {
        "broker_reachable": True,
        "state_restored": True,
        "ledger_restored": True,
    }
    assert 'custody_gateway_decisions_total{decision="warrant",outcome="issued"} 1.0' in metrics
    assert 'custody_gateway_transactions_total{processor="registry",result="committed"}' in metrics
    assert asyncapi_status == 200
    records = await all_outputs(topics)
    kinds = types_of(records)
    assert kinds.count("custody.warrant.issued") == 1
    assert {"custody.brand.listed", "custody.ecoa.accepted", "custody.cbam-form.accepted"} <= set(
        kinds
    )
    [issued] = [r.decoded.body for r in records if isinstance(r.decoded.body, WarrantIssued)]
    assert issued.document.brand == "NORDAL"
    assert final_warrant_states(records) == {"LOT-RTM-0001": "issued"}


async def test_a_lot_waiting_for_its_ecoa_and_form_is_issued_when_they_arrive(
    topics: TestTopics, tmp_path: Path
) -> None:
    listing, batch_1, batch_2, ecoa, form, lot, request = scenario_messages()
    async with running_registry(registry_settings(topics, tmp_path / "state")) as app:
        await publish(topics, [listing, request])  # before the lot, the eCOA and the form
        await wait_until_consumed(topics, group_of(app))
        await publish(topics, [lot])
        await wait_until_consumed(topics, group_of(app))
        pending = [r.decoded.body for r in await all_outputs(topics)]
        await publish(topics, [batch_1, batch_2, ecoa, form])
        await wait_until_consumed(topics, group_of(app))
    kinds = [body.MESSAGE_TYPE for body in pending]
    assert kinds.count("custody.warrant.pending") == 2  # lot missing, then eCOA + form missing
    records = await all_outputs(topics)
    assert types_of(records).count("custody.warrant.issued") == 1
    assert final_warrant_states(records) == {"LOT-RTM-0001": "issued"}


async def test_the_same_input_delivered_twice_changes_nothing(
    topics: TestTopics, tmp_path: Path
) -> None:
    async with running_registry(registry_settings(topics, tmp_path / "state")) as app:
        await publish(topics, scenario_messages())
        await wait_until_consumed(topics, group_of(app))
        once = await all_outputs(topics)
        await publish(topics, scenario_messages())  # the same bodies again, new envelopes
        await wait_until_consumed(topics, group_of(app))
        twice = await all_outputs(topics)
    assert len(twice) == len(once)
    assert {r.decoded.envelope.id for r in twice} == {r.decoded.envelope.id for r in once}


async def test_poison_records_go_to_the_dead_letters_and_good_ones_behind_them_are_decided(
    topics: TestTopics, tmp_path: Path
) -> None:
    listing, batch = scenario_messages()[:2]
    good_envelope = new_envelope(
        batch, source="/t", sender_party_id="smelter-nordal", time=datetime.now(UTC)
    )
    good_headers = envelope_headers(good_envelope)
    body = json.loads(encode_body(batch))
    poison = {
        "header_not_utf8": (
            [(k, v if k != "ce_source" else b"/parties/\xffnordal") for k, v in good_headers],
            encode_body(batch),
        ),
        "undecodable": (good_headers, b"\x00\x01 not json"),
        "unknown_type": (
            [(k, v if k != "ce_type" else b"custody.cast.melted") for k, v in good_headers],
            encode_body(batch),
        ),
        "schema_violation": (good_headers, json.dumps({**body, "pieces": -1}).encode()),
        "oversized": (good_headers, json.dumps({**body, "site_id": "x" * 20_000}).encode()),
        "missing_header": ([(k, v) for k, v in good_headers if k != "ce_partyid"], b"{}"),
    }
    settings = registry_settings(topics, tmp_path / "state").model_copy(
        update={"max_message_bytes": 10_000}
    )
    topic = topics.prefix + "producer.production-batches"
    async with running_registry(settings) as app:
        await publish(topics, [listing])
        producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers)
        await producer.start()
        try:
            for headers, value in poison.values():
                await producer.send_and_wait(topic, key=b"NORDAL", value=value, headers=headers)
        finally:
            await producer.stop()
        ecoa = scenario_messages()[3]
        await publish(topics, [ecoa])  # a good record behind the poison
        await wait_until_consumed(topics, group_of(app))
    records = await all_outputs(topics)
    letters = [r.decoded.body for r in records if isinstance(r.decoded.body, DeadLetterRecorded)]
    assert Counter(letter.error.kind.value for letter in letters) == Counter(poison.keys())
    for letter in letters:
        assert letter.source.topic == "producer.production-batches"
        assert letter.original_value is not None and not letter.original_value.truncated
        original = base64.b64decode(letter.original_value.kept_base64)
        assert original in {value for _, value in poison.values()}
    assert "custody.ecoa.accepted" in types_of(records)


async def test_a_deleted_state_store_is_rebuilt_from_kafka_with_identical_decisions(
    topics: TestTopics, tmp_path: Path
) -> None:
    *before_request, request = scenario_messages()
    state_dir = tmp_path / "state"
    async with running_registry(registry_settings(topics, state_dir)) as app:
        await publish(topics, before_request)
        await wait_until_consumed(topics, group_of(app))
    states = stored_entities(state_dir)
    assert states
    shutil.rmtree(state_dir)
    async with running_registry(registry_settings(topics, state_dir)) as app:
        pass
    assert stored_entities(state_dir) == states
    async with running_registry(registry_settings(topics, state_dir)) as app:
        await publish(topics, [request])  # restored from the store this time, plus the tail
        await wait_until_consumed(topics, group_of(app))
    again = stored_entities(state_dir)
    assert again != states  # the request was decided meanwhile
    assert {key for entities in again.values() for key in entities} >= {
        key for entities in states.values() for key in entities
    }
    records = await all_outputs(topics)
    assert final_warrant_states(records) == {"LOT-RTM-0001": "issued"}


async def test_two_instances_in_one_group_give_the_same_results_as_one(
    topics: TestTopics, tmp_path: Path, kafka_broker: object
) -> None:
    brands = [scenario_for_brand(n) for n in range(1, 9)]
    listings = [messages[0] for messages in brands]  # brands are listed before they trade
    rest = [message for messages in brands for message in messages[1:]]
    settings_one = registry_settings(topics, tmp_path / "one")
    async with running_registry(settings_one) as app:
        await publish(topics, listings)
        await wait_until_consumed(topics, group_of(app))
        await publish(topics, rest)
        await wait_until_consumed(topics, group_of(app))
    single = await all_outputs(topics)

    other = TestTopics(prefix=topics.prefix + "two-", bootstrap_servers=topics.bootstrap_servers)
    await ensure_topics(other.bootstrap_servers, CATALOGUE, other.prefix)
    async with (
        running_registry(registry_settings(other, tmp_path / "a")) as first,
        running_registry(registry_settings(other, tmp_path / "b")) as second,
    ):
        await wait_for_split(first, second)
        await publish(other, listings)
        await wait_until_consumed(other, group_of(first))
        await publish(other, rest)
        await wait_until_consumed(other, group_of(first))
        assert first.registry is not None and second.registry is not None
        owned = set(first.registry.owned_partitions) | set(second.registry.owned_partitions)
        assert owned == set(range(6))
        assert not set(first.registry.owned_partitions) & set(second.registry.owned_partitions)
        assert first.ledger is not None and second.ledger is not None
        holders = [bool(app.ledger.owned_partitions) for app in (first, second) if app.ledger]
        assert sorted(holders) == [False, True], "exactly one instance holds the ledger"
    shared = await all_outputs(other)

    def decided(records: list[ReadRecord]) -> Counter[tuple[str, str]]:
        """The decisions, without the interim ones: inputs on different topics have no order
        between them, so a request read before its lot is first pending, then decided the
        same way."""
        interim = ("custody.warrant.pending", "custody.warrant.state-changed")
        return Counter(
            (r.decoded.envelope.type, r.decoded.envelope.subject or "")
            for r in records
            if r.decoded.envelope.type not in interim
        )

    assert decided(shared) == decided(single)
    assert final_warrant_states(shared) == final_warrant_states(single)
    assert set(final_warrant_states(single).values()) == {"issued"}


async def test_a_changelog_written_by_the_previous_codec_version_is_restored_and_migrated(
    topics: TestTopics, tmp_path: Path
) -> None:
    """The version-0 changelog (as the registry wrote it before the state had its own types)
    is on the broker; today's registry restores it, decides what comes next as the original
    would, and logs the translated entities, so that a later restore from the changelog
    alone holds the same state."""
    changelog = topics.prefix + "registry.state-changelog"
    partition = (murmur2(b"NORDAL") & 0x7FFFFFFF) % 6
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers)
    await producer.start()
    try:
        for key, value in version_0_records():
            await producer.send_and_wait(
                changelog, key=key.encode(), value=value, partition=partition
            )
    finally:
        await producer.stop()
    state_dir = tmp_path / "state"
    async with running_registry(registry_settings(topics, state_dir)) as app:
        await publish(topics, the_rest())
        await wait_until_consumed(topics, group_of(app))
    records = await all_outputs(topics)
    assert final_warrant_states(records) == {
        "LOT-RTM-0001": "issued",
        "LOT-RTM-0002": "cancelled",
    }
    moves = [r.decoded.body for r in records if isinstance(r.decoded.body, CustodyMovementRecorded)]
    assert [move.posting_id for move in moves] == [
        "lot-arrival.LOT-RTM-0001",
        "warrant-issued.WRT-LOT-RTM-0001",
        "warrant-cancelled.WRT-LOT-RTM-0002",
    ]
    migrated = stored_entities(state_dir)
    expected, _ = fold(RegistryState(), [*history(), *the_rest()])
    held = without_what_version_0_lacked(
        {key: codec.decode(key, value) for key, value in migrated[partition].items()}
    )
    wanted = without_what_version_0_lacked(entity_values(expected))
    assert held.keys() == wanted.keys()
    # a move's date is the day it is decided (the test's NOW vs today); the pipeline digests
    # a record's bytes, the pure fold a body's canonical JSON
    differ = ("move:", "handled:")
    assert {k: v for k, v in held.items() if not k.startswith(differ)} == {
        k: v for k, v in wanted.items() if not k.startswith(differ)
    }
    shutil.rmtree(state_dir)  # rebuilt from today's records on the changelog
    async with running_registry(registry_settings(topics, state_dir)):
        pass
    assert stored_entities(state_dir) == migrated
