"""The custody moves the registry's own events imply, and the warrant cancel command: a lot
arriving with a claim, a warrant issued to a named holder (on whatever input issues it), that
warrant cancelled; each move once, and the state they leave survives the changelog."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from contracts.base import Contract
from contracts.custody import CustodyMovementRecorded, CustodyMoveReason
from contracts.lots import CustodyClaim, LotArrived
from contracts.values import AccountingLevel
from contracts.warrants import (
    CancelWarrant,
    RequestWarrant,
    WarrantCancelled,
    WarrantIssued,
    WarrantPending,
    WarrantRejected,
    WarrantState,
    WarrantStateChanged,
)
from gateway.registry.core import handle
from gateway.registry.state import CommandRefused, RegistryState
from tests.unit.registry_entities import (
    all_entities,
    changed_entities,
    entity_values,
    state_from_entities,
)
from tests.unit.test_registry import NOW, RULEBOOK, after, scenario_messages

LOT = "LOT-RTM-0001"
WARRANT = f"WRT-{LOT}"
WAREHOUSE = "warehouse-rotterdam-07"
SMELTER_SITE = "NO-SUN-01"
HOLDER = "member-northsea-metals"
CLAIM = CustodyClaim(
    delivered_by=SMELTER_SITE,
    material_quality="asi_aluminium",
    level=AccountingLevel.SITE,
    coc_document="COC-NORDAL-0301",
)


def claimed_scenario(*, claim: bool = True, holder: bool = True) -> list[Contract]:
    """The issued-lot scenario; the lot carries a claim and the request names a holder unless
    told otherwise."""
    *setting, lot, request = scenario_messages()
    assert isinstance(lot, LotArrived) and isinstance(request, RequestWarrant)
    if claim:
        lot = lot.model_copy(update={"custody_claim": CLAIM})
    if holder:
        request = request.model_copy(update={"warrant_holder_id": HOLDER})
    return [*setting, lot, request]


def cancel(**changes: object) -> CancelWarrant:
    fields: dict[str, object] = {
        "cancellation_id": "CXL-0001",
        "warrant_id": WARRANT,
        "lot_id": LOT,
        "brand": "NORDAL",
        "warehouse_id": WAREHOUSE,
        "reason": "the holder takes delivery",
        "requested_at": NOW,
    }
    return CancelWarrant.build(**{**fields, **changes})


def moves(outputs: list[Contract] | tuple[Contract, ...]) -> list[CustodyMovementRecorded]:
    return [output for output in outputs if isinstance(output, CustodyMovementRecorded)]


# ---- the lot arrives ------------------------------------------------------------------------


def test_a_lot_with_a_claim_moves_its_net_weight_from_who_delivered_it_to_the_warehouse() -> None:
    _, outputs = after(claimed_scenario(holder=False))
    [arrival] = moves(outputs)
    assert arrival == CustodyMovementRecorded.build(
        posting_id=f"lot-arrival.{LOT}",
        reason=CustodyMoveReason.LOT_ARRIVAL,
        from_holder_id=SMELTER_SITE,
        to_holder_id=WAREHOUSE,
        lot_id=LOT,
        warrant_id=None,
        quantity_kg=Decimal("20000"),
        material_quality="asi_aluminium",
        level=AccountingLevel.SITE,
        coc_document="COC-NORDAL-0301",
        occurred_on=date(2026, 3, 2),
    )


def test_a_lot_without_a_claim_moves_nothing_even_when_issued_to_a_holder() -> None:
    state, outputs = after(claimed_scenario(claim=False))
    assert [type(o) for o in outputs].count(WarrantIssued) == 1
    assert moves(outputs) == []
    assert state.keys_with_prefix("move:") == []


def test_the_arrival_date_is_the_utc_date_of_the_arrival() -> None:
    *setting, lot, _ = claimed_scenario()
    oslo_just_after_midnight = datetime(2026, 3, 3, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    late = lot.model_copy(update={"arrived_at": oslo_just_after_midnight})
    _, outputs = after([*setting, late])
    [arrival] = moves(outputs)
    assert arrival.occurred_on == date(2026, 3, 2)


def test_the_same_lot_announced_again_moves_nothing_more() -> None:
    messages = claimed_scenario(holder=False)
    lot = messages[-2]
    state, _ = after(messages)
    step = handle(state, lot, now=NOW, rulebook=RULEBOOK)
    assert step.outputs == ()
    assert step.state == state


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"net_weight_kg": Decimal("19990")}, "net_weight_kg"),
        ({"warehouse_id": "warehouse-antwerp-02"}, "warehouse_id"),
        ({"custody_claim": None}, "custody_claim"),
        (
            {"custody_claim": CLAIM.model_copy(update={"level": AccountingLevel.GROUP})},
            "custody_claim",
        ),
        ({"arrived_at": datetime(2026, 3, 4, 8, tzinfo=UTC)}, "arrived_at"),
    ],
)
def test_a_lot_whose_arrival_moved_custody_cannot_come_again_with_other_custody(
    change: dict[str, object], field: str
) -> None:
    messages = claimed_scenario()
    lot = messages[-2]
    state, _ = after(messages)
    with pytest.raises(CommandRefused, match="already moved 20000") as refused:
        handle(state, lot.model_copy(update=change), now=NOW, rulebook=RULEBOOK)
    assert refused.value.field == field


def test_a_lot_first_announced_without_a_claim_moves_custody_when_the_claim_comes() -> None:
    *setting, lot, _ = claimed_scenario()
    assert isinstance(lot, LotArrived)
    _, outputs = after([*setting, lot.model_copy(update={"custody_claim": None}), lot])
    assert [move.posting_id for move in moves(outputs)] == [f"lot-arrival.{LOT}"]


# ---- the warrant is issued ------------------------------------------------------------------


def test_a_warrant_issued_to_a_holder_moves_the_lot_from_the_warehouse_to_the_holder() -> None:
    _, outputs = after(claimed_scenario())
    [issued] = [o for o in outputs if isinstance(o, WarrantIssued)]
    assert issued.warrant_holder_id == HOLDER
    arrival, issue = moves(outputs)
    assert issue == arrival.model_copy(
        update={
            "posting_id": f"warrant-issued.{WARRANT}",
            "reason": CustodyMoveReason.WARRANT_ISSUED,
            "from_holder_id": WAREHOUSE,
            "to_holder_id": HOLDER,
            "warrant_id": WARRANT,
            "occurred_on": NOW.date(),
        }
    )
    assert outputs.index(issue) > outputs.index(issued)


def test_a_request_without_a_holder_issues_the_warrant_and_moves_nothing_onward() -> None:
    state, outputs = after(claimed_scenario(holder=False))
    [issued] = [o for o in outputs if isinstance(o, WarrantIssued)]
    assert issued.warrant_holder_id is None
    assert [move.reason for move in moves(outputs)] == [CustodyMoveReason.LOT_ARRIVAL]
    assert state.keys_with_prefix("move:") == [f"move:lot-arrival.{LOT}"]


@pytest.mark.parametrize(
    "held_back",
    [
        ("LotArrived",),
        ("ECoACreated", "CbamEmissionsFormSubmitted"),
        ("CbamEmissionsFormSubmitted",),
    ],
)
def test_a_pending_request_moves_custody_on_the_input_that_issues_it(
    held_back: tuple[str, ...],
) -> None:
    """The request comes before what it waits for; the input that issues the warrant is the
    one whose step carries the issue's move, right after the WarrantIssued."""
    messages = claimed_scenario()
    early = [m for m in messages if type(m).__name__ not in held_back]
    late = [m for m in messages if type(m).__name__ in held_back]
    state, outputs = after(early)
    assert any(isinstance(o, WarrantPending) for o in outputs)
    assert state.custody_move(f"warrant-issued.{WARRANT}") is None
    for message in late:
        step = handle(state, message, now=NOW, rulebook=RULEBOOK)
        state = step.state
    kinds = [type(o).__name__ for o in step.outputs]
    assert kinds[-3:] == ["WarrantIssued", "WarrantStateChanged", "CustodyMovementRecorded"]
    pending_states = [o for o in outputs if isinstance(o, WarrantStateChanged)]
    assert pending_states and all(o.warrant_holder_id is None for o in pending_states)
    issued_state = step.outputs[-2]
    assert isinstance(issued_state, WarrantStateChanged)
    assert issued_state.warrant_holder_id == HOLDER
    issue = step.outputs[-1]
    assert isinstance(issue, CustodyMovementRecorded)
    assert (issue.reason, issue.to_holder_id) == (CustodyMoveReason.WARRANT_ISSUED, HOLDER)
    assert {state.get(key).reason for key in state.keys_with_prefix("move:")} == {
        CustodyMoveReason.LOT_ARRIVAL,
        CustodyMoveReason.WARRANT_ISSUED,
    }


