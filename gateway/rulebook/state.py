"""What the registry knows about one brand when it decides: plain, immutable records.

Every decision is brand-local (the topics are keyed by brand), so a decision takes one
``BrandState`` and never looks at another brand's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from contracts.ecoa import ECoAKind
from contracts.values import MetalContract


class BrandStatus(StrEnum):
    LISTED = "listed"
    SUSPENDED = "suspended"
    DELISTED = "delisted"


@dataclass(frozen=True)
class BrandRecord:
    brand: str
    producer_id: str
    country_of_origin: str
    contracts: tuple[MetalContract, ...]
    status: BrandStatus
    status_reason: str | None = None


@dataclass(frozen=True)
class RecordedCast:
    """A production batch (cast) as its producer recorded it."""

    cast_reference: str
    production_date: date
    contract: MetalContract
    specification: str | None
    production_filtered: bool | None


@dataclass(frozen=True)
class CertifiedCast:
    """A cast covered by an accepted eCOA."""

    ecoa_id: str
    kind: ECoAKind
    cast_reference: str
    production_date: date | None
    specification: str
    created_on: date


@dataclass(frozen=True)
class EmissionsFigures:
    """Embedded emissions of a brand's metal for one year, t CO2e per t of goods."""

    direct: Decimal
    indirect: Decimal
    direct_is_default: bool
    indirect_is_default: bool
    alloying_as_primary: bool = False

    @property
    def total(self) -> Decimal:
        return self.direct + self.indirect


@dataclass(frozen=True)
class AcceptedForm:
    form_id: str
    reporting_year: int
    emissions: EmissionsFigures


@dataclass(frozen=True)
class BrandState:
    """Everything known about one brand: its listing, casts, certified casts and forms."""

    brand: str
    record: BrandRecord | None = None
    casts: Mapping[str, RecordedCast] = field(default_factory=dict)
    certified: Mapping[str, tuple[CertifiedCast, ...]] = field(default_factory=dict)
    forms: Mapping[int, AcceptedForm] = field(default_factory=dict)

    def certificates_of(self, cast_reference: str) -> tuple[CertifiedCast, ...]:
        return self.certified.get(cast_reference, ())
