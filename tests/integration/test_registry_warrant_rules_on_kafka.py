"""Issue 11's warrant rules on the real broker, across a restart of the registry: what a
pending lot's rejected certificates broke, the pending limit and the recorded chemistry; a
lot of two brands, and a version 1 lot on the wire."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from pydantic import TypeAdapter

from contracts.custody import CustodyMovementRecorded
from contracts.ecoa import ECoAAccepted
from contracts.envelope import decode_body, envelope_headers, new_envelope
from contracts.lots import LotArrived
from contracts.topics import route
from contracts.values import PartyRole
from contracts.warrants import WarrantIssued, WarrantPending, WarrantRejected
from gateway.registry import codec
from gateway.registry.state import CastEntry, entity_key, key_kind
from gateway.rulebook.model import load_rulebook
from gateway.rulebook.state import ArrivedLot, arrived_lot
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    all_outputs,
    publish,
    registry_settings,
    running_registry,
    stored_entities,
    wait_until_consumed,
)
from tests.unit.test_check_scenarios import NOT_SUMMARISED, run, summary
from tests.unit.test_registry import scenario_messages
from tests.unit.test_registry_custody_moves import cancel, claimed_scenario
from tests.unit.test_registry_warrant_rules_pipeline import SCENARIOS, timed_messages

pytestmark = pytest.mark.broker

PENDING_LIMIT = timedelta(seconds=4)


def rulebook_file(directory: Path) -> Path:
    """The bundled rulebook with a pending limit of a few seconds."""
    rulebook = load_rulebook().model_copy(update={"pending_limit": PENDING_LIMIT})
    path = directory / "rulebook.json"
    path.write_text(rulebook.model_dump_json(), encoding="utf-8")
    return path


async def test_a_pending_off_specification_lot_names_its_ecoa_and_expires_after_a_restart(
    topics: TestTopics, tmp_path: Path
) -> None:
    *scene, later_cast = [
        message for _, message in timed_messages("offspec_cast_pending_then_expired.jsonl")
    ]
    settings = registry_settings(topics, tmp_path / "state").model_copy(
        update={"rulebook_file": rulebook_file(tmp_path)}
    )
    async with running_registry(settings) as app:
        await publish(topics, scene)
        await wait_until_consumed(topics, app.registry_group_id)
    await asyncio.sleep(PENDING_LIMIT.total_seconds() + 1)
    async with running_registry(settings) as app:  # the open request comes from the store
        await publish(topics, [later_cast])
        await wait_until_consumed(topics, app.registry_group_id)
    bodies = [record.decoded.body for record in await all_outputs(topics)]
    [pending] = [body for body in bodies if isinstance(body, WarrantPending)]
    assert [v.field for v in pending.certificate_violations] == [
        "ecoa[ECOA-NORDAL-0101].casts[0].chemistry.Cu",
        "ecoa[ECOA-NORDAL-0101].casts[0].chemistry.Cu",
    ]
    [rejected] = [body for body in bodies if isinstance(body, WarrantRejected)]
    assert [v.code for v in rejected.violations] == [
        "WARRANT_REQUEST_EXPIRED",
        "CAST_CHEMISTRY_DISAGREES",
        "ELEMENT_OUT_OF_SPECIFICATION",
    ]


async def test_an_issued_warrant_and_an_accepted_ecoa_carry_their_basis_through_kafka(
    topics: TestTopics, tmp_path: Path
) -> None:
    async with running_registry(registry_settings(topics, tmp_path / "state")) as app:
        await publish(topics, scenario_messages())
        await wait_until_consumed(topics, app.registry_group_id)
    bodies = [record.decoded.body for record in await all_outputs(topics)]
    [accepted] = [body for body in bodies if isinstance(body, ECoAAccepted)]
    [issued] = [body for body in bodies if isinstance(body, WarrantIssued)]
    assert accepted.schema_version == issued.schema_version == 2
    assert accepted.rules_applied[2:4] == ("SCR 4.5", "SCR 4.6")
    assert issued.rules_applied[-3:] == ("SCR 4.1", "SCR 4.2", "§4.3 Figure 4")
    assert issued.notes == ("brand NORDAL's 2025 form used until 2026's is due (§4.3 Figure 4)",)


async def test_a_lot_whose_date_contradicts_its_ecoa_is_rejected_then_issued_through_kafka(
    topics: TestTopics, tmp_path: Path
) -> None:
    listing, batch_1, batch_2, ecoa, early_lot, request, lot, request_again, form = (
        message for _, message in timed_messages("lot_date_contradicts_its_ecoa.jsonl")
    )
    settings = registry_settings(topics, tmp_path / "state")
    stages = [[listing, batch_1, batch_2, ecoa, early_lot], [request], [lot], [request_again]]
    for stage in stages:
        async with running_registry(settings) as app:  # each stage after a restart
            await publish(topics, stage)
            await wait_until_consumed(topics, app.registry_group_id)
    async with running_registry(settings) as app:
        await publish(topics, [form])
        await wait_until_consumed(topics, app.registry_group_id)
    bodies = [record.decoded.body for record in await all_outputs(topics)]
    decisions = [
        body.MESSAGE_TYPE
        for body in bodies
        if isinstance(body, WarrantIssued | WarrantRejected | WarrantPending)
    ]
    assert decisions == [
        "custody.warrant.rejected",
        "custody.warrant.pending",
        "custody.warrant.issued",
    ]
    [rejected] = [body for body in bodies if isinstance(body, WarrantRejected)]
    assert [v.code for v in rejected.violations] == ["LOT_PRODUCTION_DATE_NOT_CERTIFIED"]


async def test_a_near_miss_reference_is_found_in_the_stored_casts_after_a_restart(
    topics: TestTopics, tmp_path: Path
) -> None:
    messages = [message for _, message in timed_messages("near_miss_cast_references.jsonl")]
    setting, lots = messages[:7], messages[7:]
    settings = registry_settings(topics, tmp_path / "state")
    async with running_registry(settings) as app:
        await publish(topics, setting)
        await wait_until_consumed(topics, app.registry_group_id)
    for lot, request in zip(lots[::2], lots[1::2], strict=True):
        async with running_registry(settings) as app:  # the casts are read from the store
            await publish(topics, [lot])
            await wait_until_consumed(topics, app.registry_group_id)
            await publish(topics, [request])
            await wait_until_consumed(topics, app.registry_group_id)
    bodies = [record.decoded.body for record in await all_outputs(topics)]
    decided = {
        body.lot_id: body
        for body in bodies
        if isinstance(body, WarrantIssued | WarrantRejected | WarrantPending)
    }
    assert {lot: type(body).__name__ for lot, body in decided.items()} == {
        "LOT-RTM-0501": "WarrantRejected",
        "LOT-RTM-0502": "WarrantIssued",
        "LOT-RTM-0503": "WarrantPending",
    }
    rejected = decided["LOT-RTM-0501"]
    assert isinstance(rejected, WarrantRejected)
    assert [(v.observed, v.allowed) for v in rejected.violations] == [
        ("C26-O101", "C26-0101"),
        ("C26-0l02", "C26-0102"),
    ]


async def test_a_cancelled_lot_is_warranted_again_with_posting_ids_of_its_own_through_kafka(
    topics: TestTopics, tmp_path: Path
) -> None:
    *setting, request = claimed_scenario()
    again = request.model_copy(
        update={"request_id": "REQ-0002", "warrant_holder_id": "member-second"}
    )
    settings = registry_settings(topics, tmp_path / "state")
    for stage in ([*setting, request], [cancel()], [again]):
        async with running_registry(settings) as app:  # each stage after a restart
            await publish(topics, stage)
            await wait_until_consumed(topics, app.registry_group_id)
    bodies = [record.decoded.body for record in await all_outputs(topics)]
    assert [b.warrant_id for b in bodies if isinstance(b, WarrantIssued)] == [
        "WRT-LOT-RTM-0001",
        "WRT-LOT-RTM-0001#2",
    ]
    postings = [b.posting_id for b in bodies if isinstance(b, CustodyMovementRecorded)]
    assert postings == [
        "lot-arrival.LOT-RTM-0001",
        "warrant-issued.WRT-LOT-RTM-0001",
        "warrant-cancelled.WRT-LOT-RTM-0001",
        "warrant-issued.WRT-LOT-RTM-0001#2",
    ]
    assert not [b for b in bodies if isinstance(b, WarrantRejected)]


BUNDLES_SCENARIO = "bundles_of_one_brand_and_batch.jsonl"


def version_1_lot_line(lot_id: str) -> dict[str, object]:
    """The scenario's lot arrival ``lot_id`` as written in the file, a version 1 body."""
    lines = (SCENARIOS / BUNDLES_SCENARIO).read_text(encoding="utf-8").splitlines()
    lots = [json.loads(line)["body"] for line in lines if '"custody.lot.arrived"' in line]
    [body] = [lot for lot in lots if lot["lot_id"] == lot_id]
    assert body["schema_version"] == 1
    return dict(body)


