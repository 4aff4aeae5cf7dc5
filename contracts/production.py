"""Production batches (casts) a producer records, with their chemistry, and the registry's
decisions on them."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.base import Contract, Kilograms
from contracts.values import (
    Chemistry,
    Designation,
    Dimensions,
    Identifier,
    MetalContract,
    PieceCount,
    RuleReference,
    RuleViolation,
    Shape,
)


class ProductionBatchRecorded(Contract):
    """A producer cast a production batch of a listed brand (SCR 5.1, 5.2)."""

    MESSAGE_TYPE: ClassVar[str] = "custody.production-batch.recorded"
    SCHEMA_VERSION: ClassVar[int] = 1

    brand: Identifier = Field(description="Listed brand name marked on the metal.")
    cast_reference: Identifier = Field(description="Production cast reference marked on the metal.")
    batch_reference: Identifier | None = Field(
        default=None,
        description="The producer's batch reference where it differs from the cast reference.",
    )
    production_date: date = Field(description="Date the batch was cast.")
    site_id: Identifier = Field(
        description="Unique id of the installation (site) that cast the batch."
    )
    contract: MetalContract = Field(description="Contract the batch is produced for.")
    specification: Designation | None = Field(
        default=None,
        description='Alloy or grade designation the batch is cast to ("A380.1", "P1020A").',
    )
    chemistry: Chemistry = Field(
        description="Detected level of each element, % by mass; each element at most once."
    )
    production_filtered: bool | None = Field(
        default=None,
        description="Whether the metal was filtered in production (NASAAC SCR 1(a)); null "
        "when not stated.",
    )
    shape: Shape = Field(description="Shape the batch was cast in.")
    pieces: PieceCount = Field(description="Number of pieces cast.")
    total_net_weight_kg: Kilograms = Field(description="Net weight of the whole batch, kg.")
    piece_weight_kg: Kilograms = Field(description="Nominal net weight of one piece, kg.")
    piece_dimensions: Dimensions = Field(description="Dimensions of one piece, mm.")


class ProductionBatchAccepted(Contract):
    """The registry checked a recorded cast: its chemistry meets the specification it was
    cast to and agrees with every accepted eCOA of the cast."""

    MESSAGE_TYPE: ClassVar[str] = "custody.production-batch.accepted"
    SCHEMA_VERSION: ClassVar[int] = 1

    brand: Identifier = Field(description="Brand of the cast.")
    cast_reference: Identifier = Field(description="The cast checked.")
    specification: Designation = Field(description="The specification it was checked against.")
    rules_applied: tuple[RuleReference, ...] = Field(
        description="The rules the cast was checked under, as the source numbers them (the "
        "specification's, and SCR 4.5 where an accepted eCOA of the cast was compared)."
    )
    rulebook_version: Identifier = Field(description="Version of the rulebook applied.")
    decided_at: AwareDatetime = Field(description="When the decision was made.")


class ProductionBatchRejected(Contract):
    """The registry checked a recorded cast and found it off its specification, or
    disagreeing with an accepted eCOA of the cast: the cast stays recorded, but no lot of it
    is warranted until a corrected record (or an agreeing eCOA) comes."""

    MESSAGE_TYPE: ClassVar[str] = "custody.production-batch.rejected"
    SCHEMA_VERSION: ClassVar[int] = 1

    brand: Identifier = Field(description="Brand of the cast.")
    cast_reference: Identifier = Field(description="The cast checked.")
    violations: tuple[RuleViolation, ...] = Field(
        min_length=1, description="Every rule the recorded cast breaks."
    )
    rulebook_version: Identifier = Field(description="Version of the rulebook applied.")
    decided_at: AwareDatetime = Field(description="When the decision was made.")
