"""The importer's quarterly CBAM report (§6.3-6.4) and its yearly import mass, as the HTTP
API answers them. Quantities are exact decimal strings: tonnes of goods (net mass) and
t CO2e; figures per tonne are t CO2e per t of goods.

Shaped like the EU CBAM registry's quarterly report (QReport): one line per goods type (CN
code) and installation country of origin, with the goods' net mass, their direct and indirect
embedded emissions, how each figure was determined and the carbon price paid in the country of
origin. ``REGISTRY_FIELDS_FILLED`` and ``REGISTRY_FIELDS_NOT_KNOWN`` name which of the
registry's fields the gateway fills and which it cannot know.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.api import ApiModel, DecimalText
from contracts.base import Contract
from contracts.values import CalendarYear, Identifier

XML_NAMESPACE = "urn:custody-gateway:cbam-quarterly-report:1"
XML_SCHEMA = Path(__file__).with_name("schemas") / "cbam-quarterly-report.v1.xsd"
"""The XML Schema the report's XML rendering follows."""

REGISTRY_FIELDS_FILLED: tuple[str, ...] = (
    "ReportingPeriod",
    "Year",
    "TotalImported",
    "TotalEmissions",
    "Importer.IdentificationNumber (the importer's party id)",
    "ImportedGood.ItemNumber",
    "ImportedGood.CommodityCode.CnCode",
    "ImportedGood.OriginCountry.CountryCodeToReport",
    "ImportedGood.ImportedQuantity.NetMass (tonnes)",
    "ImportedGood.GoodsEmissions.ProductionCountry",
    "ImportedGood.GoodsEmissions.InstallationEmissions (direct, indirect; t CO2e)",
    "ImportedGood.GoodsEmissions.DirectEmissions.DeterminationType (actual or default)",
    "ImportedGood.GoodsEmissions.IndirectEmissions.DeterminationType (actual or default)",
    "ImportedGood.GoodsEmissions.SpecificEmbeddedEmissions (per warrant)",
    "ImportedGood.GoodsEmissions.CarbonPriceDue (instrument, amount, currency)",
)
"""Fields of the registry's report the gateway fills from the warrants and the forms."""

REGISTRY_FIELDS_NOT_KNOWN: tuple[str, ...] = (
    "ReportId and SubmissionDate (the registry's own)",
    "Declarant (the reporting declarant, its role and address)",
    "Importer.Name and Importer.ImporterAddress (an EORI number, an address)",
    "NationalCompetentAuth.ReferenceNumber",
    "Signatures (the declarant's confirmation)",
    "ImportedGood.ImportedQuantity.Procedure (customs procedure, inward processing)",
    "ImportedGood.ImportedQuantity.ImportArea and the member state of import",
    "ImportedGood.SupplementaryUnits",
    "ImportedGood.GoodsEmissions.InstallationOperator (contact, address)",
    "ImportedGood.GoodsEmissions.Installation.EconomicActivity and its address",
    "ImportedGood.GoodsEmissions.ElectricityImported and the emission factor's source",
    "ImportedGood.GoodsEmissions.SupportingDocuments",
    "ImportedGood.GoodsEmissions.CarbonPriceDue.RebateOrCompensation",
)
"""Fields of the registry's report the gateway cannot know: the warrants and the forms do not
carry them; the importer adds them in the registry."""


class ReportedCarbonPrice(ApiModel):
    """A carbon price paid in the country of origin, and the goods it was paid on."""

    instrument: str | None = Field(description='Pricing instrument ("carbon tax", ...).')
    amount_per_tco2e: DecimalText = Field(description="Price paid per t CO2e.")
    currency: str = Field(description="ISO 4217 currency code.")
    paid_at: str = Field(description="Installation or precursor the price was paid for.")
    net_mass_t: DecimalText = Field(description="Tonnes of the line's goods it was paid on.")


class ReportedWarrant(ApiModel):
    """One warrant received in the quarter: its goods and their figures."""

    warrant_id: str = Field(description="The warrant.")
    issued_at: str = Field(description="When it was issued to the importer (UTC).")
    cancelled_at: str | None = Field(description="When cancelled later; still reported.")
    net_mass_t: DecimalText = Field(description="Net weight, t (the warrant's kg / 1000).")
    direct_tco2e_per_t: DecimalText = Field(description="Specific direct embedded emissions.")
    indirect_tco2e_per_t: DecimalText = Field(description="Specific indirect embedded emissions.")
    direct_tco2e: DecimalText = Field(description="net_mass_t x direct_tco2e_per_t.")
    indirect_tco2e: DecimalText = Field(description="net_mass_t x indirect_tco2e_per_t.")
    direct_basis: str = Field(description='"actual" or "default".')
    indirect_basis: str = Field(description='"actual" or "default".')
    verified: bool = Field(description="True when the form the figures come from is verified.")
    figures_from: str = Field(
        description='"attached" (its CoAs\' emissions, one form), "warrant_document" (the '
        "figures the warrant states, when its CoAs carry different forms or some none) or "
        '"default_table" (no CoA carries emissions yet: the default-value table).'
    )
    form_id: str | None = Field(description="The accepted CBAM form, when not a default.")
    verifier: str | None = Field(description="The verifier's company name, when verified.")
    level_of_assurance: str | None = Field(description='"reasonable" or "limited".')


