"""What the chain-of-custody ledger takes in, and what it answers (CoC notes).

Every command has a unique ``posting_id``, its idempotency key: the same command sent twice is
booked once, and a different command under a used id is rejected. Every command that moves
material says whether it flowed at site (S) or group (G) level. Dates are the business dates
the movements happened on; quantities are kilograms.

Who sends what (checked by the ledger): the exchange, which operates the ledger, records
certificates, sites, membership changes and period closes as the certification bodies decide
them; a site's operator records the site's material inputs, outputs, transfers and
allocations; the registry records the custody moves its own events imply
(``contracts.custody.CustodyMovementRecorded``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.base import Contract, Decimal_, JsonObject, Kilograms, Upcaster
from contracts.custody import CertifiedAccount, accounts_without_certificate
from contracts.values import (
    AccountingLevel,
    Identifier,
    Name,
    RuleViolation,
    Text,
    ValueObject,
)

_POSTING_ID = "Unique id of this command (idempotency key)."
_LEVEL = "Whether the material flowed at site (S) or group (G) level."
_QUALITY = 'Material quality ("asi_aluminium"); the ledger keeps one account per quality.'


class AccountingScope(StrEnum):
    """Where a certificate keeps its mass balance; the same for all its sites."""

    GROUP_LEVEL = "group_level"
    SITE_LEVEL = "site_level"


class LeavingBalanceRule(StrEnum):
    """What happens to a leaving site's own (S) balances.

    ``take_with_site``: the site keeps them and may use them again under a site-level
    certificate it joins. ``close``: they are written off to zero on the day it leaves.
    Under a group-level certificate the credits are the group's and stay with it either way.
    """

    TAKE_WITH_SITE = "take_with_site"
    CLOSE = "close"


class PeriodKind(StrEnum):
    MONTH = "month"
    YEAR = "year"


class RegisterCertificate(Contract):
    """A chain-of-custody certificate and the group (or single entity) holding it."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.register-certificate"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(description=_POSTING_ID)
    certificate_id: Identifier = Field(description="Unique id of the certificate.")
    holder_group_id: Identifier = Field(
        description="Id of the group or entity holding the certificate; it holds the group's "
        "(G) accounts."
    )
    accounting_scope: AccountingScope = Field(
        description="group_level (the default of the standard: one G account per quality for "
        "the group; nominated sites keep their own S accounts) or site_level (each site is "
        "its own certified entity with its own S accounts)."
    )
    separate_site_quality: bool = Field(
        default=False,
        description="Scenario 3: site-level material of the nominated sites is a quality of "
        "its own, kept apart from the group's; group material may be allocated to a "
        "nominated site, never back. Group-level only.",
    )
    effective_on: date = Field(description="Date the certificate is valid from.")


class RegisterSite(Contract):
    """A site with its unique id and the party operating it."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.register-site"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(description=_POSTING_ID)
    site_id: Identifier = Field(description="Unique id of the site.")
    name: Name | None = Field(default=None, description="Name of the site.")
    operator_party_id: Identifier = Field(
        description="Party that operates the site: the only party that may post its material."
    )
    registered_on: date = Field(description="Date the site is registered from.")


class JoinCertificate(Contract):
    """A site comes under a certificate (a new site, or one bought by the holder)."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.join-certificate"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {1: lambda body: dict(body)}
    """A version 1 join nominated no site: ``nominated`` false."""

    posting_id: Identifier = Field(description=_POSTING_ID)
    site_id: Identifier = Field(description="Site joining.")
    certificate_id: Identifier = Field(description="Certificate it joins.")
    effective_on: date = Field(description="First day the site is under the certificate.")
    nominated: bool = Field(
        default=False,
        description="Under a group-level certificate (version 2): the site is nominated to "
        "run its own site-level (S) material accounting, scenarios 2 and 3 of the CoC notes; "
        "otherwise it posts at G level, into the group's accounts.",
    )
    reason: Text | None = Field(default=None, description='Why ("acquired from ...").')


