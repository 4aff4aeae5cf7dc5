"""One consumed ``ledger.commands`` record through the custody ledger: decode, check the
sender, book it in the pure core (``gateway.ledger``), and say what to publish. Pure: the
Kafka worker moves the bytes.

Every record ends as exactly one outcome: booked (an acceptance, and one custody-balance
update per account it changed; a period close answers with its reconciliation statements),
rejected (every rule it breaks), already handled (the same command again: nothing), or a
dead letter with the reason when it cannot be read.

A record whose outcome changed the ledger's state (``changed_state``) is journaled: the
ledger's state is the fold of its journal, so replaying the journaled records through
``process_ledger_record`` rebuilds it exactly.
"""

from __future__ import annotations

import traceback
from collections.abc import Set
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from typing import Any

import gateway.ledger as ledger
from contracts import ledger as wire
from contracts.base import Contract
from contracts.custody import CustodyBalanceUpdated, CustodyMovementRecorded
from contracts.dead_letter import DeadLetterReason
from contracts.envelope import Envelope, MessageDecodeError, decode_message
from contracts.topics import TOPICS_BY_NAME
from contracts.values import AccountingLevel, CustodyAccount
from gateway.processors.records import InputRecord, dead_letter_records, published
from gateway.processors.step import Outcome, Processed
from gateway.registry.decision_messages import rule_violation
from gateway.violations import Violation

LEDGER_SOURCE = "/custody-gateway/ledger"
SENDER_RULE = "sender identity"
LedgerCommandBody = (
    wire.RegisterCertificate
    | wire.RegisterSite
    | wire.JoinCertificate
    | wire.LeaveCertificate
    | wire.RecordCertifiedInput
    | wire.RecordEligibleScrapInput
    | wire.RecordNonCertifiedInput
    | wire.RecordCertifiedOutput
    | wire.RecordPhysicalTransfer
    | wire.AllocateToSiteLevel
    | wire.ClosePeriod
    | CustodyMovementRecorded
)
_FROM_THE_EXCHANGE = (
    wire.RegisterCertificate,
    wire.RegisterSite,
    wire.JoinCertificate,
    wire.LeaveCertificate,
    wire.ClosePeriod,
)


@dataclass(frozen=True)
class LedgerSettings:
    registry_party: str
    """The party the registry (and so the ledger) sends as; custody moves come only from it."""
    exchange_parties: Set[str]
    max_value_bytes: int


LedgerProcessed = Processed[ledger.LedgerState]


