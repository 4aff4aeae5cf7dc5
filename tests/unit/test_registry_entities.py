"""The registry state survives being cut into entities and read back."""

from __future__ import annotations

import pytest

from gateway.registry.core import handle
from gateway.registry.entities import (
    UnknownEntity,
    all_entities,
    changed_entities,
    state_from_entities,
)
from gateway.registry.state import RegistryState
from tests.unit.test_registry import NOW, RULEBOOK, scenario_messages


def test_every_state_of_the_scenario_round_trips_through_entities() -> None:
    state = RegistryState()
    for message in scenario_messages():
        state = handle(state, message, now=NOW, rulebook=RULEBOOK).state
        assert state_from_entities(all_entities(state)) == state


def test_applying_each_steps_changes_rebuilds_the_same_state() -> None:
    state, entities = RegistryState(), {}
    for message in scenario_messages():
        after = handle(state, message, now=NOW, rulebook=RULEBOOK).state
        for key, value in changed_entities(state, after).items():
            if value is None:
                entities.pop(key, None)
            else:
                entities[key] = value
        state = after
        assert state_from_entities(entities) == state


def test_a_step_that_changes_one_lot_writes_only_that_lot() -> None:
    messages = scenario_messages()
    state = RegistryState()
    for message in messages[:-2]:
        state = handle(state, message, now=NOW, rulebook=RULEBOOK).state
    after = handle(state, messages[-2], now=NOW, rulebook=RULEBOOK).state  # the lot arrives
    assert list(changed_entities(state, after)) == ["lot:LOT-RTM-0001"]


def test_a_closed_request_is_deleted_from_the_changelog() -> None:
    messages = scenario_messages()
    state = RegistryState()
    for message in messages[:-2]:
        state = handle(state, message, now=NOW, rulebook=RULEBOOK).state
    request, lot = messages[-1], messages[-2]
    pending = handle(state, request, now=NOW, rulebook=RULEBOOK).state  # before the lot
    issued = handle(pending, lot, now=NOW, rulebook=RULEBOOK).state
    changes = changed_entities(pending, issued)
    assert changes["request:LOT-RTM-0001"] is None
    assert changes["warrant:LOT-RTM-0001"] is not None


def test_an_unknown_entity_is_refused() -> None:
    with pytest.raises(UnknownEntity, match="parcel:X"):
        state_from_entities({"parcel:X": b"{}"})