class ReportLine(ApiModel):
    """The goods of one CN code from one installation country of origin."""

    item_number: int = Field(description="1, 2, ... in the order of the lines.")
    cn_code: str = Field(description="Combined Nomenclature code of the goods.")
    country_of_origin: str = Field(
        description="ISO 3166-1 alpha-2 code of the installation's country, from the form; "
        "the country the warrant states when no form names it."
    )
    net_mass_t: DecimalText = Field(description="Tonnes of goods (net mass).")
    direct_tco2e: DecimalText = Field(description="Total direct embedded emissions.")
    indirect_tco2e: DecimalText = Field(description="Total indirect embedded emissions.")
    priced_tco2e: DecimalText = Field(
        description="The embedded emissions CBAM certificates are due on: direct ones in the "
        "definitive period, none in the transitional period."
    )
    direct_default_mass_t: DecimalText = Field(description="Tonnes with a default direct figure.")
    direct_actual_verified_mass_t: DecimalText = Field(
        description="Tonnes with the producer's own direct figure, verified."
    )
    direct_actual_unverified_mass_t: DecimalText = Field(
        description="Tonnes with the producer's own direct figure, not verified."
    )
    carbon_prices_paid: list[ReportedCarbonPrice] = Field(
        description="Carbon prices paid in the country of origin, each with the goods it "
        "was paid on; empty when none was."
    )
    warrants: list[ReportedWarrant] = Field(description="The warrants of the line, by issue.")


class ReportTotals(ApiModel):
    """The report's totals: the sum of its lines, and of the warrants received."""

    warrants: int = Field(description="Warrants received in the quarter.")
    net_mass_t: DecimalText = Field(description="Tonnes of goods.")
    direct_tco2e: DecimalText = Field(description="Direct embedded emissions, t CO2e.")
    indirect_tco2e: DecimalText = Field(description="Indirect embedded emissions, t CO2e.")
    total_tco2e: DecimalText = Field(description="Direct plus indirect.")
    priced_tco2e: DecimalText = Field(description="Embedded emissions certificates are due on.")


class QuarterlyCbamReport(ApiModel):
    """The importer's CBAM report of one quarter: the warrants issued to it in the quarter."""

    importer_id: str = Field(description="The party the warrants were issued to.")
    year: int = Field(description="Calendar year of the quarter.")
    quarter: int = Field(ge=1, le=4, description="1 to 4.")
    reporting_period: str = Field(description='"2026Q1".')
    period_starts: str = Field(description="First instant of the quarter (UTC).")
    period_ends: str = Field(description="First instant after the quarter (UTC).")
    due_by: str = Field(description="The report is due before this instant: one month after.")
    corrections_until: str = Field(
        description="Corrections are accepted before this instant: two months after due_by."
    )
    cbam_period: str = Field(description='"transitional" or "definitive".')
    priced_emissions: list[str] = Field(description='["direct"] in the definitive period.')
    default_values_version: str = Field(description="The default-value tables applied.")
    lines: list[ReportLine] = Field(description="One per CN code and country of origin.")
    totals: ReportTotals = Field(description="The sums of the lines.")
    registry_fields_filled: list[str] = Field(
        description="Fields of the EU CBAM registry's report this report fills."
    )
    registry_fields_not_known: list[str] = Field(
        description="Fields of the registry's report the gateway cannot know."
    )


class ImportsOfYear(ApiModel):
    """An importer's CBAM goods of one calendar year against the 50 t exemption."""

    importer_id: str = Field(description="The party the warrants were issued to.")
    year: int = Field(description="The calendar year (UTC).")
    warrants: int = Field(description="Warrants issued to the importer in the year.")
    net_mass_t: DecimalText = Field(description="Their cumulative net mass, all goods.")
    threshold_t: DecimalText = Field(description="The exemption threshold (50 t).")
    exceeded: bool = Field(description="True when the cumulative mass is over the threshold.")
    exceeded_by_warrant: str | None = Field(
        description="The warrant whose issue took the mass over the threshold."
    )
    exceeded_at: str | None = Field(description="When that warrant was issued.")


class FiledReportVersion(ApiModel):
    """One version of the importer's report of a quarter, as filed (both kept: a correction
    is a new version)."""

    importer_id: str = Field(description="The importer that filed it.")
    year: int = Field(description="Calendar year of the quarter.")
    quarter: int = Field(description="1 to 4.")
    version: int = Field(ge=1, description="1 for the filing, 2 and on for its corrections.")
    filed_at: str = Field(description="When the importer filed it (UTC).")
    late: bool = Field(description="True when filed after the due date (a first filing).")
    totals: ReportTotals = Field(description="The totals of the report as filed.")


class FiledReportVersions(ApiModel):
    """The versions an importer has filed of its report of one quarter."""

    importer_id: str = Field(description="The importer.")
    year: int = Field(description="Calendar year of the quarter.")
    quarter: int = Field(description="1 to 4.")
    versions: list[FiledReportVersion] = Field(description="In version order.")


class CbamReportFiled(Contract):
    """An importer filed a version of its quarterly CBAM report (§6.3-6.4): the gateway's API
    publishes it with the whole report as it stood, so the versions are rebuilt from the
    topic like every other read-side table."""

    MESSAGE_TYPE: ClassVar[str] = "custody.cbam-report.filed"
    SCHEMA_VERSION: ClassVar[int] = 1

    filing_id: Identifier = Field(description="Unique id of this filing.")
    importer_id: Identifier = Field(description="Party id of the importer (the key).")
    year: CalendarYear = Field(description="Calendar year of the quarter.")
    quarter: int = Field(ge=1, le=4, description="Quarter, 1 to 4.")
    version: int = Field(ge=1, description="1 for the filing, n + 1 for a correction of n.")
    late: bool = Field(description="True when version 1 was filed after the due date.")
    filed_at: AwareDatetime = Field(description="When the importer filed it.")
    report: QuarterlyCbamReport = Field(description="The report as filed.")
