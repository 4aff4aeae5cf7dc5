"""Records the gateway could not read, set aside with the reason and their original bytes.

Version 2 keeps each original part (value, key, header values) only up to a cap, with the
size and SHA-256 of the whole part: a dead letter stays small whatever it sets aside, and the
whole record is still at its source topic/partition/offset. Version 1 kept every byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from contracts.base import Contract, JsonObject, Upcaster
from contracts.values import TEXT_MAX_CHARACTERS, Base64Text, Sha256Hex, Text, ValueObject

TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$")]

FIELD_PATH_MAX_CHARACTERS = 200
HEADER_KEY_MAX_CHARACTERS = 200
FieldPath = Annotated[str, StringConstraints(min_length=1, max_length=FIELD_PATH_MAX_CHARACTERS)]
HeaderKey = Annotated[str, StringConstraints(max_length=HEADER_KEY_MAX_CHARACTERS)]

NO_EXPLANATION = "no explanation was given"


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
    SENDER_NOT_AUTHENTICATED = "sender_not_authenticated"
    """Not signed by a key the exchange registered for its ce_partyid party."""
    COMMAND_REFUSED = "command_refused"
    PROCESSING_ERROR = "processing_error"
    OTHER = "other"


class KeptBytes(ValueObject):
    """Bytes of the original record: the first of them up to a cap, and the size and digest
    of all of them. When truncated, the rest is in the original record at its source."""

    kept_base64: Base64Text = Field(
        description="The first bytes of the original, standard base64: all of them unless "
        "truncated."
    )
    size_bytes: int = Field(ge=0, description="Size of the whole original, in bytes.")
    sha256: Sha256Hex = Field(description="SHA-256 of the whole original, lower-case hex.")
    truncated: bool = Field(
        description="True when kept_base64 holds fewer bytes than size_bytes (only the first)."
    )

    @model_validator(mode="after")
    def _kept_bytes_agree_with_the_size(self) -> Self:
        kept = _decoded_length(self.kept_base64)
        if kept > self.size_bytes:
            raise ValueError(f"kept_base64 holds {kept} bytes, more than size_bytes")
        if self.truncated != (kept < self.size_bytes):
            raise ValueError(
                f"truncated is {self.truncated} but kept_base64 holds {kept} of "
                f"{self.size_bytes} bytes"
            )
        return self


class OriginalHeader(ValueObject):
    """One header of the original record."""

    key: HeaderKey = Field(
        description=f"Header key; its first {HEADER_KEY_MAX_CHARACTERS} characters when "
        "key_truncated."
    )
    key_truncated: bool = Field(description="True when the original key is longer than key.")
    value: KeptBytes | None = Field(description="Header value bytes; null for a null value.")


class DeadLetterError(ValueObject):
    """What went wrong reading the record."""

    kind: DeadLetterReason = Field(description="Category of the failure.")
    message: Text = Field(
        description="Explanation, naming the offending part; a longer one is cut and ends "
        'with "… [N characters]".'
    )
    field: FieldPath | None = Field(
        default=None,
        description="Path of the offending field or header (cut like message when longer); "
        "null if none.",
    )


class SourceRecord(ValueObject):
    """Where the original record was read from."""

    topic: TopicName = Field(description="Topic of the original record.")
    partition: int = Field(ge=0, description="Partition of the original record.")
    offset: int = Field(ge=0, description="Offset of the original record.")
    timestamp_ms: int | None = Field(
        ge=0, description="Record timestamp, milliseconds since the Unix epoch; null if none."
    )


def _version_1_to_2(body: JsonObject) -> JsonObject:
    """A version 1 letter kept every byte: nothing is truncated, and the size and digest are
    those of the bytes it holds. Parts that do not have the version 1 shape are left for the
    version 2 validation to refuse, naming the field."""
    upgraded = dict(body)
    if "original_value_base64" in upgraded:
        upgraded["original_value"] = _whole_from_version_1(upgraded.pop("original_value_base64"))
    if "original_key_base64" in upgraded:
        upgraded["original_key"] = _whole_from_version_1(upgraded.pop("original_key_base64"))
    headers = upgraded.get("original_headers")
    if isinstance(headers, list):
        upgraded["original_headers"] = [_header_from_version_1(header) for header in headers]
        upgraded.setdefault("original_header_count", len(headers))
    error = upgraded.get("error")
    if isinstance(error, dict):
        upgraded["error"] = _error_from_version_1(error)
    return upgraded


class DeadLetterRecorded(Contract):
    """A record was set aside, unread, with the reason and its original bytes up to a cap."""

    MESSAGE_TYPE: ClassVar[str] = "custody.dead-letter.recorded"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {1: _version_1_to_2}

    original_value: KeptBytes | None = Field(
        description="Original value bytes; null for a null value (tombstone)."
    )
    original_key: KeptBytes | None = Field(description="Original key bytes; null for a null key.")
    original_headers: tuple[OriginalHeader, ...] = Field(
        description="Original headers in their original order; only the first of them when "
        "the record had more than a letter lists (original_header_count says how many)."
    )
    original_header_count: int = Field(
        ge=0, description="How many headers the original record had."
    )
    error: DeadLetterError = Field(description="Why the record could not be read.")
    source: SourceRecord = Field(description="Where the record was read from.")
    dead_lettered_at: AwareDatetime = Field(description="When the record was set aside.")

    @model_validator(mode="after")
    def _headers_listed_are_at_most_the_count(self) -> Self:
        if len(self.original_headers) > self.original_header_count:
            raise ValueError(
                f"original_headers lists {len(self.original_headers)} headers, more than "
                f"original_header_count ({self.original_header_count})"
            )
        return self

    @property
    def source_topic(self) -> str:
        """Topic the record was read from (the record key of the dead-letter topic)."""
        return self.source.topic


def kept_bytes(original: bytes, cap: int) -> KeptBytes:
    """The first ``cap`` bytes of ``original`` (none for a negative cap), with the size and
    SHA-256 of all of it."""
    kept = original[: max(cap, 0)]
    return KeptBytes(
        kept_base64=base64.b64encode(kept).decode("ascii"),
        size_bytes=len(original),
        sha256=hashlib.sha256(original).hexdigest(),
        truncated=len(kept) < len(original),
    )


def original_header(key: str, value: bytes | None, value_cap: int) -> OriginalHeader:
    """A header as a letter keeps it: the key up to ``HEADER_KEY_MAX_CHARACTERS``, the value
    up to ``value_cap`` bytes."""
    readable_key = _encodable(key)
    return OriginalHeader(
        key=readable_key[:HEADER_KEY_MAX_CHARACTERS],
        key_truncated=len(readable_key) > HEADER_KEY_MAX_CHARACTERS,
        value=None if value is None else kept_bytes(value, value_cap),
    )


def dead_letter_error(kind: DeadLetterReason, message: str, field: str | None) -> DeadLetterError:
    """The error of a letter, whatever the texts: a message or field path too long for the
    contract is cut (ending with its full length), an empty one replaced, characters that
    UTF-8 cannot encode replaced by "?"."""
    return DeadLetterError(
        kind=kind, message=_readable_message(message), field=_readable_field(field)
    )


def shortened(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters; when cut, it ends with
    ``… [N characters]`` giving its full length. Characters UTF-8 cannot encode (lone
    surrogates) become "?"."""
    readable = _encodable(text)
    if len(readable) <= limit:
        return readable
    note = f"… [{len(readable)} characters]"
    return (readable[: max(limit - len(note), 0)] + note)[:limit]


