"""The questions the parties ask the read side, answered over a store of rows (the port
``RowSource``; SQLite and PostgreSQL implement it in ``consumers.readside_store``).

Each answer is what the asking party may see and nothing more: ``certificate`` answers None
both when the CoA does not exist and when the party may not read it, so a caller cannot tell
the two apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from contracts.api import (
    AggregateStatistics,
    BrandDisclosure,
    CertificateView,
    HeldWarrants,
    PublicDisclosures,
)
from contracts.api import ScopeDistribution as ScopeDistributionView
from contracts.api import YearStatistics as YearStatisticsView
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
from gateway.readside.disclosures import ReportedFigures, StatisticsPolicy, statistics
from gateway.readside.views import basis, certificate_view, held_warrant

Row = dict[str, Any]
DEFAULT_STATISTICS_POLICY = StatisticsPolicy(published_from=date(2026, 1, 1), minimum_group=5)
"""No statistics before the definitive period (§4.2.3); none over fewer than five brands."""


class RowSource(Protocol):
    def rows(self, table_name: str, where: Mapping[str, object] | None = None) -> list[Row]: ...

    def rows_in(self, table_name: str, column: str, values: Sequence[object]) -> list[Row]: ...


@dataclass(frozen=True)
class ReadSide:
    store: RowSource
    exchange_parties: frozenset[str]
    statistics_policy: StatisticsPolicy = DEFAULT_STATISTICS_POLICY
    default_values: DefaultValueTables = field(default_factory=bundled_default_values)
    """The CBAM default-value tables, loaded and validated when the read side starts."""

    def held_warrants(self, party_id: str) -> HeldWarrants:
        """The warrants ``party_id`` holds now, with their CoAs and the emissions attached."""
        states = self.store.rows("warrant_states", {"holder_id": party_id, "state": ISSUED})
        by_warrant = {s["warrant_id"]: s for s in states if s["warrant_id"] is not None}
        warrants = self.store.rows_in("warrants", "warrant_id", sorted(by_warrant))
        named = self.store.rows_in("warrant_certificates", "warrant_id", sorted(by_warrant))
        certificates = self._certificates(sorted({n["ecoa_id"] for n in named}))
        named_by_warrant: dict[str, list[str]] = {}
        for n in named:
            named_by_warrant.setdefault(n["warrant_id"], []).append(n["ecoa_id"])
        held = []
        for warrant in warrants:
            ids = named_by_warrant.get(warrant["warrant_id"], [])
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

    # -- what everyone may read (§4.2.3) ------------------------------------------------------
    def _standing_forms(self) -> list[tuple[Row, Row]]:
        """(brand, form) of each brand's standing form per year, listed brands only."""
        brands = {b["brand"]: b for b in self.store.rows("brands") if b["status"] == "listed"}
        standing = [s for s in self.store.rows("brand_forms") if s["brand"] in brands]
        forms = {
            f["form_id"]: f
            for f in self.store.rows_in("cbam_forms", "form_id", [s["form_id"] for s in standing])
        }
        return [
            (brands[s["brand"]], forms[s["form_id"]]) for s in standing if s["form_id"] in forms
        ]

    def public_disclosures(self) -> PublicDisclosures:
        """The figures of the brands whose producer opted in, per year, newest first."""
        shown = []
        for _brand, form in self._standing_forms():
            if not form["permission_to_publish"]:
                continue
            figures, disclosure = form["emissions"], form["disclosure"] or {}
            shown.append(
                BrandDisclosure(
                    brand=form["brand"],
                    producer_name=disclosure.get("producer_name"),
                    installation_country=disclosure.get("installation_country"),
                    reporting_year=int(form["reporting_year"]),
                    direct_tco2e_per_t=str(figures["direct_tco2e_per_t"]),
                    indirect_tco2e_per_t=str(figures["indirect_tco2e_per_t"]),
                    total_tco2e_per_t=str(figures["total_tco2e_per_t"]),
                    direct_basis=basis(figures["direct_is_default_value"]),
                    indirect_basis=basis(figures["indirect_is_default_value"]),
                    verified=disclosure.get("verifier_name") is not None,
                    verifier=disclosure.get("verifier_name"),
                    level_of_assurance=disclosure.get("level_of_assurance"),
                )
            )
        shown.sort(key=lambda d: (-d.reporting_year, d.brand))
        return PublicDisclosures(disclosures=shown)

    def aggregate_statistics(self, today: date) -> AggregateStatistics:
        """The distribution of reported intensities across listed brands (raises
        ``NotYetPublished`` before the policy's date)."""
        figures = [
            ReportedFigures(
                brand=form["brand"],
                reporting_year=int(form["reporting_year"]),
                direct=Decimal(str(form["emissions"]["direct_tco2e_per_t"])),
                indirect=Decimal(str(form["emissions"]["indirect_tco2e_per_t"])),
                total=Decimal(str(form["emissions"]["total_tco2e_per_t"])),
            )
            for _brand, form in self._standing_forms()
        ]
        policy = self.statistics_policy
        years = statistics(figures, policy, today=today)
        return AggregateStatistics(
            published_from=policy.published_from.isoformat(),
            minimum_group=policy.minimum_group,
            years=[
                YearStatisticsView(
                    reporting_year=year.reporting_year,
                    brands=year.brands,
                    withheld=year.withheld,
                    distributions=[
                        ScopeDistributionView(
                            scope=d.scope,
                            brands=d.brands,
                            mean=str(d.mean),
                            percentiles={f"p{p}": str(v) for p, v in d.percentiles.items()},
                        )
                        for d in year.distributions
                    ],
                )
                for year in years
            ],
        )

    # -- the importer's CBAM report (§6.3-6.4) -------------------------------------------
    def quarterly_cbam_report(self, importer_id: str, quarter: Quarter) -> QuarterlyCbamReport:
        """The CBAM report of the warrants issued to ``importer_id`` in ``quarter``."""
        issued = [
            w
            for w in self.store.rows("warrants", {"holder_id": importer_id})
            if quarter.holds(utc_moment(w["issued_at"]))
        ]
        named = self.store.rows_in(
            "warrant_certificates", "warrant_id", [w["warrant_id"] for w in issued]
        )
        ecoa_ids: dict[str, list[str]] = {}
        for row in named:
            ecoa_ids.setdefault(row["warrant_id"], []).append(row["ecoa_id"])
        attachments = {
            a["ecoa_id"]: a
            for a in self.store.rows_in(
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
            f["form_id"]: f for f in self.store.rows_in("cbam_forms", "form_id", sorted(form_ids))
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
