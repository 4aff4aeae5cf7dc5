"""The yearly CBAM emissions reporting form of a brand (§4, Appendix II) and its outcomes.

Every Appendix II field is typed but may be null or empty here: a form that lacks a
mandatory field is readable, and the rulebook rejects it naming the field and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field, StringConstraints

from contracts.base import Contract, Decimal_, JsonObject, TonnesCO2ePerTonne, Upcaster
from contracts.values import (
    CalendarYear,
    EmissionsSummary,
    Identifier,
    Name,
    RuleViolation,
    Text,
    ValueObject,
)

_MANDATORY = "Mandatory (Appendix II); a form without it is rejected by the rulebook."
_VOLUNTARY = "Voluntary (Appendix II)."

# Formats and ranges the rulebook judges (UN/LOCODE shape, CN 7601, 0-100 %, the levels of
# assurance) are only readable strings and numbers here, so a wrong value gets a decision
# naming the rule instead of a dead letter.
RuleCheckedCode = Annotated[str, StringConstraints(min_length=1, max_length=32)]
RuleCheckedPercent = Decimal_
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
TonnesCO2ePerMegawattHour = Annotated[Decimal_, Field(ge=0)]
Latitude = Annotated[Decimal_, Field(ge=-90, le=90)]
Longitude = Annotated[Decimal_, Field(ge=-180, le=180)]
CurrencyAmount = Annotated[Decimal_, Field(ge=0)]


class MonitoringMethodology(StrEnum):
    """How the installation determined its embedded emissions (§6.4.1)."""

    CALCULATION_BASED = "calculation_based"
    MEASUREMENT_BASED = "measurement_based"
    DEFAULT_VALUES = "default_values"
    OTHER_EQUIVALENT = "other_equivalent"


def _not_stated(value: object) -> bool:
    """A field added to version 1 later is left out while null, so the body reads (and
    digests) as before for a reader that does not know it."""
    return value is None


class CalculationMethodology(StrEnum):
    """Under which rules the embedded emissions were determined (§4.3): only the EU
    methodology from 1 January 2025; 2024 allowed others."""

    EU = "eu"
    THIRD_COUNTRY_EQUIVALENT = "third_country_equivalent"
    OTHER = "other"


class EmissionsBasis(StrEnum):
    """Whether a figure is the producer's own (calculated or measured) or the EU default."""

    ACTUAL = "actual"
    DEFAULT_VALUE = "default_value"


class EmissionFactorSource(StrEnum):
    """Where the electricity emission factor comes from; ``other`` needs a rationale."""

    IEA = "iea"
    EU = "eu"
    OTHER = "other"


class CbamProduct(ValueObject):
    """One product of the installation and its composition."""

    product_name: Name | None = Field(default=None, description=f"Product name. {_MANDATORY}")
    cn_code: RuleCheckedCode | None = Field(
        default=None,
        description="Combined Nomenclature code; exchange aluminium is 7601 (unwrought "
        f'aluminium), written "7601" or with more digits ("76011000"). {_MANDATORY}',
    )
    aggregated_goods_category: Name | None = Field(
        default=None,
        description=f'Aggregated goods category ("unwrought aluminium"). {_MANDATORY}',
    )
    scrap_t_per_t: Decimal_ | None = Field(
        default=None,
        description="Scrap used per 1 t of the product, t scrap per t product (not negative). "
        f"{_MANDATORY}",
    )
    pre_consumer_scrap_percent: RuleCheckedPercent | None = Field(
        default=None,
        description="Share of that scrap that is pre-consumer scrap, % by mass (0-100). "
        f"{_MANDATORY}",
    )
    other_elements_percent: RuleCheckedPercent | None = Field(
        default=None,
        description="Total content of elements other than aluminium, % by mass (0-100). Mandatory "
        "(Appendix II) where it exceeds 1 %; a form without it is rejected by the rulebook.",
    )