def test_the_lots_arrival_and_the_issue_it_unblocks_move_in_that_order() -> None:
    messages = claimed_scenario()
    lot, request = messages[-2:]
    state, _ = after([*messages[:-2], request])
    step = handle(state, lot, now=NOW, rulebook=RULEBOOK)
    assert [move.reason for move in moves(step.outputs)] == [
        CustodyMoveReason.LOT_ARRIVAL,
        CustodyMoveReason.WARRANT_ISSUED,
    ]


# ---- the warrant is cancelled ---------------------------------------------------------------


def test_a_cancelled_warrant_returns_the_holders_credits_to_the_warehouse() -> None:
    state, outputs = after([*claimed_scenario(), cancel()])
    cancelled, changed, returned = outputs[-3:]
    assert isinstance(cancelled, WarrantCancelled)
    assert (cancelled.warrant_id, cancelled.lot_id, cancelled.reason) == (
        WARRANT,
        LOT,
        "the holder takes delivery",
    )
    assert isinstance(changed, WarrantStateChanged)
    assert (changed.state, changed.warrant_id, changed.request_id) == (
        WarrantState.CANCELLED,
        WARRANT,
        "REQ-0001",
    )
    assert changed.cancellation_reason == "the holder takes delivery"
    assert changed.warrant_holder_id == HOLDER  # the holder's subscriber sees it go
    issue = state.custody_move(f"warrant-issued.{WARRANT}")
    assert issue is not None
    assert (
        returned
        == replace(
            issue,
            posting_id=f"warrant-cancelled.{WARRANT}",
            reason=CustodyMoveReason.WARRANT_CANCELLED,
            from_holder_id=HOLDER,
            to_holder_id=WAREHOUSE,
            occurred_on=NOW.date(),
        ).message()
    )
    cancelled = state.cancellation(LOT)
    assert cancelled is not None and cancelled.cancellation_id == cancel().cancellation_id


