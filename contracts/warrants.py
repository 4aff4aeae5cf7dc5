"""Warrant requests from warehouses, the registry's decisions, and each warrant's state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.base import Contract, JsonObject, Kilograms, Upcaster
from contracts.values import (
    CalendarYear,
    EmissionsSummary,
    Identifier,
    MetalContract,
    MissingItem,
    Name,
    PieceCount,
    RuleReference,
    RuleViolation,
    Shape,
    Text,
    ValueObject,
)


class WarrantState(StrEnum):
    """Where a warrant request stands."""

    ISSUED = "issued"
    REJECTED = "rejected"
    PENDING = "pending"
    CANCELLED = "cancelled"


class CertificateOfAnalysisReference(ValueObject):
    """Date and reference number of a certificate of analysis lodged with the warehouse."""

    issued_on: date = Field(description="Date of the certificate.")
    reference: Identifier = Field(description="Reference number of the certificate.")


class WarrantEmissions(ValueObject):
    """The embedded emissions a warrant carries with its CoAs (§4.2.1)."""

    form_id: Identifier | None = Field(
        description="Accepted CBAM form the figures come from; null when the EU default "
        "values were applied (metal produced before the rule)."
    )
    reporting_year: CalendarYear | None = Field(
        description="Calendar year of that form; null with the default values."
    )
    from_previous_year: bool = Field(
        description="True when the form is of the year before production, used until that "
        "year's form exists (Figure 4)."
    )
    summary: EmissionsSummary = Field(description="The figures, t CO2e per t of goods.")


class WarrantDocument(ValueObject):
    """What every warrant states (SCR 3.3 (a) to (f)) and the clause it bears (SCR 3.4)."""

    contract: MetalContract = Field(description="Contract the warrant is for.")
    brand: Identifier = Field(description="(a) Name of the brand.")
    country_of_origin: Name = Field(description="(b) Country / region of origin.")
    shape: Shape = Field(description="(c) Shape.")
    certificates_of_analysis: tuple[CertificateOfAnalysisReference, ...] = Field(
        min_length=1,
        description="(d) Date(s) and reference number(s) of the certificate(s) of analysis.",
    )
    net_weight_kg: Kilograms = Field(description="(e) Weight, kg.")
    bundles: PieceCount = Field(description="(f) Number of bundles of ingots; 0 for sows.")
    pieces: PieceCount = Field(description="(f) Number of ingots, T-bars or sows.")
    warning_clause: Text = Field(
        description="The moisture WARNING clause every warrant bears, verbatim."
    )
    emissions: WarrantEmissions = Field(description="Embedded emissions attached to the CoAs.")


class RequestWarrant(Contract):
    """A warehouse asks to place a lot on warrant."""

    MESSAGE_TYPE: ClassVar[str] = "custody.warrant.request"
    SCHEMA_VERSION: ClassVar[int] = 1

    request_id: Identifier = Field(description="Unique id of this request (idempotency key).")
    lot_id: Identifier = Field(description="Lot to place on warrant.")
    brand: Identifier = Field(description="Brand of the lot.")
    warehouse_id: Identifier = Field(description="Party id of the requesting warehouse.")
    requested_at: AwareDatetime = Field(description="When the warehouse made the request.")
    warrant_holder_id: Identifier | None = Field(
        default=None,
        description="Party the warrant is to be issued to, whose account receives the lot's "
        "certified credits; null when none is named (then no custody moves with the warrant).",
    )


class CancelWarrant(Contract):
    """A warehouse asks to cancel an issued warrant (e.g. the holder takes delivery of the
    metal). A cancelled warrant no longer carries the lot's certified claim: the credits
    return to the warehouse."""

    MESSAGE_TYPE: ClassVar[str] = "custody.warrant.cancel"
    SCHEMA_VERSION: ClassVar[int] = 1

    cancellation_id: Identifier = Field(
        description="Unique id of this cancellation (idempotency key)."
    )
    warrant_id: Identifier = Field(description="Warrant to cancel.")
    lot_id: Identifier = Field(description="Lot the warrant is for.")
    brand: Identifier = Field(description="Brand of the lot (the partition key).")
    warehouse_id: Identifier = Field(
        description="Party id of the warehouse holding the lot (the sender)."
    )
    reason: Text = Field(description="Why the warrant is cancelled.")
    requested_at: AwareDatetime = Field(description="When the warehouse asked to cancel.")


def _issued_version_1_to_2(body: JsonObject) -> JsonObject:
    """Version 1 named neither the rules applied nor the notes."""
    return {**body, "rules_applied": [], "notes": []}


class WarrantIssued(Contract):
    """The registry placed a lot on warrant."""

    MESSAGE_TYPE: ClassVar[str] = "custody.warrant.issued"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {1: _issued_version_1_to_2}

    warrant_id: Identifier = Field(description="Unique id of the warrant.")
    lot_id: Identifier = Field(description="Lot the warrant is for.")
    request_id: Identifier = Field(description="Request the warrant answers.")
    document: WarrantDocument = Field(description="What the warrant states.")
    issued_at: AwareDatetime = Field(description="When the warrant was issued.")
    rulebook_version: Identifier = Field(description="Version of the rulebook applied.")
    warrant_holder_id: Identifier | None = Field(
        default=None,
        description="Party the warrant is issued to, as the request named it; null when the "
        "request named none.",
    )
    rules_applied: tuple[RuleReference, ...] = Field(
        default=(),
        description="The rules the warrant was issued under, as the source numbers them: the "
        'contract\'s, and on what basis its certificates and emissions stand ("SCR 4.3", '
        '"SCR 4.4", "§4.3 Figure 4", "§4.1.2", "SCR 4.2"); empty in version 1.',
    )
    notes: tuple[Text, ...] = Field(
        default=(),
        description="Flags a person should see (e.g. the previous year's form used); empty "
        "in version 1.",
    )

    @property
    def brand(self) -> str:
        """Brand of the warrant (the partition key), as its document states it."""
        return self.document.brand


class WarrantRejected(Contract):
    """The registry refused to place a lot on warrant, naming each rule it breaks."""

    MESSAGE_TYPE: ClassVar[str] = "custody.warrant.rejected"
    SCHEMA_VERSION: ClassVar[int] = 1

    request_id: Identifier = Field(description="Request decided on.")
    lot_id: Identifier = Field(description="Lot of the request.")
    brand: Identifier = Field(description="Brand of the lot (the partition key).")
    violations: tuple[RuleViolation, ...] = Field(
        min_length=1, description="Every rule the lot breaks."
    )
    rulebook_version: Identifier = Field(description="Version of the rulebook applied.")
    decided_at: AwareDatetime = Field(description="When the decision was made.")


def _pending_version_1_to_2(body: JsonObject) -> JsonObject:
    """Version 1 named no rejected certificate."""
    return {**body, "certificate_violations": []}


class WarrantPending(Contract):
    """A lot cannot be warranted yet: documents are missing that may still arrive."""

    MESSAGE_TYPE: ClassVar[str] = "custody.warrant.pending"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {1: _pending_version_1_to_2}

    request_id: Identifier = Field(description="Request decided on.")
    lot_id: Identifier = Field(description="Lot of the request.")
    brand: Identifier = Field(description="Brand of the lot (the partition key).")
    missing: tuple[MissingItem, ...] = Field(
        min_length=1, description="Every document still awaited, with the rule requiring it."
    )
    certificate_violations: tuple[RuleViolation, ...] = Field(
        default=(),
        description="Every rule broken by the rejected eCOAs of the lot's casts that no "
        "accepted eCOA covers (the field names the eCOA): what a valid eCOA must put right.",
    )
    rulebook_version: Identifier = Field(description="Version of the rulebook applied.")
    decided_at: AwareDatetime = Field(description="When the decision was made.")


class WarrantCancelled(Contract):
    """An issued warrant was cancelled."""

    MESSAGE_TYPE: ClassVar[str] = "custody.warrant.cancelled"
    SCHEMA_VERSION: ClassVar[int] = 1

    warrant_id: Identifier = Field(description="Warrant cancelled.")
    lot_id: Identifier = Field(description="Lot the warrant was for.")
    brand: Identifier = Field(description="Brand of the lot (the partition key).")
    reason: Text = Field(description="Why the warrant was cancelled.")
    cancelled_at: AwareDatetime = Field(description="When the warrant was cancelled.")


def _state_version_1_to_2(body: JsonObject) -> JsonObject:
    """Version 1 did not name the warrant's holder."""
    return {**body, "warrant_holder_id": None}


