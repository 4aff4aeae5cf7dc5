"""The read side at a holder's volume, on a real SQLite file: 30,000 warrants issued to one
holder (more than a statement may bind), each with its CoA and emissions, projected from
events in batches of 500 and read back whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from consumers.readside_store import SqliteReadStore
from contracts.cbam import EmissionsAttached
from contracts.ecoa import ECoAAccepted, ECoAKind
from contracts.values import EmissionsSummary, MetalContract, Shape
from contracts.warrants import (
    CertificateOfAnalysisReference,
    WarrantDocument,
    WarrantEmissions,
    WarrantIssued,
    WarrantState,
    WarrantStateChanged,
)
from gateway.readside.projection import writes_of
from gateway.readside.queries import ReadSide

WARRANTS, HOLDER = 30_000, "member-volume"
START = datetime(2026, 1, 2, tzinfo=UTC)
SUMMARY = EmissionsSummary(
    direct_tco2e_per_t=Decimal("1.7"),
    indirect_tco2e_per_t=Decimal("1.5"),
    total_tco2e_per_t=Decimal("3.2"),
    direct_is_default_value=False,
    indirect_is_default_value=False,
)


def events(n: int) -> list[object]:
    lot, warrant, ecoa, moment = f"LOT-{n}", f"W-{n}", f"ECOA-{n}", START + timedelta(minutes=n)
    document = WarrantDocument(
        contract=MetalContract.HIGH_GRADE_PRIMARY,
        brand="NORDAL",
        country_of_origin="Norway",
        shape=Shape.INGOT,
        certificates_of_analysis=(
            CertificateOfAnalysisReference(issued_on=moment.date(), reference=ecoa),
        ),
        net_weight_kg=Decimal(25_000),
        bundles=25,
        pieces=1000,
        warning_clause="none",
        emissions=WarrantEmissions(
            form_id="F-1", reporting_year=2025, from_previous_year=False, summary=SUMMARY
        ),
    )
    return [
        ECoAAccepted.build(
            ecoa_id=ecoa,
            brand="NORDAL",
            kind=ECoAKind.ENHANCED,
            cast_references=(f"C-{n}",),
            rulebook_version="2026.1",
            decided_at=moment,
        ),
        EmissionsAttached.build(
            ecoa_id=ecoa,
            brand="NORDAL",
            reporting_year=2025,
            form_id="F-1",
            emissions=SUMMARY,
            flagged_previous_year=False,
            attached_at=moment,
        ),
        WarrantIssued.build(
            warrant_id=warrant,
            lot_id=lot,
            request_id=f"R-{n}",
            document=document,
            issued_at=moment,
            rulebook_version="2026.1",
            warrant_holder_id=HOLDER,
        ),
        WarrantStateChanged.build(
            lot_id=lot,
            brand="NORDAL",
            warrant_id=warrant,
            request_id=f"R-{n}",
            state=WarrantState.ISSUED,
            warrant_holder_id=HOLDER,
            warehouse_id="wh-1",
            updated_at=moment,
        ),
    ]


def test_a_holder_with_30000_warrants_reads_them_all(tmp_path: Path) -> None:
    store = SqliteReadStore(tmp_path / "readside.sqlite3")
    batch = []
    for n in range(WARRANTS):
        for number, body in enumerate(events(n)):
            batch.extend(writes_of(f"e-{n}-{number}", body))  # type: ignore[arg-type]
        if len(batch) >= 500:
            store.apply(batch)
            batch = []
    store.apply(batch)
    held = ReadSide(store, frozenset()).held_warrants(HOLDER)
    assert len(held.warrants) == WARRANTS
    assert {w.certificates[0].ecoa_id for w in held.warrants} == {
        f"ECOA-{n}" for n in range(WARRANTS)
    }
    assert all(w.certificates[0].emissions is not None for w in held.warrants)
    assert (
        held.warrants[0].warrant_id == "W-0" and held.warrants[-1].warrant_id == f"W-{WARRANTS - 1}"
    )
    assert ReadSide(store, frozenset()).certificate(HOLDER, "ECOA-29999") is not None
    store.close()
