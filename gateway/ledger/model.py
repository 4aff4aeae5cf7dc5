"""The ledger's plain values: levels, scopes, certificates, sites, accounts and periods.

Mass balance (CoC notes): certified inputs create credits in an account, certified outputs
consume them, and no account goes below zero. An account belongs to a holder (the group
that holds a certificate, or a site), holds one material quality, and says whether the
material flowed at site (S) or group (G) level. Quantities are ``Decimal`` kilograms.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)
SITE_QUALITY_SUFFIX = "/site"


class Level(StrEnum):
    """Whether certified material flowed at site (S) or group (G) level."""

    SITE = "S"
    GROUP = "G"


class AccountingScope(StrEnum):
    """The mass-balance scope of a certificate; the same for all its sites (CoC notes)."""

    GROUP_LEVEL = "group_level"
    SITE_LEVEL = "site_level"


class BalanceRule(StrEnum):
    """What happens to a leaving site's balances; see ``LeaveCertificate``."""

    TAKE_WITH_SITE = "take_with_site"
    CLOSE = "close"


class CustodyReason(StrEnum):
    """The registry event a custody move follows from."""

    LOT_ARRIVAL = "lot_arrival"
    WARRANT_ISSUED = "warrant_issued"
    WARRANT_CANCELLED = "warrant_cancelled"


def site_quality(material_quality: str) -> str:
    """The separate site-level quality of scenario 3: "asi_aluminium" -> "asi_aluminium/site"."""
    if is_site_quality(material_quality):
        return material_quality
    return material_quality + SITE_QUALITY_SUFFIX


def is_site_quality(material_quality: str) -> bool:
    return material_quality.endswith(SITE_QUALITY_SUFFIX)


@dataclass(frozen=True)
class Certificate:
    """A CoC certificate held by a group (or a single entity). The three site-level
    scenarios of the CoC notes (seed 000 lines 59-72) are configurations of it:

    1. site-level certification: a ``SITE_LEVEL`` certificate (each site its own entity,
       keeping its own S accounts);
    2. group certification, nominated sites as sub-entities: a ``GROUP_LEVEL`` certificate
       whose nominated sites keep their own S accounts, the others posting at G;
    3. a separate site-level quality: a ``GROUP_LEVEL`` certificate with
       ``separate_site_quality``; the group keeps G accounts of the material quality, each
       nominated site also keeps S accounts of its site quality (``site_quality``), filled
       from its own inputs or by allocation from G, never flowing back.

    A ``GROUP_LEVEL`` certificate with no site nominated (the default of the standard) keeps
    one G account per quality for the group, used by all its sites. A ``SITE_LEVEL``
    certificate with ``separate_site_quality`` is the form scenario 3 took before it was put
    under group certification; it is no longer registered, and one already registered keeps
    working as it did (every site posting at G and at S of the site quality).
    """

    certificate_id: str
    holder_group_id: str
    scope: AccountingScope
    separate_site_quality: bool = False

    def levels(self, *, nominated: bool) -> frozenset[Level]:
        """The levels a site may post at under the certificate (nominated or not)."""
        if self.scope is AccountingScope.SITE_LEVEL:
            if self.separate_site_quality:
                return frozenset({Level.GROUP, Level.SITE})
            return frozenset({Level.SITE})
        if not nominated:
            return frozenset({Level.GROUP})
        if self.separate_site_quality:
            return frozenset({Level.GROUP, Level.SITE})
        return frozenset({Level.SITE})

    @property
    def keeps_group_accounts(self) -> bool:
        """Whether the group keeps G accounts under it."""
        return self.scope is AccountingScope.GROUP_LEVEL or self.separate_site_quality

    def accounts_quality(self, material_quality: str, level: Level) -> str:
        """The quality an account of this certificate holds for material posted at a level."""
        if level is Level.SITE and self.separate_site_quality:
            return site_quality(material_quality)
        return material_quality


@dataclass(frozen=True)
class Site:
    """A site with its unique id and the certificate it currently belongs to."""

    site_id: str
    certificate_id: str | None = None
    operator_party_id: str | None = None


@dataclass(frozen=True)
class Membership:
    """A site under a certificate from ``joined_on`` until the day before ``left_on``;
    ``nominated``: under a group-level certificate, the site runs its own (S) accounting
    (scenarios 2 and 3)."""

    certificate_id: str
    joined_on: date
    left_on: date | None = None
    nominated: bool = False

    def covers(self, day: date) -> bool:
        return self.joined_on <= day and (self.left_on is None or day < self.left_on)

    @property
    def last_change(self) -> date:
        return self.left_on if self.left_on is not None else self.joined_on


@dataclass(frozen=True)
class Transit:
    """Material dispatched by a physical transfer and not yet received: its credits (at S)
    have left the sender's account and belong to neither site until the receipt."""

    dispatch_posting_id: str
    transport_document: str
    certificate_id: str
    from_site: str
    to_site: str
    material_quality: str
    quantity_kg: Decimal
    level: Level
    dispatched_on: date


@dataclass(frozen=True)
class AccountKey:
    """An account belongs to a certificate: a holder's credits of one quality at one level
    under that certificate. Two certificates held by one group keep apart accounts."""

    holder_id: str
    material_quality: str
    level: Level
    certificate_id: str

    @property
    def text(self) -> str:
        """One string per account: "holder/quality/S@certificate" (or G)."""
        return f"{self.holder_text}@{self.certificate_id}"

    @property
    def holder_text(self) -> str:
        """The account without its certificate: "holder/quality/S" or "holder/quality/G"."""
        return f"{self.holder_id}/{self.material_quality}/{self.level.value}"


@dataclass(frozen=True)
class BalanceUpdate:
    """One change of one account made by an accepted posting."""

    account: AccountKey
    posting_id: str
    occurred_on: date
    delta_kg: Decimal
    balance_kg: Decimal

    @property
    def level(self) -> Level:
        return self.account.level


class PeriodKind(StrEnum):
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True)
class Period:
    """A calendar month or a calendar year, both ends included."""

    start: date
    end: date
    kind: PeriodKind

    def __post_init__(self) -> None:
        expected = _calendar_bounds(self.start, self.kind)
        if (self.start, self.end) != expected:
            first, last = expected
            raise ValueError(
                f"a {self.kind.value} period runs {first} to {last}, not {self.start} to {self.end}"
            )

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = date(year, month, 1)
        return cls(start, _calendar_bounds(start, PeriodKind.MONTH)[1], PeriodKind.MONTH)

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31), PeriodKind.YEAR)

    @property
    def label(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"month {self.start:%Y-%m}"
        return f"year {self.start:%Y}"

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


def _calendar_bounds(day: date, kind: PeriodKind) -> tuple[date, date]:
    if kind is PeriodKind.MONTH:
        last_day = calendar.monthrange(day.year, day.month)[1]
        return date(day.year, day.month, 1), date(day.year, day.month, last_day)
    return date(day.year, 1, 1), date(day.year, 12, 31)


@dataclass(frozen=True)
class Reconciliation:
    """One account over one period: closing = opening + in - out."""

    account: AccountKey
    opening_kg: Decimal
    in_kg: Decimal
    out_kg: Decimal
    closing_kg: Decimal


@dataclass(frozen=True)
class ClosedPeriod:
    period: Period
    reconciliations: tuple[Reconciliation, ...]
