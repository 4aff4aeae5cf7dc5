"""The writes each committed event implies on the read side's tables. Pure.

``writes_of(event_id, body)`` answers with whole rows to put (``Put``: insert, or replace the
row of the same key) and columns to set on a row written before (``Change``: nothing when no
such row). Both are idempotent: the same event again writes the same values, so delivery at
least once, in partition order, ends with the rows a single delivery would leave.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.base import Contract
from contracts.brands import BrandDelisted, BrandListed, BrandReinstated, BrandSuspended
from contracts.cbam import CbamFormAccepted, EmissionsAttached
from contracts.cbam_report import CbamReportFiled
from contracts.custody import CustodyBalanceUpdated
from contracts.ecoa import ECoAAccepted
from contracts.warrants import WarrantCancelled, WarrantIssued, WarrantStateChanged
from gateway.readside.tables import (
    BALANCES,
    BRAND_FORMS,
    BRANDS,
    CERTIFICATE_EMISSIONS,
    CERTIFICATES,
    FORMS,
    REPORT_VERSIONS,
    WARRANT_CERTIFICATES,
    WARRANT_STATES,
    WARRANTS,
    Table,
)

Row = Mapping[str, object]


@dataclass(frozen=True)
class Put:
    """Insert the row, or replace the row of the same key."""

    table: Table
    row: Row


@dataclass(frozen=True)
class Change:
    """Set ``values`` on the row of ``key``; nothing when there is none."""

    table: Table
    key: Row
    values: Row


Write = Put | Change


def as_json(value: Any) -> str:
    """Canonical JSON text: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _moment(value: Any) -> str:
    return str(value.isoformat())


def _warrant_state(event_id: str, body: WarrantStateChanged) -> tuple[Write, ...]:
    detail = body.model_dump(
        mode="json", include={"violations", "missing", "cancellation_reason", "request_id"}
    )
    row = {
        "lot_id": body.lot_id,
        "brand": body.brand,
        "state": body.state.value,
        "warrant_id": body.warrant_id,
        "holder_id": body.warrant_holder_id,
        "warehouse_id": body.warehouse_id,
        "updated_at": _moment(body.updated_at),
        "detail": as_json(detail),
        "event_id": event_id,
    }
    return (Put(WARRANT_STATES, row),)


def _warrant_issued(event_id: str, body: WarrantIssued) -> tuple[Write, ...]:
    document = body.document
    row = {
        "warrant_id": body.warrant_id,
        "lot_id": body.lot_id,
        "brand": document.brand,
        "holder_id": body.warrant_holder_id,
        "issued_at": _moment(body.issued_at),
        "cancelled_at": None,
        "contract": document.contract.value,
        "shape": document.shape.value,
        "country_of_origin": document.country_of_origin,
        "net_weight_kg": str(document.net_weight_kg),
        "document": as_json(document.model_dump(mode="json")),
        "event_id": event_id,
    }
    named = (
        Put(
            WARRANT_CERTIFICATES,
            {"warrant_id": body.warrant_id, "ecoa_id": c.reference, "event_id": event_id},
        )
        for c in document.certificates_of_analysis
    )
    return (Put(WARRANTS, row), *named)


def _warrant_cancelled(event_id: str, body: WarrantCancelled) -> tuple[Write, ...]:
    values = {"cancelled_at": _moment(body.cancelled_at), "event_id": event_id}
    return (Change(WARRANTS, {"warrant_id": body.warrant_id}, values),)


def _ecoa_accepted(event_id: str, body: ECoAAccepted) -> tuple[Write, ...]:
    row = {
        "ecoa_id": body.ecoa_id,
        "brand": body.brand,
        "kind": body.kind.value,
        "decided_at": _moment(body.decided_at),
        "cast_references": as_json(list(body.cast_references)),
        "event_id": event_id,
    }
    return (Put(CERTIFICATES, row),)