class _Unbookable(ValueError):
    """A command the core cannot even be given (a period not starting on its first day)."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message)
        self.violation = violation


def process_ledger_record(
    state: ledger.LedgerState,
    record: InputRecord,
    *,
    now: datetime,
    settings: LedgerSettings,
    publish: bool = True,
) -> LedgerProcessed:
    """What one record does to the ledger, and what to publish for it. With ``publish`` off
    (replaying the journal, whose outputs were published when it was written) no output is
    built: the same state and outcome, and ``outputs`` empty."""
    try:
        decoded = decode_message(
            record.headers, record.value, max_value_bytes=settings.max_value_bytes
        )
    except MessageDecodeError as error:
        reason = DeadLetterReason(error.kind.value)
        return _dead_letter(
            state, record, reason, error.message, error.field, now, settings, publish
        )
    body = decoded.body
    if type(body) not in TOPICS_BY_NAME[record.topic].message_types:
        message = f"{body.MESSAGE_TYPE} does not travel on {record.topic}"
        return _dead_letter(
            state, record, DeadLetterReason.NOT_AN_INPUT, message, "ce_type", now, settings, publish
        )
    assert isinstance(body, LedgerCommandBody)  # the topic carries nothing else
    envelope = decoded.envelope
    try:
        refusal = _sender_violation(body, envelope.sender_party_id, state, settings)
        if refusal is not None:
            return _rejected(state, body, (refusal,), envelope, now, settings, publish)
        try:
            command = to_core_command(body)
        except _Unbookable as unbookable:
            return _rejected(state, body, (unbookable.violation,), envelope, now, settings, publish)
        if state.decided(command.posting_id) == command:  # the same command again
            return Processed(
                state,
                (),
                Outcome.ALREADY_HANDLED,
                body.MESSAGE_TYPE,
                correlation_id=envelope.correlation_id,
            )
        outcome = ledger.post(state, command)
    except Exception as error:  # a defect must not block the ledger: set the record aside
        detail = "".join(traceback.format_exception_only(error)).strip()
        return _dead_letter(
            state, record, DeadLetterReason.PROCESSING_ERROR, detail, None, now, settings, publish
        )
    if isinstance(outcome, ledger.Rejected):
        rejected = _rejected(outcome.state, body, outcome.reasons, envelope, now, settings, publish)
        return _journaled(rejected, changed=outcome.state is not state)
    outputs = (
        published(
            _booked_messages(outcome, body, command, now),
            envelope,
            now,
            LEDGER_SOURCE,
            settings.registry_party,
        )
        if publish
        else ()
    )
    return Processed(
        outcome.state,
        outputs,
        Outcome.BOOKED,
        body.MESSAGE_TYPE,
        correlation_id=envelope.correlation_id,
        changed_state=True,
    )


_SAME_SHAPE: dict[type[Contract], Any] = {
    wire.RecordCertifiedInput: ledger.CertifiedInput,
    wire.RecordEligibleScrapInput: ledger.EligibleScrapInput,
    wire.RecordNonCertifiedInput: ledger.NonCertifiedInput,
    wire.RecordCertifiedOutput: ledger.CertifiedOutput,
    wire.RecordPhysicalTransfer: ledger.PhysicalTransfer,
    wire.AllocateToSiteLevel: ledger.LevelAllocation,
    wire.JoinCertificate: ledger.JoinCertificate,
    wire.LeaveCertificate: ledger.LeaveCertificate,
}
"""Wire commands whose fields the core command (a dataclass) has under the same names."""


def to_core_command(body: LedgerCommandBody) -> ledger.Command:
    """The core's command for a wire command."""
    core_type = _SAME_SHAPE.get(type(body))
    if core_type is not None:
        values = {f.name: _core_value(getattr(body, f.name)) for f in fields(core_type)}
        command: ledger.Command = core_type(**values)
        return command
    match body:
        case wire.RegisterCertificate():
            return ledger.RegisterCertificate(
                posting_id=body.posting_id,
                occurred_on=body.effective_on,
                certificate_id=body.certificate_id,
                holder_group_id=body.holder_group_id,
                scope=ledger.AccountingScope(body.accounting_scope.value),
                separate_site_quality=body.separate_site_quality,
            )
        case wire.RegisterSite():
            return ledger.RegisterSite(
                posting_id=body.posting_id,
                occurred_on=body.registered_on,
                site_id=body.site_id,
                operator_party_id=body.operator_party_id,
            )
        case wire.ClosePeriod():
            return ledger.ClosePeriod(posting_id=body.posting_id, period=_period(body))
        case CustodyMovementRecorded():
            return ledger.CustodyMove(
                posting_id=body.posting_id,
                occurred_on=body.occurred_on,
                reason=ledger.CustodyReason(body.reason.value),
                from_holder_id=body.from_holder_id,
                to_holder_id=body.to_holder_id,
                material_quality=body.material_quality,
                quantity_kg=body.quantity_kg,
                level=_level(body.level),
                document_reference=body.warrant_id or body.lot_id,
            )
    raise TypeError(f"no core command for {type(body).__name__}")


def _core_value(value: object) -> object:
    """A wire value as the core holds it (its own enums for levels and balance rules)."""
    if isinstance(value, AccountingLevel):
        return _level(value)
    if isinstance(value, wire.LeavingBalanceRule):
        return ledger.BalanceRule(value.value)
    return value


def _level(level: AccountingLevel) -> ledger.Level:
    return ledger.Level(level.value)


def _period(body: wire.ClosePeriod) -> ledger.Period:
    start = body.period_start
    if body.period_kind is wire.PeriodKind.MONTH:
        first = date(start.year, start.month, 1)
        period = ledger.Period.month(start.year, start.month)
    else:
        first = date(start.year, 1, 1)
        period = ledger.Period.year(start.year)
    if start != first:
        raise _Unbookable(
            Violation(
                "PERIOD_START",
                "CoC mass balance: monthly and yearly period closing",
                "period_start",
                str(start),
                str(first),
                f"a {body.period_kind.value} to close is named by its first day: {first}, "
                f"not {start}",
            )
        )
    return period


