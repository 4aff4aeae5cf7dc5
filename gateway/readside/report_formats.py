"""The quarterly CBAM report as CSV and as XML. Pure: a report in, text out.

- CSV: a header row, then one row per line of the report (CN code x country of origin).
- XML: shaped like the EU CBAM registry's quarterly report (QReport), in the gateway's own
  namespace; the schema is ``contracts/schemas/cbam-quarterly-report.v1.xsd``.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ElementTree

from contracts.cbam_report import (
    XML_NAMESPACE,
    QuarterlyCbamReport,
    ReportedWarrant,
    ReportLine,
)

CSV_COLUMNS: tuple[str, ...] = (
    "reporting_period",
    "item_number",
    "cn_code",
    "country_of_origin",
    "warrants",
    "net_mass_t",
    "direct_tco2e",
    "indirect_tco2e",
    "priced_tco2e",
    "direct_default_mass_t",
    "direct_actual_verified_mass_t",
    "direct_actual_unverified_mass_t",
    "carbon_prices_paid",
)


def _prices(line: ReportLine) -> str:
    return "; ".join(
        f"{p.amount_per_tco2e} {p.currency}/tCO2e {p.instrument or 'unnamed instrument'} "
        f"at {p.paid_at} on {p.net_mass_t} t"
        for p in line.carbon_prices_paid
    )


def report_csv(report: QuarterlyCbamReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in report.lines:
        writer.writerow(
            (
                report.reporting_period,
                line.item_number,
                line.cn_code,
                line.country_of_origin,
                len(line.warrants),
                line.net_mass_t,
                line.direct_tco2e,
                line.indirect_tco2e,
                line.priced_tco2e,
                line.direct_default_mass_t,
                line.direct_actual_verified_mass_t,
                line.direct_actual_unverified_mass_t,
                _prices(line),
            )
        )
    return out.getvalue()


def _tag(name: str) -> str:
    return f"{{{XML_NAMESPACE}}}{name}"


def _add(parent: ElementTree.Element, name: str, value: object = None) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, _tag(name))
    if value is not None:
        element.text = str(value).lower() if isinstance(value, bool) else str(value)
    return element


def _add_each(parent: ElementTree.Element, *named: tuple[str, object]) -> None:
    """A child element per (name, value), in order; none for a value that is None."""
    for name, value in named:
        if value is not None:
            _add(parent, name, value)


def _fields(parent: ElementTree.Element, name: str, values: list[str]) -> None:
    holder = _add(parent, name)
    for value in values:
        _add(holder, "Field", value)


def _emissions(parent: ElementTree.Element, name: str, basis: str, per_t: str, total: str) -> None:
    _add_each(
        _add(parent, name),
        ("DeterminationType", basis),
        ("SpecificEmbeddedEmissions", per_t),
        ("EmbeddedEmissions", total),
    )


def _warrant(parent: ElementTree.Element, warrant: ReportedWarrant) -> None:
    element = _add(parent, "Warrant")
    _add_each(
        element,
        ("WarrantId", warrant.warrant_id),
        ("IssuedAt", warrant.issued_at),
        ("CancelledAt", warrant.cancelled_at),
        ("NetMass", warrant.net_mass_t),
    )
    _emissions(
        element,
        "DirectEmissions",
        warrant.direct_basis,
        warrant.direct_tco2e_per_t,
        warrant.direct_tco2e,
    )
    _emissions(
        element,
        "IndirectEmissions",
        warrant.indirect_basis,
        warrant.indirect_tco2e_per_t,
        warrant.indirect_tco2e,
    )
    _add_each(
        element,
        ("Verified", warrant.verified),
        ("FiguresFrom", warrant.figures_from),
        ("FormId", warrant.form_id),
        ("Verifier", warrant.verifier),
        ("LevelOfAssurance", warrant.level_of_assurance),
    )


def _good(parent: ElementTree.Element, line: ReportLine) -> None:
    good = _add(parent, "ImportedGood")
    _add(good, "ItemNumber", line.item_number)
    _add(_add(good, "CommodityCode"), "CnCode", line.cn_code)
    _add(_add(good, "OriginCountry"), "CountryCodeToReport", line.country_of_origin)
    _add(_add(good, "ImportedQuantity"), "NetMass", line.net_mass_t)
    emissions = _add(good, "GoodsEmissions")
    _add_each(
        emissions,
        ("ProductionCountry", line.country_of_origin),
        ("DirectEmissions", line.direct_tco2e),
        ("IndirectEmissions", line.indirect_tco2e),
        ("PricedEmissions", line.priced_tco2e),
        ("DirectDefaultMass", line.direct_default_mass_t),
        ("DirectActualVerifiedMass", line.direct_actual_verified_mass_t),
        ("DirectActualUnverifiedMass", line.direct_actual_unverified_mass_t),
    )
    for price in line.carbon_prices_paid:
        _add_each(
            _add(emissions, "CarbonPriceDue"),
            ("TypeOfInstrument", price.instrument),
            ("Amount", price.amount_per_tco2e),
            ("Currency", price.currency),
            ("PaidAt", price.paid_at),
            ("NetMass", price.net_mass_t),
        )
    for warrant in line.warrants:
        _warrant(emissions, warrant)


def report_xml(report: QuarterlyCbamReport) -> str:
    """The report as XML valid against ``contracts.cbam_report.XML_SCHEMA``."""
    ElementTree.register_namespace("", XML_NAMESPACE)
    root = ElementTree.Element(_tag("QReport"))
    _add_each(
        root,
        ("ReportingPeriod", report.reporting_period),
        ("Year", report.year),
        ("Quarter", report.quarter),
        ("PeriodStarts", report.period_starts),
        ("PeriodEnds", report.period_ends),
        ("DueBy", report.due_by),
        ("CorrectionsUntil", report.corrections_until),
        ("CbamPeriod", report.cbam_period),
    )
    _fields(root, "PricedEmissions", report.priced_emissions)
    totals = report.totals
    _add_each(
        root,
        ("DefaultValuesVersion", report.default_values_version),
        ("TotalImported", len(report.lines)),
        ("TotalEmissions", totals.total_tco2e),
    )
    _add_each(
        _add(root, "Totals"),
        ("Warrants", totals.warrants),
        ("NetMass", totals.net_mass_t),
        ("DirectEmissions", totals.direct_tco2e),
        ("IndirectEmissions", totals.indirect_tco2e),
        ("PricedEmissions", totals.priced_tco2e),
    )
    _add(_add(root, "Importer"), "IdentificationNumber", report.importer_id)
    for line in report.lines:
        _good(root, line)
    _fields(root, "RegistryFieldsFilled", report.registry_fields_filled)
    _fields(root, "RegistryFieldsNotKnown", report.registry_fields_not_known)
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