class EmissionSourceLocation(ValueObject):
    """Where the site's main emission source is: an address, coordinates, or both."""

    address: Text | None = Field(default=None, description="Postal address of the source.")
    latitude: Latitude | None = Field(
        default=None, description="Latitude, decimal degrees north (WGS 84)."
    )
    longitude: Longitude | None = Field(
        default=None, description="Longitude, decimal degrees east (WGS 84)."
    )


class ReportingPeriod(ValueObject):
    """The period the reported emissions cover, both dates inclusive."""

    start: date = Field(description="First day of the reporting period.")
    end: date = Field(description="Last day of the reporting period.")


class EmbeddedEmissions(ValueObject):
    """One embedded-emissions figure and whether it is the producer's own or a default."""

    tco2e_per_t: TonnesCO2ePerTonne | None = Field(
        default=None, description=f"Embedded emissions, t CO2e per t of goods. {_MANDATORY}"
    )
    basis: EmissionsBasis | None = Field(
        default=None,
        description=f"Producer's own figure or the EU default value. {_MANDATORY}",
    )


class EmissionFactor(ValueObject):
    """The electricity emission factor used for indirect emissions."""

    tco2e_per_mwh: TonnesCO2ePerMegawattHour | None = Field(
        default=None, description=f"Emission factor, t CO2e per MWh. {_MANDATORY}"
    )
    source: EmissionFactorSource | None = Field(
        default=None, description=f"Source of the factor. {_MANDATORY}"
    )
    rationale: Text | None = Field(
        default=None,
        description="Why a factor other than the IEA / EU figure was used. Mandatory "
        "(Appendix II) when the source is other; a form without it is rejected by the rulebook.",
    )


class CarbonPricePaid(ValueObject):
    """A carbon price paid at another installation or on a precursor."""

    paid_at: Name = Field(description="Installation or precursor the price was paid for.")
    instrument: Name | None = Field(
        default=None, description='Pricing instrument ("carbon tax", "emissions trading").'
    )
    amount_per_tco2e: CurrencyAmount = Field(
        description="Price paid, in the given currency per t CO2e."
    )
    currency: CurrencyCode = Field(description='ISO 4217 currency code ("EUR").')


class Verifier(ValueObject):
    """The third party that verified the report."""

    company_name: Name | None = Field(default=None, description=f"Company name. {_MANDATORY}")
    company_address: Text | None = Field(default=None, description=f"Company address. {_MANDATORY}")
    company_contact: Name | None = Field(
        default=None, description=f"Contact at the company. {_MANDATORY}"
    )
    accreditation_body: Name | None = Field(
        default=None, description=f"Name of the accreditation body. {_MANDATORY}"
    )


