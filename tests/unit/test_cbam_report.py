"""The importer's quarterly CBAM report, pure: the lines and totals built from rows, the
definitive period's figures, the default-value tables, the deadlines, the 50 t threshold, and
the CSV and XML renderings (the XML validated against its XSD with xmllint)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.cbam_report import XML_NAMESPACE
from gateway.readside.cbam_report import (
    ATTACHED,
    DEFAULT_TABLE,
    WARRANT_DOCUMENT,
    Filing,
    FilingRefused,
    Quarter,
    filing_of,
    imports_of_year,
    quarterly_report,
    received_warrant,
)
from gateway.readside.default_values import (
    DefaultValuesError,
    default_values_of,
    load_default_values,
)
from gateway.readside.report_formats import CSV_COLUMNS, report_csv, report_xml
from tests.unit.cbam_report_support import SUMMARY, schema_errors

DEFAULTS = load_default_values()
IMPORTER = "importer-1"
Q1_2026 = Quarter(2026, 1)
PRICE = {"paid_at": "Anode plant", "instrument": "carbon tax", "amount_per_tco2e": "12.5",
         "currency": "EUR"}  # fmt: skip


def form(form_id: str, *, verified: bool = True, country: str = "NO", cn: str = "7601") -> Any:
    return {
        "form_id": form_id,
        "disclosure": {
            "installation_country": country,
            "cn_codes": [cn],
            "verifier_name": "Verifier AS" if verified else None,
            "level_of_assurance": "reasonable" if verified else None,
            "carbon_prices_paid": [PRICE] if verified else [],
        },
    }


def warrant_row(
    warrant_id: str, kg: str, issued_at: str = "2026-02-02T10:00:00+00:00", **extra: Any
) -> dict[str, Any]:
    return {
        "warrant_id": warrant_id,
        "holder_id": IMPORTER,
        "issued_at": issued_at,
        "cancelled_at": None,
        "country_of_origin": "Norway",
        "net_weight_kg": kg,
        "document": {"emissions": {"form_id": "F-DOC", "summary": SUMMARY}},
        **extra,
    }


def attachment(form_id: str, summary: dict[str, Any] = SUMMARY) -> dict[str, Any]:
    return {"form_id": form_id, "emissions": summary}


# -- default values ------------------------------------------------------------------------
def test_the_transitional_period_takes_2_36_direct_and_8_14_indirect() -> None:
    figure = DEFAULTS.figure("7601", "CN", datetime(2025, 11, 3).date())
    assert (figure.direct_tco2e_per_t, figure.indirect_tco2e_per_t) == (
        Decimal("2.36"),
        Decimal("8.14"),
    )
    assert figure.mark_up == 0 and figure.period == "transitional"


@pytest.mark.parametrize(
    ("year", "mark_up"), [(2026, "0.10"), (2027, "0.20"), (2028, "0.30"), (2031, "0.30")]
)
def test_the_definitive_period_adds_the_years_mark_up(year: int, mark_up: str) -> None:
    figure = DEFAULTS.figure("760110", "IS", datetime(year, 3, 1).date())
    assert figure.mark_up == Decimal(mark_up) and figure.period == "definitive"
    assert figure.direct_tco2e_per_t == Decimal("2.36") * (1 + Decimal(mark_up))
    assert figure.indirect_tco2e_per_t == Decimal("8.14") * (1 + Decimal(mark_up))


def _tables(values: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "version": "test-1",
        "periods": [
            {
                "name": "definitive",
                "starts": "2026-01-01",
                "ends": None,
                "priced_emissions": ["direct"],
                "mark_up_by_year": {"2026": "0.10"},
                "values": values,
            }
        ],
    }


def test_a_countrys_row_and_a_longer_cn_code_win_over_the_general_ones() -> None:
    tables = default_values_of(
        _tables(
            [
                {
                    "cn_code": "7601",
                    "country": "*",
                    "direct_tco2e_per_t": "2",
                    "indirect_tco2e_per_t": "8",
                },
                {
                    "cn_code": "7601",
                    "country": "IN",
                    "direct_tco2e_per_t": "3",
                    "indirect_tco2e_per_t": "9",
                },
                {
                    "cn_code": "760120",
                    "country": "*",
                    "direct_tco2e_per_t": "4",
                    "indirect_tco2e_per_t": "7",
                },
            ]
        )
    )
    day = datetime(2026, 5, 1).date()
    assert tables.figure("7601", "IN", day).direct_tco2e_per_t == Decimal("3.3")
    assert tables.figure("7601", "NO", day).direct_tco2e_per_t == Decimal("2.2")
    assert tables.figure("760120", "IN", day).direct_tco2e_per_t == Decimal("4.4")
    with pytest.raises(DefaultValuesError, match="no default value for CN 7208"):
        tables.figure("7208", "IN", day)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({"version": ""}, "version"),
        ({"periods": []}, "at least one"),
        ({"periods": [{"name": "x"}]}, "periods\\[0\\]"),
    ],
)
def test_broken_tables_are_refused_at_load(broken: dict[str, Any], message: str) -> None:
    with pytest.raises(DefaultValuesError, match=message):
        default_values_of({**_tables([]), **broken})


def test_a_negative_default_is_refused() -> None:
    row = {"cn_code": "7601", "country": "*", "direct_tco2e_per_t": "-1",
           "indirect_tco2e_per_t": "8"}  # fmt: skip
    with pytest.raises(DefaultValuesError, match="non-negative"):
        default_values_of(_tables([row]))


# -- deadlines -----------------------------------------------------------------------------
def test_a_quarter_is_due_a_month_after_it_ends_and_correctable_two_more() -> None:
    assert Q1_2026.starts == datetime(2026, 1, 1, tzinfo=UTC)
    assert Q1_2026.ends == datetime(2026, 4, 1, tzinfo=UTC)
    assert Q1_2026.due_by == datetime(2026, 5, 1, tzinfo=UTC)
    assert Q1_2026.corrections_until == datetime(2026, 7, 1, tzinfo=UTC)
    q4 = Quarter(2026, 4)
    assert (q4.ends, q4.due_by, q4.corrections_until) == (
        datetime(2027, 1, 1, tzinfo=UTC),
        datetime(2027, 2, 1, tzinfo=UTC),
        datetime(2027, 4, 1, tzinfo=UTC),
    )
    with pytest.raises(ValueError, match="quarter 5"):
        Quarter(2026, 5)


# -- a warrant's figures -------------------------------------------------------------------
def test_a_warrant_whose_coas_carry_one_form_takes_its_figures_and_verification() -> None:
    forms = {"F-1": form("F-1")}
    got = received_warrant(
        warrant_row("W-1", "25000"), [attachment("F-1"), attachment("F-1")], forms, DEFAULTS
    )
    assert got.figures.figures_from == ATTACHED and got.figures.form_id == "F-1"
    assert got.figures.verified and got.figures.verifier == "Verifier AS"
    assert (got.figures.direct_basis, got.figures.indirect_basis) == ("actual", "default")
    assert (got.cn_code, got.country, got.net_mass_t) == ("7601", "NO", Decimal(25))
    assert got.carbon_prices[0].amount_per_tco2e == Decimal("12.5")


def test_a_warrant_without_attached_emissions_takes_the_default_table() -> None:
    got = received_warrant(warrant_row("W-1", "1000"), [None], {}, DEFAULTS)
    figures = got.figures
    assert figures.figures_from == DEFAULT_TABLE and not figures.verified
    assert (figures.direct_basis, figures.indirect_basis) == ("default", "default")
    assert figures.direct_tco2e_per_t == Decimal("2.596")
    assert (got.cn_code, got.country) == ("7601", "Norway")


def test_a_warrant_whose_coas_disagree_takes_the_figures_it_states() -> None:
    forms = {"F-DOC": form("F-DOC", verified=False)}
    got = received_warrant(
        warrant_row("W-1", "1000"), [attachment("F-1"), attachment("F-2")], forms, DEFAULTS
    )
    assert got.figures.figures_from == WARRANT_DOCUMENT and got.figures.form_id == "F-DOC"
    assert not got.figures.verified
    half = received_warrant(warrant_row("W-2", "1000"), [attachment("F-1"), None], forms, DEFAULTS)
    assert half.figures.figures_from == WARRANT_DOCUMENT


# -- the report ----------------------------------------------------------------------------
def test_definitive_period_prices_direct_emissions_only_and_reports_indirect() -> None:
    forms = {"F-1": form("F-1")}
    received = [received_warrant(warrant_row("W-1", "2500"), [attachment("F-1")], forms, DEFAULTS)]
    report = quarterly_report(IMPORTER, Q1_2026, received, DEFAULTS)
    (line,) = report.lines
    assert (line.direct_tco2e, line.indirect_tco2e, line.priced_tco2e) == ("4.00", "5.25", "4.00")
    assert report.cbam_period == "definitive" and report.priced_emissions == ["direct"]
    assert line.direct_actual_verified_mass_t == "2.5" and line.direct_default_mass_t == "0"
    assert line.carbon_prices_paid[0].net_mass_t == "2.5"
    transitional = Quarter(2025, 4)
    old = [
        received_warrant(
            warrant_row("W-2", "1000", "2025-11-01T00:00:00+00:00"), [None], {}, DEFAULTS
        )
    ]
    report = quarterly_report(IMPORTER, transitional, old, DEFAULTS)
    assert report.cbam_period == "transitional" and report.priced_emissions == []
    assert report.totals.priced_tco2e == "0" and report.totals.direct_tco2e == "2.36"


def test_warrants_outside_the_quarter_are_left_out_and_cancelled_ones_kept() -> None:
    rows = [
        warrant_row("W-in", "1000", "2026-03-31T23:59:59+00:00", cancelled_at="2026-04-02"),
        warrant_row("W-out", "1000", "2026-04-01T00:00:00+00:00"),
        warrant_row("W-tz", "1000", "2026-04-01T01:30:00+02:00"),
    ]
    received = [received_warrant(r, [None], {}, DEFAULTS) for r in rows]
    report = quarterly_report(IMPORTER, Q1_2026, received, DEFAULTS)
    ids = [w.warrant_id for line in report.lines for w in line.warrants]
    assert ids == ["W-tz", "W-in"]  # 23:30 UTC, then 23:59:59
    assert report.lines[0].warrants[1].cancelled_at == "2026-04-02"


def _figures() -> st.SearchStrategy[dict[str, Any]]:
    amount = st.decimals(min_value=0, max_value=30, places=3, allow_nan=False)
    return st.fixed_dictionaries(
        {
            "direct_tco2e_per_t": amount.map(str),
            "indirect_tco2e_per_t": amount.map(str),
            "total_tco2e_per_t": st.just("0"),
            "direct_is_default_value": st.booleans(),
            "indirect_is_default_value": st.booleans(),
        }
    )


warrants = st.lists(
    st.tuples(
        st.decimals(min_value=1, max_value=40000, places=3, allow_nan=False),
        st.sampled_from(["F-1", "F-2", "F-3", None]),
        _figures(),
        st.integers(min_value=-5, max_value=95),
    ),
    max_size=40,
)
FORMS = {
    "F-1": form("F-1"),
    "F-2": form("F-2", verified=False, country="IS"),
    "F-3": form("F-3", cn="760120"),
}


@settings(max_examples=150, deadline=None)
@given(warrants)
def test_totals_equal_the_sum_of_the_lines_and_of_the_warrants(drawn: list[Any]) -> None:
    rows, received, inside = [], [], []
    for number, (kg, form_id, summary, day) in enumerate(drawn):
        issued = Q1_2026.starts + timedelta(days=day)
        row = warrant_row(f"W-{number}", str(kg), issued.isoformat())
        got = received_warrant(
            row, [None if form_id is None else attachment(form_id, summary)], FORMS, DEFAULTS
        )
        rows.append(row)
        received.append(got)
        if Q1_2026.holds(issued):
            inside.append(got)
    report = quarterly_report(IMPORTER, Q1_2026, received, DEFAULTS)
    totals = report.totals

    def of_lines(name: str) -> Decimal:
        return sum((Decimal(getattr(line, name)) for line in report.lines), Decimal(0))

    for name in ("net_mass_t", "direct_tco2e", "indirect_tco2e", "priced_tco2e"):
        assert Decimal(getattr(totals, name)) == of_lines(name)
    assert Decimal(totals.net_mass_t) == sum((w.net_weight_kg for w in inside), Decimal(0)) / 1000
    assert Decimal(totals.direct_tco2e) == sum(
        (w.net_mass_t * w.figures.direct_tco2e_per_t for w in inside), Decimal(0)
    )
    assert Decimal(totals.indirect_tco2e) == sum(
        (w.net_mass_t * w.figures.indirect_tco2e_per_t for w in inside), Decimal(0)
    )
    assert totals.priced_tco2e == totals.direct_tco2e
    assert totals.warrants == len(inside)
    for line in report.lines:
        assert Decimal(line.net_mass_t) == (
            Decimal(line.direct_default_mass_t)
            + Decimal(line.direct_actual_verified_mass_t)
            + Decimal(line.direct_actual_unverified_mass_t)
        )
    assert len({(line.cn_code, line.country_of_origin) for line in report.lines}) == len(
        report.lines
    )


def test_ten_thousand_warrants_in_a_quarter() -> None:
    received = []
    for number in range(10_000):
        form_id = (None, "F-1", "F-2", "F-3")[number % 4]
        issued = Q1_2026.starts + timedelta(minutes=12 * number)
        row = warrant_row(f"W-{number:05}", f"{24000 + number % 977}.5", issued.isoformat())
        received.append(
            received_warrant(
                row, [None if form_id is None else attachment(form_id)], FORMS, DEFAULTS
            )
        )
    report = quarterly_report(IMPORTER, Q1_2026, received, DEFAULTS)
    assert report.totals.warrants == 10_000
    expected_mass = sum((w.net_mass_t for w in received), Decimal(0))
    assert Decimal(report.totals.net_mass_t) == expected_mass
    assert Decimal(report.totals.direct_tco2e) == sum(
        (w.net_mass_t * w.figures.direct_tco2e_per_t for w in received), Decimal(0)
    )
    assert [(line.cn_code, line.country_of_origin) for line in report.lines] == [
        ("7601", "IS"),
        ("7601", "NO"),
        ("7601", "Norway"),
        ("760120", "NO"),
    ]
    assert len(report_csv(report).splitlines()) == 5
    _validated(report_xml(report))


# -- the 50 t threshold --------------------------------------------------------------------
def test_the_threshold_counts_all_goods_of_the_calendar_year_cancelled_too() -> None:
    rows = [
        warrant_row("W-1", "25000", "2026-01-05T00:00:00+00:00", cancelled_at="2026-02-01"),
        warrant_row("W-old", "90000", "2025-12-31T23:00:00+00:00"),
        warrant_row("W-2", "25000", "2026-06-05T00:00:00+00:00"),
        {**warrant_row("W-other", "90000"), "holder_id": "someone-else"},
    ]
    at_fifty = imports_of_year(IMPORTER, 2026, rows)
    assert (at_fifty.net_mass_t, at_fifty.exceeded, at_fifty.warrants) == ("50", False, 2)
    rows.append(warrant_row("W-3", "0.5", "2026-09-05T00:00:00+00:00"))
    over = imports_of_year(IMPORTER, 2026, rows)
    assert over.exceeded and over.exceeded_by_warrant == "W-3" and over.net_mass_t == "50.0005"
    assert imports_of_year(IMPORTER, 2025, rows).exceeded


# -- the renderings ------------------------------------------------------------------------
def _sample_report() -> Any:
    forms = {"F-1": form("F-1"), "F-2": form("F-2", verified=False, country="IS")}
    received = [
        received_warrant(warrant_row("W-1", "25000"), [attachment("F-1")], forms, DEFAULTS),
        received_warrant(warrant_row("W-2", "1000.5"), [attachment("F-2")], forms, DEFAULTS),
        received_warrant(warrant_row("W-3", "400"), [None], forms, DEFAULTS),
    ]
    return quarterly_report(IMPORTER, Q1_2026, received, DEFAULTS)


def test_the_csv_has_a_header_and_a_row_per_cn_code_and_country() -> None:
    report = _sample_report()
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["cn_code"], r["country_of_origin"]) for r in rows] == [
        ("7601", "IS"),
        ("7601", "NO"),
        ("7601", "Norway"),
    ]
    assert sum(Decimal(r["direct_tco2e"]) for r in rows) == Decimal(report.totals.direct_tco2e)
    assert "12.5 EUR/tCO2e carbon tax at Anode plant on 25 t" in rows[1]["carbon_prices_paid"]


def _validated(document: str) -> ElementTree.Element:
    root = ElementTree.fromstring(document)
    assert schema_errors(document.encode()) is None
    return root


def test_the_xml_is_well_formed_and_valid_against_its_schema() -> None:
    report = _sample_report()
    root = _validated(report_xml(report))
    ns = {"q": XML_NAMESPACE}
    assert root.findtext("q:Totals/q:DirectEmissions", namespaces=ns) == report.totals.direct_tco2e
    goods = root.findall("q:ImportedGood", ns)
    assert [g.findtext("q:CommodityCode/q:CnCode", namespaces=ns) for g in goods] == ["7601"] * 3
    summed = sum(
        Decimal(g.findtext("q:ImportedQuantity/q:NetMass", namespaces=ns) or "0") for g in goods
    )
    assert summed == Decimal(report.totals.net_mass_t)
    warrant = goods[1].find("q:GoodsEmissions/q:Warrant", ns)
    assert warrant is not None
    assert warrant.findtext("q:DirectEmissions/q:DeterminationType", namespaces=ns) == "actual"
    assert warrant.findtext("q:Verified", namespaces=ns) == "true"


def test_an_xml_breaking_the_schema_is_caught() -> None:
    broken = report_xml(_sample_report()).replace("<Quarter>1</Quarter>", "<Quarter>5</Quarter>")
    assert "Quarter" in (schema_errors(broken.encode()) or "")


# -- filing versions -----------------------------------------------------------------------
def test_a_report_is_filed_after_the_quarter_and_corrected_until_two_months_after_due() -> None:
    day = timedelta(days=1)
    early = filing_of(Q1_2026, Q1_2026.ends - timedelta(seconds=1), [], 1)
    assert isinstance(early, FilingRefused) and "once the quarter has ended" in early.rule
    assert filing_of(Q1_2026, Q1_2026.ends, [], 1) == Filing(version=1, late=False)
    assert filing_of(Q1_2026, Q1_2026.due_by, [], 1) == Filing(version=1, late=True)
    assert filing_of(Q1_2026, Q1_2026.due_by + day, [1], 2) == Filing(version=2, late=False)
    closed = filing_of(Q1_2026, Q1_2026.corrections_until, [1], 2)
    assert isinstance(closed, FilingRefused) and "correction window closed" in closed.rule


@pytest.mark.parametrize(("filed", "version"), [([], 2), ([1], 1), ([1, 2], 4), ([1], 3)])
def test_version_n_plus_1_only_after_n(filed: list[int], version: int) -> None:
    refused = filing_of(Q1_2026, Q1_2026.ends + timedelta(days=3), filed, version)
    assert isinstance(refused, FilingRefused)
    assert f"the next version of 2026Q1 is {len(filed) + 1}" in refused.rule