async def send_version_1_lot(topics: TestTopics, body: dict[str, object]) -> None:
    """The version 1 body as an old warehouse system writes it, in its own bytes."""
    lot = decode_body(LotArrived.MESSAGE_TYPE, body)
    envelope = new_envelope(
        lot, source="/test", sender_party_id=str(body["warehouse_id"]), time=datetime.now(UTC)
    )
    spec = route(LotArrived, PartyRole.WAREHOUSE)
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.prefix + spec.name,
            key=spec.key_of(lot),
            value=json.dumps(body).encode(),
            headers=envelope_headers(envelope),
        )
    finally:
        await producer.stop()


async def test_a_two_brand_lot_is_rejected_and_a_version_1_lot_issued_across_a_restart(
    topics: TestTopics, tmp_path: Path
) -> None:
    messages = [message for _, message in timed_messages(BUNDLES_SCENARIO)]
    setting = messages[:5]
    of_lot = {
        lot_id: [m for m in messages if getattr(m, "lot_id", None) == lot_id]
        for lot_id in ("LOT-RTM-0602", "LOT-RTM-0604")
    }
    two_brands, two_brands_request = of_lot["LOT-RTM-0602"]
    _, version_1_request = of_lot["LOT-RTM-0604"]
    settings = registry_settings(topics, tmp_path / "state")
    async with running_registry(settings) as app:
        await publish(topics, [*setting, two_brands, two_brands_request])
        await wait_until_consumed(topics, app.registry_group_id)
        await send_version_1_lot(topics, version_1_lot_line("LOT-RTM-0604"))
        await wait_until_consumed(topics, app.registry_group_id)
    async with running_registry(settings) as app:  # the version 1 lot is read from the store
        await publish(topics, [version_1_request])
        await wait_until_consumed(topics, app.registry_group_id)
    bodies = [record.decoded.body for record in await all_outputs(topics)]
    decided = {
        body.lot_id: body for body in bodies if isinstance(body, WarrantIssued | WarrantRejected)
    }
    assert {lot: type(body).__name__ for lot, body in decided.items()} == {
        "LOT-RTM-0602": "WarrantRejected",
        "LOT-RTM-0604": "WarrantIssued",
    }
    rejected = decided["LOT-RTM-0602"]
    assert isinstance(rejected, WarrantRejected)
    assert [(v.code, v.rule, v.field, v.observed) for v in rejected.violations] == [
        ("MORE_THAN_ONE_BRAND", "Aluminium Alloy SCR 3.2", "bundles[6].brand", "ALUMAX")
    ]
    issued = decided["LOT-RTM-0604"]
    assert isinstance(issued, WarrantIssued)
    assert (issued.document.bundles, issued.document.net_weight_kg) == (20, 20000)