class CbamEmissionsFormSubmitted(Contract):
    """A producer submitted the yearly CBAM emissions reporting form of one brand."""

    MESSAGE_TYPE: ClassVar[str] = "custody.cbam-form.submitted"
    SCHEMA_VERSION: ClassVar[int] = 1

    form_id: Identifier = Field(description="Unique id of this form submission.")
    brand: Identifier = Field(description="Listed brand the form reports for.")
    reporting_year: CalendarYear = Field(description="Calendar year the emissions data covers.")

    producer_name: Name | None = Field(default=None, description=f"Producer name. {_MANDATORY}")
    installation_name: Name | None = Field(
        default=None, description=f"Smelter / refiner / asset name. {_MANDATORY}"
    )
    installation_address: Text | None = Field(
        default=None, description=f"Address of the installation. {_MANDATORY}"
    )
    installation_id: Identifier | None = Field(
        default=None,
        description=f"Unique installation identifier, the link to the brand's CoAs. {_MANDATORY}",
    )
    un_locode: RuleCheckedCode | None = Field(
        default=None,
        description=f'UN/LOCODE of the location, country and place ("NO SUN"). {_MANDATORY}',
    )
    products: tuple[CbamProduct, ...] = Field(
        default=(),
        description=f"Products, CN codes, goods categories and composition. {_MANDATORY}",
    )
    main_emission_source: EmissionSourceLocation | None = Field(
        default=None,
        description=f"Address or coordinates of the site's main emission source. {_MANDATORY}",
    )
    reporting_period: ReportingPeriod | None = Field(
        default=None, description=f"Reporting period. {_MANDATORY}"
    )
    methodology: MonitoringMethodology | None = Field(
        default=None, description=f"Methodology used: how emissions were monitored. {_MANDATORY}"
    )
    calculation_methodology: CalculationMethodology | None = Field(
        default=None,
        exclude_if=_not_stated,
        description="Under which rules the emissions were determined: the EU methodology "
        "(required from 1 January 2025, §4.3), a third country's equivalent, or other. Absent "
        "(forms written before this field): read from `methodology`, whose calculation- and "
        "measurement-based approaches and default values are the EU methodology's, and "
        "`other_equivalent` is not. Left out of the body while null.",
    )
    direct_embedded_emissions: EmbeddedEmissions | None = Field(
        default=None,
        description=f"Direct (scope 1) embedded emissions, t CO2e per t of goods, or the "
        f"default value. {_MANDATORY}",
    )
    indirect_embedded_emissions: EmbeddedEmissions | None = Field(
        default=None,
        description=f"Indirect (scope 2) embedded emissions, t CO2e per t of goods. {_MANDATORY}",
    )
    emission_factor: EmissionFactor | None = Field(
        default=None,
        description=f"Emission factor used, with rationale if not the IEA / EU figure. "
        f"{_MANDATORY}",
    )
    carbon_prices_paid: tuple[CarbonPricePaid, ...] = Field(
        default=(),
        description="Carbon prices paid at other installations or on precursors; "
        "mandatory (Appendix II) where any was paid, empty otherwise.",
    )
    verifier: Verifier | None = Field(
        default=None, description=f"Verifier of the report. {_MANDATORY}"
    )
    level_of_assurance: RuleCheckedCode | None = Field(
        default=None,
        description='Level of assurance of the verification: "reasonable" or "limited" '
        f"(ISAE 3410 / ISO 14064-3). {_MANDATORY}",
    )

    permission_to_publish: bool | None = Field(
        default=None,
        description="Permission to show the emissions on the public live sustainability "
        f"disclosures (§4.2.3); null means not given. {_VOLUNTARY}",
    )
    calculation_notes: Text | None = Field(
        default=None, description=f"How the emissions were calculated. {_VOLUNTARY}"
    )
    scope_3_tco2e_per_t: TonnesCO2ePerTonne | None = Field(
        default=None, description=f"Scope 3 emissions, t CO2e per t of goods. {_VOLUNTARY}"
    )


_FROM_THE_FORM = "as the accepted form (custody.cbam-form.submitted) states it"


def _accepted_version_1_to_2(body: JsonObject) -> JsonObject:
    """Version 1 carried none of the form's particulars the read side shows."""
    return {
        **body,
        "producer_name": None,
        "installation_id": None,
        "installation_name": None,
        "installation_country": None,
        "cn_codes": [],
        "verifier_name": None,
        "accreditation_body": None,
        "level_of_assurance": None,
        "carbon_prices_paid": [],
        "permission_to_publish": False,
        "reporting_period": None,
    }


