"""The envelope: CloudEvents 1.0 in Kafka binary mode.

The body is the record value (JSON, UTF-8); the event's attributes travel as record headers
``ce_id``, ``ce_source``, ``ce_type``, ``ce_specversion``, ``ce_time``, ``ce_subject`` plus
the extensions ``ce_correlationid``, ``ce_causationid`` and ``ce_partyid`` (the sender party),
and ``content-type``. Encoding and decoding here are pure: they take and give plain header
lists and bytes, so any Kafka client (or a test) can use them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from contracts.base import Contract, SchemaVersionError, upcast
from contracts.error_text import TIME_FORMAT, problem_text, problems_text, unknown_type_text
from contracts.json_numbers import dump_exact, may_lose_digits, parse_exact, unreadable_number
from contracts.message_types import MESSAGE_TYPES, UnknownMessageType, contract_for

SPEC_VERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"

HEADER_ID = "ce_id"
HEADER_SOURCE = "ce_source"
HEADER_TYPE = "ce_type"
HEADER_SPEC_VERSION = "ce_specversion"
HEADER_TIME = "ce_time"
HEADER_SUBJECT = "ce_subject"
HEADER_CORRELATION_ID = "ce_correlationid"
HEADER_CAUSATION_ID = "ce_causationid"
HEADER_SENDER_PARTY = "ce_partyid"
HEADER_CONTENT_TYPE = "content-type"

REQUIRED_HEADERS = (
    HEADER_ID,
    HEADER_SOURCE,
    HEADER_TYPE,
    HEADER_SPEC_VERSION,
    HEADER_TIME,
    HEADER_SENDER_PARTY,
    HEADER_CONTENT_TYPE,
)

RawHeaders = Sequence[tuple[str | bytes, bytes | None]]


class Envelope(BaseModel):
    """The CloudEvents attributes of one message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="Unique id of this event.")
    source: str = Field(
        min_length=1, max_length=500, description="URI-reference of the system that sent it."
    )
    type: str = Field(min_length=1, max_length=200, description="Message type (ce_type).")
    specversion: str = Field(default=SPEC_VERSION, description="CloudEvents version, 1.0.")
    time: AwareDatetime = Field(description="When the event happened (RFC 3339).")
    subject: str | None = Field(
        default=None, max_length=500, description="What it is about: a brand, lot or warrant."
    )
    correlation_id: str = Field(
        min_length=1, max_length=200, description="Id shared by every message of one flow."
    )
    causation_id: str | None = Field(
        default=None, max_length=200, description="Id of the message that caused this one."
    )
    sender_party_id: str = Field(
        min_length=1, max_length=200, description="Party that sent the message."
    )
    content_type: str = Field(default=JSON_CONTENT_TYPE, description="Media type of the body.")


def new_envelope(
    body: Contract,
    *,
    source: str,
    sender_party_id: str,
    time: datetime,
    subject: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    event_id: str | None = None,
) -> Envelope:
    """An envelope for ``body``; a new flow correlates on its own id."""
    event_id = event_id or str(uuid.uuid4())
    return Envelope(
        id=event_id,
        source=source,
        type=body.MESSAGE_TYPE,
        time=time,
        subject=subject,
        correlation_id=correlation_id or event_id,
        causation_id=causation_id,
        sender_party_id=sender_party_id,
    )


def envelope_headers(envelope: Envelope) -> list[tuple[str, bytes]]:
    attributes: list[tuple[str, str | None]] = [
        (HEADER_ID, envelope.id),
        (HEADER_SOURCE, envelope.source),
        (HEADER_TYPE, envelope.type),
        (HEADER_SPEC_VERSION, envelope.specversion),
        (HEADER_TIME, envelope.time.isoformat()),
        (HEADER_SUBJECT, envelope.subject),
        (HEADER_CORRELATION_ID, envelope.correlation_id),
        (HEADER_CAUSATION_ID, envelope.causation_id),
        (HEADER_SENDER_PARTY, envelope.sender_party_id),
        (HEADER_CONTENT_TYPE, envelope.content_type),
    ]
    return [(name, value.encode("utf-8")) for name, value in attributes if value is not None]


def answer_headers(
    *,
    event_id: str,
    source: str,
    message_type: str,
    time: str,
    subject: str,
    cause: Envelope,
    sender_party_id: str,
) -> list[tuple[str, bytes]]:
    """``envelope_headers`` of an answer to ``cause`` (same correlation, caused by it), built
    from values already checked: ``time`` is an RFC 3339 text; nothing is validated again."""
    return [
        (HEADER_ID, event_id.encode()),
        (HEADER_SOURCE, source.encode()),
        (HEADER_TYPE, message_type.encode()),
        (HEADER_SPEC_VERSION, _SPEC_VERSION_BYTES),
        (HEADER_TIME, time.encode()),
        (HEADER_SUBJECT, subject.encode()),
        (HEADER_CORRELATION_ID, cause.correlation_id.encode()),
        (HEADER_CAUSATION_ID, cause.id.encode()),
        (HEADER_SENDER_PARTY, sender_party_id.encode()),
        (HEADER_CONTENT_TYPE, _JSON_CONTENT_TYPE_BYTES),
    ]


