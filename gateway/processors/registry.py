"""One consumed record through the registry: decode, check the sender, decide, and say what
to publish. Pure: the Kafka worker moves the bytes; nothing here touches the network. A tick
of the registry's clock is such a record too, taken only from the gateway's own party.

Every record ends as exactly one outcome: its decisions (one or more outgoing messages, or
none for a delivery already handled), or one dead-letter record with the reason.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import datetime

from contracts.base import Contract
from contracts.dead_letter import (
    DeadLetterReason,
)
from contracts.envelope import (
    DecodedMessage,
    Envelope,
    MessageDecodeError,
    decode_message,
)
from contracts.signatures import SigningKey
from contracts.topics import TOPICS_BY_NAME
from gateway.processors.records import InputRecord, OutputRecord, dead_letter_records, published
from gateway.processors.sender_identity import sender_rejection, sender_violation
from gateway.processors.signed_senders import SigningKeys, authentication_refusal, needs_signature
from gateway.processors.step import Outcome, Processed
from gateway.registry.core import handle, record_digest
from gateway.registry.state import CommandRefused, RegistryState
from gateway.rulebook.model import Rulebook
from gateway.violations import Violation

REGISTRY_SOURCE = "/custody-gateway/registry"


@dataclass(frozen=True)
class PipelineSettings:
    rulebook: Rulebook
    registry_party: str
    exchange_parties: Set[str]
    max_value_bytes: int
    signing_keys: SigningKeys | None = None
    """With a parties file: the keys every party's record must be signed with."""
    signer: SigningKey | None = None
    """The gateway's own key, signing what it writes on a topic parties write too."""


RegistryProcessed = Processed[RegistryState]


def process_record(
    state: RegistryState, record: InputRecord, *, now: datetime, settings: PipelineSettings
) -> RegistryProcessed:
    """What one record does to the state, and what to publish for it."""
    try:
        decoded = decode_message(
            record.headers, record.value, max_value_bytes=settings.max_value_bytes
        )
    except MessageDecodeError as error:
        reason = DeadLetterReason(error.kind.value)
        return _dead_letter(state, record, reason, error.message, error.field, now, settings)
    topic = TOPICS_BY_NAME[record.topic]
    if settings.signing_keys is not None and needs_signature(topic):
        unproven = authentication_refusal(
            record, decoded.envelope.sender_party_id, settings.signing_keys
        )
        if unproven is not None:
            return _dead_letter(
                state,
                record,
                DeadLetterReason.SENDER_NOT_AUTHENTICATED,
                unproven.message,
                unproven.field,
                now,
                settings,
            )
    body = decoded.body
    if type(body) not in topic.message_types:
        return _dead_letter(
            state,
            record,
            DeadLetterReason.NOT_AN_INPUT,
            f"{body.MESSAGE_TYPE} does not travel on {record.topic}",
            "ce_type",
            now,
            settings,
        )
    refusal = sender_violation(
        topic,
        decoded.envelope.sender_party_id,
        body,
        state,
        rulebook=settings.rulebook,
        exchange_parties=settings.exchange_parties,
        registry_party=settings.registry_party,
    )
    if refusal is not None:
        return _refused_sender(state, record, decoded, refusal, now, settings)
    try:
        step = handle(
            state,
            body,
            now=now,
            rulebook=settings.rulebook,
            digest=record_digest(record.value or b""),
        )
    except CommandRefused as refused:
        return _dead_letter(
            state,
            record,
            DeadLetterReason.COMMAND_REFUSED,
            str(refused),
            refused.field,
            now,
            settings,
        )
    except Exception as error:  # a defect must not block the partition: set the record aside
        detail = "".join(traceback.format_exception_only(error)).strip()
        return _dead_letter(
            state, record, DeadLetterReason.PROCESSING_ERROR, detail, None, now, settings
        )
    changed = step.state is not state
    outcome = Outcome.DECIDED if step.outputs or changed else Outcome.ALREADY_HANDLED
    return Processed(
        state=step.state,
        changed_state=changed,
        outputs=_publishable(step.outputs, decoded.envelope, now, settings),
        decisions=step.outputs,
        outcome=outcome,
        message_type=body.MESSAGE_TYPE,
        correlation_id=decoded.envelope.correlation_id,
        event_id=decoded.envelope.id,
    )


def _publishable(
    bodies: Sequence[Contract], cause: Envelope, now: datetime, settings: PipelineSettings
) -> tuple[OutputRecord, ...]:
    return published(
        bodies, cause, now, REGISTRY_SOURCE, settings.registry_party, signer=settings.signer
    )


def _refused_sender(
    state: RegistryState,
    record: InputRecord,
    decoded: DecodedMessage,
    refusal: Violation,
    now: datetime,
    settings: PipelineSettings,
) -> RegistryProcessed:
    """A sender may not send this: an eCOA or a form is rejected with the reason (the sender
    reads those decisions); anything else is set aside as a dead letter."""
    body = decoded.body
    rejection = sender_rejection(body, refusal, rulebook_version=settings.rulebook.version, now=now)
    if rejection is None:
        return _dead_letter(
            state,
            record,
            DeadLetterReason.SENDER_NOT_PERMITTED,
            refusal.message,
            refusal.field,
            now,
            settings,
        )
    return Processed(
        state=state,
        outputs=_publishable((rejection,), decoded.envelope, now, settings),
        decisions=(rejection,),
        outcome=Outcome.DECIDED,
        message_type=body.MESSAGE_TYPE,
        correlation_id=decoded.envelope.correlation_id,
        event_id=decoded.envelope.id,
    )


def set_aside(
    state: RegistryState,
    record: InputRecord,
    reason: DeadLetterReason,
    message: str,
    now: datetime,
    *,
    settings: PipelineSettings,
) -> RegistryProcessed:
    """The dead letter for a record the engine could not use the step's outcome of."""
    return _dead_letter(state, record, reason, message, None, now, settings)


def _dead_letter(
    state: RegistryState,
    record: InputRecord,
    reason: DeadLetterReason,
    message: str,
    field: str | None,
    now: datetime,
    settings: PipelineSettings,
) -> RegistryProcessed:
    return Processed(
        state=state,
        outputs=dead_letter_records(
            record, reason, message, field, now, REGISTRY_SOURCE, settings.registry_party
        ),
        decisions=(),
        outcome=Outcome.DEAD_LETTER,
        message_type=None,
        dead_letter_reason=reason,
    )
