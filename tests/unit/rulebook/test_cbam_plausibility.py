"""CBAM plausibility bounds (rulebook data) and the methodology used (§4.3): a figure beyond
what aluminium production can emit is refused naming the likely unit slip; from 1 January
2025 only the EU methodology is accepted, stated or read from how emissions were monitored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from contracts.cbam import (
    CalculationMethodology,
    CbamEmissionsFormSubmitted,
    MonitoringMethodology,
)
from contracts.envelope import decode_body
from gateway.rulebook.cbam_form import calculation_methodology_of, decide_form
from tests.unit.rulebook.test_cbam_form import (
    LISTED,
    RULEBOOK,
    actual,
    decide,
    default,
    factor,
    found,
    valid_form,
)

IMPLAUSIBLE = "EMISSIONS_IMPLAUSIBLE"
NOT_EU = "METHODOLOGY_NOT_EU"


def test_the_bounds_are_rulebook_data_above_the_eu_defaults() -> None:
    plausible = RULEBOOK.cbam.plausible
    assert plausible.direct_tco2e_per_t.max == Decimal(50)
    assert plausible.indirect_tco2e_per_t.max == Decimal(50)
    assert plausible.emission_factor_tco2e_per_mwh.max == Decimal(2)
    assert plausible.unit_slip_factor == Decimal(1000)
    assert plausible.direct_tco2e_per_t.contains(RULEBOOK.cbam.default_direct_tco2e_per_t)
    assert plausible.indirect_tco2e_per_t.contains(RULEBOOK.cbam.default_indirect_tco2e_per_t)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"direct_embedded_emissions": actual("1600")}, "direct_embedded_emissions.tco2e_per_t"),
        ({"indirect_embedded_emissions": actual("850")}, "indirect_embedded_emissions.tco2e_per_t"),
        ({"emission_factor": factor(tco2e_per_mwh=Decimal("19"))}, "emission_factor.tco2e_per_mwh"),
    ],
)
def test_a_figure_entered_in_kg_is_refused_naming_the_unit_slip(
    changes: dict[str, object], field: str
) -> None:
    decision = decide(valid_form(**changes))
    assert found(decision) == {(IMPLAUSIBLE, field, "§4.1.2")}
    [violation] = decision.violations
    assert "entered as" in violation.message
    assert "(1000x)" in violation.message


def test_a_figure_implausible_even_divided_by_1000_asks_for_the_unit() -> None:
    decision = decide(valid_form(direct_embedded_emissions=actual("90000")))
    [violation] = decision.violations
    assert violation.code == IMPLAUSIBLE
    assert violation.message.endswith("check the figure and its unit")


@pytest.mark.parametrize(
    ("figure", "accepted"),
    [("50", True), ("50.001", False), ("0", True), ("8.14", True)],
)
def test_the_bound_is_inclusive(figure: str, accepted: bool) -> None:
    decision = decide(valid_form(indirect_embedded_emissions=actual(figure)))
    assert decision.accepted is accepted


def test_a_default_value_figure_is_judged_against_the_default_not_the_bounds() -> None:
    assert decide(valid_form(indirect_embedded_emissions=default())).accepted


@pytest.mark.parametrize(
    ("stated", "monitoring", "read"),
    [
        (None, MonitoringMethodology.CALCULATION_BASED, CalculationMethodology.EU),
        (None, MonitoringMethodology.MEASUREMENT_BASED, CalculationMethodology.EU),
        (None, MonitoringMethodology.DEFAULT_VALUES, CalculationMethodology.EU),
        (None, MonitoringMethodology.OTHER_EQUIVALENT, CalculationMethodology.OTHER),
        (None, None, None),
        (
            CalculationMethodology.THIRD_COUNTRY_EQUIVALENT,
            MonitoringMethodology.CALCULATION_BASED,
            CalculationMethodology.THIRD_COUNTRY_EQUIVALENT,
        ),
    ],
)
def test_a_form_without_the_methodology_is_read_from_its_monitoring(
    stated: CalculationMethodology | None,
    monitoring: MonitoringMethodology | None,
    read: CalculationMethodology | None,
) -> None:
    form = valid_form(calculation_methodology=stated, methodology=monitoring)
    assert calculation_methodology_of(form) == read


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"calculation_methodology": CalculationMethodology.THIRD_COUNTRY_EQUIVALENT},
            "calculation_methodology",
        ),
        ({"calculation_methodology": CalculationMethodology.OTHER}, "calculation_methodology"),
        ({"methodology": MonitoringMethodology.OTHER_EQUIVALENT}, "methodology"),
    ],
)
def test_from_2025_only_the_eu_methodology_is_accepted(
    changes: dict[str, object], field: str
) -> None:
    assert found(decide(valid_form(**changes))) == {(NOT_EU, field, "§4.3")}


def test_the_eu_methodology_stated_is_accepted() -> None:
    assert decide(valid_form(calculation_methodology=CalculationMethodology.EU)).accepted


def test_before_the_date_another_methodology_is_accepted() -> None:
    """The date is data: a form decided before it is not held to the EU methodology."""
    cbam = RULEBOOK.cbam.model_copy(update={"eu_methodology_only_from": date(2027, 1, 1)})
    later = RULEBOOK.model_copy(update={"cbam": cbam})
    form = valid_form(calculation_methodology=CalculationMethodology.THIRD_COUNTRY_EQUIVALENT)
    assert decide_form(form, LISTED, later, today=date(2026, 2, 1)).accepted


def test_a_form_written_before_the_field_still_reads_and_is_the_eu_methodology() -> None:
    """Version 1 gained ``calculation_methodology`` as optional, left out while null (so a
    form that does not state it is written, read and digested as before); a body without it
    decodes, and its calculation-based monitoring makes it the EU methodology."""
    body = valid_form().model_dump(mode="json")
    assert "calculation_methodology" not in body
    stated = valid_form(calculation_methodology=CalculationMethodology.EU)
    assert stated.model_dump(mode="json")["calculation_methodology"] == "eu"
    old = decode_body(CbamEmissionsFormSubmitted.MESSAGE_TYPE, body)
    assert isinstance(old, CbamEmissionsFormSubmitted)
    assert old.calculation_methodology is None
    assert calculation_methodology_of(old) is CalculationMethodology.EU
    assert decide(old).accepted