_SPEC_VERSION_BYTES = SPEC_VERSION.encode()
_JSON_CONTENT_TYPE_BYTES = JSON_CONTENT_TYPE.encode()


def encode_body(body: Contract) -> bytes:
    """The body's JSON (UTF-8), every number exact; straight from pydantic-core's bytes, the
    same as ``body.model_dump_json()`` without its decoding and encoding again."""
    return dump_exact(partial(body.__pydantic_serializer__.to_json, body))


class DecodeErrorKind(StrEnum):
    UNDECODABLE = "undecodable"
    HEADER_NOT_UTF8 = "header_not_utf8"
    MISSING_HEADER = "missing_header"
    BAD_HEADER = "bad_header"
    UNKNOWN_TYPE = "unknown_type"
    SCHEMA_VERSION = "schema_version"
    SCHEMA_VIOLATION = "schema_violation"
    OVERSIZED = "oversized"


class MessageDecodeError(ValueError):
    """A record that cannot be read as a message, with what is wrong and where."""

    def __init__(self, kind: DecodeErrorKind, field: str | None, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DecodedMessage:
    envelope: Envelope
    body: Contract


def decode_message(
    headers: RawHeaders, value: bytes | None, *, max_value_bytes: int | None = None
) -> DecodedMessage:
    """Read a record's headers and value as an envelope and a typed, current-version body.

    Raises ``MessageDecodeError`` naming the header or body field at fault.
    """
    attributes = _decode_headers(headers)
    envelope = _read_envelope(attributes)
    contract = _contract_of(envelope.type)
    if value is None:
        raise MessageDecodeError(DecodeErrorKind.UNDECODABLE, None, "the record has no value")
    if max_value_bytes is not None and len(value) > max_value_bytes:
        raise MessageDecodeError(
            DecodeErrorKind.OVERSIZED,
            None,
            f"the record value has {len(value)} bytes, more than the {max_value_bytes} allowed",
        )
    return DecodedMessage(envelope=envelope, body=read_body_bytes(contract, value))


def read_body_bytes(contract: type[Contract], value: bytes) -> Contract:
    """A body from the record's bytes: validated straight from the JSON when it is of the
    current version and valid and pydantic reads its every number exactly (the common case,
    half the work of parsing and then validating); anything else goes the long way, which
    reads every number exactly, upcasts and names what is wrong."""
    if not may_lose_digits(value):
        try:
            body = contract.model_validate_json(value)
        except ValidationError:
            body = None
        if body is not None and body.schema_version == contract.SCHEMA_VERSION:
            return body
    return read_body(contract, _parse_json_object(value))


def decode_body(message_type: str, raw: object) -> Contract:
    """A body given as parsed JSON (``contracts.json_numbers.parse_exact``), read as its
    current-version contract (for callers that carry messages without Kafka headers, such as
    ``gateway check``)."""
    if not isinstance(raw, dict):
        raise MessageDecodeError(
            DecodeErrorKind.UNDECODABLE,
            "body",
            f"the body is JSON {type(raw).__name__}, not an object",
        )
    try:
        contract = contract_for(message_type)
    except UnknownMessageType:
        raise MessageDecodeError(
            DecodeErrorKind.UNKNOWN_TYPE, "type", unknown_type_text(message_type, MESSAGE_TYPES)
        ) from None
    return read_body(contract, raw)


def read_body(contract: type[Contract], raw: dict[str, object]) -> Contract:
    """Upcast and validate a parsed body (``contracts.json_numbers.parse_exact``); errors
    name the field."""
    unreadable = unreadable_number(raw)
    if unreadable is not None:
        location, problem = unreadable
        field = field_path(location)
        message = f"the body breaks its schema: {field}: {problem}"
        raise MessageDecodeError(DecodeErrorKind.SCHEMA_VIOLATION, field, message)
    try:
        current = upcast(contract, raw)
    except SchemaVersionError as error:
        raise MessageDecodeError(
            DecodeErrorKind.SCHEMA_VERSION, "schema_version", str(error)
        ) from None
    try:
        return contract.model_validate(current)
    except ValidationError as error:
        field, message = _describe_validation_error(error)
        raise MessageDecodeError(DecodeErrorKind.SCHEMA_VIOLATION, field, message) from None


def _decode_headers(headers: RawHeaders) -> dict[str, str]:
    decoded: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = _utf8(raw_name, "a header name") if isinstance(raw_name, bytes) else raw_name
        if raw_value is None:
            continue
        decoded[name] = _utf8(raw_value, f"header {name}", field=name)
    return decoded


def _utf8(raw: bytes, what: str, field: str | None = None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MessageDecodeError(
            DecodeErrorKind.HEADER_NOT_UTF8,
            field,
            f"{what} is not valid UTF-8 (byte 0x{raw[error.start]:02x} at position {error.start})",
        ) from None


def _read_envelope(attributes: dict[str, str]) -> Envelope:
    for name in REQUIRED_HEADERS:
        if not attributes.get(name):
            raise MessageDecodeError(
                DecodeErrorKind.MISSING_HEADER, name, f"header {name} is missing or empty"
            )
    if attributes[HEADER_SPEC_VERSION] != SPEC_VERSION:
        raise MessageDecodeError(
            DecodeErrorKind.BAD_HEADER,
            HEADER_SPEC_VERSION,
            f"header {HEADER_SPEC_VERSION} is {attributes[HEADER_SPEC_VERSION]!r}; "
            f"only CloudEvents {SPEC_VERSION} is read",
        )
    media_type = attributes[HEADER_CONTENT_TYPE].split(";", 1)[0].strip().lower()
    if media_type != JSON_CONTENT_TYPE:
        raise MessageDecodeError(
            DecodeErrorKind.BAD_HEADER,
            HEADER_CONTENT_TYPE,
            f"header {HEADER_CONTENT_TYPE} is {attributes[HEADER_CONTENT_TYPE]!r}; "
            f"bodies must be {JSON_CONTENT_TYPE}",
        )
    event_id = attributes[HEADER_ID]
    fields_by_header = {
        "id": HEADER_ID,
        "source": HEADER_SOURCE,
        "type": HEADER_TYPE,
        "time": HEADER_TIME,
        "subject": HEADER_SUBJECT,
        "correlation_id": HEADER_CORRELATION_ID,
        "causation_id": HEADER_CAUSATION_ID,
        "sender_party_id": HEADER_SENDER_PARTY,
    }
    try:
        return Envelope(
            id=event_id,
            source=attributes[HEADER_SOURCE],
            type=attributes[HEADER_TYPE],
            specversion=attributes[HEADER_SPEC_VERSION],
            time=attributes[HEADER_TIME],
            subject=attributes.get(HEADER_SUBJECT),
            correlation_id=attributes.get(HEADER_CORRELATION_ID) or event_id,
            causation_id=attributes.get(HEADER_CAUSATION_ID),
            sender_party_id=attributes[HEADER_SENDER_PARTY],
            content_type=attributes[HEADER_CONTENT_TYPE],
        )
    except ValidationError as error:
        first = error.errors()[0]
        attribute = str(first["loc"][0]) if first["loc"] else ""
        header = fields_by_header.get(attribute, attribute)
        text = problem_text(first)
        if header == HEADER_TIME and TIME_FORMAT not in text:
            text = f"{text}; expected {TIME_FORMAT}"
        raise MessageDecodeError(
            DecodeErrorKind.BAD_HEADER, header, f"header {header}: {text}"
        ) from None


def _contract_of(message_type: str) -> type[Contract]:
    try:
        return contract_for(message_type)
    except UnknownMessageType:
        raise MessageDecodeError(
            DecodeErrorKind.UNKNOWN_TYPE,
            HEADER_TYPE,
            f"header {HEADER_TYPE}: {unknown_type_text(message_type, MESSAGE_TYPES)}",
        ) from None


def _parse_json_object(value: bytes) -> dict[str, object]:
    try:
        parsed = parse_exact(value.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise MessageDecodeError(
            DecodeErrorKind.UNDECODABLE,
            None,
            f"the record value is not UTF-8 (byte at position {error.start})",
        ) from None
    except json.JSONDecodeError as error:
        raise MessageDecodeError(
            DecodeErrorKind.UNDECODABLE,
            None,
            f"the record value is not JSON: {error.msg} at line {error.lineno} "
            f"column {error.colno}",
        ) from None
    except RecursionError:
        raise MessageDecodeError(
            DecodeErrorKind.UNDECODABLE,
            None,
            "the record value nests arrays or objects deeper than a JSON reader follows "
            "(no contract nests more than a few levels)",
        ) from None
    if not isinstance(parsed, dict):
        raise MessageDecodeError(
            DecodeErrorKind.UNDECODABLE,
            None,
            f"the record value is JSON {type(parsed).__name__}, not an object",
        )
    return parsed


def field_path(location: Sequence[int | str]) -> str:
    """``("casts", 0, "chemistry")`` -> ``casts[0].chemistry``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _describe_validation_error(error: ValidationError) -> tuple[str, str]:
    problems = [
        (field_path(item["loc"]) or "(body)", problem_text(item)) for item in error.errors()
    ]
    return problems[0][0], f"the body breaks its schema: {problems_text(problems)}"


def envelope_from_headers(headers: RawHeaders) -> Envelope:
    """The envelope a record's headers carry (raises ``MessageDecodeError`` like
    ``decode_message``)."""
    return _read_envelope(_decode_headers(headers))
