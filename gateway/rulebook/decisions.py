"""The decisions the rulebook makes, as plain values (the adapters turn them into messages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from contracts.ecoa import ECoAKind
from contracts.values import MetalContract, Shape
from gateway.rulebook.state import CertifiedCast, EmissionsFigures
from gateway.rulebook.violations import Missing
from gateway.violations import Violation


@dataclass(frozen=True)
class ECoADecision:
    ecoa_id: str
    brand: str
    kind: ECoAKind
    violations: tuple[Violation, ...]
    certified: tuple[CertifiedCast, ...]
    """The casts this eCOA certifies once accepted (empty when rejected)."""
    rules_applied: tuple[str, ...] = ()
    """The rules an accepted eCOA was accepted under."""

    @property
    def accepted(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class RecordedCastDecision:
    """A recorded cast checked against its specification and its accepted eCOAs."""

    cast_reference: str
    violations: tuple[Violation, ...]
    specification: str | None = None
    """The specification an accepted cast was checked against."""
    rules_applied: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class FormDecision:
    form_id: str
    brand: str
    reporting_year: int
    violations: tuple[Violation, ...]
    emissions: EmissionsFigures | None
    """The figures accepted (None when rejected)."""
    notes: tuple[str, ...] = ()
    """Flags a person should see on an accepted form (e.g. submitted after the deadline)."""

    @property
    def accepted(self) -> bool:
        return not self.violations


class WarrantOutcome(StrEnum):
    ISSUED = "issued"
    REJECTED = "rejected"
    PENDING = "pending"


@dataclass(frozen=True)
class CertificateReference:
    """(d) the date and reference number of one certificate of analysis."""

    issued_on: date
    reference: str


@dataclass(frozen=True)
class AttachedEmissions:
    """The emissions a warrant carries: from an accepted form, or the EU defaults."""

    figures: EmissionsFigures
    form_id: str | None
    reporting_year: int | None
    from_previous_year: bool


@dataclass(frozen=True)
class WarrantTerms:
    """What the warrant states: fields (a)-(f), the WARNING clause and the emissions."""

    contract: MetalContract
    brand: str
    country_of_origin: str
    shape: Shape
    certificates: tuple[CertificateReference, ...]
    net_weight_kg: Decimal
    bundles: int
    pieces: int
    warning_clause: str
    emissions: AttachedEmissions


@dataclass(frozen=True)
class WarrantDecision:
    request_id: str
    lot_id: str
    brand: str
    outcome: WarrantOutcome
    violations: tuple[Violation, ...] = ()
    missing: tuple[Missing, ...] = ()
    terms: WarrantTerms | None = None
    notes: tuple[str, ...] = ()
    """Flags a person should see on an issued warrant (e.g. the previous year's form used)."""
    rules_applied: tuple[str, ...] = ()
    """The rules an issued warrant was issued under: the contract's, and the basis of its
    certificates and emissions."""
    certificate_violations: tuple[Violation, ...] = ()
    """The rules broken by the rejected eCOAs of the lot's casts that no accepted eCOA
    covers: what a pending lot's certificates must put right."""