def _sender_violation(
    body: LedgerCommandBody, sender: str, state: ledger.LedgerState, settings: LedgerSettings
) -> Violation | None:
    """Why ``sender`` may not send ``body``: the exchange records certification and closes
    periods, the registry sends custody moves, a site's operator posts the site's material."""
    if isinstance(body, _FROM_THE_EXCHANGE):
        allowed = settings.exchange_parties
        what = "certificates, sites, memberships and period closes come from the exchange"
    elif isinstance(body, CustodyMovementRecorded):
        allowed = {settings.registry_party}
        what = "custody moves implied by registry events come from the registry"
    else:
        site_id = body.from_site if isinstance(body, wire.RecordPhysicalTransfer) else body.site_id
        site = state.sites.get(site_id)
        if site is None or site.operator_party_id is None:
            return None  # an unknown site is the core's to reject, naming the site
        allowed = {site.operator_party_id}
        what = f"only site {site_id}'s operator posts its material"
    if sender in allowed:
        return None
    return Violation(
        "SENDER_NOT_PERMITTED",
        SENDER_RULE,
        "ce_partyid",
        sender,
        ", ".join(sorted(allowed)),
        f"{sender} may not send {body.MESSAGE_TYPE}: {what}",
    )


def _booked_messages(
    outcome: ledger.Accepted, body: LedgerCommandBody, command: ledger.Command, now: datetime
) -> list[Contract]:
    messages: list[Contract] = []
    if isinstance(command, ledger.ClosePeriod):
        closed = outcome.state.closed_periods[-1]
        messages.append(
            wire.LedgerPeriodClosed.build(
                posting_id=command.posting_id,
                period_kind=wire.PeriodKind(closed.period.kind.value),
                period_start=closed.period.start,
                period_end=closed.period.end,
                statements=tuple(
                    wire.AccountStatement(
                        account=_account(statement.account),
                        opening_kg=statement.opening_kg,
                        in_kg=statement.in_kg,
                        out_kg=statement.out_kg,
                        closing_kg=statement.closing_kg,
                    )
                    for statement in closed.reconciliations
                ),
                decided_at=now,
            )
        )
        return messages
    messages.append(
        wire.LedgerPostingAccepted.build(
            posting_id=command.posting_id,
            command_type=body.MESSAGE_TYPE,
            accounts=tuple(_account(entry.account) for entry in outcome.entries),
            decided_at=now,
        )
    )
    messages.extend(
        CustodyBalanceUpdated.build(
            account=_account(entry.account),
            posting_id=entry.posting_id,
            delta_kg=entry.delta_kg,
            balance_kg=entry.balance_kg,
            occurred_on=entry.occurred_on,
            recorded_at=now,
        )
        for entry in outcome.entries
    )
    return messages


def _account(account: ledger.AccountKey) -> CustodyAccount:
    return CustodyAccount(
        holder_id=account.holder_id,
        material_quality=account.material_quality,
        level=AccountingLevel(account.level.value),
    )


def _rejected(
    state: ledger.LedgerState,
    body: LedgerCommandBody,
    reasons: tuple[Violation, ...],
    cause: Envelope,
    now: datetime,
    settings: LedgerSettings,
    publish: bool,
) -> LedgerProcessed:
    rejection = wire.LedgerPostingRejected.build(
        posting_id=body.posting_id,
        command_type=body.MESSAGE_TYPE,
        violations=tuple(rule_violation(reason) for reason in reasons),
        decided_at=now,
    )
    return Processed(
        state,
        published((rejection,), cause, now, LEDGER_SOURCE, settings.registry_party)
        if publish
        else (),
        Outcome.REJECTED,
        body.MESSAGE_TYPE,
        violations=reasons,
        correlation_id=cause.correlation_id,
    )


def _journaled(processed: LedgerProcessed, *, changed: bool) -> LedgerProcessed:
    return replace(processed, changed_state=True) if changed else processed


def set_aside(
    state: ledger.LedgerState,
    record: InputRecord,
    reason: DeadLetterReason,
    message: str,
    now: datetime,
    *,
    settings: LedgerSettings,
) -> LedgerProcessed:
    """The dead letter for a record the engine could not use the step's outcome of."""
    return _dead_letter(state, record, reason, message, None, now, settings, True)


def _dead_letter(
    state: ledger.LedgerState,
    record: InputRecord,
    reason: DeadLetterReason,
    message: str,
    field: str | None,
    now: datetime,
    settings: LedgerSettings,
    publish: bool,
) -> LedgerProcessed:
    outputs = (
        dead_letter_records(
            record, reason, message, field, now, LEDGER_SOURCE, settings.registry_party
        )
        if publish
        else ()
    )
    return Processed(state, outputs, Outcome.DEAD_LETTER, None, dead_letter_reason=reason)
