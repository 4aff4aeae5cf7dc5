"""Is a brand's yearly CBAM emissions reporting form acceptable (§4, Appendix II), and which
embedded emissions does it give the brand's metal? Every failed rule is named."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from contracts.cbam import (
    CalculationMethodology,
    CbamEmissionsFormSubmitted,
    CbamProduct,
    EmbeddedEmissions,
    EmissionFactorSource,
    EmissionsBasis,
    MonitoringMethodology,
)
from contracts.values import MetalContract
from gateway.rulebook.decisions import FormDecision
from gateway.rulebook.model import Bounds, CbamRules, Rulebook
from gateway.rulebook.state import BrandStatus, BrandView, EmissionsFigures
from gateway.violations import Violation, shown

UN_LOCODE = re.compile(r"[A-Z]{2} ?[A-Z2-9]{3}")
CN_CODE = re.compile(r"[0-9]+")
ALLOY_CONTRACTS = frozenset({MetalContract.ALUMINIUM_ALLOY, MetalContract.NASAAC})
PERCENT_RANGE = (Decimal(0), Decimal(100))

_INSTALLATION_FIELDS = {
    "producer_name": "the producer name",
    "installation_name": "the smelter / refiner / asset name",
    "installation_address": "the installation's address",
    "installation_id": "the unique installation identifier",
    "un_locode": "the UN/LOCODE of the location",
}
_PRODUCT_FIELDS = {
    "product_name": "the product name",
    "cn_code": "the CN code",
    "aggregated_goods_category": "the aggregated goods category",
    "scrap_t_per_t": "the tonnes of scrap used per tonne of product",
    "pre_consumer_scrap_percent": "the % of that scrap that is pre-consumer",
}
_REPORTING_FIELDS = {
    "reporting_period": "the reporting period",
    "methodology": "the methodology used",
}
_VERIFIER_FIELDS = {
    "company_name": "the verifier's company name",
    "company_address": "the verifier's company address",
    "company_contact": "the verifier's company contact",
    "accreditation_body": "the verifier's accreditation body",
}


def decide_form(
    form: CbamEmissionsFormSubmitted, brand: BrandView, rulebook: Rulebook, *, today: date
) -> FormDecision:
    """Accept ``form`` with the embedded emissions it gives, or reject it naming every rule
    it breaks. ``today`` is the day the form is decided (for the year and the deadline)."""
    cbam = rulebook.cbam
    violations = [
        *_brand_violations(form, brand, cbam),
        *_reporting_year_violations(form, brand, cbam, today),
        *_installation_violations(form, cbam),
        *_product_violations(form, brand, cbam),
        *_reporting_violations(form, cbam),
        *_calculation_methodology_violations(form, cbam, today),
        *_embedded_emissions_violations(form, cbam),
        *_emission_factor_violations(form, cbam),
        *_plausibility_violations(form, cbam),
        *_verification_violations(form, cbam, today),
        *_scope_3_violations(form, cbam),
    ]
    if violations:
        return FormDecision(
            form_id=form.form_id,
            brand=form.brand,
            reporting_year=form.reporting_year,
            violations=tuple(violations),
            emissions=None,
        )
    emissions = _accepted_emissions(form, cbam)
    return FormDecision(
        form_id=form.form_id,
        brand=form.brand,
        reporting_year=form.reporting_year,
        violations=(),
        emissions=emissions,
        notes=_notes(form, emissions, cbam, today),
    )


def _accepted_emissions(form: CbamEmissionsFormSubmitted, cbam: CbamRules) -> EmissionsFigures:
    """The embedded emissions of a form that passed every rule, t CO2e per t of goods.

    Scrap carries zero embedded emissions, so nothing is added for it. Where alloying
    elements exceed the threshold (5 %), their mass counts as primary unwrought aluminium
    at the default values: ``(1 - p/100) * reported + p/100 * default``, direct and indirect
    alike. The form gives one pair of figures for all its products, so with several products
    the largest alloying share is applied: the conservative (highest) figure when the
    defaults exceed the reported ones.
    """
    direct, direct_is_default = _reported(
        form.direct_embedded_emissions, cbam.default_direct_tco2e_per_t
    )
    indirect, indirect_is_default = _reported(
        form.indirect_embedded_emissions, cbam.default_indirect_tco2e_per_t
    )
    share = _alloying_share(form.products)
    as_primary = share > cbam.alloying_as_primary_threshold_percent
    if as_primary:
        direct = _alloying_as_primary(direct, cbam.default_direct_tco2e_per_t, share)
        indirect = _alloying_as_primary(indirect, cbam.default_indirect_tco2e_per_t, share)
    return EmissionsFigures(
        direct=direct,
        indirect=indirect,
        direct_is_default=direct_is_default,
        indirect_is_default=indirect_is_default,
        alloying_as_primary=as_primary,
    )


def _alloying_share(products: tuple[CbamProduct, ...]) -> Decimal:
    """The largest total % of elements other than aluminium among the products (0 if none)."""
    shares = [p.other_elements_percent for p in products if p.other_elements_percent is not None]
    return max(shares, default=Decimal(0))


def _reported(figure: EmbeddedEmissions | None, default: Decimal) -> tuple[Decimal, bool]:
    if figure is None or figure.basis is None:
        raise ValueError("emissions are taken only from a form that passed every rule")
    if figure.basis is EmissionsBasis.DEFAULT_VALUE:
        return default, True
    if figure.tco2e_per_t is None:
        raise ValueError("emissions are taken only from a form that passed every rule")
    return figure.tco2e_per_t, False


def _alloying_as_primary(reported: Decimal, primary_default: Decimal, share: Decimal) -> Decimal:
    alloying = share / 100
    return (1 - alloying) * reported + alloying * primary_default


def _notes(
    form: CbamEmissionsFormSubmitted, emissions: EmissionsFigures, cbam: CbamRules, today: date
) -> tuple[str, ...]:
    notes = []
    deadline = cbam.deadline_for(form.reporting_year)
    if today > deadline:
        notes.append(
            f"submitted after the {deadline.day} {deadline:%B %Y} deadline "
            f"({cbam.rules['deadline']})"
        )
    if _unverified(form):
        notes.append(
            f"not verified: a form must be verified from "
            f"{cbam.verification_start.isoformat()} ({cbam.rules['verification']})"
        )
    if emissions.alloying_as_primary:
        notes.append(
            f"alloying elements at {shown(_alloying_share(form.products))} % exceed "
            f"{shown(cbam.alloying_as_primary_threshold_percent)} %: their mass is counted as "
            f"primary unwrought aluminium at the default values ({cbam.rules['alloying']})"
        )
    return tuple(notes)


def _brand_violations(
    form: CbamEmissionsFormSubmitted, brand: BrandView, cbam: CbamRules
) -> list[Violation]:
    record = brand.record
    if record is None:
        return [
            Violation(
                code="BRAND_NOT_LISTED",
                rule=cbam.rules["brand_uploads"],
                field="brand",
                observed=form.brand,
                allowed="a listed brand",
                message=f"{form.brand} is not a listed brand; each listed brand uploads its form",
            )
        ]
    if record.status is BrandStatus.DELISTED:
        return [
            Violation(
                code="BRAND_DELISTED",
                rule=cbam.rules["brand_status"],
                field="brand",
                observed=f"{form.brand} ({record.status})",
                allowed="a listed or suspended brand",
                message=f"{form.brand} is delisted; only a listed or suspended brand may upload",
            )
        ]
    return []


def _reporting_year_violations(
    form: CbamEmissionsFormSubmitted, brand: BrandView, cbam: CbamRules, today: date
) -> list[Violation]:
    year = form.reporting_year
    found = []
    if year < cbam.first_reporting_year:
        found.append(
            Violation(
                code="REPORTING_YEAR_BEFORE_FIRST",
                rule=cbam.rules["first_reporting_year"],
                field="reporting_year",
                observed=str(year),
                allowed=f">= {cbam.first_reporting_year}",
                message=f"the first year reported is {cbam.first_reporting_year}",
            )
        )
    if year >= today.year:
        found.append(
            Violation(
                code="REPORTING_YEAR_NOT_ENDED",
                rule=cbam.rules["calendar_year"],
                field="reporting_year",
                observed=str(year),
                allowed=f"<= {today.year - 1} (a year that has ended)",
                message=f"a form reports a calendar year that has ended; {year} has not",
            )
        )
    accepted = brand.form(year)
    if accepted is not None and accepted.form_id != form.form_id:
        found.append(
            Violation(
                code="FORM_ALREADY_ACCEPTED_FOR_YEAR",
                rule=cbam.rules["form_once_a_year"],
                field="reporting_year",
                observed=f"{year} (form {accepted.form_id} accepted)",
                allowed="one form per brand and year",
                message=f"{form.brand} already has form {accepted.form_id} accepted for {year}; "
                "the form is uploaded once a year",
            )
        )
    return found


def _installation_violations(form: CbamEmissionsFormSubmitted, cbam: CbamRules) -> list[Violation]:
    found = _missing_fields(form, _INSTALLATION_FIELDS, "", cbam)
    if form.un_locode is not None and not UN_LOCODE.fullmatch(form.un_locode):
        found.append(
            Violation(
                code="UN_LOCODE_MALFORMED",
                rule=cbam.rules["mandatory_fields"],
                field="un_locode",
                observed=form.un_locode,
                allowed='country and place, e.g. "NO SUN" or "NOSUN"',
                message=f"{form.un_locode!r} is not a UN/LOCODE (two letters for the country, "
                "three letters or digits 2-9 for the place)",
            )
        )
    source = form.main_emission_source
    if source is None:
        found.append(
            _missing(
                "main_emission_source", "the main emission source's address or coordinates", cbam
            )
        )
    elif _absent(source.address) and (source.latitude is None or source.longitude is None):
        if source.latitude is None and source.longitude is None:
            found.append(
                _missing("main_emission_source", "an address, or both latitude and longitude", cbam)
            )
        else:
            absent, given = (
                ("latitude", "longitude") if source.latitude is None else ("longitude", "latitude")
            )
            found.append(
                _missing(f"main_emission_source.{absent}", f"the {absent} with the {given}", cbam)
            )
    return found


def _product_violations(
    form: CbamEmissionsFormSubmitted, brand: BrandView, cbam: CbamRules
) -> list[Violation]:
    if not form.products:
        return [_missing("products", "at least one product", cbam)]
    alloy_brand = brand.record is not None and not ALLOY_CONTRACTS.isdisjoint(
        brand.record.contracts
    )
    found = []
    for index, product in enumerate(form.products):
        path = f"products[{index}]"
        found.extend(_missing_fields(product, _PRODUCT_FIELDS, f"{path}.", cbam))
        if alloy_brand and product.other_elements_percent is None:
            found.append(
                _missing(
                    f"{path}.other_elements_percent",
                    "the total % of elements other than aluminium (an alloy exceeds 1 %)",
                    cbam,
                )
            )
        found.extend(_product_code_violations(product, path, cbam))
        found.extend(_negative(f"{path}.scrap_t_per_t", product.scrap_t_per_t, cbam))
        found.extend(
            _percent(f"{path}.pre_consumer_scrap_percent", product.pre_consumer_scrap_percent, cbam)
        )
        found.extend(
            _percent(f"{path}.other_elements_percent", product.other_elements_percent, cbam)
        )
    return found


def _product_code_violations(product: CbamProduct, path: str, cbam: CbamRules) -> list[Violation]:
    found = []
    code = product.cn_code
    if code is not None and not (CN_CODE.fullmatch(code) and code.startswith(cbam.cn_code_prefix)):
        found.append(
            Violation(
                code="CN_CODE_NOT_UNWROUGHT_ALUMINIUM",
                rule=cbam.rules["mandatory_fields"],
                field=f"{path}.cn_code",
                observed=code,
                allowed=f"digits starting with {cbam.cn_code_prefix}",
                message=f"CN code {code!r} is not {cbam.cn_code_prefix} "
                f"({cbam.aggregated_goods_category})",
            )
        )
    category = product.aggregated_goods_category
    expected = cbam.aggregated_goods_category
    if category is not None and category.casefold() != expected.casefold():
        found.append(
            Violation(
                code="GOODS_CATEGORY_NOT_UNWROUGHT_ALUMINIUM",
                rule=cbam.rules["mandatory_fields"],
                field=f"{path}.aggregated_goods_category",
                observed=category,
                allowed=expected,
                message=f"the aggregated goods category of exchange aluminium is {expected!r}",
            )
        )
    return found


def _reporting_violations(form: CbamEmissionsFormSubmitted, cbam: CbamRules) -> list[Violation]:
    found = _missing_fields(form, _REPORTING_FIELDS, "", cbam)
    period = form.reporting_period
    year = form.reporting_year
    calendar_year = (date(year, 1, 1), date(year, 12, 31))
    if period is not None and (period.start, period.end) != calendar_year:
        found.append(
            Violation(
                code="REPORTING_PERIOD_NOT_CALENDAR_YEAR",
                rule=cbam.rules["calendar_year"],
                field="reporting_period",
                observed=f"{period.start} to {period.end}",
                allowed=f"{calendar_year[0]} to {calendar_year[1]}",
                message=f"the form reports calendar year {year}, 1 January to 31 December",
            )
        )
    return found


NOT_THE_EU_MONITORING = frozenset({MonitoringMethodology.OTHER_EQUIVALENT})


def calculation_methodology_of(form: CbamEmissionsFormSubmitted) -> CalculationMethodology | None:
    """The methodology the form states, or for a form that does not state it the one its
    monitoring implies: the calculation- and measurement-based approaches and the default
    values are the EU methodology's, ``other_equivalent`` is not; None if neither is given."""
    if form.calculation_methodology is not None:
        return form.calculation_methodology
    if form.methodology is None:
        return None
    if form.methodology in NOT_THE_EU_MONITORING:
        return CalculationMethodology.OTHER
    return CalculationMethodology.EU