@pytest.mark.parametrize(("claim", "holder"), [(False, True), (True, False)])
def test_a_warrant_whose_issue_moved_nothing_is_cancelled_without_a_move(
    claim: bool, holder: bool
) -> None:
    _, outputs = after([*claimed_scenario(claim=claim, holder=holder), cancel()])
    assert isinstance(outputs[-2], WarrantCancelled)
    assert isinstance(outputs[-1], WarrantStateChanged)
    assert outputs[-1].warrant_holder_id == (HOLDER if holder else None)
    assert all(move.reason is not CustodyMoveReason.WARRANT_CANCELLED for move in moves(outputs))


def test_the_same_cancellation_delivered_again_changes_nothing() -> None:
    state, _ = after([*claimed_scenario(), cancel()])
    step = handle(state, cancel(), now=NOW, rulebook=RULEBOOK)
    assert step.outputs == ()
    assert step.state == state


def test_a_cancellation_id_reused_for_other_content_is_refused() -> None:
    state, _ = after([*claimed_scenario(), cancel()])
    with pytest.raises(CommandRefused, match="already used") as refused:
        handle(state, cancel(reason="another reason"), now=NOW, rulebook=RULEBOOK)
    assert refused.value.field == "cancellation_id"


def test_a_warrant_cancelled_once_cannot_be_cancelled_again() -> None:
    state, _ = after([*claimed_scenario(), cancel()])
    with pytest.raises(CommandRefused, match="already cancelled") as refused:
        handle(state, cancel(cancellation_id="CXL-0002"), now=NOW, rulebook=RULEBOOK)
    assert refused.value.field == "warrant_id"


@pytest.mark.parametrize(
    ("messages", "change", "field", "says"),
    [
        ("issued", {"warrant_id": "WRT-LOT-NOWHERE"}, "warrant_id", "no such warrant"),
        ("issued", {"lot_id": "LOT-OTHER"}, "lot_id", f"warrant of lot {LOT}"),
        ("issued", {"warehouse_id": "warehouse-antwerp-02"}, "warehouse_id", "is at warehouse"),
        ("issued", {"brand": "OTHER"}, "brand", "of brand NORDAL"),
        ("pending", {}, "warrant_id", "it is pending"),
        ("no request", {}, "warrant_id", "no request was made"),
    ],
)
def test_a_cancellation_of_a_warrant_not_issued_there_is_refused_naming_the_field(
    messages: str, change: dict[str, object], field: str, says: str
) -> None:
    scenario = claimed_scenario()
    before = {
        "issued": scenario,
        "pending": [*scenario[:-3], *scenario[-2:]],  # no CBAM form: the request pends
        "no request": scenario[:-1],
    }[messages]
    state, _ = after(before)
    with pytest.raises(CommandRefused, match=says) as refused:
        handle(state, cancel(**change), now=NOW, rulebook=RULEBOOK)
    assert refused.value.field == field


