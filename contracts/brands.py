"""Brand listing: the exchange listing team's commands and the status changes they cause.

A suspended or delisted brand can no longer be warranted or re-warranted (§4.4).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.base import Contract
from contracts.values import Identifier, MetalContract, Name, Text

_NOTICE_DAYS = (
    "Days of notice given before the delisting takes effect, normally about 90 "
    "(three months); 0 when delisted at once to avoid a disorderly market (§4.4)."
)


class ListBrand(Contract):
    """List a producer's brand as good delivery for one or more contracts."""

    MESSAGE_TYPE: ClassVar[str] = "custody.brand.list"
    SCHEMA_VERSION: ClassVar[int] = 1

    command_id: Identifier = Field(description="Unique id of this command (idempotency key).")
    brand: Identifier = Field(description="Brand name as marked on the metal.")
    producer_id: Identifier = Field(description="Party id of the producer owning the brand.")
    country_of_origin: Name = Field(description="Country / region of origin of the brand.")
    contracts: tuple[MetalContract, ...] = Field(
        min_length=1, description="Contracts the brand is good delivery for."
    )
    reason: Text | None = Field(default=None, description="Why the brand is listed.")
    effective_at: AwareDatetime = Field(description="When the listing takes effect.")


class SuspendBrand(Contract):
    """Suspend a brand, for instance for failing to upload its CBAM form (§4.4)."""

    MESSAGE_TYPE: ClassVar[str] = "custody.brand.suspend"
    SCHEMA_VERSION: ClassVar[int] = 1

    command_id: Identifier = Field(description="Unique id of this command (idempotency key).")
    brand: Identifier = Field(description="Brand to suspend.")
    reason: Text = Field(description="Why the brand is suspended.")
    effective_at: AwareDatetime = Field(description="When the suspension takes effect.")


class ReinstateBrand(Contract):
    """Lift a brand's suspension once it is compliant again (§4.4)."""

    MESSAGE_TYPE: ClassVar[str] = "custody.brand.reinstate"
    SCHEMA_VERSION: ClassVar[int] = 1

    command_id: Identifier = Field(description="Unique id of this command (idempotency key).")
    brand: Identifier = Field(description="Brand to reinstate.")
    reason: Text = Field(description="Why the suspension is lifted.")
    effective_at: AwareDatetime = Field(description="When the brand is good delivery again.")


class DelistBrand(Contract):
    """Delist a brand, after notice or at once (§4.4)."""

    MESSAGE_TYPE: ClassVar[str] = "custody.brand.delist"
    SCHEMA_VERSION: ClassVar[int] = 1

    command_id: Identifier = Field(description="Unique id of this command (idempotency key).")
    brand: Identifier = Field(description="Brand to delist.")
    reason: Text = Field(description="Why the brand is delisted.")
    notice_period_days: int = Field(ge=0, description=_NOTICE_DAYS)
    effective_at: AwareDatetime = Field(description="When the delisting takes effect.")


class BrandListed(Contract):
    """A brand was listed as good delivery."""

    MESSAGE_TYPE: ClassVar[str] = "custody.brand.listed"
    SCHEMA_VERSION: ClassVar[int] = 1

    command_id: Identifier = Field(description="Id of the command that listed the brand.")
    brand: Identifier = Field(description="Brand listed.")
    producer_id: Identifier = Field(description="Party id of the producer owning the brand.")
    country_of_origin: Name = Field(description="Country / region of origin of the brand.")
    contracts: tuple[MetalContract, ...] = Field(
        min_length=1, description="Contracts the brand is good delivery for."
    )
    effective_at: AwareDatetime = Field(description="When the listing takes effect.")


class BrandSuspended(Contract):
    """A brand was suspended: its metal cannot be warranted until reinstated."""

    MESSAGE_TYPE: ClassVar[str] = "custody.brand.suspended"
    SCHEMA_VERSION: ClassVar[int] = 1

    command_id: Identifier = Field(description="Id of the command that suspended the brand.")
    brand: Identifier = Field(description="Brand suspended.")
    reason: Text = Field(description="Why the brand is suspended.")
    effective_at: AwareDatetime = Field(description="When the suspension takes effect.")


class BrandReinstated(Contract):
    """A brand's suspension was lifted."""

    MESSAGE_TYPE: ClassVar[str] = "custody.brand.reinstated"
    SCHEMA_VERSION: ClassVar[int] = 1

    command_id: Identifier = Field(description="Id of the command that reinstated the brand.")
    brand: Identifier = Field(description="Brand reinstated.")
    reason: Text = Field(description="Why the suspension was lifted.")
    effective_at: AwareDatetime = Field(description="When the brand is good delivery again.")


class BrandDelisted(Contract):
    """A brand was delisted: from the effective time none of it can be warranted."""

    MESSAGE_TYPE: ClassVar[str] = "custody.brand.delisted"
    SCHEMA_VERSION: ClassVar[int] = 1

    command_id: Identifier = Field(description="Id of the command that delisted the brand.")
    brand: Identifier = Field(description="Brand delisted.")
    reason: Text = Field(description="Why the brand is delisted.")
    notice_period_days: int = Field(ge=0, description=_NOTICE_DAYS)
    effective_at: AwareDatetime = Field(description="When the delisting takes effect.")
