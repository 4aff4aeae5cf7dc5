"""The yearly CBAM form (§4, Appendix II): every rule passing and failing, its boundaries, the
emissions it gives (defaults, alloying as primary) and the notes on a late or alloyed form."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.cbam import (
    CbamEmissionsFormSubmitted,
    CbamProduct,
    EmbeddedEmissions,
    EmissionFactor,
    EmissionFactorSource,
    EmissionsBasis,
    EmissionSourceLocation,
    MonitoringMethodology,
    ReportingPeriod,
    Verifier,
)
from contracts.values import MetalContract
from gateway.rulebook.cbam_form import decide_form
from gateway.rulebook.decisions import FormDecision
from gateway.rulebook.model import load_rulebook
from gateway.rulebook.state import (
    AcceptedForm,
    BrandRecord,
    BrandState,
    BrandStatus,
    EmissionsFigures,
)

RULEBOOK = load_rulebook()
TODAY = date(2026, 2, 1)
BRAND = "NORDAL"
FORM_ID = "CBAM-NORDAL-2025"

APPENDIX_II = "Appendix II"
SECTION_4_2_1 = "§4.2.1"
SECTION_4_3 = "§4.3"
SECTION_4_4 = "§4.4"
DEFAULT_VALUES = "§4.1.2"

MISSING = "MANDATORY_FIELD_MISSING"
NEGATIVE = "NEGATIVE_VALUE"
PERCENT = "PERCENT_OUT_OF_RANGE"
MISMATCH = "DEFAULT_VALUE_MISMATCH"

Expected = set[tuple[str, str, str]]
"""(code, field, rule) of each violation expected."""


def product(**changes: Any) -> CbamProduct:
    fields: dict[str, Any] = {
        "product_name": "P1020A primary aluminium ingot",
        "cn_code": "7601",
        "aggregated_goods_category": "unwrought aluminium",
        "scrap_t_per_t": Decimal("0.05"),
        "pre_consumer_scrap_percent": Decimal("100"),
        "other_elements_percent": Decimal("0.3"),
    }
    return CbamProduct(**{**fields, **changes})


def verifier(**changes: Any) -> Verifier:
    fields: dict[str, Any] = {
        "company_name": "Fjordcert Verification AS",
        "company_address": "Havnegata 3, 7010 Trondheim, Norway",
        "company_contact": "Ingrid Solberg, verification@fjordcert.example",
        "accreditation_body": "Norsk akkreditering",
    }
    return Verifier(**{**fields, **changes})


def factor(**changes: Any) -> EmissionFactor:
    fields: dict[str, Any] = {"tco2e_per_mwh": Decimal("0.019"), "source": EmissionFactorSource.IEA}
    return EmissionFactor(**{**fields, **changes})


def actual(figure: str) -> EmbeddedEmissions:
    return EmbeddedEmissions(tco2e_per_t=Decimal(figure), basis=EmissionsBasis.ACTUAL)


def default(figure: str | None = None) -> EmbeddedEmissions:
    value = None if figure is None else Decimal(figure)
    return EmbeddedEmissions(tco2e_per_t=value, basis=EmissionsBasis.DEFAULT_VALUE)


def calendar_year(year: int) -> ReportingPeriod:
    return ReportingPeriod(start=date(year, 1, 1), end=date(year, 12, 31))


def valid_form(**changes: Any) -> CbamEmissionsFormSubmitted:
    """A complete, valid form of NORDAL for 2025; ``changes`` replace top-level fields."""
    fields: dict[str, Any] = {
        "form_id": FORM_ID,
        "brand": BRAND,
        "reporting_year": 2025,
        "producer_name": "Nordal Aluminium AS",
        "installation_name": "Nordal Sunndal smelter",
        "installation_address": "Industriveien 12, 6600 Sunndalsøra, Norway",
        "installation_id": "NORDAL-SUN-01",
        "un_locode": "NO SUN",
        "products": (product(),),
        "main_emission_source": EmissionSourceLocation(
            address="Potline 1, Industriveien 12, Sunndalsøra",
            latitude=Decimal("62.6751"),
            longitude=Decimal("8.5631"),
        ),
        "reporting_period": calendar_year(2025),
        "methodology": MonitoringMethodology.CALCULATION_BASED,
        "direct_embedded_emissions": actual("1.10"),
        "indirect_embedded_emissions": actual("0.85"),
        "emission_factor": factor(),
        "verifier": verifier(),
        "level_of_assurance": "limited",
        "permission_to_publish": True,
        "calculation_notes": "EU calculation-based method; scrap inputs carry zero emissions.",
        "scope_3_tco2e_per_t": Decimal("1.9"),
    }
    fields.update(changes)
    return CbamEmissionsFormSubmitted(
        schema_version=CbamEmissionsFormSubmitted.SCHEMA_VERSION, **fields
    )


def listed(
    *contracts: MetalContract,
    status: BrandStatus = BrandStatus.LISTED,
    forms: dict[int, AcceptedForm] | None = None,
) -> BrandState:
    record = BrandRecord(
        brand=BRAND,
        producer_id="PRODUCER-NORDAL",
        country_of_origin="NO",
        contracts=contracts or (MetalContract.HIGH_GRADE_PRIMARY,),
        status=status,
    )
    return BrandState(brand=BRAND, record=record, forms=forms or {})


LISTED = listed()


def decide(
    form: CbamEmissionsFormSubmitted, brand: BrandState = LISTED, today: date = TODAY
) -> FormDecision:
    return decide_form(form, brand, RULEBOOK, today=today)


def found(decision: FormDecision) -> Expected:
    return {(v.code, v.field, v.rule) for v in decision.violations}


def accepted_form(form_id: str, year: int) -> AcceptedForm:
    figures = EmissionsFigures(Decimal("1.2"), Decimal("0.9"), False, False)
    return AcceptedForm(form_id=form_id, reporting_year=year, emissions=figures)


def test_the_complete_form_is_accepted_with_its_own_figures_unchanged() -> None:
    decision = decide(valid_form())
    assert decision.violations == ()
    assert decision.accepted
    assert decision.emissions == EmissionsFigures(
        direct=Decimal("1.10"),
        indirect=Decimal("0.85"),
        direct_is_default=False,
        indirect_is_default=False,
        alloying_as_primary=False,
    )
    assert decision.notes == ()
    assert (decision.form_id, decision.brand, decision.reporting_year) == (FORM_ID, BRAND, 2025)


BRAND_AND_YEAR_CASES: list[tuple[str, BrandState, dict[str, Any], Expected]] = [
    ("a listed brand uploads", LISTED, {}, set()),
    ("a suspended brand may upload", listed(status=BrandStatus.SUSPENDED), {}, set()),
    (
        "a brand not listed",
        BrandState(brand=BRAND),
        {},
        {("BRAND_NOT_LISTED", "brand", SECTION_4_2_1)},
    ),
    (
        "a delisted brand",
        listed(status=BrandStatus.DELISTED),
        {},
        {("BRAND_DELISTED", "brand", SECTION_4_4)},
    ),
    (
        "the first reporting year",
        LISTED,
        {"reporting_year": 2024, "reporting_period": calendar_year(2024)},
        set(),
    ),
    (
        "a year before the first",
        LISTED,
        {"reporting_year": 2023, "reporting_period": calendar_year(2023)},
        {("REPORTING_YEAR_BEFORE_FIRST", "reporting_year", SECTION_4_3)},
    ),
    (
        "the current year has not ended",
        LISTED,
        {"reporting_year": 2026, "reporting_period": calendar_year(2026)},
        {("REPORTING_YEAR_NOT_ENDED", "reporting_year", SECTION_4_3)},
    ),
    (
        "another form accepted for the year",
        listed(forms={2025: accepted_form("CBAM-NORDAL-2025-A", 2025)}),
        {},
        {("FORM_ALREADY_ACCEPTED_FOR_YEAR", "reporting_year", SECTION_4_2_1)},
    ),
    (
        "the same form again (a replay)",
        listed(forms={2025: accepted_form(FORM_ID, 2025)}),
        {},
        set(),
    ),
    (
        "a form accepted for the year before only",
        listed(forms={2024: accepted_form("CBAM-NORDAL-2024", 2024)}),
        {},
        set(),
    ),
    (
        "an alloy brand gives the other elements",
        listed(MetalContract.ALUMINIUM_ALLOY),
        {"products": (product(other_elements_percent=Decimal("4")),)},
        set(),
    ),
    (
        "an alloy brand without the other elements",
        listed(MetalContract.HIGH_GRADE_PRIMARY, MetalContract.ALUMINIUM_ALLOY),
        {"products": (product(other_elements_percent=None),)},
        {(MISSING, "products[0].other_elements_percent", APPENDIX_II)},
    ),
    (
        "a NASAAC brand without the other elements",
        listed(MetalContract.NASAAC),
        {"products": (product(other_elements_percent=None),)},
        {(MISSING, "products[0].other_elements_percent", APPENDIX_II)},
    ),
    (
        "a primary brand need not give the other elements",
        LISTED,
        {"products": (product(other_elements_percent=None),)},
        set(),
    ),
]


@pytest.mark.parametrize(
    ("brand", "changes", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in BRAND_AND_YEAR_CASES],
)
def test_brand_and_year_rules(
    brand: BrandState, changes: dict[str, Any], expected: Expected
) -> None:
    decision = decide(valid_form(**changes), brand)
    assert found(decision) == expected
    assert decision.accepted == (not expected)


MANDATORY_TOP_LEVEL = [
    "producer_name",
    "installation_name",
    "installation_address",
    "installation_id",
    "un_locode",
    "main_emission_source",
    "reporting_period",
    "methodology",
    "direct_embedded_emissions",
    "indirect_embedded_emissions",
    "emission_factor",
    "verifier",
    "level_of_assurance",
]
MANDATORY_IN_PRODUCT = [
    "product_name",
    "cn_code",
    "aggregated_goods_category",
    "scrap_t_per_t",
    "pre_consumer_scrap_percent",
]
MANDATORY_IN_VERIFIER = ["company_name", "company_address", "company_contact", "accreditation_body"]

FORM_CASES: list[tuple[str, dict[str, Any], Expected]] = [
    *[
        (f"{name} missing", {name: None}, {(MISSING, name, APPENDIX_II)})
        for name in MANDATORY_TOP_LEVEL
    ],
    *[
        (
            f"product {name} missing",
            {"products": (product(**{name: None}),)},
            {(MISSING, f"products[0].{name}", APPENDIX_II)},
        )
        for name in MANDATORY_IN_PRODUCT
    ],
    *[
        (
            f"verifier {name} missing",
            {"verifier": verifier(**{name: None})},
            {(MISSING, f"verifier.{name}", APPENDIX_II)},
        )
        for name in MANDATORY_IN_VERIFIER
    ],
    (
        "a blank address is missing",
        {"installation_address": "  "},
        {(MISSING, "installation_address", APPENDIX_II)},
    ),
    ("no products", {"products": ()}, {(MISSING, "products", APPENDIX_II)}),
    (
        "the second product lacks its CN code",
        {"products": (product(), product(cn_code=None))},
        {(MISSING, "products[1].cn_code", APPENDIX_II)},
    ),
    (
        "two verifier fields missing, both named",
        {"verifier": verifier(company_contact=None, accreditation_body=None)},
        {
            (MISSING, "verifier.company_contact", APPENDIX_II),
            (MISSING, "verifier.accreditation_body", APPENDIX_II),
        },
    ),
    (
        "voluntary fields left out",
        {"permission_to_publish": None, "calculation_notes": None, "scope_3_tco2e_per_t": None},
        set(),
    ),
    ("no carbon price paid", {"carbon_prices_paid": ()}, set()),
    (
        "emission source by address only",
        {"main_emission_source": EmissionSourceLocation(address="Potline 1")},
        set(),
    ),
    (
        "emission source by coordinates only",
        {
            "main_emission_source": EmissionSourceLocation(
                latitude=Decimal("62.6751"), longitude=Decimal("8.5631")
            )
        },
        set(),
    ),
    (
        "emission source by latitude only",
        {"main_emission_source": EmissionSourceLocation(latitude=Decimal("62.6751"))},
        {(MISSING, "main_emission_source.longitude", APPENDIX_II)},
    ),
    (
        "emission source with neither address nor coordinates",
        {"main_emission_source": EmissionSourceLocation()},
        {(MISSING, "main_emission_source", APPENDIX_II)},
    ),
    (
        "emission factor value missing",
        {"emission_factor": factor(tco2e_per_mwh=None)},
        {(MISSING, "emission_factor.tco2e_per_mwh", APPENDIX_II)},
    ),
    (
        "emission factor source missing",
        {"emission_factor": factor(source=None)},
        {(MISSING, "emission_factor.source", APPENDIX_II)},
    ),
    (
        "an other factor with its rationale",
        {
            "emission_factor": factor(
                source=EmissionFactorSource.OTHER, rationale="Hydro PPA, supplier-specific factor"
            )
        },
        set(),
    ),
    (
        "an other factor without a rationale",
        {"emission_factor": factor(source=EmissionFactorSource.OTHER)},
        {(MISSING, "emission_factor.rationale", APPENDIX_II)},
    ),
    (
        "an EU factor needs no rationale",
        {"emission_factor": factor(source=EmissionFactorSource.EU)},
        set(),
    ),
    # UN/LOCODE
    ("UN/LOCODE without the space", {"un_locode": "NOSUN"}, set()),
    ("UN/LOCODE with digits 2-9", {"un_locode": "US NY2"}, set()),
    (
        "UN/LOCODE in lower case",
        {"un_locode": "no sun"},
        {("UN_LOCODE_MALFORMED", "un_locode", APPENDIX_II)},
    ),
    (
        "UN/LOCODE with a 1",
        {"un_locode": "NO SU1"},
        {("UN_LOCODE_MALFORMED", "un_locode", APPENDIX_II)},
    ),
    (
        "UN/LOCODE with a hyphen",
        {"un_locode": "NO-SUN"},
        {("UN_LOCODE_MALFORMED", "un_locode", APPENDIX_II)},
    ),
    # CN code and goods category
    ("eight-digit CN code", {"products": (product(cn_code="76011000"),)}, set()),
    (
        "CN code of aluminium bars",
        {"products": (product(cn_code="7604"),)},
        {("CN_CODE_NOT_UNWROUGHT_ALUMINIUM", "products[0].cn_code", APPENDIX_II)},
    ),
    (
        "CN code with a dot",
        {"products": (product(cn_code="7601.10"),)},
        {("CN_CODE_NOT_UNWROUGHT_ALUMINIUM", "products[0].cn_code", APPENDIX_II)},
    ),
    (
        "CN code too short",
        {"products": (product(cn_code="760"),)},
        {("CN_CODE_NOT_UNWROUGHT_ALUMINIUM", "products[0].cn_code", APPENDIX_II)},
    ),
    (
        "goods category in other case",
        {"products": (product(aggregated_goods_category="Unwrought Aluminium"),)},
        set(),
    ),
    (
        "goods category of another good",
        {"products": (product(aggregated_goods_category="aluminium products"),)},
        {
            (
                "GOODS_CATEGORY_NOT_UNWROUGHT_ALUMINIUM",
                "products[0].aggregated_goods_category",
                APPENDIX_II,
            )
        },
    ),
    # percentages, inclusive 0-100
    (
        "pre-consumer scrap 0 %",
        {"products": (product(pre_consumer_scrap_percent=Decimal("0")),)},
        set(),
    ),
    (
        "pre-consumer scrap 100 %",
        {"products": (product(pre_consumer_scrap_percent=Decimal("100")),)},
        set(),
    ),
    (
        "pre-consumer scrap 100.01 %",
        {"products": (product(pre_consumer_scrap_percent=Decimal("100.01")),)},
        {(PERCENT, "products[0].pre_consumer_scrap_percent", APPENDIX_II)},
    ),
    (
        "pre-consumer scrap -0.01 %",
        {"products": (product(pre_consumer_scrap_percent=Decimal("-0.01")),)},
        {(PERCENT, "products[0].pre_consumer_scrap_percent", APPENDIX_II)},
    ),
    ("other elements 0 %", {"products": (product(other_elements_percent=Decimal("0")),)}, set()),
    (
        "other elements 100 %",
        {"products": (product(other_elements_percent=Decimal("100")),)},
        set(),
    ),
    (
        "other elements 100.01 %",
        {"products": (product(other_elements_percent=Decimal("100.01")),)},
        {(PERCENT, "products[0].other_elements_percent", APPENDIX_II)},
    ),
    # not negative
    ("no scrap", {"products": (product(scrap_t_per_t=Decimal("0")),)}, set()),
    (
        "negative scrap",
        {"products": (product(scrap_t_per_t=Decimal("-0.01")),)},
        {(NEGATIVE, "products[0].scrap_t_per_t", APPENDIX_II)},
    ),
    ("zero direct emissions", {"direct_embedded_emissions": actual("0")}, set()),
    (
        "negative direct emissions",
        {"direct_embedded_emissions": actual("-0.1")},
        {(NEGATIVE, "direct_embedded_emissions.tco2e_per_t", APPENDIX_II)},
    ),
    (
        "negative indirect emissions",
        {"indirect_embedded_emissions": actual("-0.1")},
        {(NEGATIVE, "indirect_embedded_emissions.tco2e_per_t", APPENDIX_II)},
    ),
    ("zero scope 3", {"scope_3_tco2e_per_t": Decimal("0")}, set()),
    (
        "negative scope 3",
        {"scope_3_tco2e_per_t": Decimal("-0.1")},
        {(NEGATIVE, "scope_3_tco2e_per_t", APPENDIX_II)},
    ),
    ("zero emission factor", {"emission_factor": factor(tco2e_per_mwh=Decimal("0"))}, set()),
    (
        # the contract refuses it already; the rulebook does not rely on that
        "negative emission factor",
        {
            "emission_factor": EmissionFactor.model_construct(
                tco2e_per_mwh=Decimal("-0.1"), source=EmissionFactorSource.IEA, rationale=None
            )
        },
        {(NEGATIVE, "emission_factor.tco2e_per_mwh", APPENDIX_II)},
    ),
    # reporting period
    (
        "period starting on 2 January",
        {"reporting_period": ReportingPeriod(start=date(2025, 1, 2), end=date(2025, 12, 31))},
        {("REPORTING_PERIOD_NOT_CALENDAR_YEAR", "reporting_period", SECTION_4_3)},
    ),
    (
        "period ending on 30 December",
        {"reporting_period": ReportingPeriod(start=date(2025, 1, 1), end=date(2025, 12, 30))},
        {("REPORTING_PERIOD_NOT_CALENDAR_YEAR", "reporting_period", SECTION_4_3)},
    ),
    (
        "period of another year",
        {"reporting_period": calendar_year(2024)},
        {("REPORTING_PERIOD_NOT_CALENDAR_YEAR", "reporting_period", SECTION_4_3)},
    ),
    # level of assurance
    ("reasonable assurance", {"level_of_assurance": "reasonable"}, set()),
    (
        "an unknown level of assurance",
        {"level_of_assurance": "moderate"},
        {("LEVEL_OF_ASSURANCE_UNKNOWN", "level_of_assurance", APPENDIX_II)},
    ),
    # embedded emissions basis and default values
    ("direct default value given exactly", {"direct_embedded_emissions": default("2.36")}, set()),
    (
        "direct default value with a trailing zero",
        {"direct_embedded_emissions": default("2.360")},
        set(),
    ),
    ("direct default value left out", {"direct_embedded_emissions": default()}, set()),
    (
        "direct default value 2.37",
        {"direct_embedded_emissions": default("2.37")},
        {(MISMATCH, "direct_embedded_emissions.tco2e_per_t", DEFAULT_VALUES)},
    ),
    (
        "indirect default value given exactly",
        {"indirect_embedded_emissions": default("8.14")},
        set(),
    ),
    (
        "indirect default value 8.13",
        {"indirect_embedded_emissions": default("8.13")},
        {(MISMATCH, "indirect_embedded_emissions.tco2e_per_t", DEFAULT_VALUES)},
    ),
    (
        "the direct default value given as indirect",
        {"indirect_embedded_emissions": default("2.36")},
        {(MISMATCH, "indirect_embedded_emissions.tco2e_per_t", DEFAULT_VALUES)},
    ),
    (
        "a figure without its basis",
        {"direct_embedded_emissions": EmbeddedEmissions(tco2e_per_t=Decimal("1.10"))},
        {(MISSING, "direct_embedded_emissions.basis", APPENDIX_II)},
    ),
    (
        "an actual basis without a figure",
        {"indirect_embedded_emissions": EmbeddedEmissions(basis=EmissionsBasis.ACTUAL)},
        {(MISSING, "indirect_embedded_emissions.tco2e_per_t", APPENDIX_II)},
    ),
]


@pytest.mark.parametrize(
    ("changes", "expected"), [pytest.param(*case[1:], id=case[0]) for case in FORM_CASES]
)
def test_form_rules(changes: dict[str, Any], expected: Expected) -> None:
    decision = decide(valid_form(**changes))
    assert found(decision) == expected
    assert decision.accepted == (not expected)
    if expected:
        assert decision.emissions is None
        assert decision.notes == ()


def test_a_violation_says_what_was_observed_and_what_is_allowed() -> None:
    form = valid_form(
        products=(product(pre_consumer_scrap_percent=Decimal("100.01")),),
        direct_embedded_emissions=default("2.37"),
        verifier=verifier(accreditation_body=None),
    )
    shown = {v.field: (v.observed, v.allowed) for v in decide(form).violations}
    assert shown == {
        "products[0].pre_consumer_scrap_percent": ("100.01 %", "0-100 %"),
        "direct_embedded_emissions.tco2e_per_t": ("2.37", "2.36 (the default value) or none"),
        "verifier.accreditation_body": (None, "the verifier's accreditation body"),
    }


def test_a_form_with_many_problems_lists_every_one() -> None:
    form = valid_form(
        reporting_year=2026,
        producer_name=None,
        un_locode="NORWAY",
        products=(
            product(cn_code="7606", pre_consumer_scrap_percent=Decimal("120")),
            product(product_name=None, scrap_t_per_t=Decimal("-1")),
        ),
        main_emission_source=None,
        direct_embedded_emissions=default("2.5"),
        indirect_embedded_emissions=EmbeddedEmissions(),
        emission_factor=factor(source=EmissionFactorSource.OTHER),
        verifier=None,
        level_of_assurance="full",
        scope_3_tco2e_per_t=Decimal("-2"),
    )
    decision = decide(form, BrandState(brand=BRAND))
    assert found(decision) == {
        ("BRAND_NOT_LISTED", "brand", SECTION_4_2_1),
        ("REPORTING_YEAR_NOT_ENDED", "reporting_year", SECTION_4_3),
        ("REPORTING_PERIOD_NOT_CALENDAR_YEAR", "reporting_period", SECTION_4_3),
        (MISSING, "producer_name", APPENDIX_II),
        ("UN_LOCODE_MALFORMED", "un_locode", APPENDIX_II),
        ("CN_CODE_NOT_UNWROUGHT_ALUMINIUM", "products[0].cn_code", APPENDIX_II),
        (PERCENT, "products[0].pre_consumer_scrap_percent", APPENDIX_II),
        (MISSING, "products[1].product_name", APPENDIX_II),
        (NEGATIVE, "products[1].scrap_t_per_t", APPENDIX_II),
        (MISSING, "main_emission_source", APPENDIX_II),
        (MISMATCH, "direct_embedded_emissions.tco2e_per_t", DEFAULT_VALUES),
        (MISSING, "indirect_embedded_emissions.basis", APPENDIX_II),
        (MISSING, "emission_factor.rationale", APPENDIX_II),
        (MISSING, "verifier", APPENDIX_II),
        ("LEVEL_OF_ASSURANCE_UNKNOWN", "level_of_assurance", APPENDIX_II),
        (NEGATIVE, "scope_3_tco2e_per_t", APPENDIX_II),
    }
    assert len(decision.violations) == 16
    assert decision.emissions is None


def test_default_basis_without_figures_gives_the_defaults_flagged() -> None:
    form = valid_form(direct_embedded_emissions=default(), indirect_embedded_emissions=default())
    assert decide(form).emissions == EmissionsFigures(
        direct=Decimal("2.36"),
        indirect=Decimal("8.14"),
        direct_is_default=True,
        indirect_is_default=True,
    )


def test_one_default_figure_is_flagged_alone() -> None:
    emissions = decide(valid_form(indirect_embedded_emissions=default("8.14"))).emissions
    assert emissions == EmissionsFigures(Decimal("1.10"), Decimal("8.14"), False, True)


def test_scrap_adds_nothing_to_the_embedded_emissions() -> None:
    remelt = valid_form(products=(product(scrap_t_per_t=Decimal("0.95")),))
    assert decide(remelt).emissions == decide(valid_form()).emissions


def test_alloying_at_exactly_5_percent_is_not_counted_as_primary() -> None:
    decision = decide(valid_form(products=(product(other_elements_percent=Decimal("5")),)))
    assert decision.emissions == EmissionsFigures(Decimal("1.10"), Decimal("0.85"), False, False)
    assert decision.notes == ()


def test_alloying_above_5_percent_is_counted_as_primary_aluminium() -> None:
    decision = decide(valid_form(products=(product(other_elements_percent=Decimal("5.01")),)))
    # direct:   0.9499 * 1.10 + 0.0501 * 2.36 = 1.04489 + 0.118236 = 1.163126
    # indirect: 0.9499 * 0.85 + 0.0501 * 8.14 = 0.807415 + 0.407814 = 1.215229
    assert decision.emissions == EmissionsFigures(
        direct=Decimal("1.163126"),
        indirect=Decimal("1.215229"),
        direct_is_default=False,
        indirect_is_default=False,
        alloying_as_primary=True,
    )
    assert decision.notes == (
        "alloying elements at 5.01 % exceed 5 %: their mass is counted as primary unwrought "
        "aluminium at the default values (§6.3)",
    )


def test_with_several_products_the_largest_alloying_share_is_applied() -> None:
    products = (
        product(other_elements_percent=Decimal("3")),
        product(other_elements_percent=Decimal("10")),
        product(other_elements_percent=None),
    )
    emissions = decide(valid_form(products=products)).emissions
    assert emissions is not None
    # 0.9 * 1.10 + 0.1 * 2.36 = 0.99 + 0.236; 0.9 * 0.85 + 0.1 * 8.14 = 0.765 + 0.814
    assert (emissions.direct, emissions.indirect) == (Decimal("1.226"), Decimal("1.579"))


def test_alloying_leaves_a_default_figure_at_the_default() -> None:
    form = valid_form(
        products=(product(other_elements_percent=Decimal("14.33")),),
        direct_embedded_emissions=default(),
    )
    emissions = decide(form).emissions
    assert emissions is not None
    assert (emissions.direct, emissions.direct_is_default) == (Decimal("2.36"), True)
    assert emissions.alloying_as_primary


@pytest.mark.parametrize(
    ("today", "notes"),
    [
        pytest.param(date(2026, 3, 15), (), id="on the deadline day"),
        pytest.param(
            date(2026, 3, 16),
            ("submitted after the 15 March 2026 deadline (§4.3)",),
            id="one day after the deadline",
        ),
    ],
)
def test_a_late_form_is_accepted_with_a_note(today: date, notes: tuple[str, ...]) -> None:
    decision = decide(valid_form(), today=today)
    assert decision.accepted
    assert decision.notes == notes


figures = st.decimals(min_value=0, max_value=50, places=3)


@given(
    direct=figures,
    indirect=figures,
    share=st.decimals(min_value=0, max_value=100, places=2),
)
def test_an_alloying_adjusted_figure_lies_between_the_reported_one_and_the_default(
    direct: Decimal, indirect: Decimal, share: Decimal
) -> None:
    form = valid_form(
        products=(product(other_elements_percent=share),),
        direct_embedded_emissions=EmbeddedEmissions(
            tco2e_per_t=direct, basis=EmissionsBasis.ACTUAL
        ),
        indirect_embedded_emissions=EmbeddedEmissions(
            tco2e_per_t=indirect, basis=EmissionsBasis.ACTUAL
        ),
    )
    emissions = decide(form).emissions
    assert emissions is not None
    cbam = RULEBOOK.cbam
    for reported, default_value, adjusted in (
        (direct, cbam.default_direct_tco2e_per_t, emissions.direct),
        (indirect, cbam.default_indirect_tco2e_per_t, emissions.indirect),
    ):
        assert min(reported, default_value) <= adjusted <= max(reported, default_value)
        if share <= 5:
            assert adjusted == reported
    assert emissions.alloying_as_primary is (share > 5)