def test_a_lot_whose_warrant_was_cancelled_is_warranted_again_with_ids_of_its_own() -> None:
    messages = claimed_scenario()
    request = messages[-1]
    state, _ = after([*messages, cancel()])
    again = request.model_copy(
        update={"request_id": "REQ-0002", "warrant_holder_id": "member-second"}
    )
    step = handle(state, again, now=NOW, rulebook=RULEBOOK)
    issued, changed, moved = step.outputs
    second = f"{WARRANT}#2"
    assert isinstance(issued, WarrantIssued) and issued.warrant_id == second
    assert isinstance(changed, WarrantStateChanged) and changed.warrant_id == second
    assert changed.warrant_holder_id == "member-second"
    assert isinstance(moved, CustodyMovementRecorded)
    assert (moved.posting_id, moved.from_holder_id, moved.to_holder_id, moved.warrant_id) == (
        f"warrant-issued.{second}",
        WAREHOUSE,
        "member-second",
        second,
    )
    first_issue = step.state.custody_move(f"warrant-issued.{WARRANT}")
    assert first_issue is not None and first_issue.to_holder_id == HOLDER  # kept as it was


def test_a_second_warrant_stands_until_cancelled_and_the_first_stays_cancelled() -> None:
    messages = claimed_scenario()
    again = messages[-1].model_copy(update={"request_id": "REQ-0002"})
    state, _ = after([*messages, cancel(), again])
    third = again.model_copy(update={"request_id": "REQ-0003"})
    [rejection] = handle(state, third, now=NOW, rulebook=RULEBOOK).outputs
    assert isinstance(rejection, WarrantRejected)
    assert [v.code for v in rejection.violations] == ["LOT_ALREADY_ON_WARRANT"]
    assert f"warrant {WARRANT}#2" in rejection.violations[0].message
    with pytest.raises(CommandRefused, match="already cancelled"):
        handle(state, cancel(cancellation_id="CXL-0009"), now=NOW, rulebook=RULEBOOK)
    step = handle(
        state,
        cancel(cancellation_id="CXL-0002", warrant_id=f"{WARRANT}#2"),
        now=NOW,
        rulebook=RULEBOOK,
    )
    [returned] = moves(step.outputs)
    assert returned.posting_id == f"warrant-cancelled.{WARRANT}#2"
    with pytest.raises(CommandRefused, match="not issued"):
        handle(
            step.state,
            cancel(cancellation_id="CXL-0003", warrant_id=f"{WARRANT}#3"),
            now=NOW,
            rulebook=RULEBOOK,
        )


@pytest.mark.parametrize("index", range(8))
def test_every_message_delivered_twice_moves_custody_once(index: int) -> None:
    messages = [*claimed_scenario(), cancel()]
    once_state, once_outputs = after(messages)
    twice_state, twice_outputs = after([*messages[: index + 1], *messages[index:]])
    assert twice_state == once_state
    assert twice_outputs == once_outputs
    assert len(moves(twice_outputs)) == 3


# ---- the changelog --------------------------------------------------------------------------


def test_every_state_with_moves_and_a_cancellation_round_trips_through_entities() -> None:
    state, entities = RegistryState(), {}
    for message in [*claimed_scenario(), cancel()]:
        following = handle(state, message, now=NOW, rulebook=RULEBOOK).state
        for key, value in changed_entities(state, following).items():
            if value is None:
                entities.pop(key, None)
            else:
                entities[key] = value
        state = following
        assert entity_values(state_from_entities(entities)) == entity_values(state)
        assert entity_values(state_from_entities(all_entities(state))) == entity_values(state)
    assert {key for key in entities if key.startswith(("move:", "cancellation:"))} == {
        f"move:lot-arrival.{LOT}",
        f"move:warrant-issued.{WARRANT}",
        f"move:warrant-cancelled.{WARRANT}",
        f"cancellation:{LOT}",
    }


def test_the_cancellation_step_writes_the_cancellation_its_move_and_its_handled_id() -> None:
    messages = claimed_scenario()
    state, _ = after(messages)
    cancelled = handle(state, cancel(), now=NOW, rulebook=RULEBOOK).state
    assert set(changed_entities(state, cancelled)) == {
        f"cancellation:{LOT}",
        f"move:warrant-cancelled.{WARRANT}",
        "handled:NORDAL:cancellation%3ACXL-0001",
    }


def test_a_restored_state_cancels_and_moves_as_the_original_would() -> None:
    messages = claimed_scenario()
    state, _ = after(messages)
    restored = state_from_entities(all_entities(state))
    original = handle(state, cancel(), now=NOW, rulebook=RULEBOOK)
    again = handle(restored, cancel(), now=NOW, rulebook=RULEBOOK)
    assert again.outputs == original.outputs
    assert entity_values(again.state) == entity_values(original.state)