class LeaveCertificate(Contract):
    """A site leaves a certificate (sold, closed, or moved to another certificate)."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.leave-certificate"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(description=_POSTING_ID)
    site_id: Identifier = Field(description="Site leaving.")
    certificate_id: Identifier = Field(description="Certificate it leaves.")
    effective_on: date = Field(
        description="First day the site is no longer under the certificate; after every "
        "posting already booked for the site."
    )
    balance_rule: LeavingBalanceRule = Field(
        description="take_with_site or close: what happens to the site's own (S) balances."
    )
    reason: Text | None = Field(default=None, description='Why ("sold to ...").')


class RecordCertifiedInput(Contract):
    """Certified material received at a site with its chain-of-custody document."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.certified-input"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(description=_POSTING_ID)
    site_id: Identifier = Field(description="Site receiving the material.")
    holder_id: Identifier = Field(
        description="Account holder credited: the site itself for S, the certificate's group for G."
    )
    material_quality: Identifier = Field(description=_QUALITY)
    quantity_kg: Kilograms = Field(description="Quantity received, kg (more than 0).")
    level: AccountingLevel = Field(description=_LEVEL)
    coc_document: Identifier = Field(description="Reference of the chain-of-custody document.")
    occurred_on: date = Field(description="Date the material was received.")


class RecordEligibleScrapInput(Contract):
    """Scrap received with the supplier's declaration that it is eligible: it creates credits
    kilo for kilo, like certified input."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.eligible-scrap-input"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(description=_POSTING_ID)
    site_id: Identifier = Field(description="Site receiving the scrap.")
    holder_id: Identifier = Field(description="Account holder credited (site for S, group for G).")
    material_quality: Identifier = Field(description=_QUALITY)
    quantity_kg: Kilograms = Field(description="Quantity received, kg (more than 0).")
    level: AccountingLevel = Field(description=_LEVEL)
    scrap_declaration: Identifier = Field(
        description="Reference of the supplier's eligible-scrap declaration."
    )
    occurred_on: date = Field(description="Date the scrap was received.")


class RecordNonCertifiedInput(Contract):
    """Material received without a chain-of-custody document: recorded, no credits."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.non-certified-input"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(description=_POSTING_ID)
    site_id: Identifier = Field(description="Site receiving the material.")
    material_quality: Identifier = Field(description="What was received.")
    quantity_kg: Kilograms = Field(description="Quantity received, kg (more than 0).")
    document: Identifier = Field(description="Delivery document.")
    occurred_on: date = Field(description="Date the material was received.")


class RecordCertifiedOutput(Contract):
    """Material shipped or sold from a site with a certified claim: consumes credits."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.certified-output"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(description=_POSTING_ID)
    site_id: Identifier = Field(description="Site shipping the material.")
    holder_id: Identifier = Field(description="Account holder debited (site for S, group for G).")
    material_quality: Identifier = Field(description=_QUALITY)
    quantity_kg: Kilograms = Field(description="Quantity shipped, kg (more than 0).")
    level: AccountingLevel = Field(description=_LEVEL)
    claim_document: Identifier = Field(
        description="Invoice or delivery document carrying the certified claim."
    )
    occurred_on: date = Field(description="Date the material was shipped.")


class RecordPhysicalTransfer(Contract):
    """Material dispatched between two sites under one certificate: in transit until the
    receiving site records its receipt (``RecordTransferReceipt``). At S level the credits go
    with it (the only way credits move between sites under site-level accounting): they
    leave the sender now and reach the receiver on receipt, belonging to neither between."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.physical-transfer"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(description=_POSTING_ID)
    from_site: Identifier = Field(description="Site shipping (its operator sends this).")
    to_site: Identifier = Field(description="Site receiving.")
    material_quality: Identifier = Field(description=_QUALITY)
    quantity_kg: Kilograms = Field(description="Quantity moved, kg (more than 0).")
    level: AccountingLevel = Field(description=_LEVEL)
    transport_document: Identifier = Field(description="Transport document of the shipment.")
    occurred_on: date = Field(description="Date the material was shipped.")


class RecordTransferReceipt(Contract):
    """The receiving site received a dispatched transfer: it must match the dispatch under
    the same transport document (sites, quality, quantity, level), and is booked once."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.transfer-received"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(description=_POSTING_ID)
    transport_document: Identifier = Field(description="Transport document of the dispatch.")
    from_site: Identifier = Field(description="Site that dispatched the material.")
    to_site: Identifier = Field(description="Site receiving (its operator sends this).")
    material_quality: Identifier = Field(description=_QUALITY)
    quantity_kg: Kilograms = Field(description="Quantity received, kg: the quantity dispatched.")
    level: AccountingLevel = Field(description=_LEVEL)
    occurred_on: date = Field(description="Date the material was received.")


class AllocateToSiteLevel(Contract):
    """Scenario 3: group (G) credits converted into a site's separate site-level quality (S),
    so that the site may use group material. Only G to S exists."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.level-allocation"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(description=_POSTING_ID)
    site_id: Identifier = Field(description="Site receiving the allocation.")
    material_quality: Identifier = Field(description="Group material quality allocated.")
    quantity_kg: Kilograms = Field(description="Quantity allocated, kg (more than 0).")
    from_level: AccountingLevel = Field(description="Level the credits leave: G.")
    to_level: AccountingLevel = Field(description="Level the credits reach: S.")
    document: Identifier = Field(description="Internal allocation document.")
    occurred_on: date = Field(description="Date of the allocation.")