def stored_as_version_1(lot: ArrivedLot) -> bytes:
    """The lot entity as the registry wrote it before bundles stated their brand and casts."""
    entity = TypeAdapter(ArrivedLot).dump_python(lot, mode="json")
    del entity["piece_brands"]
    for bundle in entity["bundles"]:
        del bundle["brand"]
        (bundle["cast_reference"],) = bundle.pop("cast_references")
        batches = bundle.pop("production_batch_references")
        bundle["production_batch_reference"] = batches[0] if batches else None
    return b'{"v":1,"d":' + json.dumps(entity).encode() + b"}"


async def test_a_lot_stored_by_the_previous_registry_is_restored_and_issued_through_kafka(
    topics: TestTopics, tmp_path: Path
) -> None:
    """A version 1 lot entity on the changelog (one cast per bundle, no brand) is restored
    into an empty store and decides its request as before."""
    messages = [message for _, message in timed_messages(BUNDLES_SCENARIO)]
    setting, (lot, request) = messages[:5], messages[-2:]
    assert isinstance(lot, LotArrived)
    state_dir = tmp_path / "state"
    settings = registry_settings(topics, state_dir)
    async with running_registry(settings) as app:
        await publish(topics, setting)
        await wait_until_consumed(topics, app.registry_group_id)
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.prefix + "registry.state-changelog",
            key=entity_key("lot", lot.lot_id).encode(),
            value=stored_as_version_1(arrived_lot(lot)),
            partition=(murmur2(lot.brand.encode()) & 0x7FFFFFFF) % 6,
        )
    finally:
        await producer.stop()
    shutil.rmtree(state_dir)  # restored from the changelog alone
    async with running_registry(settings) as app:
        await publish(topics, [request])
        await wait_until_consumed(topics, app.registry_group_id)
    bodies = [record.decoded.body for record in await all_outputs(topics)]
    [issued] = [body for body in bodies if isinstance(body, WarrantIssued)]
    assert (issued.lot_id, issued.document.bundles, issued.document.pieces) == (
        lot.lot_id,
        20,
        2500,
    )


