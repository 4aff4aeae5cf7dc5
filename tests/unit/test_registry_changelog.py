"""The registry's changelog restored into the working store: bytes copied as they are, a
state written by the previous codec version (version 0, before the state had its own types)
turned into today's entities and logged again, and a restored state deciding as the original
would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from consumers.engine import LogPartition
from consumers.metrics import GatewayMetrics
from consumers.state_logs import RegistryChangelog
from consumers.state_store import InMemoryStateStore
from contracts.base import Contract
from contracts.custody import CustodyMovementRecorded
from contracts.warrants import WarrantCancelled, WarrantIssued
from gateway.processors.records import InputRecord
from gateway.registry import codec
from gateway.registry.core import handle
from gateway.registry.state import CastEntry, LotWarrant, RegistryState
from gateway.rulebook.state import OpenRequest
from tests.unit.registry_entities import all_entities, entity_values
from tests.unit.test_registry import NOW, RULEBOOK
from tests.unit.test_registry_custody_moves import cancel, claimed_scenario

VERSION_0 = Path(__file__).resolve().parent.parent / "scenarios" / "registry_changelog_v0.json"


@dataclass(frozen=True)
class _Record:
    key: bytes
    value: bytes | None
    offset: int


class _Log:
    """A changelog partition held in a list, read in chunks like the real one."""

    def __init__(self, records: Sequence[tuple[str, bytes | None]], chunk: int = 4) -> None:
        self.records = [
            _Record(key.encode(), value, offset) for offset, (key, value) in enumerate(records)
        ]
        self.chunk = chunk
        self.end_offset = len(self.records)

    async def chunks(self, start: int) -> AsyncIterator[list[_Record]]:
        for first in range(start, len(self.records), self.chunk):
            yield self.records[first : first + self.chunk]


def version_0_records() -> list[tuple[str, bytes | None]]:
    written = json.loads(VERSION_0.read_text())["records"]
    return [(key, None if value is None else value.encode()) for key, value in written]


def the_rest() -> list[Contract]:
    """What comes after the version-0 history: lot 1 arrives (its request waited), and lot
    2's warrant, issued under version 0, is cancelled."""
    *_, lot, _request = claimed_scenario()
    return [lot, cancel(warrant_id="WRT-LOT-RTM-0002", lot_id="LOT-RTM-0002")]


def history() -> list[Contract]:
    """The messages that wrote the version-0 changelog (see how it was made: its
    ``written_by``), in order."""
    *setting, lot, request = claimed_scenario()
    lot2 = lot.model_copy(update={"lot_id": "LOT-RTM-0002"})
    request2 = request.model_copy(update={"lot_id": "LOT-RTM-0002", "request_id": "REQ-0002"})
    return [*setting, request2, lot2, request]


async def restored(
    records: Sequence[tuple[str, bytes | None]], store: InMemoryStateStore
) -> tuple[RegistryChangelog, RegistryState]:
    changelog = RegistryChangelog("registry.state-changelog", store, GatewayMetrics())
    log: LogPartition = _Log(records)  # type: ignore[assignment]
    return changelog, await changelog.restore(0, log)


def fold(
    state: RegistryState, messages: Sequence[Contract]
) -> tuple[RegistryState, list[Contract]]:
    outputs: list[Contract] = []
    for message in messages:
        step = handle(state, message, now=NOW, rulebook=RULEBOOK)
        state, outputs = step.state, [*outputs, *step.outputs]
    return state, outputs


def without_what_version_0_lacked(entities: dict[str, Any]) -> dict[str, Any]:
    """Version 0 did not record when the registry took a request in (a restored request
    pends from its ``requested_at``), nor the rules a warrant was issued under, nor a cast's
    recorded or certified chemistry, nor a brand's pending watch (the brand's next message
    rebuilds it), nor the clock's index of open requests (the first tick builds it), nor
    whom a warrant was issued to."""
    return {
        key: _as_version_0_kept(value)
        for key, value in entities.items()
        if not key.startswith(("watch:", "received:"))
    }


def _as_version_0_kept(value: Any) -> Any:
    if isinstance(value, OpenRequest):
        return replace(value, received_at=None)
    if isinstance(value, LotWarrant):
        return replace(value, decision=replace(value.decision, rules_applied=()), holder_id=None)
    if isinstance(value, CastEntry):
        recorded = value.recorded and replace(value.recorded, chemistry=None)
        certificates = tuple(
            replace(c, chemistry=None, production_filtered=None) for c in value.certificates
        )
        return replace(value, recorded=recorded, certificates=certificates)
    return value


