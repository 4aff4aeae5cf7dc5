"""What the ledger takes in. Every command has a unique ``posting_id`` (its idempotency key)
and a date it takes effect on; every posting that moves credits says S or G."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from gateway.ledger.model import AccountingScope, BalanceRule, CustodyReason, Level, Period

ADDED_LATER = "added_later"
"""Field metadata: a field added after commands were first digested. While it holds its
default it is left out of the digest, so a command sent before it existed, read again,
keeps its digest (the same command again, not another under a used id)."""


@dataclass(frozen=True, kw_only=True)
class RegisterCertificate:
    posting_id: str
    occurred_on: date
    certificate_id: str
    holder_group_id: str
    scope: AccountingScope
    separate_site_quality: bool = False


@dataclass(frozen=True, kw_only=True)
class RegisterSite:
    """A site with its unique id (CoC notes); it belongs to no certificate until it joins."""

    posting_id: str
    occurred_on: date
    site_id: str
    operator_party_id: str | None = None
    """The party that operates the site (the only one that may post its material)."""


@dataclass(frozen=True, kw_only=True)
class JoinCertificate:
    """The site is under the certificate from ``effective_on`` on.

    A site that carries S balances (it left a certificate taking them) may join only a
    certificate that keeps those accounts for it: a site-level certificate, or a group-level
    one as a nominated site (under scenario 3 only balances of a site quality). Otherwise
    the join is rejected.
    """

    posting_id: str
    site_id: str
    certificate_id: str
    effective_on: date
    nominated: bool = field(default=False, metadata={ADDED_LATER: True})
    """Under a group-level certificate: the site is nominated to run its own (S) material
    accounting (scenarios 2 and 3); otherwise it posts at G, into the group's accounts."""

    @property
    def occurred_on(self) -> date:
        return self.effective_on


@dataclass(frozen=True, kw_only=True)
class LeaveCertificate:
    """The site is no longer under the certificate from ``effective_on`` on (the last day
    of membership is the day before). It must be after every posting already booked for
    the site.

    ``TAKE_WITH_SITE``: under a site-level certificate the site's S accounts stay with the
    site, which holds them as its own; no balance changes. It can use them again after
    joining a certificate that keeps them (see ``JoinCertificate``). The group's G accounts
    (scenario 3) stay with the group. Under a group-level certificate the site takes
    nothing: the credits are the group's; material it takes along must be booked as a
    ``CertifiedOutput`` before it leaves.

    ``CLOSE``: under a site-level certificate every non-zero S account of the site is written
    off to zero with one closing update each, dated ``effective_on``. Under a group-level
    certificate there is nothing of the site's to close: the group's balance stays.
    """

    posting_id: str
    site_id: str
    certificate_id: str
    effective_on: date
    balance_rule: BalanceRule

    @property
    def occurred_on(self) -> date:
        return self.effective_on


@dataclass(frozen=True, kw_only=True)
class CertifiedInput:
    """Certified material received at a site with a CoC document: creates credits in the
    account of ``holder_id`` (the site for S, the certificate's group for G)."""

    posting_id: str
    occurred_on: date
    holder_id: str
    site_id: str
    material_quality: str
    quantity_kg: Decimal
    coc_document: str
    level: Level


@dataclass(frozen=True, kw_only=True)
class EligibleScrapInput:
    """Scrap received with the supplier's declaration that it is eligible under the
    standard's eligible-scrap rule. Reading: eligible scrap counts as certified input, kilo
    for kilo, at the level stated, exactly like ``CertifiedInput``; whether the scrap is
    eligible is settled before it reaches the ledger (the declaration is the evidence)."""

    posting_id: str
    occurred_on: date
    holder_id: str
    site_id: str
    material_quality: str
    quantity_kg: Decimal
    scrap_declaration: str
    level: Level


@dataclass(frozen=True, kw_only=True)
class NonCertifiedInput:
    """Material received without a CoC document: recorded in the journal, no credits."""

    posting_id: str
    occurred_on: date
    site_id: str
    material_quality: str
    quantity_kg: Decimal
    document: str


@dataclass(frozen=True, kw_only=True)
class CertifiedOutput:
    """Material sold as certified from a site: consumes credits of ``holder_id``'s account."""

    posting_id: str
    occurred_on: date
    holder_id: str
    site_id: str
    material_quality: str
    quantity_kg: Decimal
    claim_document: str
    level: Level


@dataclass(frozen=True, kw_only=True)
class PhysicalTransfer:
    """Material dispatched from one site to another under one certificate, under a transport
    document: it is in transit until the receiving site books its ``TransferReceipt``. At S
    level the credits go with it (the only way credits move between sites under site-level
    accounting): they leave the sender on dispatch and reach the receiver on receipt,
    belonging to neither in between; at G level the material moves and the credits stay in
    the group's account."""

    posting_id: str
    occurred_on: date
    from_site: str
    to_site: str
    material_quality: str
    quantity_kg: Decimal
    transport_document: str
    level: Level


@dataclass(frozen=True, kw_only=True)
class TransferReceipt:
    """The receiving site books a dispatched transfer as received: it must match the
    dispatch under ``transport_document`` in sites, quality, quantity and level, and is
    booked once; at S level it credits the receiving site."""

    posting_id: str
    occurred_on: date
    transport_document: str
    from_site: str
    to_site: str
    material_quality: str
    quantity_kg: Decimal
    level: Level


@dataclass(frozen=True, kw_only=True)
class LevelAllocation:
    """Scenario 3: the group's G credits converted into a site's separate site quality, so
    that a site may use group material. Only G -> S exists; S -> G is always rejected,
    because site-level material never flows back to group level."""

    posting_id: str
    occurred_on: date
    site_id: str
    material_quality: str
    quantity_kg: Decimal
    from_level: Level
    to_level: Level
    document: str


@dataclass(frozen=True, kw_only=True)
class CustodyMove:
    """Credits following a change of holder that a registry event implies (a lot arriving
    at a warehouse, a warrant issued or cancelled). Holders are registered sites or
    certificate groups; inside one certificate use a ``PhysicalTransfer`` instead."""

    posting_id: str
    occurred_on: date
    reason: CustodyReason
    from_holder_id: str
    to_holder_id: str
    material_quality: str
    quantity_kg: Decimal
    level: Level
    document_reference: str


@dataclass(frozen=True, kw_only=True)
class ClosePeriod:
    """Close a month or a year (``close_period``) for one certificate, or for every
    certificate registered when ``certificate_id`` is None (a close sent before closes named
    a certificate): dated the period's last day."""

    posting_id: str
    period: Period
    certificate_id: str | None = field(default=None, metadata={ADDED_LATER: True})

    @property
    def occurred_on(self) -> date:
        return self.period.end


Registration = RegisterCertificate | RegisterSite
MembershipChange = JoinCertificate | LeaveCertificate
Posting = (
    CertifiedInput
    | EligibleScrapInput
    | NonCertifiedInput
    | CertifiedOutput
    | PhysicalTransfer
    | TransferReceipt
    | LevelAllocation
    | CustodyMove
)
Command = Registration | MembershipChange | Posting | ClosePeriod

POSTINGS = (
    CertifiedInput,
    EligibleScrapInput,
    NonCertifiedInput,
    CertifiedOutput,
    PhysicalTransfer,
    TransferReceipt,
    LevelAllocation,
    CustodyMove,
)
