"""Chain-of-custody mass balance: movements of certified material and the balances they move.

Certified inputs create credits, outputs sold as certified consume them, and a balance never
goes below zero (CoC notes).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.base import Contract, Decimal_, JsonObject, Kilograms, Upcaster
from contracts.values import AccountingLevel, CustodyAccount, Identifier


class CustodyMoveReason(StrEnum):
    """The registry event a custody move follows from."""

    LOT_ARRIVAL = "lot_arrival"
    WARRANT_ISSUED = "warrant_issued"
    WARRANT_CANCELLED = "warrant_cancelled"


class CustodyMovementRecorded(Contract):
    """A change of holder of certified metal that one of the registry's own events implies,
    sent by the registry to the ledger: a lot arriving at a warehouse moves it from the party
    that delivered it to the warehouse; a warrant issued moves it from the warehouse to the
    warrant holder; a warrant cancelled moves it back to the warehouse."""

    MESSAGE_TYPE: ClassVar[str] = "custody.movement.recorded"
    SCHEMA_VERSION: ClassVar[int] = 1

    posting_id: Identifier = Field(
        description='Unique id of the move (idempotency key), e.g. "lot-arrival.LOT-1".'
    )
    reason: CustodyMoveReason = Field(description="The registry event the move follows from.")
    from_holder_id: Identifier = Field(description="Site or group the metal leaves.")
    to_holder_id: Identifier = Field(description="Site or group the metal reaches.")
    lot_id: Identifier = Field(description="Lot the metal is.")
    warrant_id: Identifier | None = Field(
        default=None, description="Warrant issued or cancelled; null for a lot arrival."
    )
    quantity_kg: Kilograms = Field(description="Net weight of the lot, kg.")
    material_quality: Identifier = Field(
        description='Material quality claimed for the lot ("asi_aluminium").'
    )
    level: AccountingLevel = Field(
        description="Whether the material flowed at site (S) or group (G) level."
    )
    coc_document: Identifier = Field(description="Chain-of-custody document the lot arrived with.")
    occurred_on: date = Field(description="Date of the registry event.")


class CertifiedAccount(CustodyAccount):
    """A mass-balance account under the certificate it belongs to: two certificates held by
    one group keep apart accounts, and credits of one are never used under another."""

    certificate_id: Identifier | None = Field(
        description="Certificate the account belongs to; null only in a body written before "
        "accounts named their certificate (version 1)."
    )

    @property
    def key(self) -> str:
        """One string per account: "holder/quality/S@certificate" (or G)."""
        text = f"{self.holder_id}/{self.material_quality}/{self.level.value}"
        return text if self.certificate_id is None else f"{text}@{self.certificate_id}"


def accounts_without_certificate(accounts: object) -> object:
    """Version 1 accounts named no certificate: ``certificate_id`` null. Anything that does
    not have the version 1 shape is left for the validation to refuse, naming the field."""
    if isinstance(accounts, dict):
        return {**accounts, "certificate_id": None}
    if isinstance(accounts, list):
        return [accounts_without_certificate(account) for account in accounts]
    return accounts


def _balance_update_1_to_2(body: JsonObject) -> JsonObject:
    return {**body, "account": accounts_without_certificate(body.get("account"))}


class CustodyBalanceUpdated(Contract):
    """A posting changed a mass-balance account; the new balance is never below zero."""

    MESSAGE_TYPE: ClassVar[str] = "custody.balance.updated"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {1: _balance_update_1_to_2}

    account: CertifiedAccount = Field(
        description="The account posted to, under its certificate (version 2)."
    )
    posting_id: Identifier = Field(description="Unique id of the posting (idempotency key).")
    delta_kg: Decimal_ = Field(description="Change of the balance, kg; negative for a debit.")
    balance_kg: Kilograms = Field(description="Balance after the posting, kg.")
    occurred_on: date = Field(description="Business date of the posting.")
    recorded_at: AwareDatetime = Field(description="When the ledger booked the posting.")

    @property
    def account_key(self) -> str:
        """One string per account, the record key of the compacted balances topic."""
        return self.account.key
