"""``gateway form import`` / ``template``: the CBAM emissions form (Appendix II) from Excel.

The workbooks are built here with openpyxl, the way a producer fills the template: each
value typed beside its label (Summary_Communication, column B) or in the row under a
table's header (Products, Carbon_Prices)."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from contracts.cbam import CbamEmissionsFormSubmitted
from gateway.rulebook.model import Rulebook
from gateway.runtime.app import configured_rulebook
from gateway.runtime.settings import Settings
from gateway.tools.check import run_check
from gateway.tools.cli import main
from gateway.tools.form_xlsx import (
    CARBON_PRICES_SHEET,
    PRODUCTS_SHEET,
    SUMMARY_SHEET,
    FormImportError,
    form_line,
    import_form,
    write_template,
)
from producers.samples import sample_messages

TODAY = date(2026, 3, 9)


def _sample() -> CbamEmissionsFormSubmitted:
    forms = [m for m in sample_messages() if isinstance(m, CbamEmissionsFormSubmitted)]
    assert len(forms) == 1
    return forms[0]


SAMPLE = _sample()


def _summary_cells(form: CbamEmissionsFormSubmitted) -> dict[str, Any]:
    """What a producer types beside each label, written out by hand from the sample."""
    source, period = form.main_emission_source, form.reporting_period
    direct, indirect = form.direct_embedded_emissions, form.indirect_embedded_emissions
    factor, verifier = form.emission_factor, form.verifier
    assert source and period and direct and indirect and factor and verifier
    assert direct.basis and indirect.basis and factor.source and form.methodology
    return {
        "Brand": form.brand,
        "Reporting year": form.reporting_year,
        "Form id": form.form_id,
        "Producer name": form.producer_name,
        "Smelter / refiner / asset name": form.installation_name,
        "Installation address": form.installation_address,
        "Unique installation identifier": form.installation_id,
        "UN/LOCODE": form.un_locode,
        "Main emission source address": source.address,
        "Main emission source latitude": source.latitude,
        "Main emission source longitude": source.longitude,
        "Reporting period start": period.start,
        "Reporting period end": period.end,
        "Monitoring methodology": "Calculation based",  # as a person types it
        "Direct embedded emissions": direct.tco2e_per_t,
        "Direct emissions basis": direct.basis.value,
        "Indirect embedded emissions": indirect.tco2e_per_t,
        "Indirect emissions basis": indirect.basis.value,
        "Emission factor": factor.tco2e_per_mwh,
        "Emission factor source": factor.source.value.upper(),
        "Verifier company name": verifier.company_name,
        "Verifier company address": verifier.company_address,
        "Verifier company contact": verifier.company_contact,
        "Verifier accreditation body": verifier.accreditation_body,
        "Level of assurance": form.level_of_assurance,
        "Permission to publish": "yes" if form.permission_to_publish else "no",
        "Calculation notes": form.calculation_notes,
    }


def _filled(
    path: Path,
    form: CbamEmissionsFormSubmitted = SAMPLE,
    *,
    changes: dict[str, Any] | None = None,
    product_changes: dict[int, Any] | None = None,
    price_changes: dict[int, Any] | None = None,
    rows_above: int = 0,
) -> Path:
    """The template filled with ``form``; ``changes`` overwrite cells by label, the others by
    column number (1 = A) of the first product / price row; ``rows_above`` inserts rows at
    the top of the summary sheet (the importer finds labels, not fixed rows)."""
    write_template(path)
    workbook = load_workbook(path)
    summary = workbook[SUMMARY_SHEET]
    if rows_above:
        summary.insert_rows(1, rows_above)
    rows = {cell.value: cell.row for (cell,) in summary.iter_rows(max_col=1) if cell.value}
    for label, value in {**_summary_cells(form), **(changes or {})}.items():
        summary.cell(rows[label], 2).value = value
    products = workbook[PRODUCTS_SHEET]
    for product in form.products:
        products.append(
            [
                product.product_name,
                int(product.cn_code or 0),  # Excel makes a typed code a number
                product.aggregated_goods_category,
                product.scrap_t_per_t,
                product.pre_consumer_scrap_percent,
                product.other_elements_percent,
            ]
        )
    prices = workbook[CARBON_PRICES_SHEET]
    for price in form.carbon_prices_paid:
        prices.append([price.paid_at, price.instrument, price.amount_per_tco2e, price.currency])
    for sheet, edits in ((products, product_changes), (prices, price_changes)):
        for column, value in (edits or {}).items():
            sheet.cell(2, column).value = value
    workbook.save(path)
    return path


@pytest.fixture(scope="module")
def rulebook() -> Rulebook:
    return configured_rulebook(Settings())


def _problems(path: Path, rulebook: Rulebook, **options: Any) -> tuple[str, ...]:
    with pytest.raises(FormImportError) as raised:
        import_form(path, rulebook=rulebook, today=TODAY, **options)
    return raised.value.problems


def test_the_sample_form_survives_the_round_trip_field_by_field(
    tmp_path: Path, rulebook: Rulebook
) -> None:
    imported = import_form(_filled(tmp_path / "form.xlsx"), rulebook=rulebook, today=TODAY)

    for name in CbamEmissionsFormSubmitted.model_fields:
        assert getattr(imported, name) == getattr(SAMPLE, name), name
    assert imported == SAMPLE


def test_labels_are_found_where_the_rows_moved(tmp_path: Path, rulebook: Rulebook) -> None:
    path = _filled(tmp_path / "form.xlsx", rows_above=3)
    assert import_form(path, rulebook=rulebook, today=TODAY) == SAMPLE


def test_a_blank_form_id_and_brand_come_from_the_brand_option(
    tmp_path: Path, rulebook: Rulebook
) -> None:
    path = _filled(tmp_path / "form.xlsx", changes={"Brand": None, "Form id": None})
    imported = import_form(path, rulebook=rulebook, today=TODAY, brand="NORDAL")
    assert (imported.brand, imported.form_id) == ("NORDAL", "CBAM-NORDAL-2025")

    problems = _problems(_filled(tmp_path / "other.xlsx"), rulebook, brand="OTHER")
    assert problems == (
        f"{SUMMARY_SHEET}!B4: brand 'NORDAL' is not 'OTHER' given with --brand; correct the "
        "cell or the option",
    )


def test_the_imported_line_is_accepted_by_gateway_check(tmp_path: Path, rulebook: Rulebook) -> None:
    imported = import_form(_filled(tmp_path / "form.xlsx"), rulebook=rulebook, today=TODAY)
    listing = {
        "type": "custody.brand.list",
        "body": {
            "schema_version": 1,
            "command_id": "LIST-NORDAL",
            "brand": "NORDAL",
            "producer_id": "nordal-aluminium-as",
            "country_of_origin": "Norway",
            "contracts": ["aluminium_alloy"],
            "reason": "approved by the listing committee",
            "effective_at": "2024-01-02T00:00:00Z",
        },
    }
    out = io.StringIO()
    report = run_check(
        [json.dumps(listing), form_line(imported)],
        out,
        rulebook=rulebook,
        now=datetime(2026, 3, 9, 14, 30, tzinfo=UTC),
    )

    outputs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert report.malformed == 0
    assert [o["type"] for o in outputs if o["line"] == 2] == ["custody.cbam-form.accepted"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"UN/LOCODE": "Sunndal"},
            f"{SUMMARY_SHEET}!B12: UN/LOCODE 'Sunndal': 'Sunndal' is not a UN/LOCODE",
        ),
        (
            {"Main emission source latitude": "62,6751 N"},
            f'{SUMMARY_SHEET}!B14: Main emission source latitude "62,6751 N" is not a number',
        ),
        (
            {"Reporting period end": "31/12/2025"},
            f'{SUMMARY_SHEET}!B18: Reporting period end "31/12/2025" is not a date',
        ),
        (
            {"Monitoring methodology": "estimated"},
            f'{SUMMARY_SHEET}!B19: Monitoring methodology "estimated" is not one of '
            '"calculation_based"',
        ),
        (
            {"Permission to publish": "maybe"},
            f'{SUMMARY_SHEET}!B36: Permission to publish "maybe" is not yes or no',
        ),
        (
            {"Reporting year": "last year"},
            f'{SUMMARY_SHEET}!B5: Reporting year "last year" is not a calendar year',
        ),
        (
            {"Main emission source latitude": 162},
            f"{SUMMARY_SHEET}!B14: Main emission source latitude 162: Input should be less than",
        ),
        (
            {"Direct embedded emissions": 1100},
            f"{SUMMARY_SHEET}!B22: Direct embedded emissions '1100 t CO2e/t': 1100 t CO2e/t is "
            "outside what aluminium production can emit",
        ),
        (
            {"Verifier accreditation body": None},
            f"{SUMMARY_SHEET}!B33: Verifier accreditation body: verifier.accreditation_body is "
            "mandatory",
        ),
    ],
)
def test_a_bad_summary_cell_is_named_by_sheet_and_cell(
    tmp_path: Path, rulebook: Rulebook, changes: dict[str, Any], expected: str
) -> None:
    problems = _problems(_filled(tmp_path / "form.xlsx", changes=changes), rulebook)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_bad_table_cells_are_named_by_sheet_and_cell(tmp_path: Path, rulebook: Rulebook) -> None:
    path = _filled(tmp_path / "form.xlsx", product_changes={2: 7602, 5: "a third"})
    assert _problems(path, rulebook) == (
        f'{PRODUCTS_SHEET}!E2: Pre-consumer scrap % "a third" is not a number (write it with a '
        'decimal point, e.g. "1.10")',
    )
    path = _filled(tmp_path / "cn.xlsx", product_changes={2: 7602}, price_changes={4: "euro"})
    problems = _problems(path, rulebook)
    assert problems[0].startswith(
        f'{CARBON_PRICES_SHEET}!D2: Currency (row 2) "euro": String should match'
    )
    path = _filled(tmp_path / "paid.xlsx", price_changes={3: None})
    assert _problems(path, rulebook) == (
        f"{CARBON_PRICES_SHEET}!C2: Amount per t CO2e (row 2) is empty; it is needed where "
        "Carbon prices paid is given",
    )
    path = _filled(tmp_path / "cn.xlsx", product_changes={2: 7602})
    assert _problems(path, rulebook) == (
        f"{PRODUCTS_SHEET}!B2: CN code (row 2) '7602': CN code '7602' is not 7601 (unwrought "
        "aluminium) (allowed: digits starting with 7601; Appendix II)",
    )


def test_every_problem_is_reported_at_once(tmp_path: Path, rulebook: Rulebook) -> None:
    path = _filled(
        tmp_path / "form.xlsx",
        changes={"Reporting period start": "soon", "Emission factor source": "guess"},
        product_changes={4: "lots"},
    )
    assert [problem.split(":")[0] for problem in _problems(path, rulebook)] == [
        f"{SUMMARY_SHEET}!B17",
        f"{SUMMARY_SHEET}!B27",
        f"{PRODUCTS_SHEET}!D2",
    ]


def test_the_blank_template_names_what_is_missing(tmp_path: Path, rulebook: Rulebook) -> None:
    path = tmp_path / "blank.xlsx"
    write_template(path)
    assert _problems(path, rulebook) == (
        f"{SUMMARY_SHEET}!B4: brand is empty; fill it or pass --brand",
        f"{SUMMARY_SHEET}!B5: reporting year is empty",
    )


def test_a_missing_label_or_sheet_is_named(tmp_path: Path, rulebook: Rulebook) -> None:
    path = _filled(tmp_path / "form.xlsx")
    workbook = load_workbook(path)
    workbook[SUMMARY_SHEET]["A12"] = "Location"
    del workbook[PRODUCTS_SHEET]
    workbook.save(path)
    assert _problems(path, rulebook) == (
        "form.xlsx: no sheet 'Products' (the workbook has 'Summary_Communication', "
        "'Carbon_Prices', 'Guidance'); start from `gateway form template`",
    )
    workbook.create_sheet(PRODUCTS_SHEET)
    workbook.save(path)
    assert _problems(path, rulebook) == (
        f"{SUMMARY_SHEET}!A: no row labelled 'UN/LOCODE' in column A (see `gateway form template`)",
        f"{PRODUCTS_SHEET}!A: no header row with 'Product name' in column A (see `gateway "
        "form template`)",
    )


def test_the_command_reports_a_user_mistake_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_workbook = tmp_path / "form.xlsx"
    not_a_workbook.write_text("producer,brand\n", encoding="utf-8")
    for path in (tmp_path / "absent.xlsx", not_a_workbook, tmp_path):
        assert main(["form", "import", str(path)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"gateway form import: {path}"), err
        assert "Traceback" not in err


def test_the_command_writes_the_line_gateway_check_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = tmp_path / "template.xlsx"
    assert main(["form", "template", str(template)]) == 0
    assert load_workbook(template).sheetnames == [
        SUMMARY_SHEET,
        PRODUCTS_SHEET,
        CARBON_PRICES_SHEET,
        "Guidance",
    ]
    capsys.readouterr()
    form, out = _filled(tmp_path / "form.xlsx"), tmp_path / "form.json"
    now = ["--now", "2026-03-09T14:30:00Z"]
    assert main(["form", "import", str(form), "--out", str(out), *now]) == 0
    line = json.loads(out.read_text(encoding="utf-8"))
    assert line["type"] == "custody.cbam-form.submitted"
    assert CbamEmissionsFormSubmitted.model_validate(line["body"]) == SAMPLE
    assert Decimal(str(line["body"]["direct_embedded_emissions"]["tco2e_per_t"])) == Decimal("1.1")

    assert main(["form", "import", str(form), "--send", *now]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "gateway form import: --send needs --as PARTY (the producer)" in captured.err


def test_table_columns_are_found_by_their_headers(tmp_path: Path, rulebook: Rulebook) -> None:
    path = _filled(tmp_path / "form.xlsx")
    workbook = load_workbook(path)
    products = workbook[PRODUCTS_SHEET]
    products.insert_rows(1)  # a note above the header
    products["A1"] = "One product per row"
    products.move_range("B2:B3", cols=6)  # CN code moved to the last column, G
    products.move_range("C2:H3", cols=-1)
    workbook.save(path)
    assert [cell.value for cell in load_workbook(path)[PRODUCTS_SHEET][2]][-1] == "CN code"
    assert import_form(path, rulebook=rulebook, today=TODAY) == SAMPLE
