"""Electronic certificates of analysis (eCOAs) and the registry's decisions on them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.base import Contract, JsonObject, Upcaster
from contracts.values import (
    CastAnalysis,
    Designation,
    Identifier,
    MetalContract,
    PaperCoaReference,
    PartyRole,
    RuleReference,
    RuleViolation,
)


class ECoAKind(StrEnum):
    """Enhanced eCOAs come from the producer; Basic ones from a paper COA (SCR 4.3 to 4.7)."""

    ENHANCED = "enhanced"
    BASIC = "basic"


class ECoACreated(Contract):
    """A party created an eCOA for one or more casts of a brand."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ecoa.created"
    SCHEMA_VERSION: ClassVar[int] = 1

    ecoa_id: Identifier = Field(description="Unique id of the eCOA.")
    kind: ECoAKind = Field(description="Enhanced or Basic eCOA.")
    brand: Identifier = Field(description="Listed brand of the metal certified.")
    contract: MetalContract = Field(description="Contract whose specification is claimed.")
    specification_claimed: Designation = Field(
        description='Designation the metal is certified to meet ("A380.1", "P1020A").'
    )
    created_by: Identifier = Field(description="Party id of the creator.")
    created_by_role: PartyRole = Field(
        description="Role the creator acted in; only the producer may create an Enhanced "
        "eCOA (SCR 4.6)."
    )
    created_on: date = Field(description="Date the eCOA was created.")
    casts: tuple[CastAnalysis, ...] = Field(
        min_length=1, description="The casts the eCOA covers, each with its chemistry."
    )
    paper_coa: PaperCoaReference | None = Field(
        default=None,
        description="Paper COA a Basic eCOA was made from; a Basic eCOA without it is "
        "rejected by the rulebook (SCR 4.7).",
    )
    lot_id: Identifier | None = Field(
        default=None,
        description="Lot a warehouse created a Basic eCOA for when the production date is "
        "unknown (SCR 4.3).",
    )
    includes_english: bool | None = Field(
        default=None,
        description="Whether the documentation includes English; null when not stated.",
    )


def _accepted_version_1_to_2(body: JsonObject) -> JsonObject:
    """Version 1 named no rule applied."""
    return {**body, "rules_applied": []}


class ECoAAccepted(Contract):
    """The registry accepted an eCOA: its casts may back a warrant."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ecoa.accepted"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {1: _accepted_version_1_to_2}

    ecoa_id: Identifier = Field(description="Id of the eCOA decided on.")
    brand: Identifier = Field(description="Brand of the eCOA.")
    kind: ECoAKind = Field(description="Enhanced or Basic eCOA.")
    cast_references: tuple[Identifier, ...] = Field(
        min_length=1, description="Cast references the eCOA certifies."
    )
    rules_applied: tuple[RuleReference, ...] = Field(
        default=(),
        description="The rules the eCOA was accepted under, as the source numbers them: the "
        'specification\'s, SCR 4.5, and who may create it ("SCR 4.6" Enhanced by the producer, '
        '"SCR 4.3" a warehouse\'s for unknown production date, "SCR 4.4(b)" ...); empty in '
        "version 1.",
    )
    rulebook_version: Identifier = Field(description="Version of the rulebook applied.")
    decided_at: AwareDatetime = Field(description="When the decision was made.")


class ECoARejected(Contract):
    """The registry rejected an eCOA, naming each rule it breaks."""

    MESSAGE_TYPE: ClassVar[str] = "custody.ecoa.rejected"
    SCHEMA_VERSION: ClassVar[int] = 1

    ecoa_id: Identifier = Field(description="Id of the eCOA decided on.")
    brand: Identifier = Field(description="Brand of the eCOA.")
    violations: tuple[RuleViolation, ...] = Field(
        min_length=1, description="Every rule the eCOA breaks."
    )
    rulebook_version: Identifier = Field(description="Version of the rulebook applied.")
    decided_at: AwareDatetime = Field(description="When the decision was made.")
