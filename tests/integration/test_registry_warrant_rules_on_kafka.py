"""Issue 11's warrant rules on the real broker, across a restart of the registry: what a
pending lot's rejected certificates broke, the pending limit, and the recorded chemistry."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from contracts.custody import CustodyMovementRecorded
from contracts.ecoa import ECoAAccepted
from contracts.warrants import WarrantIssued, WarrantPending, WarrantRejected
from gateway.rulebook.model import load_rulebook
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    all_outputs,
    publish,
    registry_settings,
    running_registry,
    wait_until_consumed,
)
from tests.unit.test_check_scenarios import NOT_SUMMARISED, run, summary
from tests.unit.test_registry import scenario_messages
from tests.unit.test_registry_custody_moves import cancel, claimed_scenario
from tests.unit.test_registry_warrant_rules_pipeline import timed_messages

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
    decided = [
        (
            record.decoded.envelope.type,
            [v.code for v in getattr(record.decoded.body, "violations", ())]
            + [m.reference for m in getattr(record.decoded.body, "missing", ())],
        )
        for record in await all_outputs(topics)
        if record.decoded.envelope.type not in NOT_SUMMARISED
    ]
    checked = [(kind, codes) for _, kind, codes in summary(run("recorded_chemistry.jsonl")[0])]
    assert sorted(decided) == sorted(checked)  # read topic after topic
    assert ("custody.production-batch.rejected", ["CAST_CHEMISTRY_DISAGREES"]) in decided
