"""The registry's clock, pure: a tick rejects as expired the requests of its partition pending
past the limit at its time, reading only the hours of the due index it has passed; a tick
before the due time, repeated, late or from the future decides nothing (more)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from contracts.base import Contract
from contracts.clock import ClockTicked
from contracts.warrants import RequestWarrant, WarrantRejected
from gateway.registry.core import handle
from gateway.registry.state import RegistryState, received_key
from gateway.rulebook.model import load_rulebook
from gateway.rulebook.state import OpenRequest

RULEBOOK = load_rulebook()
LIMIT = RULEBOOK.pending_limit
T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def request(lot_id: str, brand: str, request_id: str | None = None) -> RequestWarrant:
    """A request for a lot that has not arrived: it pends."""
    return RequestWarrant.build(
        request_id=request_id or f"REQ-{lot_id}",
        lot_id=lot_id,
        brand=brand,
        warehouse_id="warehouse-rotterdam-07",
        requested_at=T0,
    )


def taken_in(state: RegistryState, message: Contract, at: datetime) -> RegistryState:
    return handle(state, message, now=at, rulebook=RULEBOOK).state


def ticked(state: RegistryState, at: datetime, *, now: datetime | None = None) -> Tick:
    step = handle(
        state,
        ClockTicked.build(partition=0, ticked_at=at),
        now=now or at,
        rulebook=RULEBOOK,
    )
    return Tick(step.state, [o for o in step.outputs if isinstance(o, WarrantRejected)])


class Tick:
    def __init__(self, state: RegistryState, expired: list[WarrantRejected]) -> None:
        self.state = state
        self.expired = expired

    @property
    def expired_lots(self) -> list[str]:
        assert all(r.violations[0].code == "WARRANT_REQUEST_EXPIRED" for r in self.expired)
        return [r.lot_id for r in self.expired]


def indexed(state: RegistryState, lot_id: str) -> bool:
    kept = state.open_request(lot_id)
    return kept is not None and state.get(received_key(kept)) is not None


def test_a_quiet_brands_request_becomes_due_is_expired_and_leaves_the_index() -> None:
    state = taken_in(RegistryState(), request("LOT-1", "NORDAL"), T0)
    assert indexed(state, "LOT-1")
    first = ticked(state, T0 + timedelta(days=1))
    assert first.expired_lots == []
    at_the_limit = ticked(first.state, T0 + LIMIT)
    assert at_the_limit.expired_lots == []
    assert indexed(at_the_limit.state, "LOT-1")
    past = ticked(at_the_limit.state, T0 + LIMIT + timedelta(minutes=1))
    assert past.expired_lots == ["LOT-1"]
    assert past.state.open_request("LOT-1") is None
    assert past.state.keys_with_prefix("received:") == []
    assert past.state.warrant_decision("LOT-1").outcome.value == "rejected"  # type: ignore[union-attr]


def test_two_brands_expire_each_at_its_own_time() -> None:
    state = taken_in(RegistryState(), request("LOT-1", "NORDAL"), T0)
    state = taken_in(state, request("LOT-2", "ALUNORD"), T0 + timedelta(hours=5))
    state = ticked(state, T0).state
    first = ticked(state, T0 + LIMIT + timedelta(hours=1))
    assert first.expired_lots == ["LOT-1"]
    assert indexed(first.state, "LOT-2")
    second = ticked(first.state, T0 + LIMIT + timedelta(hours=6))
    assert second.expired_lots == ["LOT-2"]


def test_a_repeated_or_late_tick_decides_nothing_new() -> None:
    state = taken_in(RegistryState(), request("LOT-1", "NORDAL"), T0)
    state = ticked(state, T0).state
    due = T0 + LIMIT + timedelta(minutes=1)
    expiring = ticked(state, due)
    assert expiring.expired_lots == ["LOT-1"]
    again = ticked(expiring.state, due)
    assert (again.expired, again.state) == ([], expiring.state)
    late = ticked(expiring.state, due - timedelta(days=3))
    assert (late.expired, late.state) == ([], expiring.state)


def test_a_tick_from_the_future_decides_at_the_registrys_own_time() -> None:
    state = taken_in(RegistryState(), request("LOT-1", "NORDAL"), T0)
    now = T0 + timedelta(days=2)
    ahead = ticked(state, T0 + 10 * LIMIT, now=now)
    assert ahead.expired_lots == []
    assert ahead.state.clock_horizon() == now - LIMIT
    on_time = ticked(ahead.state, T0 + LIMIT + timedelta(seconds=1))
    assert on_time.expired_lots == ["LOT-1"]


def test_a_tick_reads_only_the_hours_it_passed_never_every_brand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = RegistryState()
    for number in range(40):
        state = taken_in(state, request(f"LOT-{number}", f"BRAND-{number}"), T0)
    state = ticked(state, T0 + timedelta(days=1)).state
    hours_read: list[str] = []
    everything_read: list[bool] = []
    by_hour = RegistryState.received_in_hour
    every_request = RegistryState.all_open_requests

    def hour_counted(self: RegistryState, hour: str) -> Iterator[tuple[str, datetime]]:
        hours_read.append(hour)
        return by_hour(self, hour)

    def all_counted(self: RegistryState) -> Iterator[object]:
        everything_read.append(True)
        return every_request(self)

    requests_read: list[str] = []
    request_of = RegistryState.open_request

    def request_counted(self: RegistryState, lot_id: str) -> OpenRequest | None:
        requests_read.append(lot_id)
        return request_of(self, lot_id)

    monkeypatch.setattr(RegistryState, "received_in_hour", hour_counted)
    monkeypatch.setattr(RegistryState, "all_open_requests", all_counted)
    monkeypatch.setattr(RegistryState, "open_request", request_counted)
    minute_later = ticked(state, T0 + timedelta(days=1, minutes=1))
    assert (minute_later.expired, hours_read, everything_read, requests_read) == (
        [],
        ["2026-02-01T09"],
        [],
        [],
    )
    nearly_due = ticked(minute_later.state, T0 + LIMIT)
    assert (nearly_due.expired, requests_read) == ([], [])
    due = ticked(minute_later.state, T0 + LIMIT + timedelta(minutes=1))
    assert len(due.expired_lots) == 40
    assert everything_read == []


def test_the_first_tick_indexes_requests_kept_before_the_index() -> None:
    state = taken_in(RegistryState(), request("LOT-1", "NORDAL"), T0)
    kept = state.open_request("LOT-1")
    assert kept is not None
    state = state.put(received_key(kept), None)  # as stored before the index existed
    first = ticked(state, T0 + timedelta(days=1))
    assert first.expired_lots == []
    assert indexed(first.state, "LOT-1")
    assert ticked(first.state, T0 + LIMIT + timedelta(hours=2)).expired_lots == ["LOT-1"]


def test_a_first_tick_past_the_limit_expires_what_is_due() -> None:
    state = taken_in(RegistryState(), request("LOT-1", "NORDAL"), T0)
    state = taken_in(state, request("LOT-2", "ALUNORD"), T0 + timedelta(days=10))
    first = ticked(state, T0 + LIMIT + timedelta(days=1))
    assert first.expired_lots == ["LOT-1"]
    assert indexed(first.state, "LOT-2")


def test_a_new_request_for_a_pending_lot_replaces_its_index_entry() -> None:
    state = taken_in(RegistryState(), request("LOT-1", "NORDAL", "REQ-A"), T0)
    later = T0 + timedelta(days=3, hours=2)
    state = taken_in(state, request("LOT-1", "NORDAL", "REQ-B"), later)
    assert state.keys_with_prefix("received:") == ["received:2026-03-05T11:NORDAL:LOT-1"]
    state = ticked(state, T0).state
    assert ticked(state, T0 + LIMIT + timedelta(hours=1)).expired_lots == []
    [expired] = ticked(state, later + LIMIT + timedelta(hours=1)).expired
    assert expired.request_id == "REQ-B"


def test_a_tick_stated_in_another_zone_reads_the_hours_it_passed_in_utc() -> None:
    state = taken_in(RegistryState(), request("LOT-1", "NORDAL"), T0)
    india = timezone(timedelta(hours=5, minutes=30))
    before = ticked(state, (T0 + LIMIT - timedelta(minutes=25)).astimezone(india))
    assert before.expired_lots == []
    assert ticked(before.state, T0 + LIMIT + timedelta(minutes=5)).expired_lots == ["LOT-1"]
