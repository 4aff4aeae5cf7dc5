"""The registry core's own rules: replays, one warrant per lot, brand status commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.base import Contract
from contracts.brands import DelistBrand, ReinstateBrand, SuspendBrand
from contracts.envelope import decode_body
from contracts.warrants import RequestWarrant, WarrantIssued, WarrantRejected
from gateway.registry.core import handle
from gateway.registry.state import CommandRefused, RegistryState
from gateway.rulebook.model import load_rulebook
from gateway.rulebook.state import BrandStatus

RULEBOOK = load_rulebook()
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "issued_alloy_lot.jsonl"


def scenario_messages() -> list[Contract]:
    records = [
        json.loads(text) for text in SCENARIO.read_text().splitlines() if text and text[0] != "#"
    ]
    return [decode_body(record["type"], record["body"]) for record in records]


def after(messages: list[Contract]) -> tuple[RegistryState, list[Contract]]:
    state, outputs = RegistryState(), []
    for message in messages:
        step = handle(state, message, now=NOW, rulebook=RULEBOOK)
        state, outputs = step.state, [*outputs, *step.outputs]
    return state, outputs


def test_the_scenario_issues_one_warrant() -> None:
    _, outputs = after(scenario_messages())
    assert [type(o) for o in outputs].count(WarrantIssued) == 1


def test_the_same_request_delivered_again_changes_nothing() -> None:
    messages = scenario_messages()
    state, _ = after(messages)
    step = handle(state, messages[-1], now=NOW, rulebook=RULEBOOK)
    assert step.outputs == ()
    assert step.state == state


def test_a_second_request_for_a_warranted_lot_is_rejected_and_the_warrant_stands() -> None:
    messages = scenario_messages()
    state, _ = after(messages)
    first = messages[-1]
    assert isinstance(first, RequestWarrant)
    again = first.model_copy(update={"request_id": "REQ-AGAIN"})
    step = handle(state, again, now=NOW, rulebook=RULEBOOK)
    [rejection] = step.outputs
    assert isinstance(rejection, WarrantRejected)
    assert [v.code for v in rejection.violations] == ["LOT_ALREADY_ON_WARRANT"]
    assert step.state.changed_since(state) == {}


def test_a_delisted_brand_cannot_be_warranted_nor_reinstated() -> None:
    messages = scenario_messages()
    delist = DelistBrand.build(
        command_id="D-1",
        brand="NORDAL",
        reason="persistent non-compliance",
        notice_period_days=0,
        effective_at=NOW,
    )
    state, outputs = after([*messages[:-1], delist, messages[-1]])
    record = state.brand("NORDAL").record
    assert record is not None
    assert record.status is BrandStatus.DELISTED
    rejection = outputs[-2]
    assert isinstance(rejection, WarrantRejected)
    assert [v.code for v in rejection.violations] == ["BRAND_DELISTED"]
    reinstate = ReinstateBrand.build(
        command_id="R-1", brand="NORDAL", reason="asked", effective_at=NOW
    )
    with pytest.raises(CommandRefused, match="delisted, not suspended"):
        handle(state, reinstate, now=NOW, rulebook=RULEBOOK)


def test_commands_for_a_brand_never_listed_are_refused() -> None:
    suspend = SuspendBrand.build(command_id="S-1", brand="GHOST", reason="x", effective_at=NOW)
    with pytest.raises(CommandRefused) as refused:
        handle(RegistryState(), suspend, now=NOW, rulebook=RULEBOOK)
    assert (refused.value.field, refused.value.rule) == ("brand", "§4.4")


def test_a_decision_type_is_not_taken_as_input() -> None:
    _, outputs = after(scenario_messages())
    with pytest.raises(LookupError, match=r"does not take custody\.warrant\.issued"):
        handle(RegistryState(), outputs[-2], now=NOW, rulebook=RULEBOOK)


def test_folding_the_same_messages_twice_gives_the_same_state_and_outputs() -> None:
    assert after(scenario_messages()) == after(scenario_messages())


@pytest.mark.parametrize("index", range(7))
def test_every_message_of_the_scenario_delivered_twice_changes_nothing(index: int) -> None:
    messages = scenario_messages()
    once_state, once_outputs = after(messages)
    twice_state, twice_outputs = after([*messages[: index + 1], *messages[index:]])
    assert twice_state == once_state
    assert twice_outputs == once_outputs


def test_an_id_reused_for_other_content_is_refused() -> None:
    messages = scenario_messages()
    state, _ = after(messages)
    ecoa = next(m for m in messages if m.MESSAGE_TYPE == "custody.ecoa.created")
    changed = ecoa.model_copy(update={"created_on": ecoa.created_on.replace(day=12)})  # type: ignore[attr-defined]
    with pytest.raises(CommandRefused, match="already used") as refused:
        handle(state, changed, now=NOW, rulebook=RULEBOOK)
    assert refused.value.field == "ecoa_id"