async def test_a_version_0_changelog_restores_the_state_todays_registry_would_hold() -> None:
    store = InMemoryStateStore()
    _changelog, state = await restored(version_0_records(), store)
    expected, _ = fold(RegistryState(), history())
    held = {
        key: codec.decode(key, store.get(0, key) or b"") for key in store.keys_with_prefix(0, "")
    }
    assert held == without_what_version_0_lacked(entity_values(expected))
    assert state.open_requests_of("NORDAL")[0].lot_id == "LOT-RTM-0001"
    assert store.checkpoint(0) == 0  # held until the translated entities are logged


async def test_a_version_0_state_decides_what_comes_next_as_the_original_would() -> None:
    _changelog, state = await restored(version_0_records(), InMemoryStateStore())
    original, _ = fold(RegistryState(), history())
    _, expected = fold(original, the_rest())
    _, outputs = fold(state, the_rest())
    assert outputs == expected
    kinds = [type(output) for output in outputs]
    assert WarrantIssued in kinds and WarrantCancelled in kinds
    moved = [o.posting_id for o in outputs if isinstance(o, CustodyMovementRecorded)]
    assert moved == [
        "lot-arrival.LOT-RTM-0001",
        "warrant-issued.WRT-LOT-RTM-0001",
        "warrant-cancelled.WRT-LOT-RTM-0002",
    ]


async def test_the_translated_entities_go_to_the_changelog_with_the_next_transaction() -> None:
    """Compaction keeps a key's last record: the version-0 brand record, replaced by today's
    listing record under the same key, would take the brand's casts with it unless they are
    logged."""
    store = InMemoryStateStore()
    changelog, state = await restored(version_0_records(), store)
    after, _ = fold(state, the_rest()[:1])
    consumed = [(InputRecord("warehouse.lots", 0, 99, None, None, b"", ()), None)]
    records = changelog.records(state, after, consumed)  # type: ignore[arg-type]
    logged = {(record.key or b"").decode(): record.value for record in records}
    assert any(key.startswith("cast:NORDAL:") for key in logged)
    assert logged["handled:NORDAL"] is None  # the version-0 key no entity has any more
    assert all(value is None or not codec.is_legacy(value) for value in logged.values())
    changelog.committed(0, after, records, [len(version_0_records())])
    again = changelog.records(after, after, consumed)  # type: ignore[arg-type]
    assert again == []  # logged once


async def test_todays_records_are_copied_byte_for_byte() -> None:
    expected, _ = fold(RegistryState(), history())
    written = sorted(all_entities(expected).items())
    store = InMemoryStateStore()
    changelog, _ = await restored(written, store)
    assert {key: store.get(0, key) for key, _ in written} == dict(written)
    assert changelog.records(RegistryState(), RegistryState(), []) == []


async def test_a_kept_store_reads_only_the_changelog_tail() -> None:
    expected, _ = fold(RegistryState(), history())
    written = sorted(all_entities(expected).items())
    store = InMemoryStateStore()
    await restored(written[:5], store)
    log = _Log(written)
    read: list[int] = []
    original_chunks = log.chunks

    async def counting(start: int) -> AsyncIterator[list[_Record]]:
        read.append(start)
        async for chunk in original_chunks(start):
            yield chunk

    log.chunks = counting  # type: ignore[method-assign]
    changelog = RegistryChangelog("registry.state-changelog", store, GatewayMetrics())
    await changelog.restore(0, log)  # type: ignore[arg-type]
    assert read == [5]
    assert store.keys_with_prefix(0, "") == sorted(key for key, _ in written)


async def test_a_crash_before_the_migration_is_logged_translates_the_version_0_records_again() -> (
    None
):
    store = InMemoryStateStore()
    await restored(version_0_records(), store)
    assert store.checkpoint(0) == 0  # held at the first version-0 record
    again, state = await restored(version_0_records(), store)  # the process died meanwhile
    consumed = [(InputRecord("warehouse.lots", 0, 99, None, None, b"", ()), None)]
    logged = again.records(state, state, consumed)  # type: ignore[arg-type]
    assert any((record.key or b"").startswith(b"cast:NORDAL:") for record in logged)
    again.committed(0, state, logged, [40])
    assert store.checkpoint(0) == 41
