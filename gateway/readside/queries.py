"""The questions the parties ask the read side, answered over a store of rows (the port
``RowSource``; SQLite and PostgreSQL implement it in ``consumers.readside_store``).

Each answer is what the asking party may see and nothing more: ``certificate`` answers None
both when the CoA does not exist and when the party may not read it, so a caller cannot tell
the two apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from contracts.api import CertificateView, HeldWarrants
from contracts.cbam_report import (
    FiledReportVersion,
    FiledReportVersions,
    ImportsOfYear,
    QuarterlyCbamReport,
)
from gateway.readside.access import (
    ISSUED,
    CertificateParties,
    WarrantOfCertificate,
    may_read_certificate,
)
from gateway.readside.cbam_report import (
    Quarter,
    imports_of_year,
    quarterly_report,
    received_warrant,
    utc_moment,
)
from gateway.readside.default_values import DefaultValueTables, bundled_default_values
from gateway.readside.views import certificate_view, held_warrant

Row = dict[str, Any]


class RowSource(Protocol):
    def rows(self, table_name: str, where: Mapping[str, object] | None = None) -> list[Row]: ...

    def rows_in(self, table_name: str, column: str, values: Sequence[object]) -> list[Row]: ...


@dataclass(frozen=True)
class ReadSide:
    store: RowSource
    exchange_parties: frozenset[str]
    default_values: DefaultValueTables = field(default_factory=bundled_default_values)
    """The CBAM default-value tables, loaded and validated when the read side starts."""

    def held_warrants(self, party_id: str) -> HeldWarrants:
        """The warrants ``party_id`` holds now, with their CoAs and the emissions attached."""
        states = self.store.rows("warrant_states", {"holder_id": party_id, "state": ISSUED})
        by_warrant = {s["warrant_id"]: s for s in states if s["warrant_id"] is not None}
        warrants = self.store.rows_in("warrants", "warrant_id", sorted(by_warrant))
        named = self.store.rows_in("warrant_certificates", "warrant_id", sorted(by_warrant))
        certificates = self._certificates(sorted({n["ecoa_id"] for n in named}))
        held = []
        for warrant in warrants:
            ids = [n["ecoa_id"] for n in named if n["warrant_id"] == warrant["warrant_id"]]
            held.append(
                held_warrant(
                    by_warrant[warrant["warrant_id"]],
                    warrant,
                    [certificates[i] for i in ids if i in certificates],
                )
            )
        held.sort(key=lambda w: (w.issued_at, w.warrant_id))
        return HeldWarrants(party_id=party_id, warrants=held)

    def certificate(self, party_id: str, ecoa_id: str) -> CertificateView | None:
        """The CoA with its emissions, to a party that may read it; None otherwise."""
        found = self._certificates([ecoa_id])
        if ecoa_id not in found:
            return None
        parties = self.certificate_parties(ecoa_id, found[ecoa_id].brand)
        if not may_read_certificate(party_id, parties, exchange_parties=self.exchange_parties):
            return None
        return found[ecoa_id]

    def certificate_parties(self, ecoa_id: str, brand: str) -> CertificateParties:
        brands = self.store.rows("brands", {"brand": brand})
        named = self.store.rows("warrant_certificates", {"ecoa_id": ecoa_id})
        states = self.store.rows_in(
            "warrant_states", "warrant_id", [n["warrant_id"] for n in named]
        )
        warrants = tuple(
            WarrantOfCertificate(s["warrant_id"], s["state"], s["holder_id"], s["warehouse_id"])
            for s in states
        )
        return CertificateParties(
            producer_id=brands[0]["producer_id"] if brands else None, warrants=warrants
        )

    def _certificates(self, ecoa_ids: Iterable[str]) -> dict[str, CertificateView]:
        ids = list(ecoa_ids)
        certificates = self.store.rows_in("certificates", "ecoa_id", ids)
        attachments = {
            a["ecoa_id"]: a for a in self.store.rows_in("certificate_emissions", "ecoa_id", ids)
        }
        form_ids = sorted({a["form_id"] for a in attachments.values()})
        forms = {f["form_id"]: f for f in self.store.rows_in("cbam_forms", "form_id", form_ids)}
        return {
            c["ecoa_id"]: certificate_view(c, attachments.get(c["ecoa_id"]), forms)
            for c in certificates
        }

    # -- the importer's CBAM report (§6.3-6.4) -------------------------------------------
    def quarterly_cbam_report(self, importer_id: str, quarter: Quarter) -> QuarterlyCbamReport:
        """The CBAM report of the warrants issued to ``importer_id`` in ``quarter``."""
        issued = [
            w
            for w in self.store.rows("warrants", {"holder_id": importer_id})
            if quarter.holds(utc_moment(w["issued_at"]))
        ]
        named = self._rows_in_chunks(
            "warrant_certificates", "warrant_id", [w["warrant_id"] for w in issued]
        )
        ecoa_ids: dict[str, list[str]] = {}
        for row in named:
            ecoa_ids.setdefault(row["warrant_id"], []).append(row["ecoa_id"])
        attachments = {
            a["ecoa_id"]: a
            for a in self._rows_in_chunks(
                "certificate_emissions", "ecoa_id", sorted({n["ecoa_id"] for n in named})
            )
        }
        form_ids = {a["form_id"] for a in attachments.values()}
        form_ids |= {
            stated["form_id"]
            for w in issued
            if (stated := (w.get("document") or {}).get("emissions") or {}).get("form_id")
        }
        forms = {
            f["form_id"]: f for f in self._rows_in_chunks("cbam_forms", "form_id", sorted(form_ids))
        }
        received = [
            received_warrant(
                warrant,
                [attachments.get(i) for i in ecoa_ids.get(warrant["warrant_id"], [])],
                forms,
                self.default_values,
            )
            for warrant in issued
        ]
        return quarterly_report(importer_id, quarter, received, self.default_values)

    def imports_of_year(self, importer_id: str, year: int) -> ImportsOfYear:
        """The importer's cumulative net mass of ``year`` against the 50 t exemption."""
        return imports_of_year(
            importer_id, year, self.store.rows("warrants", {"holder_id": importer_id})
        )

    def filed_report_versions(self, importer_id: str, quarter: Quarter) -> FiledReportVersions:
        """The versions of its report of ``quarter`` the importer has filed, in order."""
        rows = self._filed(importer_id, quarter)
        return FiledReportVersions(
            importer_id=importer_id,
            year=quarter.year,
            quarter=quarter.quarter,
            versions=[
                FiledReportVersion(
                    importer_id=importer_id,
                    year=quarter.year,
                    quarter=quarter.quarter,
                    version=int(row["version"]),
                    filed_at=row["filed_at"],
                    late=bool(row["late"]),
                    totals=row["report"]["totals"],
                )
                for row in rows
            ],
        )

    def filed_report(
        self, importer_id: str, quarter: Quarter, version: int
    ) -> QuarterlyCbamReport | None:
        """Version ``version`` of the importer's report of ``quarter`` as filed; None when
        it has filed no such version."""
        for row in self._filed(importer_id, quarter):
            if int(row["version"]) == version:
                return QuarterlyCbamReport.model_validate(row["report"])
        return None

    def _filed(self, importer_id: str, quarter: Quarter) -> list[Row]:
        where = {
            "importer_id": importer_id,
            "year": str(quarter.year),
            "quarter": str(quarter.quarter),
        }
        return sorted(
            self.store.rows("cbam_report_versions", where), key=lambda row: int(row["version"])
        )

    def _rows_in_chunks(
        self, table_name: str, column: str, values: Sequence[object], size: int = 1000
    ) -> list[Row]:
        """``rows_in`` a thousand values at a time: a store bounds the parameters of one
        statement (SQLite's default limit is 32,766)."""
        found: list[Row] = []
        for start in range(0, len(values), size):
            found += self.store.rows_in(table_name, column, values[start : start + size])
        return found