def _calculation_methodology_violations(
    form: CbamEmissionsFormSubmitted, cbam: CbamRules, today: date
) -> list[Violation]:
    used = calculation_methodology_of(form)
    if today < cbam.eu_methodology_only_from or used in (None, CalculationMethodology.EU):
        return []
    stated = form.calculation_methodology is not None
    field = "calculation_methodology" if stated else "methodology"
    observed = str(used) if stated else f"{form.methodology} (not the EU methodology)"
    return [
        Violation(
            code="METHODOLOGY_NOT_EU",
            rule=cbam.rules["methodology"],
            field=field,
            observed=observed,
            allowed=f"{CalculationMethodology.EU} (the EU methodology)",
            message="only the EU methodology is accepted from "
            f"{cbam.eu_methodology_only_from.isoformat()}",
        )
    ]


def _plausibility_violations(form: CbamEmissionsFormSubmitted, cbam: CbamRules) -> list[Violation]:
    plausible = cbam.plausible
    found = []
    for scope, figure, bounds in (
        ("direct", form.direct_embedded_emissions, plausible.direct_tco2e_per_t),
        ("indirect", form.indirect_embedded_emissions, plausible.indirect_tco2e_per_t),
    ):
        if figure is not None and figure.basis is EmissionsBasis.ACTUAL:
            found.extend(
                _implausible(
                    f"{scope}_embedded_emissions.tco2e_per_t",
                    figure.tco2e_per_t,
                    bounds,
                    ("t CO2e/t", "kg CO2e/t"),
                    cbam,
                )
            )
    if form.emission_factor is not None:
        found.extend(
            _implausible(
                "emission_factor.tco2e_per_mwh",
                form.emission_factor.tco2e_per_mwh,
                plausible.emission_factor_tco2e_per_mwh,
                ("t CO2e/MWh", "kg CO2e/MWh"),
                cbam,
            )
        )
    return found


