"""What the gateway's HTTP API answers the parties: the response bodies its OpenAPI document
publishes. Quantities are exact decimal strings, as the read side keeps them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ApiModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


DecimalText = str


class Problem(ApiModel):
    """An error: what went wrong, for a person."""

    error: str = Field(description="What went wrong.")
    status: int = Field(description="The HTTP status.")


class AttachedEmissions(ApiModel):
    """The embedded emissions attached to one CoA (§4.2.1), t CO2e per t of goods."""

    form_id: str = Field(description="The accepted CBAM form the figures come from.")
    reporting_year: int = Field(description="Calendar year of that form.")
    from_previous_year: bool = Field(
        description="True when the form is of the year before production, used until that "
        "year's form exists (Figure 4)."
    )
    direct_tco2e_per_t: DecimalText = Field(description="Direct (scope 1) embedded emissions.")
    indirect_tco2e_per_t: DecimalText = Field(description="Indirect (scope 2) embedded emissions.")
    total_tco2e_per_t: DecimalText = Field(description="Direct plus indirect.")
    direct_basis: str = Field(description='"actual" (the producer\'s own) or "default" (EU).')
    indirect_basis: str = Field(description='"actual" or "default".')
    verified: bool = Field(description="True when the form names its verifier.")
    verifier: str | None = Field(description="The verifier's company name, when verified.")
    level_of_assurance: str | None = Field(description='"reasonable" or "limited".')


class CertificateView(ApiModel):
    """One eCOA (CoA) with the emissions attached to it."""

    ecoa_id: str
    brand: str
    kind: str = Field(description='"enhanced" or "basic".')
    cast_references: list[str]
    emissions: AttachedEmissions | None = Field(
        description="Null while no accepted form covers the CoA."
    )


class HeldWarrant(ApiModel):
    """A warrant its holder holds now, with what it states and its CoAs' emissions."""

    warrant_id: str
    lot_id: str
    status: str = Field(description='"issued" (a holder\'s view lists only current warrants).')
    brand: str
    contract: str
    shape: str
    country_of_origin: str
    net_weight_kg: DecimalText
    issued_at: str
    warehouse_id: str | None = Field(description="The warehouse holding the metal.")
    certificates: list[CertificateView]


class HeldWarrants(ApiModel):
    party_id: str
    warrants: list[HeldWarrant]


class BrandDisclosure(ApiModel):
    """A brand's emissions for one year, shown publicly because its producer opted in (§4.2.3)."""

    brand: str
    producer_name: str | None
    installation_country: str | None = Field(description="ISO 3166 alpha-2, from the UN/LOCODE.")
    reporting_year: int
    direct_tco2e_per_t: DecimalText
    indirect_tco2e_per_t: DecimalText
    total_tco2e_per_t: DecimalText
    direct_basis: str = Field(description='"actual" or "default".')
    indirect_basis: str = Field(description='"actual" or "default".')
    verified: bool
    verifier: str | None
    level_of_assurance: str | None


class PublicDisclosures(ApiModel):
    disclosures: list[BrandDisclosure] = Field(
        description="Each opted-in brand's standing form per year, newest year first."
    )


class ScopeDistribution(ApiModel):
    scope: str = Field(description='"direct", "indirect" or "total" (t CO2e per t).')
    brands: int = Field(description="How many listed brands reported.")
    mean: DecimalText
    percentiles: dict[str, DecimalText] = Field(
        description="p10, p25, p50, p75, p90: each the mean of the minimum group's figures "
        "nearest that rank, so that none is one brand's own."
    )


class YearStatistics(ApiModel):
    reporting_year: int
    brands: int
    distributions: list[ScopeDistribution]
    withheld: str | None = Field(description="Why the year's distribution is not shown.")


class AggregateStatistics(ApiModel):
    published_from: str = Field(description="No statistics before this date (§4.2.3).")
    minimum_group: int = Field(description="The fewest brands a distribution is shown for.")
    years: list[YearStatistics]
