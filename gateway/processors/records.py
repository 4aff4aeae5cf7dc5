"""Records in and out of the gateway's consumers, as plain values: what a worker consumed,
what it is to publish, and the two ways an output is made (a decision caused by an input, or
a dead letter setting an input aside). Pure: nothing here touches the network."""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts.base import Contract
from contracts.dead_letter import (
    FIELD_PATH_MAX_CHARACTERS,
    HEADER_KEY_MAX_CHARACTERS,
    DeadLetterReason,
    DeadLetterRecorded,
    OriginalHeader,
    SourceRecord,
    dead_letter_error,
    kept_bytes,
    original_header,
)
from contracts.envelope import Envelope, answer_headers, encode_body
from contracts.signatures import SigningKey
from contracts.topics import route
from contracts.values import TEXT_MAX_CHARACTERS, PartyRole

_OUTPUT_IDS = uuid.UUID("6f1c2b1e-4d0a-4c55-9a57-0b6c1d2e3f40")
_OUTPUT_ID_BYTES = _OUTPUT_IDS.bytes

# What a dead letter copies of the record it sets aside (the rest stays at the source).
DEFAULT_KEPT_VALUE_BYTES = 64 * 1024
KEPT_KEY_BYTES = 4 * 1024
LISTED_HEADERS = 64
KEPT_HEADER_VALUE_BYTES = 1024
KEPT_HEADER_VALUE_BYTES_IN_ALL = 16 * 1024

# How the broker counts a record (record batch format v2), as aiokafka estimates it before a
# send: the batch header, then per record at most 21 bytes (length, attributes, timestamp and
# offset deltas) and each key, value, header key and header value after its varint length.
RECORD_BATCH_HEADER_BYTES = 61
RECORD_OVERHEAD_BYTES = 21


@dataclass(frozen=True)
class InputRecord:
    """A consumed record, with its topic name as the catalogue knows it (no prefix)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]

    def header(self, name: str) -> bytes | None:
        """The value of the first header named ``name`` (None if there is none)."""
        for header, value in self.headers:
            if header == name:
                return value
        return None


@dataclass(frozen=True)
class OutputRecord:
    """A record to publish: catalogue topic name (no prefix), key, value and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    message_type: str
    partition: int | None = None
    """The partition to write to; None: the one the key hashes to."""


