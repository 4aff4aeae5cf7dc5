"""Listing, suspending, reinstating and delisting brands.

A suspension, reinstatement or delisting takes effect at its ``effective_at`` (§4.4: notice
lets the market place residual stock on warrant). One effective at or before the decision
time changes the status at once; a later one is scheduled on the brand's record, and every
decision reads the status in force at its own time (``BrandRecord.in_force_at``): no timer
fires. One change is scheduled at a time: a later command replaces it, except that a
scheduled delisting is replaced only by another delisting (a suspension or reinstatement
during the notice leaves the delisting to come).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from contracts.brands import (
    BrandDelisted,
    BrandListed,
    BrandReinstated,
    BrandSuspended,
    DelistBrand,
    ListBrand,
    ReinstateBrand,
    SuspendBrand,
)
from gateway.registry.state import CommandRefused, Context, RegistryState, Step
from gateway.rulebook.state import BrandRecord, BrandStatus, ScheduledStatus


def list_brand(state: RegistryState, command: ListBrand, context: Context) -> Step:
    record = BrandRecord(
        brand=command.brand,
        producer_id=command.producer_id,
        country_of_origin=command.country_of_origin,
        contracts=command.contracts,
        status=BrandStatus.LISTED,
    )
    event = BrandListed.build(
        command_id=command.command_id,
        brand=command.brand,
        producer_id=command.producer_id,
        country_of_origin=command.country_of_origin,
        contracts=command.contracts,
        effective_at=command.effective_at,
    )
    return Step(state.with_brand_record(record), (event,))


def _record_in_force(state: RegistryState, brand: str, action: str, now: datetime) -> BrandRecord:
    record = state.brand(brand).record
    if record is None:
        raise CommandRefused("brand", "§4.4", f"cannot {action} brand {brand}: it is not listed")
    return record.in_force_at(now)


def _with_status(
    state: RegistryState,
    record: BrandRecord,
    change: ScheduledStatus,
    now: datetime,
) -> RegistryState:
    """The record with ``change`` in force now, or scheduled for its effective time."""
    kept = record.scheduled
    if kept is not None and (
        kept.status is not BrandStatus.DELISTED or change.status is BrandStatus.DELISTED
    ):
        kept = None
    if change.effective_at <= now:
        changed = replace(record, status=change.status, status_reason=change.reason, scheduled=kept)
        return state.with_brand_record(changed)
    if kept is not None:
        raise CommandRefused(
            "effective_at",
            "§4.4",
            f"brand {record.brand} is to be delisted at {kept.effective_at.isoformat()}; until "
            "then a suspension or reinstatement takes effect only at once (delist it again "
            "to move the delisting)",
        )
    return state.with_brand_record(replace(record, scheduled=change))


def suspend_brand(state: RegistryState, command: SuspendBrand, context: Context) -> Step:
    record = _record_in_force(state, command.brand, "suspend", context.now)
    if record.status is BrandStatus.DELISTED:
        raise CommandRefused(
            "brand", "§4.4", f"cannot suspend brand {command.brand}: it is delisted"
        )
    event = BrandSuspended.build(
        command_id=command.command_id,
        brand=command.brand,
        reason=command.reason,
        effective_at=command.effective_at,
    )
    change = ScheduledStatus(BrandStatus.SUSPENDED, command.effective_at, command.reason)
    return Step(_with_status(state, record, change, context.now), (event,))


def reinstate_brand(state: RegistryState, command: ReinstateBrand, context: Context) -> Step:
    record = _record_in_force(state, command.brand, "reinstate", context.now)
    if record.status is not BrandStatus.SUSPENDED:
        raise CommandRefused(
            "brand",
            "§4.4",
            f"cannot reinstate brand {command.brand}: it is {record.status.value}, not suspended",
        )
    event = BrandReinstated.build(
        command_id=command.command_id,
        brand=command.brand,
        reason=command.reason,
        effective_at=command.effective_at,
    )
    change = ScheduledStatus(BrandStatus.LISTED, command.effective_at)
    return Step(_with_status(state, record, change, context.now), (event,))


def delist_brand(state: RegistryState, command: DelistBrand, context: Context) -> Step:
    record = _record_in_force(state, command.brand, "delist", context.now)
    event = BrandDelisted.build(
        command_id=command.command_id,
        brand=command.brand,
        reason=command.reason,
        notice_period_days=command.notice_period_days,
        effective_at=command.effective_at,
    )
    change = ScheduledStatus(BrandStatus.DELISTED, command.effective_at, command.reason)
    return Step(_with_status(state, record, change, context.now), (event,))