def _readable_message(message: str) -> str:
    return shortened(message, TEXT_MAX_CHARACTERS) or NO_EXPLANATION


def _readable_field(field: str | None) -> str | None:
    return None if field is None else shortened(field, FIELD_PATH_MAX_CHARACTERS) or None


def _encodable(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def _decoded_length(encoded: str) -> int:
    return len(encoded) // 4 * 3 - len(encoded) + len(encoded.rstrip("="))


def _whole_from_version_1(encoded: object) -> object:
    if not isinstance(encoded, str):
        return encoded
    try:
        original = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return encoded
    return kept_bytes(original, len(original)).model_dump(mode="json")


def _header_from_version_1(header: object) -> object:
    if not isinstance(header, dict) or not isinstance(header.get("key"), str):
        return header
    upgraded = dict(header)
    key = _encodable(upgraded.pop("key"))
    upgraded["key"] = key[:HEADER_KEY_MAX_CHARACTERS]
    upgraded["key_truncated"] = len(key) > HEADER_KEY_MAX_CHARACTERS
    if "value_base64" in upgraded:
        upgraded["value"] = _whole_from_version_1(upgraded.pop("value_base64"))
    return upgraded


def _error_from_version_1(error: JsonObject) -> JsonObject:
    upgraded = dict(error)
    message = upgraded.get("message")
    if isinstance(message, str):
        upgraded["message"] = _readable_message(message)
    field = upgraded.get("field")
    if isinstance(field, str):
        upgraded["field"] = _readable_field(field)
    return upgraded