def _emissions_attached(event_id: str, body: EmissionsAttached) -> tuple[Write, ...]:
    row = {
        "ecoa_id": body.ecoa_id,
        "brand": body.brand,
        "form_id": body.form_id,
        "attached_at": _moment(body.attached_at),
        "reporting_year": body.reporting_year,
        "flagged_previous_year": int(body.flagged_previous_year),
        "emissions": as_json(body.emissions.model_dump(mode="json")),
        "event_id": event_id,
    }
    return (Put(CERTIFICATE_EMISSIONS, row),)


_FORM_FIGURES = {
    "form_id",
    "brand",
    "reporting_year",
    "emissions",
    "notes",
    "rulebook_version",
    "decided_at",
    "permission_to_publish",
}


def _form_accepted(event_id: str, body: CbamFormAccepted) -> tuple[Write, ...]:
    disclosure = body.model_dump(mode="json", exclude=_FORM_FIGURES)
    row = {
        "form_id": body.form_id,
        "brand": body.brand,
        "decided_at": _moment(body.decided_at),
        "reporting_year": body.reporting_year,
        "permission_to_publish": int(body.permission_to_publish),
        "emissions": as_json(body.emissions.model_dump(mode="json")),
        "disclosure": as_json(disclosure),
        "event_id": event_id,
    }
    standing = {
        "brand": body.brand,
        "reporting_year": body.reporting_year,
        "form_id": body.form_id,
        "event_id": event_id,
    }
    return (Put(FORMS, row), Put(BRAND_FORMS, standing))


def _brand_listed(event_id: str, body: BrandListed) -> tuple[Write, ...]:
    row = {
        "brand": body.brand,
        "producer_id": body.producer_id,
        "country_of_origin": body.country_of_origin,
        "status": "listed",
        "effective_at": _moment(body.effective_at),
        "event_id": event_id,
    }
    return (Put(BRANDS, row),)


def _brand_status(status: str) -> Callable[[str, Any], tuple[Write, ...]]:
    def change(event_id: str, body: Any) -> tuple[Write, ...]:
        values = {
            "status": status,
            "effective_at": _moment(body.effective_at),
            "event_id": event_id,
        }
        return (Change(BRANDS, {"brand": body.brand}, values),)

    return change


def _balance(event_id: str, body: CustodyBalanceUpdated) -> tuple[Write, ...]:
    account = body.account
    row = {
        "account_key": body.account_key,
        "holder_id": account.holder_id,
        "material_quality": account.material_quality,
        "level": account.level.value,
        "certificate": account.certificate_id,
        "balance_kg": str(body.balance_kg),
        "event_id": event_id,
    }
    return (Put(BALANCES, row),)


def _report_filed(event_id: str, body: CbamReportFiled) -> tuple[Write, ...]:
    row = {
        "importer_id": body.importer_id,
        "year": str(body.year),
        "quarter": str(body.quarter),
        "version": str(body.version),
        "filing_id": body.filing_id,
        "filed_at": _moment(body.filed_at),
        "late": int(body.late),
        "report": as_json(body.report.model_dump(mode="json")),
        "event_id": event_id,
    }
    return (Put(REPORT_VERSIONS, row),)


_PROJECTIONS: Mapping[type[Contract], Callable[[str, Any], tuple[Write, ...]]] = {
    WarrantStateChanged: _warrant_state,
    WarrantIssued: _warrant_issued,
    WarrantCancelled: _warrant_cancelled,
    ECoAAccepted: _ecoa_accepted,
    EmissionsAttached: _emissions_attached,
    CbamFormAccepted: _form_accepted,
    BrandListed: _brand_listed,
    BrandSuspended: _brand_status("suspended"),
    BrandReinstated: _brand_status("listed"),
    BrandDelisted: _brand_status("delisted"),
    CustodyBalanceUpdated: _balance,
    CbamReportFiled: _report_filed,
}
PROJECTED_TYPES: frozenset[str] = frozenset(c.MESSAGE_TYPE for c in _PROJECTIONS)
"""The message types the read side keeps; the rest of its topics' records it passes over."""


def writes_of(event_id: str, body: Contract) -> tuple[Write, ...]:
    """The writes ``body`` implies; none for a message the read side does not keep (a
    rejection, a pending decision: what the parties read is their state, not the log)."""
    projection = _PROJECTIONS.get(type(body))
    return () if projection is None else projection(event_id, body)
