"""Everything the ledger knows, as one immutable value. Its history (applied and rejected ids,
the journal, the balance entries) only grows, and is kept in values that share their storage
(``gateway.ledger.growing``), so a posting costs the same however long the history is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from gateway.ledger.commands import Command
from gateway.ledger.growing import GrowingLog, GrowingMap
from gateway.ledger.model import (
    ZERO,
    AccountKey,
    BalanceUpdate,
    Certificate,
    ClosedPeriod,
    Level,
    Membership,
    Site,
)
from gateway.violations import Violation


@dataclass(frozen=True)
class RejectedPosting:
    command: Command
    reasons: tuple[Violation, ...]


@dataclass(frozen=True)
class LedgerState:
    certificates: Mapping[str, Certificate] = field(default_factory=dict)
    sites: Mapping[str, Site] = field(default_factory=dict)
    memberships: Mapping[str, tuple[Membership, ...]] = field(default_factory=dict)
    """By site id, oldest first."""
    balances: Mapping[AccountKey, Decimal] = field(default_factory=dict)
    applied: Mapping[str, Command] = field(default_factory=GrowingMap)
    """The accepted commands by posting id."""
    rejections: Mapping[str, RejectedPosting] = field(default_factory=GrowingMap)
    """The rejected commands by posting id: a posting id is decided once."""
    journal: Sequence[Command] = field(default_factory=GrowingLog)
    """The accepted commands in the order they were accepted."""
    entries: Sequence[BalanceUpdate] = field(default_factory=GrowingLog)
    last_posted_on: Mapping[str, date] = field(default_factory=dict)
    """By site id, the latest date of an accepted posting involving the site."""
    closed_periods: tuple[ClosedPeriod, ...] = ()

    def decided(self, posting_id: str) -> Command | None:
        """The command decided under ``posting_id`` (accepted or rejected), if any."""
        rejected = self.rejections.get(posting_id)
        return rejected.command if rejected is not None else self.applied.get(posting_id)

    def balance(self, account: AccountKey) -> Decimal:
        return self.balances.get(account, ZERO)

    def certificate_on(self, site_id: str, day: date) -> Certificate | None:
        """The certificate the site belongs to on that day, by the memberships' dates."""
        for membership in self.memberships.get(site_id, ()):
            if membership.covers(day):
                return self.certificates[membership.certificate_id]
        return None

    def latest_membership(self, site_id: str) -> Membership | None:
        history = self.memberships.get(site_id, ())
        return history[-1] if history else None

    def site_balances(self, site_id: str) -> dict[AccountKey, Decimal]:
        """The site's own (S) accounts that are not zero."""
        return {
            account: kg
            for account, kg in self.balances.items()
            if account.holder_id == site_id and account.level is Level.SITE and kg != ZERO
        }

    def certificates_held_by(self, holder_id: str) -> tuple[Certificate, ...]:
        return tuple(c for c in self.certificates.values() if c.holder_group_id == holder_id)

    @property
    def closed_through(self) -> date | None:
        """The last closed day: everything dated on or before it is closed."""
        return max((closed.period.end for closed in self.closed_periods), default=None)
