"""Chemistry against the specifications: every limit, its boundaries, and properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.rulebook.chemistry import check_chemistry
from gateway.rulebook.model import Specification, load_rulebook

RULEBOOK = load_rulebook()
NA380 = RULEBOOK.specifications["NA380.1"]
A380 = RULEBOOK.specifications["A380.1"]
P1020A = RULEBOOK.specifications["P1020A"]
AL9970 = RULEBOOK.specifications["Al99.70"]

GOOD_NA380 = {
    "Cu": Decimal("3.20"),
    "Si": Decimal("9.00"),
    "Fe": Decimal("0.90"),
    "Mg": Decimal("0.05"),
    "Zn": Decimal("1.00"),
    "Mn": Decimal("0.20"),
    "Ni": Decimal("0.10"),
    "Sn": Decimal("0.05"),
    "Pb": Decimal("0.05"),
    "Ti": Decimal("0.05"),
    "Cr": Decimal("0.05"),
}
GOOD_A380 = {
    "Cu": Decimal("3.0"),
    "Si": Decimal("9.0"),
    "Mg": Decimal("0.3"),
    "Zn": Decimal("1.0"),
    "Fe": Decimal("0.8"),
    "Mn": Decimal("0.2"),
    "Ni": Decimal("0.1"),
    "Sn": Decimal("0.05"),
    "Ti": Decimal("0.1"),
    "Pb": Decimal("0.1"),
}
GOOD_P1020A = {
    "Si": Decimal("0.05"),
    "Fe": Decimal("0.12"),
    "Zn": Decimal("0.01"),
    "Ga": Decimal("0.01"),
    "V": Decimal("0.01"),
}


def codes(detected: dict[str, Decimal], specification: Specification = NA380) -> list[str]:
    return [
        v.code
        for v in check_chemistry(specification, detected, field="chem", rule="NASAAC SCR 1(a)")
    ]


def test_a_compliant_analysis_passes() -> None:
    assert codes(GOOD_NA380) == []
    assert codes(GOOD_A380, A380) == []
    assert codes(GOOD_P1020A, P1020A) == []


@pytest.mark.parametrize(
    ("element", "level", "expected"),
    [
        ("Cu", "3.50", []),  # exactly at the maximum
        ("Cu", "3.00", []),  # exactly at the minimum
        ("Cu", "3.51", ["ELEMENT_OUT_OF_SPECIFICATION"]),
        ("Cu", "2.99", ["ELEMENT_OUT_OF_SPECIFICATION"]),
        ("Mg", "0.10", []),
        ("Mg", "0.11", ["ELEMENT_OUT_OF_SPECIFICATION"]),
        ("Zn", "3.00", []),
        ("Zn", "3.01", ["ELEMENT_OUT_OF_SPECIFICATION"]),
    ],
)
def test_element_limits_are_inclusive(element: str, level: str, expected: list[str]) -> None:
    assert codes({**GOOD_NA380, element: Decimal(level)}) == expected


def test_sludge_1_80_passes_and_1_81_fails() -> None:
    at_limit = {**GOOD_NA380, "Fe": Decimal("1.00"), "Mn": Decimal("0.25"), "Cr": Decimal("0.10")}
    over = {**at_limit, "Fe": Decimal("0.91"), "Mn": Decimal("0.30")}  # 0.91 + 0.60 + 0.30
    assert codes(at_limit) == []
    [violation] = check_chemistry(NA380, over, field="chem", rule="NASAAC SCR 1(a)")
    assert violation.code == "SLUDGE_FACTOR_EXCEEDED"
    assert violation.observed == "Fe + 2 Mn + 3 Cr = 1.81"
    assert violation.allowed == "<= 1.8 (NA380.1)"
    assert violation.rule == "NASAAC SCR 1(a)"


def test_an_element_the_specification_limits_must_be_reported() -> None:
    detected = dict(GOOD_NA380)
    del detected["Cr"]
    [violation] = check_chemistry(NA380, detected, field="casts[0].chemistry", rule="r")
    assert violation.code == "ELEMENT_NOT_REPORTED"
    assert violation.rule == "SCR 4.5"
    assert violation.field == "casts[0].chemistry.Cr"


def test_other_elements_each_and_in_total() -> None:
    assert codes({**GOOD_NA380, "Bi": Decimal("0.10")}) == []
    assert codes({**GOOD_NA380, "Bi": Decimal("0.11")}) == ["OTHER_ELEMENT_EXCEEDS_EACH_LIMIT"]
    many = {**GOOD_NA380, "Bi": Decimal("0.10"), "Ca": Decimal("0.10"), "Sr": Decimal("0.10")}
    many |= {"Zr": Decimal("0.10"), "Co": Decimal("0.10")}
    assert codes(many) == []  # 0.50 in total, exactly the limit
    assert codes({**many, "Sb": Decimal("0.01")}) == ["OTHER_ELEMENTS_EXCEED_TOTAL_LIMIT"]


def test_a380_others_total_is_0_15() -> None:
    three = {**GOOD_A380, "Bi": Decimal("0.05"), "Ca": Decimal("0.05"), "Sr": Decimal("0.05")}
    assert codes(three, A380) == []
    assert codes({**three, "Co": Decimal("0.01")}, A380) == ["OTHER_ELEMENTS_EXCEED_TOTAL_LIMIT"]


def test_primary_aluminium_minimum_with_aluminium_as_the_difference() -> None:
    assert codes(GOOD_P1020A, P1020A) == []  # Al = 100 - 0.20 = 99.80
    at_limit = {**GOOD_P1020A, "Fe": Decimal("0.20"), "Si": Decimal("0.07")}  # 0.30 in all
    assert codes(at_limit, P1020A) == []  # Al = 99.70 exactly
    over = {**at_limit, "Cu": Decimal("0.01")}
    [violation] = check_chemistry(P1020A, over, field="chem", rule="HG SCR 1(a)(i)")
    assert violation.code == "ALUMINIUM_BELOW_MINIMUM"
    assert violation.observed == "99.69 %"
    assert violation.allowed == ">= 99.7 % (P1020A)"


def test_a_reported_aluminium_level_is_used_as_reported() -> None:
    assert codes({**GOOD_P1020A, "Al": Decimal("99.70")}, P1020A) == []
    assert codes({**GOOD_P1020A, "Al": Decimal("99.69")}, P1020A) == ["ALUMINIUM_BELOW_MINIMUM"]


def test_levels_over_100_percent_are_refused() -> None:
    assert "CHEMISTRY_OVER_100_PERCENT" in codes({**GOOD_A380, "Si": Decimal("99")}, A380)


def test_a_designation_without_configured_limits_is_refused_never_passed() -> None:
    unconfigured = RULEBOOK.specifications["LME 226"]
    [violation] = check_chemistry(unconfigured, GOOD_A380, field="chem", rule="r")
    assert violation.code == "SPECIFICATION_NOT_CONFIGURED"
    assert "not configured" in violation.message


def test_al99_70_limits_from_gb_t_1196() -> None:
    good = {"Fe": Decimal("0.15"), "Si": Decimal("0.10"), "Cu": Decimal("0.005")}
    good |= {"Ga": Decimal("0.02"), "Mg": Decimal("0.01")}
    assert codes(good, AL9970) == []
    high_silicon = {**good, "Fe": Decimal("0.10"), "Si": Decimal("0.14")}  # Al still 99.725
    assert codes(high_silicon, AL9970) == ["ELEMENT_OUT_OF_SPECIFICATION"]
    assert codes({**good, "Si": Decimal("0.14")}, AL9970) == [
        "ELEMENT_OUT_OF_SPECIFICATION",
        "ALUMINIUM_BELOW_MINIMUM",
    ]


levels = st.decimals(min_value=0, max_value=5, places=2, allow_nan=False, allow_infinity=False)


@given(cu=levels, si=st.decimals(min_value=7, max_value=11, places=2), mg=levels)
def test_a_limited_element_fails_exactly_when_outside_its_bounds(
    cu: Decimal, si: Decimal, mg: Decimal
) -> None:
    detected = {**GOOD_NA380, "Cu": cu, "Si": si, "Mg": mg}
    found = {
        v.field.rsplit(".", 1)[1]
        for v in check_chemistry(NA380, detected, field="c", rule="r")
        if v.code == "ELEMENT_OUT_OF_SPECIFICATION"
    }
    assert ("Cu" in found) == (not Decimal("3.00") <= cu <= Decimal("3.50"))
    assert ("Si" in found) == (not Decimal("8.50") <= si <= Decimal("9.50"))
    assert ("Mg" in found) == (mg > Decimal("0.10"))


@given(fe=levels, mn=levels, cr=levels)
def test_sludge_fails_exactly_when_the_formula_exceeds_1_80(
    fe: Decimal, mn: Decimal, cr: Decimal
) -> None:
    detected = {**GOOD_NA380, "Fe": fe, "Mn": mn, "Cr": cr}
    found = [v.code for v in check_chemistry(NA380, detected, field="c", rule="r")]
    assert ("SLUDGE_FACTOR_EXCEEDED" in found) == (fe + 2 * mn + 3 * cr > Decimal("1.80"))


@given(st.dictionaries(st.sampled_from(["Cu", "Si", "Fe", "Bi", "Sr", "Al"]), levels))
def test_the_outcome_does_not_depend_on_the_order_of_the_analysis(
    detected: dict[str, Decimal],
) -> None:
    reordered = dict(reversed(list(detected.items())))
    assert check_chemistry(NA380, detected, field="c", rule="r") == check_chemistry(
        NA380, reordered, field="c", rule="r"
    )