def _implausible(
    field: str, value: Decimal | None, bounds: Bounds, units: tuple[str, str], cbam: CbamRules
) -> list[Violation]:
    if value is None or value < 0 or bounds.contains(value):
        return []
    unit, small_unit = units
    slipped = value / cbam.plausible.unit_slip_factor
    likely = (
        f"{shown(slipped)} {unit} would be plausible: a figure in {small_unit} entered as "
        f"{unit} ({shown(cbam.plausible.unit_slip_factor)}x)?"
        if bounds.contains(slipped)
        else "check the figure and its unit"
    )
    return [
        Violation(
            code="EMISSIONS_IMPLAUSIBLE",
            rule=cbam.rules["plausibility"],
            field=field,
            observed=f"{shown(value)} {unit}",
            allowed=bounds.describe(unit),
            message=f"{shown(value)} {unit} is outside what aluminium production can emit; "
            + likely,
        )
    ]


def _verification_violations(
    form: CbamEmissionsFormSubmitted, cbam: CbamRules, today: date
) -> list[Violation]:
    """The verifier and level of assurance: mandatory from the verification start; before it
    a form may leave both out, but a verification it states must be complete."""
    if today < cbam.verification_start and _unverified(form):
        return []
    found = _missing_fields(form, {"level_of_assurance": "the level of assurance"}, "", cbam)
    level = form.level_of_assurance
    if level is not None and level not in cbam.levels_of_assurance:
        found.append(
            Violation(
                code="LEVEL_OF_ASSURANCE_UNKNOWN",
                rule=cbam.rules["mandatory_fields"],
                field="level_of_assurance",
                observed=level,
                allowed=" or ".join(cbam.levels_of_assurance),
                message=f"{level!r} is not a level of assurance the form knows",
            )
        )
    if form.verifier is None:
        found.append(_missing("verifier", "the verifier of the report", cbam))
    else:
        found.extend(_missing_fields(form.verifier, _VERIFIER_FIELDS, "verifier.", cbam))
    return found