class ClosePeriod(Contract):
    """Close a calendar month or year for one certificate: a reconciliation per account of
    the certificate, carried forward; the other certificates stay open."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.close-period"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {1: lambda body: dict(body)}
    """A version 1 close named no certificate: it closes for every certificate, as it did."""

    posting_id: Identifier = Field(description=_POSTING_ID)
    period_kind: PeriodKind = Field(description="month or year.")
    period_start: date = Field(description="First day of the month or year to close.")
    certificate_id: Identifier | None = Field(
        default=None,
        description="Certificate whose period closes (version 2); null or absent: every "
        "certificate registered, as a version 1 close did.",
    )


def _accepted_1_to_2(body: JsonObject) -> JsonObject:
    return {**body, "accounts": accounts_without_certificate(body.get("accounts"))}


class LedgerPostingAccepted(Contract):
    """The ledger booked a command; its balance changes follow on the balances topic."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.posting-accepted"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {1: _accepted_1_to_2}

    posting_id: Identifier = Field(description="Command booked.")
    command_type: Identifier = Field(description="Message type of the command.")
    accounts: tuple[CertifiedAccount, ...] = Field(
        description="Accounts whose balance it changed, in order, each under its certificate "
        "(version 2); empty when it moved none."
    )
    decided_at: AwareDatetime = Field(description="When the ledger booked it.")


class LedgerPostingRejected(Contract):
    """The ledger refused a command, naming every rule it breaks; nothing was booked."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.posting-rejected"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(description="Command refused.")
    command_type: Identifier = Field(description="Message type of the command.")
    violations: tuple[RuleViolation, ...] = Field(
        min_length=1, description="Every rule it breaks; an overdraw names the available balance."
    )
    decided_at: AwareDatetime = Field(description="When the ledger decided.")


class AccountStatement(ValueObject):
    """One account over one closed period: closing = opening + in - out."""

    account: CertifiedAccount = Field(description="The account, under its certificate.")
    opening_kg: Decimal_ = Field(description="Balance carried in, kg.")
    in_kg: Decimal_ = Field(description="Credits booked in the period, kg.")
    out_kg: Decimal_ = Field(description="Debits booked in the period, kg.")
    closing_kg: Decimal_ = Field(description="Balance carried forward, kg.")


def _period_closed_1_to_2(body: JsonObject) -> JsonObject:
    statements = body.get("statements")
    if isinstance(statements, list):
        statements = [
            {**item, "account": accounts_without_certificate(item.get("account"))}
            if isinstance(item, dict)
            else item
            for item in statements
        ]
    return {**body, "statements": statements, "certificate_id": None}


class LedgerPeriodClosed(Contract):
    """A month or a year was closed, with the reconciliation statement of every account."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ledger.period-closed"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {1: _period_closed_1_to_2}

    posting_id: Identifier = Field(description="The close command.")
    period_kind: PeriodKind = Field(description="month or year.")
    period_start: date = Field(description="First day of the period.")
    period_end: date = Field(description="Last day of the period.")
    certificate_id: Identifier | None = Field(
        description="Certificate whose period closed (version 2); null: a close for several "
        "certificates (one naming none), and every version 1 body."
    )
    statements: tuple[AccountStatement, ...] = Field(
        description="One per account with an opening balance or a movement in the period."
    )
    decided_at: AwareDatetime = Field(description="When the period was closed.")


LEDGER_COMMANDS: tuple[type[Contract], ...] = (
    RegisterCertificate,
    RegisterSite,
    JoinCertificate,
    LeaveCertificate,
    RecordCertifiedInput,
    RecordEligibleScrapInput,
    RecordNonCertifiedInput,
    RecordCertifiedOutput,
    RecordPhysicalTransfer,
    RecordTransferReceipt,
    AllocateToSiteLevel,
    ClosePeriod,
)
LEDGER_DECISIONS: tuple[type[Contract], ...] = (
    LedgerPostingAccepted,
    LedgerPostingRejected,
    LedgerPeriodClosed,
)
