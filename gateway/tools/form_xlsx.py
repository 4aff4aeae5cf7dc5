"""``gateway form import`` / ``gateway form template``: the exchange's CBAM emissions reporting
form (Appendix II) as an Excel workbook, read into ``CbamEmissionsFormSubmitted``.

The exchange's form is built on the EU "communication template for installations", whose
``Summary_Communication`` sheet is what an installation sends importers; the workbook here
keeps that sheet's name for the single-valued fields and adds one sheet per repeated part
(products, carbon prices paid) and a guidance sheet the importer does not read.

Values are found by their **labels**, not by fixed cells, so rows may be inserted, moved or
left out of order:

- ``Summary_Communication``: a field's label in column A, its value in column B of the same
  row (column C is guidance). Labels match ignoring case, repeated spaces and a trailing
  ``:`` or ``*``. A label may appear only once.
- ``Products`` and ``Carbon_Prices``: a header row whose column A is the table's first label
  (``Product name``, ``Paid at``); the other columns are found by their header labels in that
  row, in any order; one record a row below it, up to the first blank row.

Every mistake is reported as ``Sheet!Cell: what is wrong``, all at once: a value that is not
a number, a date, or one of the choices; a value the contract refuses; and what the
rulebook's form checks (§4, Appendix II) refuse that does not depend on the registry's
state (whether the brand is listed, whether a form is already accepted for the year and
whether the year has ended are left to ``gateway check`` and the registry).

``LAYOUT``, ``PRODUCT_COLUMNS`` and ``CARBON_PRICE_COLUMNS`` are the layout; the README
("Importing the CBAM form from Excel") shows it as a table.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import ValidationError

from contracts.cbam import (
    CalculationMethodology,
    CbamEmissionsFormSubmitted,
    EmissionFactorSource,
    EmissionsBasis,
    MonitoringMethodology,
)
from gateway.registry.state import RegistryState
from gateway.rulebook.cbam_form import decide_form
from gateway.rulebook.model import Rulebook

SUMMARY_SHEET = "Summary_Communication"
PRODUCTS_SHEET = "Products"
CARBON_PRICES_SHEET = "Carbon_Prices"
GUIDANCE_SHEET = "Guidance"
LABEL_COLUMN = "A"
VALUE_COLUMN = "B"
GUIDANCE_COLUMN = "C"

# The state- and day-dependent checks `gateway check` and the registry make, not the importer.
STATE_FIELDS = frozenset({"brand", "reporting_year"})


class Kind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    YEAR = "year"
    DATE = "date"
    YES_NO = "yes / no"


@dataclass(frozen=True)
class Field:
    """One value of the form: its label, the contract field it fills and how it is read."""

    label: str
    path: str
    kind: Kind = Kind.TEXT
    choices: type[Enum] | None = None
    guidance: str = ""


@dataclass(frozen=True)
class Section:
    title: str


Row = Field | Section

LAYOUT: tuple[Row, ...] = (
    Section("Form"),
    Field("Brand", "brand", guidance="the listed brand the form reports for (or --brand)"),
    Field("Reporting year", "reporting_year", Kind.YEAR, guidance="calendar year, e.g. 2025"),
    Field("Form id", "form_id", guidance="optional; CBAM-<brand>-<year> when blank"),
    Section("Installation"),
    Field("Producer name", "producer_name"),
    Field("Smelter / refiner / asset name", "installation_name"),
    Field("Installation address", "installation_address"),
    Field(
        "Unique installation identifier",
        "installation_id",
        guidance="the link to the brand's CoAs",
    ),
    Field("UN/LOCODE", "un_locode", guidance='country and place, e.g. "NO SUN"'),
    Field("Main emission source address", "main_emission_source.address"),
    Field(
        "Main emission source latitude",
        "main_emission_source.latitude",
        Kind.NUMBER,
        guidance="decimal degrees north (WGS 84)",
    ),
    Field(
        "Main emission source longitude",
        "main_emission_source.longitude",
        Kind.NUMBER,
        guidance="decimal degrees east (WGS 84)",
    ),
    Section("Reporting"),
    Field("Reporting period start", "reporting_period.start", Kind.DATE, guidance="YYYY-MM-DD"),
    Field("Reporting period end", "reporting_period.end", Kind.DATE, guidance="YYYY-MM-DD"),
    Field("Monitoring methodology", "methodology", choices=MonitoringMethodology),
    Field(
        "Calculation methodology",
        "calculation_methodology",
        choices=CalculationMethodology,
        guidance="optional",
    ),
    Section("Embedded emissions (t CO2e per t of goods)"),
    Field(
        "Direct embedded emissions",
        "direct_embedded_emissions.tco2e_per_t",
        Kind.NUMBER,
        guidance="scope 1, t CO2e per t",
    ),
    Field("Direct emissions basis", "direct_embedded_emissions.basis", choices=EmissionsBasis),
    Field(
        "Indirect embedded emissions",
        "indirect_embedded_emissions.tco2e_per_t",
        Kind.NUMBER,
        guidance="scope 2, t CO2e per t",
    ),
    Field("Indirect emissions basis", "indirect_embedded_emissions.basis", choices=EmissionsBasis),
    Field(
        "Emission factor",
        "emission_factor.tco2e_per_mwh",
        Kind.NUMBER,
        guidance="electricity, t CO2e per MWh",
    ),
    Field("Emission factor source", "emission_factor.source", choices=EmissionFactorSource),
    Field(
        "Emission factor rationale",
        "emission_factor.rationale",
        guidance="mandatory when the source is other",
    ),
    Section("Verification"),
    Field("Verifier company name", "verifier.company_name"),
    Field("Verifier company address", "verifier.company_address"),
    Field("Verifier company contact", "verifier.company_contact"),
    Field("Verifier accreditation body", "verifier.accreditation_body"),
    Field("Level of assurance", "level_of_assurance", guidance="reasonable or limited"),
    Section("Voluntary"),
    Field(
        "Permission to publish",
        "permission_to_publish",
        Kind.YES_NO,
        guidance="yes / no: on the public sustainability disclosures (§4.2.3)",
    ),
    Field("Calculation notes", "calculation_notes", guidance="how emissions were calculated"),
    Field(
        "Scope 3 emissions",
        "scope_3_tco2e_per_t",
        Kind.NUMBER,
        guidance="t CO2e per t of goods",
    ),
)

GROUP_LABELS = {
    "main_emission_source": "Main emission source",
    "reporting_period": "Reporting period",
    "direct_embedded_emissions": "Direct embedded emissions",
    "indirect_embedded_emissions": "Indirect embedded emissions",
    "emission_factor": "Emission factor",
    "verifier": "Verifier",
    "products": "Products",
    "carbon_prices_paid": "Carbon prices paid",
}

PRODUCT_COLUMNS: tuple[Field, ...] = (
    Field("Product name", "product_name"),
    Field("CN code", "cn_code", guidance="7601"),
    Field("Aggregated goods category", "aggregated_goods_category"),
    Field("Scrap t per t of product", "scrap_t_per_t", Kind.NUMBER),
    Field("Pre-consumer scrap %", "pre_consumer_scrap_percent", Kind.NUMBER),
    Field("Other elements %", "other_elements_percent", Kind.NUMBER),
)

CARBON_PRICE_COLUMNS: tuple[Field, ...] = (
    Field("Paid at", "paid_at", guidance="installation or precursor"),
    Field("Instrument", "instrument"),
    Field("Amount per t CO2e", "amount_per_tco2e", Kind.NUMBER),
    Field("Currency", "currency", guidance="ISO 4217, e.g. EUR"),
)

GUIDANCE = (
    "Exchange CBAM emissions reporting form (Appendix II), built on the EU communication "
    "template for installations. One form per brand and calendar year, in English.",
    f"{SUMMARY_SHEET}: fill column B beside each label in column A; rows may be moved, the "
    "labels must stay as written.",
    f"{PRODUCTS_SHEET}: one product per row under the header; CN code 7601 (unwrought "
    "aluminium); percentages by mass, 0-100.",
    f"{CARBON_PRICES_SHEET}: one row per carbon price paid at another installation or on a "
    "precursor; leave empty when none was paid.",
    "Units: t CO2e per t of goods. Direct = scope 1, indirect = scope 2. Basis: actual (the "
    "producer's own figure) or default_value (the EU default).",
    "Choices are written as listed in column C; yes / no for the permission to publish.",
)


class FormImportError(Exception):
    """The workbook cannot be read into a form; each problem is ``Sheet!Cell: message``."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


