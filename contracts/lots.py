"""Lots of metal arriving at an exchange-listed warehouse."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.base import Contract, JsonObject, Kilograms, Upcaster
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
    """One strapped bundle of ingots, as the warehouse sees it: the brand marked on its
    ingots and every production cast reference marked on them (or on its label)."""

    bundle_id: Identifier = Field(description="Id of the bundle within the lot.")
    brand: Identifier = Field(description="Brand marked on the bundle's ingots.")
    cast_references: tuple[Identifier, ...] = Field(
        min_length=1,
        description="Every production cast reference marked on the bundle's ingots or label.",
    )
    production_batch_references: tuple[Identifier, ...] = Field(
        default=(),
        description="The producer's batch references of the bundle's ingots where they "
        "differ from the cast references.",
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


def _bundle_version_1_to_2(bundle: JsonObject, brand: object) -> JsonObject:
    upgraded = dict(bundle)
    batch = upgraded.pop("production_batch_reference", None)
    upgraded["production_batch_references"] = [] if batch is None else [batch]
    if "cast_reference" in upgraded:
        upgraded["cast_references"] = [upgraded.pop("cast_reference")]
    return {**upgraded, "brand": brand}


def _arrived_version_1_to_2(body: JsonObject) -> JsonObject:
    """Version 1 stated one brand for the lot and one cast per bundle: each bundle is of the
    lot's brand and of its one cast (and batch)."""
    bundles = body.get("bundles")
    if not isinstance(bundles, list):
        return body
    return {
        **body,
        "bundles": [
            _bundle_version_1_to_2(bundle, body.get("brand"))
            if isinstance(bundle, dict)
            else bundle
            for bundle in bundles
        ],
    }


class LotArrived(Contract):
    """A lot arrived at a warehouse for placing on warrant, as the warehouse sees it: the
    brand it asks a warrant for, and the brand and casts marked on each bundle or piece."""

    MESSAGE_TYPE: ClassVar[str] = "custody.lot.arrived"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {1: _arrived_version_1_to_2}

    lot_id: Identifier = Field(description="Unique id of the lot.")
    warehouse_id: Identifier = Field(description="Party id of the receiving warehouse.")
    location: Name | None = Field(default=None, description="Warehouse location (city / shed).")
    brand: Identifier = Field(
        description="Brand the warehouse asks a warrant for (the partition key)."
    )
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
    piece_brands: tuple[Identifier, ...] = Field(
        default=(),
        description="Every brand marked on the lot's sows or T-bars; empty for ingots (each "
        "bundle states its brand), and read as the lot's brand alone when empty.",
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
