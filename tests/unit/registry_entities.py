"""Helpers for tests of the registry's entities, on states held in memory (``DictReader``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.registry import codec
from gateway.registry.state import DictReader, RegistryState


def entity_values(state: RegistryState) -> dict[str, Any]:
    """Every entity of a state held in memory, decoded."""
    assert isinstance(state.reader, DictReader)
    values = {**state.reader.entities, **state.changes}
    return {key: value for key, value in values.items() if value is not None}


def all_entities(state: RegistryState) -> dict[str, bytes]:
    return {key: codec.encode(key, value) for key, value in entity_values(state).items()}


def changed_entities(before: RegistryState, after: RegistryState) -> dict[str, bytes | None]:
    """What the changelog gets for the step from ``before`` to ``after``."""
    return {
        key: None if value is None else codec.encode(key, value)
        for key, value in after.changed_since(before).items()
    }


def state_from_entities(entities: Mapping[str, bytes]) -> RegistryState:
    return RegistryState(
        DictReader({key: codec.decode(key, value) for key, value in entities.items()})
    )
