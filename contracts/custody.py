"""Chain-of-custody mass balance: movements of certified material and the balances they move.

Certified inputs create credits, outputs sold as certified consume them, and a balance never
goes below zero (CoC notes).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.base import Contract, Decimal_, Kilograms
from contracts.values import AccountingLevel, CustodyAccount, Identifier


class MovementKind(StrEnum):
    """What a custody movement records."""

    CERTIFIED_INPUT = "certified_input"
    ELIGIBLE_SCRAP_INPUT = "eligible_scrap_input"
    NON_CERTIFIED_INPUT = "non_certified_input"
    CERTIFIED_OUTPUT = "certified_output"
    PHYSICAL_TRANSFER = "physical_transfer"
    LOT_ARRIVAL = "lot_arrival"
    WARRANT_ISSUED = "warrant_issued"
    WARRANT_CANCELLED = "warrant_cancelled"


class CustodyMovementRecorded(Contract):
    """Material moved into, out of, or between holders, at site or group level."""

    MESSAGE_TYPE: ClassVar[str] = "custody.movement.recorded"
    SCHEMA_VERSION: ClassVar[int] = 1

    movement_id: Identifier = Field(description="Unique id of the movement.")
    kind: MovementKind = Field(description="What the movement records.")
    from_holder_id: Identifier | None = Field(
        default=None,
        description="Entity or site the material leaves; null for inputs from outside.",
    )
    to_holder_id: Identifier | None = Field(
        default=None,
        description="Entity or site the material reaches; null for outputs leaving.",
    )
    quantity_kg: Kilograms = Field(description="Quantity of material moved, kg.")
    material_quality: Identifier = Field(
        description='Material quality moved ("asi_aluminium"); site-level material of '
        "scenario 3 is a quality of its own."
    )
    level: AccountingLevel = Field(
        description="Whether the material flowed at site (S) or group (G) level."
    )
    document_reference: Identifier = Field(
        description="Chain-of-custody document (or warrant) that records the movement."
    )
    occurred_at: AwareDatetime = Field(description="When the movement happened.")


class CustodyBalanceUpdated(Contract):
    """A posting changed a mass-balance account; the new balance is never below zero."""

    MESSAGE_TYPE: ClassVar[str] = "custody.balance.updated"
    SCHEMA_VERSION: ClassVar[int] = 1

    account: CustodyAccount = Field(description="The account posted to.")
    posting_id: Identifier = Field(description="Unique id of the posting (idempotency key).")
    delta_kg: Decimal_ = Field(description="Change of the balance, kg; negative for a debit.")
    balance_kg: Kilograms = Field(description="Balance after the posting, kg.")
    as_of: AwareDatetime = Field(description="Time of the movement the posting applies.")

    @property
    def account_key(self) -> str:
        """One string per account, the record key of the compacted balances topic."""
        account = self.account
        return f"{account.holder_id}/{account.material_quality}/{account.level.value}"
