"""Records the gateway could not read, kept byte for byte with the reason."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field, StringConstraints

from contracts.base import Contract
from contracts.values import Base64Text, ValueObject

TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$")]


class DeadLetterReason(StrEnum):
    """Why a record was set aside instead of decided."""

    UNDECODABLE = "undecodable"
    HEADER_NOT_UTF8 = "header_not_utf8"
    MISSING_HEADER = "missing_header"
    BAD_HEADER = "bad_header"
    UNKNOWN_TYPE = "unknown_type"
    NOT_AN_INPUT = "not_an_input"
    SCHEMA_VIOLATION = "schema_violation"
    SCHEMA_VERSION = "schema_version"
    OVERSIZED = "oversized"
    SENDER_NOT_PERMITTED = "sender_not_permitted"
    COMMAND_REFUSED = "command_refused"
    PROCESSING_ERROR = "processing_error"
    OTHER = "other"


class OriginalHeader(ValueObject):
    """One header of the original record."""

    key: str = Field(description="Header key.")
    value_base64: Base64Text | None = Field(
        description="Header value bytes, standard base64; null for a null value."
    )


class DeadLetterError(ValueObject):
    """What went wrong reading the record."""

    kind: DeadLetterReason = Field(description="Category of the failure.")
    message: str = Field(description="Explanation, naming the offending part.")
    field: str | None = Field(
        default=None, description="Path of the offending field or header; null if none."
    )


class SourceRecord(ValueObject):
    """Where the original record was read from."""

    topic: TopicName = Field(description="Topic of the original record.")
    partition: int = Field(ge=0, description="Partition of the original record.")
    offset: int = Field(ge=0, description="Offset of the original record.")
    timestamp_ms: int | None = Field(
        ge=0, description="Record timestamp, milliseconds since the Unix epoch; null if none."
    )


class DeadLetterRecorded(Contract):
    """A record was set aside, unread, with the reason and its original bytes."""

    MESSAGE_TYPE: ClassVar[str] = "custody.dead-letter.recorded"
    SCHEMA_VERSION: ClassVar[int] = 1

    original_value_base64: Base64Text | None = Field(
        description="Original value bytes, standard base64; null for a null value (tombstone)."
    )
    original_key_base64: Base64Text | None = Field(
        description="Original key bytes, standard base64; null for a null key."
    )
    original_headers: tuple[OriginalHeader, ...] = Field(
        description="Original headers, in their original order."
    )
    error: DeadLetterError = Field(description="Why the record could not be read.")
    source: SourceRecord = Field(description="Where the record was read from.")
    dead_lettered_at: AwareDatetime = Field(description="When the record was set aside.")

    @property
    def source_topic(self) -> str:
        """Topic the record was read from (the record key of the dead-letter topic)."""
        return self.source.topic