async def decided_on_the_broker(topics: TestTopics) -> list[tuple[str, list[str]]]:
    """Each output's type with its violations' codes and missing references, as
    ``test_check_scenarios.summary`` gives them for a file."""
    return [
        (
            record.decoded.envelope.type,
            [v.code for v in getattr(record.decoded.body, "violations", ())]
            + [m.reference for m in getattr(record.decoded.body, "missing", ())],
        )
        for record in await all_outputs(topics)
        if record.decoded.envelope.type not in NOT_SUMMARISED
    ]


async def test_recorded_chemistry_is_kept_across_restarts_and_compared_whichever_comes_second(
    topics: TestTopics, tmp_path: Path
) -> None:
    """Each stage after a restart: an eCOA is compared with casts recorded before the
    restart, a record with an eCOA accepted before it, and a corrected record re-decides a
    lot stored before it; the decisions are those of ``gateway check``."""
    messages = [message for _, message in timed_messages("recorded_chemistry.jsonl")]
    stages = [messages[:3], messages[3:7], messages[7:8], messages[8:10], messages[10:12]]
    stages += [messages[12:14], messages[14:]]
    settings = registry_settings(topics, tmp_path / "state")
    for stage in stages:
        async with running_registry(settings) as app:
            for message in stage:  # one at a time: decided in the file's order
                await publish(topics, [message])
                await wait_until_consumed(topics, app.registry_group_id)
    decided = await decided_on_the_broker(topics)
    checked = [(kind, codes) for _, kind, codes in summary(run("recorded_chemistry.jsonl")[0])]
    assert sorted(decided) == sorted(checked)  # read topic after topic
    assert ("custody.production-batch.rejected", ["CAST_CHEMISTRY_DISAGREES"]) in decided


async def test_casts_stored_with_each_chemistry_written_out_are_restored_and_compared(
    topics: TestTopics, tmp_path: Path
) -> None:
    """Cast entities at version 2 (each certificate's chemistry written out) on the
    changelog, restored into an empty store: the eCOAs and records after them are compared
    with them and decided as ``gateway check`` decides the file."""
    messages = [message for _, message in timed_messages("recorded_chemistry.jsonl")]
    before, after = messages[:10], messages[10:]  # then records compared with stored eCOAs
    state_dir = tmp_path / "state"
    settings = registry_settings(topics, state_dir)
    async with running_registry(settings) as app:
        for message in before:
            await publish(topics, [message])
            await wait_until_consumed(topics, app.registry_group_id)
    casts = {
        (partition, key): codec.decode(key, value)
        for partition, held in stored_entities(state_dir).items()
        for key, value in held.items()
        if key_kind(key) == "cast"
    }
    assert any(entry.recorded and entry.certificates for entry in casts.values())
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers)
    await producer.start()
    try:
        for (partition, key), entry in casts.items():
            written_out = TypeAdapter(CastEntry).dump_json(entry)
            await producer.send_and_wait(
                topics.prefix + "registry.state-changelog",
                key=key.encode(),
                value=b'{"v":2,"d":' + written_out + b"}",
                partition=partition,
            )
    finally:
        await producer.stop()
    shutil.rmtree(state_dir)  # restored from the changelog alone
    async with running_registry(settings) as app:
        for message in after:
            await publish(topics, [message])
            await wait_until_consumed(topics, app.registry_group_id)
    decided = await decided_on_the_broker(topics)
    checked = [(kind, codes) for _, kind, codes in summary(run("recorded_chemistry.jsonl")[0])]
    assert sorted(decided) == sorted(checked)
