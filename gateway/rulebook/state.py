"""What the registry knows when it decides: plain, immutable records.

Every decision is brand-local (the topics are keyed by brand), so a decision reads one brand
through ``BrandView`` and never looks at another brand's. A view answers point questions (a
cast, its certificates, a year's form, the casts whose reference reads the same once case,
spaces and hyphens are ignored), so what a decision costs does not depend on how many casts
the brand has. ``BrandState`` is the view held in memory (``gateway check``, unit tests); the
registry's store-backed view reads the same answers from its entities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from contracts.ecoa import ECoAKind
from contracts.lots import LotArrived
from contracts.values import Dimensions, ElementLevel, MetalContract, Shape
from contracts.warrants import RequestWarrant
from gateway.violations import Violation

_IGNORED_IN_REFERENCES = re.compile(r"[\s\-]")


def normalised_cast_reference(reference: str) -> str:
    """A cast reference with case, spaces and hyphens ignored: to tell a near miss from a
    cast that is simply unknown (SCR 4.5 asks for identical numbers)."""
    return _IGNORED_IN_REFERENCES.sub("", reference).casefold()


_LOOK_ALIKE = {"o": "0", "0": "o", "i": "1", "l": "1", "1": "il"}
"""Characters read for one another on a marking (in normal form): O and 0, I or l and 1."""


def near_miss_forms(reference: str) -> tuple[str, ...]:
    """The normal forms one slip away from ``reference``'s: one character read for its
    look-alike, or two adjacent characters transposed (its own normal form excluded)."""
    normal = normalised_cast_reference(reference)
    forms: dict[str, None] = {}
    for index, character in enumerate(normal):
        for alike in _LOOK_ALIKE.get(character, ""):
            forms[normal[:index] + alike + normal[index + 1 :]] = None
        following = normal[index + 1 : index + 2]
        if following and following != character:
            forms[normal[:index] + following + character + normal[index + 2 :]] = None
    forms.pop(normal, None)
    return tuple(forms)


class BrandStatus(StrEnum):
    LISTED = "listed"
    SUSPENDED = "suspended"
    DELISTED = "delisted"


@dataclass(frozen=True)
class ScheduledStatus:
    """A status the exchange announced with notice: it takes effect at ``effective_at``."""

    status: BrandStatus
    effective_at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class BrandRecord:
    """A brand's listing. ``status`` is in force until ``scheduled`` takes effect: what a
    decision sees is ``in_force_at`` its own time (§4.4 gives notice of a delisting)."""

    brand: str
    producer_id: str
    country_of_origin: str
    contracts: tuple[MetalContract, ...]
    status: BrandStatus
    status_reason: str | None = None
    scheduled: ScheduledStatus | None = None

    def in_force_at(self, moment: datetime) -> BrandRecord:
        """The record as of ``moment``: the scheduled status in place once it took effect."""
        change = self.scheduled
        if change is None or moment < change.effective_at:
            return self
        return replace(self, status=change.status, status_reason=change.reason, scheduled=None)


Levels = tuple[tuple[str, Decimal], ...]
"""A cast's chemistry as the state keeps it: (element symbol, detected % by mass) pairs, in
the order stated."""


def levels_of(chemistry: Iterable[ElementLevel]) -> Levels:
    return tuple((level.element, level.detected_percent) for level in chemistry)


@dataclass(frozen=True)
class RecordedCast:
    """A production batch (cast) as its producer recorded it."""

    cast_reference: str
    production_date: date
    contract: MetalContract
    specification: str | None
    production_filtered: bool | None
    chemistry: Levels | None
    """None for a cast recorded before the registry kept the chemistry (nothing to check)."""


@dataclass(frozen=True)
class CertifiedCast:
    """A cast covered by an accepted eCOA."""

    ecoa_id: str
    kind: ECoAKind
    cast_reference: str
    production_date: date | None
    specification: str
    created_on: date
    chemistry: Levels | None
    """What the eCOA certifies for the cast; None for a certificate accepted before the
    registry kept it (nothing to compare)."""
    production_filtered: bool | None


@dataclass(frozen=True)
class RejectedCertificate:
    """The latest eCOA rejected for a cast, with every rule it broke: a lot of that cast
    waits for a valid eCOA naming them (SCR 4.1, 4.5)."""

    ecoa_id: str
    kind: ECoAKind
    violations: tuple[Violation, ...]


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


class BrandView(Protocol):
    """What a decision may ask about one brand."""

    @property
    def brand(self) -> str: ...

    @property
    def record(self) -> BrandRecord | None: ...

    def recorded_cast(self, cast_reference: str) -> RecordedCast | None: ...

    def certificates_of(self, cast_reference: str) -> tuple[CertifiedCast, ...]: ...

    def rejected_certificate_of(self, cast_reference: str) -> RejectedCertificate | None:
        """The latest eCOA rejected for the cast, if any."""
        ...

    def form(self, reporting_year: int) -> AcceptedForm | None: ...

    def casts_read_as(self, normal_form: str) -> tuple[str, ...]:
        """The brand's known casts (recorded or certified) whose reference has this normal
        form (``normalised_cast_reference``), sorted."""
        ...


@dataclass(frozen=True)
class BrandState:
    """Everything known about one brand, in memory: its listing, casts, certified casts and
    forms."""

    brand: str
    record: BrandRecord | None = None
    casts: Mapping[str, RecordedCast] = field(default_factory=dict)
    certified: Mapping[str, tuple[CertifiedCast, ...]] = field(default_factory=dict)
    forms: Mapping[int, AcceptedForm] = field(default_factory=dict)
    rejected: Mapping[str, RejectedCertificate] = field(default_factory=dict)

    def recorded_cast(self, cast_reference: str) -> RecordedCast | None:
        return self.casts.get(cast_reference)

    def certificates_of(self, cast_reference: str) -> tuple[CertifiedCast, ...]:
        return self.certified.get(cast_reference, ())

    def rejected_certificate_of(self, cast_reference: str) -> RejectedCertificate | None:
        return self.rejected.get(cast_reference)

    def form(self, reporting_year: int) -> AcceptedForm | None:
        return self.forms.get(reporting_year)

    def casts_read_as(self, normal_form: str) -> tuple[str, ...]:
        known = {*self.casts, *self.certified}
        return tuple(sorted(ref for ref in known if normalised_cast_reference(ref) == normal_form))

    def certified_casts(self) -> Iterable[CertifiedCast]:
        return (cast for casts in self.certified.values() for cast in casts)


@dataclass(frozen=True)
class BrandAsOf:
    """A brand as a decision made at ``moment`` sees it: the listing in force then."""

    view: BrandView
    moment: datetime

    @property
    def brand(self) -> str:
        return self.view.brand

    @property
    def record(self) -> BrandRecord | None:
        record = self.view.record
        return None if record is None else record.in_force_at(self.moment)

    def recorded_cast(self, cast_reference: str) -> RecordedCast | None:
        return self.view.recorded_cast(cast_reference)

    def certificates_of(self, cast_reference: str) -> tuple[CertifiedCast, ...]:
        return self.view.certificates_of(cast_reference)

    def rejected_certificate_of(self, cast_reference: str) -> RejectedCertificate | None:
        return self.view.rejected_certificate_of(cast_reference)

    def form(self, reporting_year: int) -> AcceptedForm | None:
        return self.view.form(reporting_year)

    def casts_read_as(self, normal_form: str) -> tuple[str, ...]:
        return self.view.casts_read_as(normal_form)


@dataclass(frozen=True)
class LotBundle:
    """One bundle of ingots as the warehouse stated it: the brand and casts marked on it."""

    bundle_id: str
    brand: str
    cast_references: tuple[str, ...]
    pieces: int
    net_weight_kg: Decimal
    production_batch_references: tuple[str, ...] = ()
    gross_weight_kg: Decimal | None = None
    dimensions: Dimensions | None = None
    is_makeweight: bool = False


@dataclass(frozen=True)
class ArrivedLot:
    """A lot as the warehouse announced its arrival: what the warrant rules read."""

    lot_id: str
    warehouse_id: str
    brand: str
    contract: MetalContract
    shape: Shape
    cast_references: tuple[str, ...]
    total_pieces: int
    net_weight_kg: Decimal
    arrived_at: datetime
    production_date: date | None = None
    production_batch_references: tuple[str, ...] = ()
    bundles: tuple[LotBundle, ...] = ()
    piece_brands: tuple[str, ...] = ()
    """The brands marked on the lot's sows or T-bars; empty is the lot's brand alone."""
    piece_weight_kg: Decimal | None = None
    piece_dimensions: Dimensions | None = None


def arrived_lot(lot: LotArrived) -> ArrivedLot:
    return ArrivedLot(
        lot_id=lot.lot_id,
        warehouse_id=lot.warehouse_id,
        brand=lot.brand,
        contract=lot.contract,
        shape=lot.shape,
        cast_references=lot.cast_references,
        total_pieces=lot.total_pieces,
        net_weight_kg=lot.net_weight_kg,
        arrived_at=lot.arrived_at,
        production_date=lot.production_date,
        production_batch_references=lot.production_batch_references,
        bundles=tuple(
            LotBundle(
                bundle_id=bundle.bundle_id,
                brand=bundle.brand,
                cast_references=bundle.cast_references,
                pieces=bundle.pieces,
                net_weight_kg=bundle.net_weight_kg,
                production_batch_references=bundle.production_batch_references,
                gross_weight_kg=bundle.gross_weight_kg,
                dimensions=bundle.dimensions,
                is_makeweight=bundle.is_makeweight,
            )
            for bundle in lot.bundles
        ),
        piece_brands=lot.piece_brands,
        piece_weight_kg=lot.piece_weight_kg,
        piece_dimensions=lot.piece_dimensions,
    )


@dataclass(frozen=True)
class OpenRequest:
    """A warehouse's request to place a lot on warrant, as the registry keeps it."""

    request_id: str
    lot_id: str
    brand: str
    warehouse_id: str
    requested_at: datetime
    warrant_holder_id: str | None = None
    received_at: datetime | None = None
    """When the registry took the request in, from which it pends; None for a request kept
    before the registry recorded it (stamped when the next message of its brand comes)."""


def open_request(request: RequestWarrant, *, received_at: datetime | None = None) -> OpenRequest:
    return OpenRequest(
        request_id=request.request_id,
        lot_id=request.lot_id,
        brand=request.brand,
        warehouse_id=request.warehouse_id,
        requested_at=request.requested_at,
        warrant_holder_id=request.warrant_holder_id,
        received_at=received_at,
    )
