"""The registry state as small keyed entities: each step writes only what it changed, every
entity survives the codec, and no entity grows with a brand's history."""

from __future__ import annotations

import pytest

from gateway.registry import codec
from gateway.registry.core import handle
from gateway.registry.state import RegistryState
from tests.unit.registry_entities import (
    all_entities,
    changed_entities,
    entity_values,
    state_from_entities,
)
from tests.unit.test_registry import NOW, RULEBOOK, scenario_messages


def test_every_state_of_the_scenario_round_trips_through_the_codec() -> None:
    state = RegistryState()
    for message in scenario_messages():
        state = handle(state, message, now=NOW, rulebook=RULEBOOK).state
        assert entity_values(state_from_entities(all_entities(state))) == entity_values(state)


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
        assert entity_values(state_from_entities(entities)) == entity_values(state)


def test_a_step_that_changes_one_lot_writes_only_that_lot() -> None:
    messages = scenario_messages()
    state = RegistryState()
    for message in messages[:-2]:
        state = handle(state, message, now=NOW, rulebook=RULEBOOK).state
    after = handle(state, messages[-2], now=NOW, rulebook=RULEBOOK).state  # the lot arrives
    assert list(changed_entities(state, after)) == ["lot:LOT-RTM-0001"]


def test_a_closed_request_and_its_index_entry_are_deleted_from_the_changelog() -> None:
    messages = scenario_messages()
    state = RegistryState()
    for message in messages[:-2]:
        state = handle(state, message, now=NOW, rulebook=RULEBOOK).state
    request, lot = messages[-1], messages[-2]
    pending = handle(state, request, now=NOW, rulebook=RULEBOOK).state  # before the lot
    assert pending.keys_with_prefix("pending:") == ["pending:NORDAL:LOT-RTM-0001"]
    issued = handle(pending, lot, now=NOW, rulebook=RULEBOOK).state
    changes = changed_entities(pending, issued)
    assert changes["request:LOT-RTM-0001"] is None
    assert changes["pending:NORDAL:LOT-RTM-0001"] is None
    assert changes["warrant:LOT-RTM-0001"] is not None
    assert issued.open_requests_of("NORDAL") == []


def test_an_unknown_entity_is_refused() -> None:
    with pytest.raises(codec.UnknownEntity, match="parcel:X"):
        codec.decode("parcel:X", b"{}")


def test_a_newer_entity_version_is_refused_naming_it() -> None:
    with pytest.raises(codec.UnknownEntity, match="version 9"):
        codec.decode("handled:B:ecoa%3AE1", b'{"v":9,"d":"abc"}')


def test_an_older_entity_version_is_upcast_on_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kind at version 2 reads what version 1 wrote through its upcaster."""
    kind = codec.KINDS["handled"]
    bumped = codec.EntityKind(
        "handled", kind.adapter, version=2, upcasters={1: lambda digest: digest.upper()}
    )
    monkeypatch.setitem(codec.KINDS, "handled", bumped)  # type: ignore[arg-type]
    assert codec.decode("handled:B:ecoa%3AE1", b'{"v":1,"d":"abc"}') == "ABC"
    assert codec.decode("handled:B:ecoa%3AE1", b'{"v":2,"d":"abc"}') == "abc"
    assert codec.encode("handled:B:ecoa%3AE1", "x") == b'{"v":2,"d":"x"}'


def test_keys_escape_separators_so_that_one_brand_never_reads_anothers() -> None:
    from gateway.registry.state import entity_key, key_prefix

    assert entity_key("cast", "A:B", "C") == "cast:A%3AB:C"
    assert not entity_key("cast", "A:B", "C").startswith(key_prefix("cast", "A"))
    assert entity_key("cast", "50%", "C") == "cast:50%25:C"


def test_listing_keys_merges_the_reader_with_the_changes_on_top() -> None:
    from gateway.registry.state import DictReader

    base = RegistryState(
        DictReader({"pending:B:L1": 1, "pending:B:L2": 1, "pending:BB:L9": 1, "x:B:L1:deep": 1})
    )
    state = base.put("pending:B:L2", None).put("pending:B:L3", 1).put("pending:C:L4", 1)
    assert state.children("pending:B:") == ["pending:B:L1", "pending:B:L3"]
    assert state.keys_with_prefix("pending:") == [
        "pending:B:L1",
        "pending:B:L3",
        "pending:BB:L9",
        "pending:C:L4",
    ]
    assert base.children("pending:B:") == ["pending:B:L1", "pending:B:L2"]
    assert state.children("x:B:") == []  # deeper keys are not children
    assert state.changed_since(base) == {"pending:B:L2": None, "pending:B:L3": 1, "pending:C:L4": 1}