class CbamFormAccepted(Contract):
    """The registry accepted a brand's form for a year; its emissions may be attached.

    From version 2 it also carries what importers and holders are shown of the form: the
    producer and installation, the products' CN codes, the verification, the carbon prices
    paid, the reporting period and whether the figures may be published (§4.2.3)."""

    MESSAGE_TYPE: ClassVar[str] = "custody.cbam-form.accepted"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {1: _accepted_version_1_to_2}

    form_id: Identifier = Field(description="Id of the form decided on.")
    brand: Identifier = Field(description="Brand the form reports for.")
    reporting_year: CalendarYear = Field(description="Calendar year the form covers.")
    emissions: EmissionsSummary = Field(
        description="Embedded emissions accepted, t CO2e per t of goods."
    )
    notes: tuple[Text, ...] = Field(
        default=(), description="Flags for a person, e.g. submitted after the deadline."
    )
    producer_name: Name | None = Field(
        default=None,
        description=f"Producer name, `producer_name` {_FROM_THE_FORM}; null in version 1.",
    )
    installation_id: Identifier | None = Field(
        default=None,
        description=f"Unique installation identifier, `installation_id` {_FROM_THE_FORM}; "
        "null in version 1.",
    )
    installation_name: Name | None = Field(
        default=None,
        description=f"Smelter / refiner / asset name, `installation_name` {_FROM_THE_FORM}; "
        "null in version 1.",
    )
    installation_country: CountryCode | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 code of the installation's country: the first two "
        f'letters of `un_locode` {_FROM_THE_FORM} ("NO" of "NO SUN"); null in version 1.',
    )
    cn_codes: tuple[RuleCheckedCode, ...] = Field(
        default=(),
        description="Combined Nomenclature codes of the form's products (`products[].cn_code` "
        f"{_FROM_THE_FORM}), each once, in the order of the products; empty in version 1.",
    )
    verifier_name: Name | None = Field(
        default=None,
        description=f"Verifier's company name, `verifier.company_name` {_FROM_THE_FORM}; null "
        "when the form is unverified, and in version 1.",
    )
    accreditation_body: Name | None = Field(
        default=None,
        description=f"Verifier's accreditation body, `verifier.accreditation_body` "
        f"{_FROM_THE_FORM}; null when the form is unverified, and in version 1.",
    )
    level_of_assurance: RuleCheckedCode | None = Field(
        default=None,
        description=f'Level of assurance ("reasonable" or "limited"), `level_of_assurance` '
        f"{_FROM_THE_FORM}; null when the form is unverified, and in version 1.",
    )
    carbon_prices_paid: tuple[CarbonPricePaid, ...] = Field(
        default=(),
        description=f"Carbon prices paid at other installations or on precursors, "
        f"`carbon_prices_paid` {_FROM_THE_FORM}; empty when none was paid, and in version 1.",
    )
    permission_to_publish: bool = Field(
        default=False,
        description="Whether the emissions may be shown on the public live sustainability "
        f"disclosures (§4.2.3, opt-in): `permission_to_publish` {_FROM_THE_FORM}, false when "
        "the form said false or left it null, and in version 1.",
    )
    reporting_period: ReportingPeriod | None = Field(
        default=None,
        description=f"Period the reported emissions cover, `reporting_period` {_FROM_THE_FORM}; "
        "null in version 1.",
    )
    rulebook_version: Identifier = Field(description="Version of the rulebook applied.")
    decided_at: AwareDatetime = Field(description="When the decision was made.")


class CbamFormRejected(Contract):
    """The registry rejected a brand's form, naming each rule it breaks."""

    MESSAGE_TYPE: ClassVar[str] = "custody.cbam-form.rejected"
    SCHEMA_VERSION: ClassVar[int] = 1

    form_id: Identifier = Field(description="Id of the form decided on.")
    brand: Identifier = Field(description="Brand the form reports for.")
    reporting_year: CalendarYear = Field(description="Calendar year the form covers.")
    violations: tuple[RuleViolation, ...] = Field(
        min_length=1, description="Every rule the form breaks."
    )
    rulebook_version: Identifier = Field(description="Version of the rulebook applied.")
    decided_at: AwareDatetime = Field(description="When the decision was made.")


class EmissionsAttached(Contract):
    """The registry attached a brand's reported emissions to one of its CoAs (§4.2.1)."""

    MESSAGE_TYPE: ClassVar[str] = "custody.emissions.attached"
    SCHEMA_VERSION: ClassVar[int] = 1

    ecoa_id: Identifier = Field(description="Id of the eCOA (CoA) the emissions attach to.")
    brand: Identifier = Field(description="Brand of the CoA and the form.")
    reporting_year: CalendarYear = Field(description="Calendar year of the form attached.")
    form_id: Identifier = Field(description="Id of the accepted form attached.")
    emissions: EmissionsSummary = Field(
        description="Embedded emissions attached, t CO2e per t of goods."
    )
    flagged_previous_year: bool = Field(
        description="True when the form is of the year before production, used until that "
        "year's form exists (Figure 4)."
    )
    attached_at: AwareDatetime = Field(description="When the emissions were attached.")