def _unverified(form: CbamEmissionsFormSubmitted) -> bool:
    return form.verifier is None and _absent(form.level_of_assurance)


def _embedded_emissions_violations(
    form: CbamEmissionsFormSubmitted, cbam: CbamRules
) -> list[Violation]:
    return [
        *_figure_violations(
            "direct", form.direct_embedded_emissions, cbam.default_direct_tco2e_per_t, cbam
        ),
        *_figure_violations(
            "indirect", form.indirect_embedded_emissions, cbam.default_indirect_tco2e_per_t, cbam
        ),
    ]


def _figure_violations(
    scope: str, figure: EmbeddedEmissions | None, default: Decimal, cbam: CbamRules
) -> list[Violation]:
    path = f"{scope}_embedded_emissions"
    if figure is None:
        return [_missing(path, f"the {scope} embedded emissions or the default value", cbam)]
    value = figure.tco2e_per_t
    found = _negative(f"{path}.tco2e_per_t", value, cbam)
    if figure.basis is None:
        found.append(_missing(f"{path}.basis", "the basis, actual or default_value", cbam))
    elif figure.basis is EmissionsBasis.ACTUAL and value is None:
        found.append(
            _missing(f"{path}.tco2e_per_t", f"the {scope} figure on the actual basis", cbam)
        )
    elif figure.basis is EmissionsBasis.DEFAULT_VALUE and value is not None and value != default:
        found.append(
            Violation(
                code="DEFAULT_VALUE_MISMATCH",
                rule=cbam.rules["default_values"],
                field=f"{path}.tco2e_per_t",
                observed=shown(value),
                allowed=f"{shown(default)} (the default value) or none",
                message=f"a {scope} figure on the default-value basis is the default "
                f"{shown(default)} t CO2e/t, not {shown(value)}",
            )
        )
    return found


