"""A suspension, reinstatement or delisting takes effect at its ``effective_at`` (§4.4): during
a delisting's notice the brand is still listed and its metal may be placed on warrant; a
request decided at or after the effective time sees the new status. No timer: each decision
reads the status in force at its own time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.base import Contract
from contracts.brands import DelistBrand, ReinstateBrand, SuspendBrand
from contracts.cbam import CbamFormAccepted, CbamFormRejected
from contracts.warrants import RequestWarrant, WarrantIssued, WarrantPending, WarrantRejected
from gateway.registry import codec
from gateway.registry.core import handle
from gateway.registry.state import CommandRefused, RegistryState
from gateway.rulebook.state import BrandRecord, BrandStatus, ScheduledStatus
from tests.unit.test_registry import RULEBOOK, scenario_messages

ANNOUNCED = datetime(2026, 3, 1, 9, tzinfo=UTC)
EFFECTIVE = datetime(2026, 6, 1, tzinfo=UTC)
BEFORE, AT = EFFECTIVE - timedelta(seconds=1), EFFECTIVE


def delist(effective_at: datetime = EFFECTIVE, command_id: str = "D-1") -> DelistBrand:
    return DelistBrand.build(
        command_id=command_id,
        brand="NORDAL",
        reason="no CBAM form",
        notice_period_days=92,
        effective_at=effective_at,
    )


def suspend(effective_at: datetime, command_id: str = "S-1") -> SuspendBrand:
    return SuspendBrand.build(
        command_id=command_id, brand="NORDAL", reason="overdue form", effective_at=effective_at
    )


def reinstate(effective_at: datetime) -> ReinstateBrand:
    return ReinstateBrand.build(
        command_id="R-1", brand="NORDAL", reason="form uploaded", effective_at=effective_at
    )


def fold(
    state: RegistryState, timed: list[tuple[Contract, datetime]]
) -> tuple[RegistryState, list[Contract]]:
    outputs: list[Contract] = []
    for message, now in timed:
        step = handle(state, message, now=now, rulebook=RULEBOOK)
        state, outputs = step.state, [*outputs, *step.outputs]
    return state, outputs


def set_scene() -> tuple[RegistryState, RequestWarrant]:
    """NORDAL listed, its eCOA and form accepted, the lot arrived; the request returned."""
    *scene, request = scenario_messages()
    state, _ = fold(RegistryState(), [(m, ANNOUNCED) for m in scene])
    assert isinstance(request, RequestWarrant)
    return state, request


def warrant_decision(state: RegistryState, request: Contract, now: datetime) -> Contract:
    _, outputs = fold(state, [(request, now)])
    return next(
        o for o in outputs if isinstance(o, WarrantIssued | WarrantRejected | WarrantPending)
    )


def codes(decision: Contract) -> list[str]:
    return [v.code for v in getattr(decision, "violations", ())]


@pytest.mark.parametrize(
    ("decided", "outcome", "found"),
    [
        pytest.param(BEFORE, WarrantIssued, [], id="during the notice: issued"),
        pytest.param(AT, WarrantRejected, ["BRAND_DELISTED"], id="at the effective time"),
        pytest.param(AT + timedelta(days=30), WarrantRejected, ["BRAND_DELISTED"], id="after"),
    ],
)
def test_a_delisting_with_notice_takes_effect_at_its_time(
    decided: datetime, outcome: type[Contract], found: list[str]
) -> None:
    state, request = set_scene()
    state, _ = fold(state, [(delist(), ANNOUNCED)])
    decision = warrant_decision(state, request, decided)
    assert isinstance(decision, outcome)
    assert codes(decision) == found


def test_a_delisting_without_notice_takes_effect_at_once() -> None:
    state, request = set_scene()
    state, _ = fold(state, [(delist(effective_at=ANNOUNCED), ANNOUNCED)])
    record = state.brand("NORDAL").record
    assert record is not None and record.status is BrandStatus.DELISTED
    assert codes(warrant_decision(state, request, ANNOUNCED)) == ["BRAND_DELISTED"]


def test_a_request_pending_during_the_notice_and_decided_after_it_is_rejected() -> None:
    """The request waits for the eCOA during the notice; the eCOA is accepted after the
    delisting took effect, and the request decided then is rejected."""
    *scene, request = scenario_messages()
    ecoa = next(m for m in scene if m.MESSAGE_TYPE == "custody.ecoa.created")
    without_ecoa = [m for m in scene if m is not ecoa]
    state, _ = fold(RegistryState(), [(m, ANNOUNCED) for m in [*without_ecoa, delist()]])
    state, outputs = fold(state, [(request, BEFORE)])
    assert any(isinstance(o, WarrantPending) for o in outputs)
    _, outputs = fold(state, [(ecoa, AT)])
    [rejected] = [o for o in outputs if isinstance(o, WarrantRejected)]
    assert codes(rejected) == ["BRAND_DELISTED"]


def test_a_form_uploaded_after_the_delisting_took_effect_is_refused() -> None:
    *scene, _request = scenario_messages()
    form = next(m for m in scene if m.MESSAGE_TYPE == "custody.cbam-form.submitted")
    others = [m for m in scene if m is not form]
    state, _ = fold(RegistryState(), [(m, ANNOUNCED) for m in [*others, delist()]])
    _, outputs = fold(state, [(form, AT)])
    [refused] = [o for o in outputs if isinstance(o, CbamFormRejected)]
    assert codes(refused) == ["BRAND_DELISTED"]


def test_a_form_uploaded_during_the_notice_is_accepted() -> None:
    *scene, _request = scenario_messages()
    form = next(m for m in scene if m.MESSAGE_TYPE == "custody.cbam-form.submitted")
    others = [m for m in scene if m is not form]
    state, _ = fold(RegistryState(), [(m, ANNOUNCED) for m in [*others, delist()]])
    _, outputs = fold(state, [(form, BEFORE)])
    assert any(isinstance(o, CbamFormAccepted) for o in outputs)


def test_a_suspension_takes_effect_at_its_time_and_a_reinstatement_at_its_own() -> None:
    state, request = set_scene()
    suspended_from = ANNOUNCED + timedelta(days=7)
    state, _ = fold(state, [(suspend(suspended_from), ANNOUNCED)])
    assert isinstance(
        warrant_decision(state, request, suspended_from - timedelta(seconds=1)), WarrantIssued
    )
    assert codes(warrant_decision(state, request, suspended_from)) == ["BRAND_SUSPENDED"]
    listed_again = suspended_from + timedelta(days=7)
    state, _ = fold(state, [(reinstate(listed_again), suspended_from + timedelta(days=1))])
    assert codes(warrant_decision(state, request, listed_again - timedelta(seconds=1))) == [
        "BRAND_SUSPENDED"
    ]
    assert isinstance(warrant_decision(state, request, listed_again), WarrantIssued)


def test_a_suspension_at_once_during_the_notice_keeps_the_delisting_to_come() -> None:
    state, request = set_scene()
    state, _ = fold(state, [(delist(), ANNOUNCED), (suspend(ANNOUNCED), ANNOUNCED)])
    assert codes(warrant_decision(state, request, BEFORE)) == ["BRAND_SUSPENDED"]
    assert codes(warrant_decision(state, request, AT)) == ["BRAND_DELISTED"]


def test_a_later_suspension_during_the_notice_is_refused() -> None:
    state, _ = set_scene()
    state, _ = fold(state, [(delist(), ANNOUNCED)])
    with pytest.raises(CommandRefused, match="to be delisted at 2026-06-01") as refused:
        fold(state, [(suspend(ANNOUNCED + timedelta(days=7)), ANNOUNCED)])
    assert (refused.value.field, refused.value.rule) == ("effective_at", "§4.4")


def test_a_second_delisting_moves_the_effective_time() -> None:
    state, request = set_scene()
    sooner = ANNOUNCED + timedelta(days=30)
    state, _ = fold(state, [(delist(), ANNOUNCED), (delist(sooner, "D-2"), ANNOUNCED)])
    assert codes(warrant_decision(state, request, sooner)) == ["BRAND_DELISTED"]


def test_once_in_force_a_delisting_refuses_a_suspension() -> None:
    state, _ = set_scene()
    state, _ = fold(state, [(delist(), ANNOUNCED)])
    fold(state, [(suspend(BEFORE), BEFORE)])  # still listed: the suspension is accepted
    with pytest.raises(CommandRefused, match="it is delisted"):
        fold(state, [(suspend(AT), AT)])


def test_the_status_in_force_switches_at_the_effective_time_exactly() -> None:
    record = BrandRecord(
        brand="NORDAL",
        producer_id="smelter-nordal",
        country_of_origin="Norway",
        contracts=(),
        status=BrandStatus.LISTED,
        scheduled=ScheduledStatus(BrandStatus.DELISTED, EFFECTIVE, "no form"),
    )
    assert record.in_force_at(BEFORE) is record
    in_force = record.in_force_at(AT)
    assert (in_force.status, in_force.status_reason, in_force.scheduled) == (
        BrandStatus.DELISTED,
        "no form",
        None,
    )


def test_a_brand_record_stored_before_scheduling_still_reads_and_a_scheduled_one_round_trips() -> (
    None
):
    state, _ = set_scene()
    stored = codec.encode("brand:NORDAL", state.brand("NORDAL").record)
    old = stored.replace(b',"scheduled":null', b"")
    assert b"scheduled" not in old
    assert codec.decode("brand:NORDAL", old) == state.brand("NORDAL").record
    scheduled, _ = fold(state, [(delist(), ANNOUNCED)])
    record = scheduled.brand("NORDAL").record
    assert record is not None and record.scheduled is not None
    assert codec.decode("brand:NORDAL", codec.encode("brand:NORDAL", record)) == record
