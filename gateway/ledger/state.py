"""Everything one ledger partition knows, as one immutable value made of persistent maps
(``gateway.ledger.persistent``): booking a command touches a few paths of a few maps, never a
whole map, so a posting costs the same however many accounts and how long the history is.

The state holds no history: the accepted postings and their balance changes are facts on
the journal (``gateway.ledger.facts``) and on the balances topic. What it keeps of the past
is what the rules need: the decided posting ids (a digest of each command, to tell the same
command again from another under a used id), the month's flows per account (for period
statements) and the closed periods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from gateway.ledger.model import (
    ZERO,
    AccountKey,
    Certificate,
    Level,
    Membership,
    Period,
    Site,
    Transit,
)
from gateway.ledger.persistent import PMap
from gateway.violations import Violation


@dataclass(frozen=True)
class DecidedPosting:
    """What is kept of a decided posting id: the command's type and digest, and for a rejected
    one the rules it broke."""

    command_type: str
    digest: str
    reasons: tuple[Violation, ...] = ()
    documents: tuple[str, ...] = ()
    """For an accepted posting, the documents it booked (``plan.document_key``)."""


@dataclass(frozen=True)
class DocumentClaim:
    """A document this partition, its home, claimed for a posting decided on another
    partition (``plan.claimed_at_home``): that command's posting id and digest."""

    posting_id: str
    digest: str


@dataclass(frozen=True)
class Flow:
    """What went in and out of one account in one month."""

    in_kg: Decimal = ZERO
    out_kg: Decimal = ZERO


@dataclass(frozen=True)
class Closes:
    """The periods closed for one certificate, and the last day they close."""

    periods: tuple[Period, ...]
    through: date

    def with_period(self, period: Period) -> Closes:
        return Closes((*self.periods, period), max(self.through, period.end))


@dataclass(frozen=True)
class LedgerState:
    certificates: PMap[str, Certificate] = field(default_factory=PMap)
    certificates_by_holder: PMap[str, tuple[str, ...]] = field(default_factory=PMap)
    """Certificate ids by holder group (an index of ``certificates``)."""
    sites: PMap[str, Site] = field(default_factory=PMap)
    memberships: PMap[str, tuple[Membership, ...]] = field(default_factory=PMap)
    """By site id, oldest first."""
    balances: PMap[AccountKey, Decimal] = field(default_factory=PMap)
    holder_accounts: PMap[str, frozenset[AccountKey]] = field(default_factory=PMap)
    """The accounts of each holder (an index of ``balances``)."""
    applied: PMap[str, DecidedPosting] = field(default_factory=PMap)
    """The accepted posting ids."""
    rejections: PMap[str, DecidedPosting] = field(default_factory=PMap)
    """The rejected posting ids, with their reasons: a posting id is decided once."""
    last_posted_on: PMap[str, date] = field(default_factory=PMap)
    """By site id, the latest date of an accepted posting involving the site."""
    flows: PMap[date, PMap[AccountKey, Flow]] = field(default_factory=PMap)
    """By the first day of a month, each account's in and out in that month."""
    closes: PMap[str, Closes] = field(default_factory=PMap)
    """By certificate id, the periods closed for it (a few a year)."""
    certificate_accounts: PMap[str, PMap[AccountKey, bool]] = field(default_factory=PMap)
    """The accounts of each certificate (an index of ``balances``, for its period closes)."""
    transits: PMap[str, Transit] = field(default_factory=PMap)
    """The transfers dispatched and not yet received, by transport document (part of the
    directory every partition holds: only those in transit, so it stays small)."""
    booked_documents: PMap[str, str] = field(default_factory=PMap)
    """The posting id that booked each document (``plan.document_key``): a CoC document's
    quantity is credited once, a transport document moves its material once."""
    document_claims: PMap[str, DocumentClaim] = field(default_factory=PMap)
    """The documents whose home this partition is, claimed for postings decided on other
    partitions: no other posting may book them."""

    def decided(self, posting_id: str) -> DecidedPosting | None:
        """What was decided under ``posting_id`` (accepted or rejected), if anything."""
        rejected = self.rejections.get(posting_id)
        return rejected if rejected is not None else self.applied.get(posting_id)

    def document_booked_by(self, document: str) -> str | None:
        """The posting that booked (or, on another partition, claimed) a document, if any."""
        booked = self.booked_documents.get(document)
        if booked is not None:
            return booked
        claim = self.document_claims.get(document)
        return claim.posting_id if claim is not None else None

    def balance(self, account: AccountKey) -> Decimal:
        return self.balances.get(account, ZERO) or ZERO

    def certificate_on(self, site_id: str, day: date) -> Certificate | None:
        """The certificate the site belongs to on that day, by the memberships' dates."""
        membership = self.membership_on(site_id, day)
        return self.certificates[membership.certificate_id] if membership is not None else None

    def membership_on(self, site_id: str, day: date) -> Membership | None:
        """The site's membership in force on that day (a site has a few)."""
        for membership in self.memberships.get(site_id, ()) or ():
            if membership.covers(day):
                return membership
        return None

    def latest_membership(self, site_id: str) -> Membership | None:
        history = self.memberships.get(site_id, ()) or ()
        return history[-1] if history else None

    def site_balances(self, site_id: str) -> dict[AccountKey, Decimal]:
        """The site's own (S) accounts that are not zero."""
        accounts = self.holder_accounts.get(site_id, frozenset()) or frozenset()
        return {
            account: self.balances[account]
            for account in accounts
            if account.level is Level.SITE and self.balances[account] != ZERO
        }

    def certificates_held_by(self, holder_id: str) -> tuple[Certificate, ...]:
        held = self.certificates_by_holder.get(holder_id, ()) or ()
        return tuple(self.certificates[certificate_id] for certificate_id in held)

    def closed_through(self, certificate_id: str) -> date | None:
        """The certificate's last closed day: everything dated on or before it is closed."""
        closes = self.closes.get(certificate_id)
        return closes.through if closes is not None else None

    def closed_periods(self, certificate_id: str) -> tuple[Period, ...]:
        closes = self.closes.get(certificate_id)
        return closes.periods if closes is not None else ()
