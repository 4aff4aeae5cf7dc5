"""Issue 11's registry items on the real broker: a delisting with notice takes effect at its
time, and survives a restart; a stranger's form is refused under §4.2.1; an implausible form
is refused; the CBAM dates come from the settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from consumers.record_reader import ReadRecord
from contracts.base import Contract
from contracts.brands import BrandDelisted
from contracts.cbam import (
    CbamEmissionsFormSubmitted,
    CbamFormAccepted,
    CbamFormRejected,
    EmbeddedEmissions,
    EmissionsBasis,
)
from contracts.envelope import new_envelope
from contracts.lots import LotArrived
from contracts.warrants import RequestWarrant, WarrantIssued, WarrantRejected
from gateway.runtime.app import GatewayApp, create_app
from gateway.runtime.settings import Settings
from producers.kafka_publisher import EnvelopePublisher
from producers.parties import DEMO_PARTIES, sender_role_for
from tests.conftest import TestTopics
from tests.integration.registry_support import all_outputs, registry_settings, wait_until_consumed
from tests.unit.test_brand_effective_times import ANNOUNCED, EFFECTIVE, delist
from tests.unit.test_registry import scenario_messages

pytestmark = pytest.mark.broker


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextlib.asynccontextmanager
async def registry(settings: Settings, clock: Callable[[], datetime]) -> AsyncIterator[GatewayApp]:
    app = create_app(settings, clock=clock)
    stop = asyncio.Event()
    task = await app.start(stop, timeout_s=60)
    try:
        yield app
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def send(topics: TestTopics, messages: list[Contract], sender: str | None = None) -> None:
    """Each message from its usual sender (or ``sender``), in order."""
    producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers, enable_idempotence=True)
    await producer.start()
    try:
        publisher = EnvelopePublisher(producer, topics.prefix)
        for body in messages:
            role = sender_role_for(type(body))
            party = sender or DEMO_PARTIES[role]
            envelope = new_envelope(body, source="/test", sender_party_id=party, time=ANNOUNCED)
            await publisher.publish(body, envelope, role)
    finally:
        await producer.stop()


def decided(records: list[ReadRecord], message_type: str) -> list[Contract]:
    return [r.decoded.body for r in records if r.decoded.envelope.type == message_type]


def codes(body: Contract) -> list[str]:
    return [v.code for v in getattr(body, "violations", ())]


def second_lot(lot: LotArrived, request: RequestWarrant) -> tuple[LotArrived, RequestWarrant]:
    bundles = tuple(
        b.model_copy(update={"bundle_id": b.bundle_id.replace("0001", "0002")}) for b in lot.bundles
    )
    return (
        lot.model_copy(update={"lot_id": "LOT-RTM-0002", "bundles": bundles}),
        request.model_copy(update={"lot_id": "LOT-RTM-0002", "request_id": "REQ-0002"}),
    )


async def test_a_delisting_with_notice_takes_effect_at_its_time_across_a_restart(
    topics: TestTopics, tmp_path: Path
) -> None:
    *scene, lot, request = scenario_messages()
    assert isinstance(lot, LotArrived) and isinstance(request, RequestWarrant)
    lot_2, request_2 = second_lot(lot, request)
    clock = Clock(ANNOUNCED)
    settings = registry_settings(topics, tmp_path / "state")
    async with registry(settings, clock) as app:
        await send(topics, [*scene, lot, delist()])
        await wait_until_consumed(topics, app.registry_group_id)
        clock.now = EFFECTIVE - timedelta(days=1)
        await send(topics, [request, lot_2])
        await wait_until_consumed(topics, app.registry_group_id)
    clock.now = EFFECTIVE + timedelta(days=1)
    restored = registry_settings(topics, tmp_path / "state-restored")  # from the changelog
    async with registry(restored, clock) as app:
        await send(topics, [request_2])
        await wait_until_consumed(topics, app.registry_group_id)
    records = await all_outputs(topics)
    [announced] = decided(records, "custody.brand.delisted")
    assert isinstance(announced, BrandDelisted) and announced.effective_at == EFFECTIVE
    [issued] = decided(records, "custody.warrant.issued")
    assert isinstance(issued, WarrantIssued) and issued.lot_id == "LOT-RTM-0001"
    [rejected] = decided(records, "custody.warrant.rejected")
    assert isinstance(rejected, WarrantRejected)
    assert (rejected.lot_id, codes(rejected)) == ("LOT-RTM-0002", ["BRAND_DELISTED"])


async def test_forms_on_the_broker_sender_plausibility_and_configured_dates(
    topics: TestTopics, tmp_path: Path
) -> None:
    """A stranger's form is rejected citing §4.2.1; a form in kg is refused naming the slip;
    with GATEWAY_CBAM_VERIFICATION_START later, an unverified form is accepted with a note,
    carrying the form's particulars but no verification."""
    listing, *_rest = scenario_messages()
    form = next(m for m in scenario_messages() if isinstance(m, CbamEmissionsFormSubmitted))
    in_kg = form.model_copy(
        update={
            "form_id": "FORM-KG",
            "direct_embedded_emissions": EmbeddedEmissions(
                tco2e_per_t=1600, basis=EmissionsBasis.ACTUAL
            ),
        }
    )
    unverified = form.model_copy(
        update={"form_id": "FORM-UNVERIFIED", "verifier": None, "level_of_assurance": None}
    )
    settings = registry_settings(topics, tmp_path / "state").model_copy(
        update={"cbam_verification_start": date(2027, 1, 1)}
    )
    async with registry(settings, Clock(datetime(2026, 2, 20, tzinfo=UTC))) as app:
        await send(topics, [listing])
        await send(topics, [form], sender="trader-stranger")
        await send(topics, [in_kg, unverified])
        await wait_until_consumed(topics, app.registry_group_id)
    records = await all_outputs(topics)
    stranger, slipped = decided(records, "custody.cbam-form.rejected")
    assert isinstance(stranger, CbamFormRejected) and isinstance(slipped, CbamFormRejected)
    [violation] = stranger.violations
    assert (violation.code, violation.rule) == ("SENDER_NOT_PERMITTED", "§4.2.1")
    [slip] = slipped.violations
    assert slip.code == "EMISSIONS_IMPLAUSIBLE" and "kg CO2e/t entered as" in slip.message
    [accepted] = decided(records, "custody.cbam-form.accepted")
    assert isinstance(accepted, CbamFormAccepted) and accepted.form_id == "FORM-UNVERIFIED"
    assert "not verified: a form must be verified from 2027-01-01 (§4.1.3)" in accepted.notes
    # the read side is shown the form's particulars, and no verification it did not have
    assert (accepted.producer_name, accepted.installation_id, accepted.installation_country) == (
        form.producer_name,
        form.installation_id,
        "NO",
    )
    assert (accepted.cn_codes, accepted.reporting_period) == (("7601",), form.reporting_period)
    assert (accepted.verifier_name, accepted.accreditation_body) == (None, None)
    assert accepted.level_of_assurance is None
    assert accepted.permission_to_publish is (form.permission_to_publish is True)
