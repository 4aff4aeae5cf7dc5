"""The registry's state as keyed entities: what the changelog topic and the local store hold.

``RegistryState`` is cut into entities a key each (a brand, a lot, an open request, a lot's
latest warrant decision, a brand's handled ids, a warrant's cancellation, a custody move
emitted); a step's changes are the entities whose value
changed, written as JSON. Reading every entity back gives the same ``RegistryState``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter

from contracts.custody import CustodyMovementRecorded
from contracts.lots import LotArrived
from contracts.warrants import CancelWarrant, RequestWarrant
from gateway.registry.state import RegistryState
from gateway.rulebook.decisions import WarrantDecision
from gateway.rulebook.state import BrandState

_BRAND = TypeAdapter(BrandState)
_LOT = TypeAdapter(LotArrived)
_REQUEST = TypeAdapter(RequestWarrant)
_DECISION = TypeAdapter(WarrantDecision)
_HANDLED: TypeAdapter[dict[str, str]] = TypeAdapter(dict[str, str])
_CANCELLATION = TypeAdapter(CancelWarrant)
_MOVE = TypeAdapter(CustodyMovementRecorded)

# entity kind -> (the RegistryState field, how its values are written)
_KINDS: Mapping[str, tuple[str, TypeAdapter[Any]]] = {
    "brand": ("brands", _BRAND),
    "lot": ("lots", _LOT),
    "request": ("open_requests", _REQUEST),
    "warrant": ("warrant_decisions", _DECISION),
    "handled": ("handled", _HANDLED),
    "cancellation": ("cancellations", _CANCELLATION),
    "move": ("custody_moves", _MOVE),
}


class UnknownEntity(ValueError):
    """A changelog or store key this version of the registry cannot read."""


def changed_entities(before: RegistryState, after: RegistryState) -> dict[str, bytes | None]:
    """Entity key -> new JSON value (None when the entity is gone) for what a step changed."""
    changes: dict[str, bytes | None] = {}
    for kind, (field_name, adapter) in _KINDS.items():
        old: Mapping[str, Any] = getattr(before, field_name)
        new: Mapping[str, Any] = getattr(after, field_name)
        if old is new:
            continue
        for name, value in new.items():
            if old.get(name) is not value:
                changes[f"{kind}:{name}"] = adapter.dump_json(value)
        for name in old.keys() - new.keys():
            changes[f"{kind}:{name}"] = None
    return changes


def all_entities(state: RegistryState) -> dict[str, bytes]:
    written = changed_entities(RegistryState(), state)
    return {key: value for key, value in written.items() if value is not None}


def state_from_entities(entities: Mapping[str, bytes]) -> RegistryState:
    """Rebuild the state from every entity (as restored from the store and the changelog)."""
    fields: dict[str, dict[str, Any]] = {field_name: {} for field_name, _ in _KINDS.values()}
    for key, value in entities.items():
        kind, _, name = key.partition(":")
        if kind not in _KINDS or not name:
            raise UnknownEntity(f"cannot read registry entity {key!r}")
        field_name, adapter = _KINDS[kind]
        fields[field_name][name] = adapter.validate_json(value)
    return RegistryState(**fields)
