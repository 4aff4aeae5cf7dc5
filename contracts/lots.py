"""Lots of metal arriving at an exchange-listed warehouse."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.base import Contract, Kilograms
from contracts.values import (
    AccountingLevel,
    Dimensions,
    Identifier,
    MetalContract,
    Name,
    PieceCount,
    Shape,
    ValueObject,
)


class Bundle(ValueObject):
    """One strapped bundle of ingots; each comes from one production batch."""

    bundle_id: Identifier = Field(description="Id of the bundle within the lot.")
    cast_reference: Identifier = Field(
        description="Production cast reference marked on the bundle's ingots."
    )
    production_batch_reference: Identifier | None = Field(
        default=None,
        description="The producer's batch reference where it differs from the cast reference.",
    )
    pieces: PieceCount = Field(description="Number of ingots in the bundle.")
    net_weight_kg: Kilograms = Field(description="Net weight of the bundle, kg.")
    gross_weight_kg: Kilograms | None = Field(
        default=None, description="Gross weight including straps, kg."
    )
    dimensions: Dimensions | None = Field(default=None, description="Bundle dimensions, mm.")
    is_makeweight: bool = Field(
        default=False, description="True for the lot's one makeweight bundle, if any."
    )


class CustodyClaim(ValueObject):
    """The certified (chain-of-custody) claim a lot arrives with: who delivered the metal
    holding its certified credits, which material quality and accounting level they are of,
    and the document that carries the claim (CoC notes)."""

    delivered_by: Identifier = Field(
        description="Certified site or group that delivered the metal and held its credits."
    )
    material_quality: Identifier = Field(
        description='Material quality claimed for the lot, e.g. "asi_aluminium".'
    )
    level: AccountingLevel = Field(
        description="Whether the claimed material flowed at site (S) or group (G) level."
    )
    coc_document: Identifier = Field(description="Chain-of-custody document the lot arrived with.")


class LotArrived(Contract):
    """A lot of one brand and shape arrived at a warehouse for placing on warrant."""

    MESSAGE_TYPE: ClassVar[str] = "custody.lot.arrived"
    SCHEMA_VERSION: ClassVar[int] = 1

    lot_id: Identifier = Field(description="Unique id of the lot.")
    warehouse_id: Identifier = Field(description="Party id of the receiving warehouse.")
    location: Name | None = Field(default=None, description="Warehouse location (city / shed).")
    brand: Identifier = Field(description="Brand marked on the metal.")
    contract: MetalContract = Field(description="Contract the lot is delivered against.")
    shape: Shape = Field(description="Shape of every piece of the lot.")
    cast_references: tuple[Identifier, ...] = Field(
        min_length=1, description="Production cast references marked on the metal."
    )
    production_batch_references: tuple[Identifier, ...] = Field(
        default=(),
        description="The producer's batch references where they differ from cast references.",
    )
    bundles: tuple[Bundle, ...] = Field(
        default=(), description="Bundles of ingots; empty for sows and T-bars."
    )
    total_pieces: PieceCount = Field(description="Number of ingots, sows or T-bars in the lot.")
    net_weight_kg: Kilograms = Field(description="Net weight of the lot, kg.")
    piece_weight_kg: Kilograms | None = Field(
        default=None, description="Nominal net weight of one piece, kg."
    )
    piece_dimensions: Dimensions | None = Field(
        default=None, description="Dimensions of one piece, mm."
    )
    production_date: date | None = Field(
        description="Date the lot's metal was produced (the earliest of its casts); null "
        "when the warehouse cannot identify it, the case in which it may create a Basic "
        "eCOA (SCR 4.3)."
    )
    arrived_at: AwareDatetime = Field(description="When the lot arrived at the warehouse.")
    custody_claim: CustodyClaim | None = Field(
        default=None,
        description="The certified (chain-of-custody) claim the lot carries; null when the lot "
        "carries no certified (chain-of-custody) claim.",
    )