def _emission_factor_violations(
    form: CbamEmissionsFormSubmitted, cbam: CbamRules
) -> list[Violation]:
    factor = form.emission_factor
    if factor is None:
        return [_missing("emission_factor", "the emission factor used", cbam)]
    found = []
    if factor.tco2e_per_mwh is None:
        found.append(
            _missing("emission_factor.tco2e_per_mwh", "the emission factor, t CO2e per MWh", cbam)
        )
    found.extend(_negative("emission_factor.tco2e_per_mwh", factor.tco2e_per_mwh, cbam))
    if factor.source is None:
        found.append(_missing("emission_factor.source", "the source of the factor", cbam))
    elif factor.source is EmissionFactorSource.OTHER and _absent(factor.rationale):
        found.append(
            _missing(
                "emission_factor.rationale",
                "the rationale for a factor other than the IEA / EU figure",
                cbam,
            )
        )
    return found


def _scope_3_violations(form: CbamEmissionsFormSubmitted, cbam: CbamRules) -> list[Violation]:
    return _negative("scope_3_tco2e_per_t", form.scope_3_tco2e_per_t, cbam)


def _missing_fields(
    record: object, fields: dict[str, str], prefix: str, cbam: CbamRules
) -> list[Violation]:
    return [
        _missing(f"{prefix}{name}", what, cbam)
        for name, what in fields.items()
        if _absent(getattr(record, name))
    ]


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _missing(field: str, what: str, cbam: CbamRules) -> Violation:
    return Violation(
        code="MANDATORY_FIELD_MISSING",
        rule=cbam.rules["mandatory_fields"],
        field=field,
        observed=None,
        allowed=what,
        message=f"{field} is mandatory: the form must give {what}",
    )


def _negative(field: str, value: Decimal | None, cbam: CbamRules) -> list[Violation]:
    if value is None or value >= 0:
        return []
    return [
        Violation(
            code="NEGATIVE_VALUE",
            rule=cbam.rules["mandatory_fields"],
            field=field,
            observed=shown(value),
            allowed=">= 0",
            message=f"{field} may not be negative",
        )
    ]


def _percent(field: str, value: Decimal | None, cbam: CbamRules) -> list[Violation]:
    low, high = PERCENT_RANGE
    if value is None or low <= value <= high:
        return []
    return [
        Violation(
            code="PERCENT_OUT_OF_RANGE",
            rule=cbam.rules["mandatory_fields"],
            field=field,
            observed=f"{shown(value)} %",
            allowed=f"{low}-{high} %",
            message=f"{field} is a percentage by mass, between {low} and {high}",
        )
    ]
