"""Records in and out of the gateway's consumers, as plain values: what a worker consumed,
what it is to publish, and the two ways an output is made (a decision caused by an input, or
a dead letter setting an input aside). Pure: nothing here touches the network."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts.base import Contract
from contracts.dead_letter import (
    DeadLetterError,
    DeadLetterReason,
    DeadLetterRecorded,
    OriginalHeader,
    SourceRecord,
)
from contracts.envelope import Envelope, encode_body, envelope_headers, new_envelope
from contracts.topics import route
from contracts.values import PartyRole

_OUTPUT_IDS = uuid.UUID("6f1c2b1e-4d0a-4c55-9a57-0b6c1d2e3f40")


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


@dataclass(frozen=True)
class OutputRecord:
    """A record to publish: catalogue topic name (no prefix), key, value and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    message_type: str


def published(
    bodies: Sequence[Contract], cause: Envelope, now: datetime, source: str, sender_party_id: str
) -> tuple[OutputRecord, ...]:
    """The records publishing ``bodies`` in answer to ``cause``, on the topics the registry
    writes them to."""
    records = []
    for index, body in enumerate(bodies):
        spec = route(type(body), PartyRole.REGISTRY)
        key = spec.key_of(body)
        envelope = new_envelope(
            body,
            source=source,
            sender_party_id=sender_party_id,
            time=now,
            subject=key.decode("utf-8"),
            correlation_id=cause.correlation_id,
            causation_id=cause.id,
            # Reprocessing the same input gives the same ids: consumers can tell a replay.
            event_id=str(uuid.uuid5(_OUTPUT_IDS, f"{cause.id}/{index}")),
        )
        records.append(
            OutputRecord(
                topic=spec.name,
                key=key,
                value=encode_body(body),
                headers=envelope_headers(envelope),
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
) -> tuple[OutputRecord, ...]:
    """The dead letter setting ``record`` aside: the original bytes, where it came from, and
    the reason naming the offending field or header."""
    letter = DeadLetterRecorded.build(
        original_value_base64=_b64(record.value),
        original_key_base64=_b64(record.key),
        original_headers=tuple(
            OriginalHeader(key=name, value_base64=_b64(value)) for name, value in record.headers
        ),
        error=DeadLetterError(kind=reason, message=message, field=field),
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


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")