# ----------------------------------------------------------------------------- the template


def write_template(path: Path) -> None:
    """A blank form with the labels, the guidance and the table headers, to fill in."""
    workbook = Workbook()
    summary = workbook.active
    assert summary is not None
    summary.title = SUMMARY_SHEET
    summary.append(["Exchange CBAM emissions reporting form: summary communication"])
    summary["A1"].font = Font(bold=True, size=13)
    summary.append(["Field", "Value", "Guidance"])
    for cell in summary[2]:
        cell.font = Font(bold=True)
    for row in LAYOUT:
        if isinstance(row, Section):
            summary.append([row.title])
            summary.cell(summary.max_row, 1).font = Font(bold=True)
        else:
            summary.append([row.label, None, _guidance(row)])
    summary.column_dimensions["A"].width = 38
    summary.column_dimensions["B"].width = 48
    summary.column_dimensions["C"].width = 60
    for title, columns in (
        (PRODUCTS_SHEET, PRODUCT_COLUMNS),
        (CARBON_PRICES_SHEET, CARBON_PRICE_COLUMNS),
    ):
        sheet = workbook.create_sheet(title)
        sheet.append([column.label for column in columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for index in range(len(columns)):
            sheet.column_dimensions[chr(ord("A") + index)].width = 30
    guidance = workbook.create_sheet(GUIDANCE_SHEET)
    for text in GUIDANCE:
        guidance.append([text])
    guidance.column_dimensions["A"].width = 120
    workbook.save(path)


def _guidance(row: Field) -> str:
    parts = [row.guidance] if row.guidance else []
    if row.choices is not None:
        parts.append("one of: " + ", ".join(str(member.value) for member in row.choices))
    return "; ".join(parts)


# ------------------------------------------------------------------------------- importing


def import_form(
    path: Path,
    *,
    rulebook: Rulebook,
    today: date,
    brand: str | None = None,
) -> CbamEmissionsFormSubmitted:
    """The form the workbook at ``path`` holds, or ``FormImportError`` naming every problem's
    sheet and cell. ``brand`` fills a blank brand cell (and must agree with a filled one)."""
    workbook = _open(path)
    missing = [name for name in (SUMMARY_SHEET, PRODUCTS_SHEET) if name not in workbook.sheetnames]
    if missing:
        raise FormImportError(
            [
                f"{path.name}: no sheet {name!r} (the workbook has "
                f"{', '.join(repr(s) for s in workbook.sheetnames)}); start from "
                "`gateway form template`"
                for name in missing
            ]
        )
    reader = _Reader()
    fields = reader.summary(workbook[SUMMARY_SHEET])
    products = reader.table(workbook[PRODUCTS_SHEET], PRODUCT_COLUMNS, "products")
    prices = (
        reader.table(workbook[CARBON_PRICES_SHEET], CARBON_PRICE_COLUMNS, "carbon_prices_paid")
        if CARBON_PRICES_SHEET in workbook.sheetnames
        else []
    )
    reader.fill_brand(fields, brand)
    if reader.problems:
        raise FormImportError(reader.problems)
    body = _body(fields, products, prices)
    try:
        form = CbamEmissionsFormSubmitted.build(**body)
    except ValidationError as error:
        raise FormImportError([reader.refused(problem) for problem in error.errors()]) from None
    decision = decide_form(form, RegistryState().brand(form.brand), rulebook, today=today)
    refused = [v for v in decision.violations if v.field.split(".")[0] not in STATE_FIELDS]
    if refused:
        raise FormImportError(
            [
                f"{reader.where(v.field)}: {reader.label_of(v.field)}"
                + (
                    f": {v.message} ({v.rule})"
                    if v.observed is None
                    else f" {v.observed!r}: {v.message} (allowed: {v.allowed}; {v.rule})"
                )
                for v in refused
            ]
        )
    return form


def form_line(form: CbamEmissionsFormSubmitted) -> str:
    """The JSON Lines line ``gateway check`` (and ``gateway send``) read, numbers exact."""
    message_type = json.dumps(form.MESSAGE_TYPE)
    return f'{{"type": {message_type}, "body": {form.model_dump_json()}}}\n'


def _open(path: Path) -> Any:
    if not path.exists():
        raise FormImportError([f"{path}: no such file"])
    if path.is_dir():
        raise FormImportError([f"{path}: is a directory, not an .xlsx workbook"])
    try:
        return load_workbook(path, read_only=False, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        reason = str(error) or type(error).__name__
        raise FormImportError(
            [f"{path}: not an Excel workbook (.xlsx) the importer can read: {reason}"]
        ) from None


def _normal(label: object) -> str:
    text = re.sub(r"\s+", " ", str(label)).strip().casefold()
    return text.rstrip(":* ").strip()


def _label_rows(sheet: Worksheet) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for (cell,) in sheet.iter_rows(min_col=1, max_col=1):
        if isinstance(cell.value, str) and cell.value.strip():
            rows.setdefault(_normal(cell.value), []).append(cell.row)
    return rows


def _dotted(loc: Iterable[object]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Reader:
    """Reads cells into contract values and remembers where each came from."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.cells: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.unreadable: set[str] = set()

    def where(self, field: str) -> str:
        """The cell of ``field`` (``products[0].cn_code``), or of the nearest part it is in."""
        candidates = [field]
        while "." in field or "[" in field:
            field = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", field)
            candidates.append(field)
        for candidate in candidates:
            if candidate in self.cells:
                return self.cells[candidate]
            inner = [k for k in self.cells if k.startswith((candidate + ".", candidate + "["))]
            if inner:  # the first cell of the group, in the layout's order
                return self.cells[inner[0]]
        return self.cells.get(candidates[-1], SUMMARY_SHEET)

    def refused(self, problem: Mapping[str, Any]) -> str:
        """A value the contract refuses, at its cell and under its label."""
        field = _dotted(problem["loc"])
        where, label = self.where(field), self.label_of(field)
        if problem["type"] == "missing":
            group = self.label_of(re.sub(r"(\[\d+\])?\.[^.\[]+$", "", field))
            return f"{where}: {label} is empty; it is needed where {group} is given"
        return f"{where}: {label} {_shown(problem['input'])}: {problem['msg']}"

    def label_of(self, field: str) -> str:
        return self.labels.get(field) or GROUP_LABELS.get(field, field)

    def summary(self, sheet: Worksheet) -> dict[str, Any]:
        rows = _label_rows(sheet)
        values: dict[str, Any] = {}
        for row in LAYOUT:
            if not isinstance(row, Field):
                continue
            found = rows.get(_normal(row.label), [])
            if not found:
                self.problems.append(
                    f"{sheet.title}!{LABEL_COLUMN}: no row labelled {row.label!r} in column "
                    f"{LABEL_COLUMN} (see `gateway form template`)"
                )
                continue
            if len(found) > 1:
                cells = ", ".join(f"{LABEL_COLUMN}{number}" for number in found)
                self.problems.append(
                    f"{sheet.title}!{LABEL_COLUMN}{found[1]}: the label {row.label!r} appears "
                    f"more than once ({cells})"
                )
                continue
            where = f"{sheet.title}!{VALUE_COLUMN}{found[0]}"
            self.cells[row.path] = where
            self.labels[row.path] = row.label
            values[row.path] = self.value(sheet[f"{VALUE_COLUMN}{found[0]}"].value, row, where)
            if values[row.path] is None and not _blank(sheet[f"{VALUE_COLUMN}{found[0]}"].value):
                self.unreadable.add(row.path)
        return values

    def table(
        self, sheet: Worksheet, columns: tuple[Field, ...], name: str
    ) -> list[dict[str, Any]]:
        header_row = _label_rows(sheet).get(_normal(columns[0].label), [])
        if not header_row:
            self.problems.append(
                f"{sheet.title}!{LABEL_COLUMN}: no header row with {columns[0].label!r} in "
                f"column {LABEL_COLUMN} (see `gateway form template`)"
            )
            return []
        header = header_row[0]
        self.cells[name] = f"{sheet.title}!{LABEL_COLUMN}{header + 1}"  # the first record
        at: dict[str, int] = {}
        for cell in sheet[header]:
            if isinstance(cell.value, str):
                at.setdefault(_normal(cell.value), cell.column)
        places: dict[str, int] = {}
        for column in columns:
            number = at.get(_normal(column.label))
            if number is None:
                self.problems.append(
                    f"{sheet.title}!{header}: no column headed {column.label!r} in the header "
                    f"row {header}"
                )
            else:
                places[column.path] = number
        if len(places) < len(columns):
            return []
        records: list[dict[str, Any]] = []
        number = header + 1
        while True:
            cells = {path: sheet.cell(number, column) for path, column in places.items()}
            if all(_blank(cell.value) for cell in cells.values()):
                break
            record: dict[str, Any] = {}
            index = len(records)
            for column in columns:
                cell = cells[column.path]
                where = f"{sheet.title}!{cell.coordinate}"
                field = f"{name}[{index}].{column.path}"
                self.cells[field] = where
                self.labels[field] = f"{column.label} (row {number})"
                record[column.path] = self.value(cell.value, column, where)
            records.append(record)
            number += 1
        return records

    def fill_brand(self, fields: dict[str, Any], brand: str | None) -> None:
        where = self.cells.get("brand", SUMMARY_SHEET)
        stated = fields.get("brand")
        if brand is not None and stated is not None and brand.strip() != stated:
            self.problems.append(
                f"{where}: brand {stated!r} is not {brand!r} given with --brand; correct the "
                "cell or the option"
            )
        elif stated is None and brand is not None:
            fields["brand"] = brand.strip()
        elif stated is None and "brand" in self.cells and "brand" not in self.unreadable:
            self.problems.append(f"{where}: brand is empty; fill it or pass --brand")
        year = "reporting_year"
        if year in self.cells and fields.get(year) is None and year not in self.unreadable:
            self.problems.append(f"{self.cells['reporting_year']}: reporting year is empty")

    def value(self, raw: object, field: Field, where: str) -> Any:
        if _blank(raw):
            return None
        problem: str | None
        value: Any
        if field.choices is not None:
            value, problem = _choice(raw, field.choices)
        elif field.kind is Kind.NUMBER:
            value, problem = _number(raw)
        elif field.kind is Kind.YEAR:
            value, problem = _year(raw)
        elif field.kind is Kind.DATE:
            value, problem = _date(raw)
        elif field.kind is Kind.YES_NO:
            value, problem = _yes_no(raw)
        else:
            value, problem = _text(raw), None
        if problem is not None:
            self.problems.append(f"{where}: {field.label} {_shown(raw)} {problem}")
            return None
        return value


def _blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _shown(raw: object) -> str:
    if isinstance(raw, datetime | date):
        return f'"{raw.isoformat()}"'
    if isinstance(raw, Decimal | int | float) and not isinstance(raw, bool):
        return str(raw)
    return json.dumps(raw, ensure_ascii=False, default=str)


def _text(raw: object) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # a code typed as a number, "7601"
    if isinstance(raw, datetime | date):
        return raw.isoformat()
    return str(raw).strip()


def _number(raw: object) -> tuple[Decimal | None, str | None]:
    if isinstance(raw, bool):
        return None, "is not a number"
    if isinstance(raw, int | Decimal):
        return Decimal(raw), None
    if isinstance(raw, float):  # Excel keeps doubles; the shortest repr is what was typed
        return (Decimal(int(raw)) if raw.is_integer() else Decimal(repr(raw))), None
    if isinstance(raw, str):
        try:
            number = Decimal(raw.strip())
        except InvalidOperation:
            return None, 'is not a number (write it with a decimal point, e.g. "1.10")'
        if number.is_finite():
            return number, None
    return None, "is not a number"


def _year(raw: object) -> tuple[int | None, str | None]:
    number, problem = _number(raw)
    if number is None or problem is not None or number != number.to_integral_value():
        return None, "is not a calendar year (e.g. 2025)"
    return int(number), None


def _date(raw: object) -> tuple[date | None, str | None]:
    if isinstance(raw, datetime):
        return raw.date(), None
    if isinstance(raw, date):
        return raw, None
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip()), None
        except ValueError:
            pass
    return None, 'is not a date (a date cell, or "YYYY-MM-DD")'


def _yes_no(raw: object) -> tuple[bool | None, str | None]:
    if isinstance(raw, bool):
        return raw, None
    text = str(raw).strip().casefold()
    if text in {"yes", "y", "true"}:
        return True, None
    if text in {"no", "n", "false"}:
        return False, None
    return None, "is not yes or no"


def _choice(raw: object, choices: type[Enum]) -> tuple[Any, str | None]:
    text = re.sub(r"[\s\-]+", "_", str(raw).strip().casefold())
    for member in choices:
        if text == str(member.value):
            return member, None
    allowed = ", ".join(f'"{member.value}"' for member in choices)
    return None, f"is not one of {allowed}"


def _body(
    fields: Mapping[str, Any],
    products: list[dict[str, Any]],
    prices: list[dict[str, Any]],
) -> dict[str, Any]:
    """The contract's fields from the cells: a group whose cells are all blank is null."""
    body: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for path, value in fields.items():
        if "." in path:
            group, name = path.split(".", 1)
            groups.setdefault(group, {})[name] = value
        elif value is not None:
            body[path] = value
    for group, values in groups.items():
        if any(value is not None for value in values.values()):
            body[group] = {name: value for name, value in values.items() if value is not None}
    if body.get("form_id") is None and "brand" in body and "reporting_year" in body:
        body["form_id"] = f"CBAM-{body['brand']}-{body['reporting_year']}"
    body["products"] = tuple(
        {name: value for name, value in product.items() if value is not None}
        for product in products
    )
    body["carbon_prices_paid"] = tuple(
        {name: value for name, value in price.items() if value is not None} for price in prices
    )
    return body