def output_event_id(cause_id: str, index: int) -> str:
    """``str(uuid.uuid5(_OUTPUT_IDS, f"{cause_id}/{index}"))``, without building a ``UUID``
    (the step's dearest line in a profile of the drain)."""
    digest = bytearray(hashlib.sha1(_OUTPUT_ID_BYTES + f"{cause_id}/{index}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest[:16].hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def published(
    bodies: Sequence[Contract],
    cause: Envelope,
    now: datetime,
    source: str,
    sender_party_id: str,
    *,
    signer: SigningKey | None = None,
) -> tuple[OutputRecord, ...]:
    """The records publishing ``bodies`` in answer to ``cause``, on the topics the registry
    writes them to; with ``signer``, those on a topic parties write too are signed (a reader
    there tells the gateway's records from a party's by the signature)."""
    records = []
    time = now.isoformat()
    for index, body in enumerate(bodies):
        spec = route(type(body), PartyRole.REGISTRY)
        key = spec.key_of(body)
        headers = answer_headers(
            # Reprocessing the same input gives the same ids: consumers can tell a replay.
            event_id=output_event_id(cause.id, index),
            source=source,
            message_type=body.MESSAGE_TYPE,
            time=time,
            subject=key.decode("utf-8"),
            cause=cause,
            sender_party_id=sender_party_id,
        )
        value = encode_body(body)
        if signer is not None and spec.writer_roles != (PartyRole.REGISTRY,):
            headers = signer.signed_headers(spec.name, key, headers, value)
        records.append(
            OutputRecord(
                topic=spec.name,
                key=key,
                value=value,
                headers=headers,
                message_type=body.MESSAGE_TYPE,
            )
        )
    return tuple(records)


def dead_letter_records(
    record: InputRecord,
    reason: DeadLetterReason,
    message: str,
    field: str | None,
    now: datetime,
    source: str,
    sender_party_id: str,
    *,
    max_kept_value_bytes: int = DEFAULT_KEPT_VALUE_BYTES,
) -> tuple[OutputRecord, ...]:
    """The dead letter setting ``record`` aside: where it came from, the reason naming the
    offending field or header, and its original bytes up to caps, each part with its full size
    and SHA-256 (the whole record stays at its source topic/partition/offset).

    The letter keeps the first ``max_kept_value_bytes`` of the value, ``KEPT_KEY_BYTES`` of
    the key, the first ``LISTED_HEADERS`` headers with keys up to ``HEADER_KEY_MAX_CHARACTERS``
    characters and values up to ``KEPT_HEADER_VALUE_BYTES`` each and
    ``KEPT_HEADER_VALUE_BYTES_IN_ALL`` together; the message and field path are cut to what
    the contract allows. So, whatever the input, the letter's ``record_size`` is at most
    ``dead_letter_size_bound(max_kept_value_bytes)``: under 256 KiB with the default 64 KiB
    cap, a quarter of the producer's 1 MiB default. Building it never fails on the content of
    the record, the message or the field.
    """
    letter = DeadLetterRecorded.build(
        original_value=None
        if record.value is None
        else kept_bytes(record.value, max_kept_value_bytes),
        original_key=None if record.key is None else kept_bytes(record.key, KEPT_KEY_BYTES),
        original_headers=_kept_headers(record.headers),
        original_header_count=len(record.headers),
        error=dead_letter_error(reason, message, field),
        source=SourceRecord(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp_ms,
        ),
        dead_lettered_at=now,
    )
    where = f"{record.topic}/{record.partition}/{record.offset}"
    cause = Envelope(
        id=where,
        source=source,
        type=letter.MESSAGE_TYPE,
        time=now,
        correlation_id=where,
        sender_party_id=sender_party_id,
    )
    return published((letter,), cause, now, source, sender_party_id)


def _kept_headers(headers: Sequence[tuple[str, bytes | None]]) -> tuple[OriginalHeader, ...]:
    left = KEPT_HEADER_VALUE_BYTES_IN_ALL
    kept = []
    for key, value in headers[:LISTED_HEADERS]:
        value_cap = min(KEPT_HEADER_VALUE_BYTES, left)
        kept.append(original_header(key, value, value_cap))
        left -= 0 if value is None else min(len(value), value_cap)
    return tuple(kept)


# The most bytes one character of a string takes in JSON: a control character is \u00XX.
_JSON_BYTES_PER_CHARACTER = 6
# Allowance for what comes with each kept part: its field names, size, SHA-256, flags and
# base64 padding.
_ALLOWANCE_PER_KEPT_PART = 256
# Allowance for the rest of the letter (schema version, reason, source with a topic of at
# most 249 characters, time, JSON punctuation) and of its record (key: the source topic;
# the CloudEvents headers, at most 500 characters each; the record and batch overhead).
_ALLOWANCE_FOR_THE_REST = 8 * 1024


def dead_letter_size_bound(max_kept_value_bytes: int = DEFAULT_KEPT_VALUE_BYTES) -> int:
    """The largest ``record_size`` a dead letter keeping up to ``max_kept_value_bytes`` of the
    value can have, whatever the record it sets aside: base64 of the kept value and key, the
    listed headers with their longest keys (every character at its JSON worst) and all their
    kept value bytes, the longest message and field path, and generous allowances for the
    rest."""
    characters_at_most = HEADER_KEY_MAX_CHARACTERS * LISTED_HEADERS + (
        TEXT_MAX_CHARACTERS + FIELD_PATH_MAX_CHARACTERS
    )
    return (
        _base64_length(max(max_kept_value_bytes, 0))
        + _base64_length(KEPT_KEY_BYTES)
        + _base64_length(KEPT_HEADER_VALUE_BYTES_IN_ALL)
        + _JSON_BYTES_PER_CHARACTER * characters_at_most
        + _ALLOWANCE_PER_KEPT_PART * (2 + LISTED_HEADERS)
        + _ALLOWANCE_FOR_THE_REST
    )


def _base64_length(size: int) -> int:
    return 4 * math.ceil(size / 3)


def record_size(record: OutputRecord) -> int:
    """Bytes ``record`` takes against the producer's ``max_request_size``, the broker's
    ``message.max.bytes`` and a topic's ``max.message.bytes``, counted as aiokafka counts it
    before a send (an upper bound of the uncompressed record batch v2 holding it alone): the
    61-byte batch header, at most 21 bytes of record overhead, and the key, value, header
    keys (UTF-8) and header values, each after its varint length, plus the header count."""
    return record_bytes(record.key, record.value, record.headers)


def record_bytes(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> int:
    """``record_size`` of any record (an output, a state-log record) by its parts."""
    size = RECORD_BATCH_HEADER_BYTES + RECORD_OVERHEAD_BYTES
    size += _length_prefixed(key) + _length_prefixed(value)
    size += _varint_length(len(headers))
    for header, header_value in headers:
        size += _length_prefixed(header.encode("utf-8")) + _length_prefixed(header_value)
    return size


def _length_prefixed(raw: bytes | None) -> int:
    return 1 if raw is None else _varint_length(len(raw)) + len(raw)


def _varint_length(value: int) -> int:
    """Bytes of ``value`` as a Kafka varint (zigzag-encoded, 7 bits a byte)."""
    zigzag = (value << 1) ^ (value >> 63)
    length = 1
    while zigzag > 0x7F:
        zigzag >>= 7
        length += 1
    return length