def _state_version_2_to_3(body: JsonObject) -> JsonObject:
    """Version 2 did not name the warehouse the lot is at."""
    return {**body, "warehouse_id": None}


class WarrantStateChanged(Contract):
    """The current state of one lot's warrant, for a compacted topic keyed by lot id."""

    MESSAGE_TYPE: ClassVar[str] = "custody.warrant.state-changed"
    SCHEMA_VERSION: ClassVar[int] = 3
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {
        1: _state_version_1_to_2,
        2: _state_version_2_to_3,
    }

    lot_id: Identifier = Field(description="Lot the state is of (the record key).")
    brand: Identifier = Field(description="Brand of the lot (the partition key).")
    warrant_id: Identifier | None = Field(
        default=None, description="Warrant id once one was issued; null before."
    )
    request_id: Identifier | None = Field(
        default=None, description="Latest request decided on; null when none was made."
    )
    state: WarrantState = Field(description="Current state.")
    violations: tuple[RuleViolation, ...] = Field(
        default=(), description="Reasons of the latest rejection; empty in other states."
    )
    missing: tuple[MissingItem, ...] = Field(
        default=(), description="Documents still awaited while pending; empty otherwise."
    )
    cancellation_reason: Text | None = Field(
        default=None, description="Why the warrant was cancelled; null in other states."
    )
    warrant_holder_id: Identifier | None = Field(
        default=None,
        description="Party holding the warrant: the holder it was issued to while issued, "
        "the holder it was cancelled for once cancelled; null before a warrant is issued, or "
        "when its request named no holder (null in version 1). A holder's subscriber filters "
        "on it.",
    )
    warehouse_id: Identifier | None = Field(
        default=None,
        description="Party id of the warehouse holding the lot, as the lot's arrival "
        "(custody.lot.arrived) named it; null while the registry knows no arrival of the lot "
        "(null in versions 1 and 2). A holder's or warehouse's reader finds where the metal "
        "is, and filters on it.",
    )
    updated_at: AwareDatetime = Field(description="When the state last changed.")
