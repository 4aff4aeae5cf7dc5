"""Listing, suspending, reinstating and delisting brands."""

from __future__ import annotations

from dataclasses import replace

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
from gateway.rulebook.state import (
    BrandRecord,
    BrandStatus,
)


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


def _existing_record(state: RegistryState, brand: str, action: str) -> BrandRecord:
    record = state.brand(brand).record
    if record is None:
        raise CommandRefused("brand", "§4.4", f"cannot {action} brand {brand}: it is not listed")
    return record


def _with_status(
    state: RegistryState, record: BrandRecord, status: BrandStatus, reason: str | None
) -> RegistryState:
    return state.with_brand_record(replace(record, status=status, status_reason=reason))


def suspend_brand(state: RegistryState, command: SuspendBrand, context: Context) -> Step:
    record = _existing_record(state, command.brand, "suspend")
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
    return Step(_with_status(state, record, BrandStatus.SUSPENDED, command.reason), (event,))


def reinstate_brand(state: RegistryState, command: ReinstateBrand, context: Context) -> Step:
    record = _existing_record(state, command.brand, "reinstate")
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
    return Step(_with_status(state, record, BrandStatus.LISTED, None), (event,))


def delist_brand(state: RegistryState, command: DelistBrand, context: Context) -> Step:
    record = _existing_record(state, command.brand, "delist")
    event = BrandDelisted.build(
        command_id=command.command_id,
        brand=command.brand,
        reason=command.reason,
        notice_period_days=command.notice_period_days,
        effective_at=command.effective_at,
    )
    return Step(_with_status(state, record, BrandStatus.DELISTED, command.reason), (event,))
