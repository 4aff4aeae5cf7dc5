"""One consumed ``ledger.commands`` record through the custody ledger: decode, check the
sender, book it in the pure core (``gateway.ledger``), and say what to publish. Pure: the
Kafka worker moves the bytes.

Every record ends as exactly one outcome: booked (an acceptance, and one custody-balance
update per account it changed; a period close answers with its reconciliation statements),
rejected (every rule it breaks), already handled (the same command again: nothing), or a
dead letter with the reason when it cannot be read.

What a record changed is journaled as facts (``Processed.journal``; ``gateway.ledger.facts``):
the accepted or rejected posting id and its effects. Restoring applies them without the rules.

Partitions. ``ledger.commands`` may have several partitions; partition p holds the accounts of
the holders whose id hashes to p (``partition_of``), and every partition holds the directory
(certificates, sites, memberships, closed periods). A command is keyed by the holder it
debits (or books for), so it usually arrives where it is decided. Otherwise:

- a command that debits a holder held elsewhere is forwarded, as it came, on
  ``ledger.transfers`` keyed by that holder, and decided there;
- a credit to a holder held elsewhere (a custody move or a transfer to another partition's
  holder) is accepted with the debit, here, and sent as a fact on ``ledger.transfers`` keyed
  by that holder; the partition holding it applies it without the rules and publishes its
  balance update. A refused debit sends nothing, so credits nothing;
- a registration, membership change or period close decided here is sent as a fact to every
  other partition, which applies it (a close also publishes that partition's statements);
- a command that books a CoC or transport document whose home (the partition the document
  hashes to) is another partition is sent there first, on ``ledger.transfers``, to claim the
  document for its posting; the home sends it back with its answer (``ANSWER_HEADER``), and
  it is decided here with it. A refused answer is a rejection naming the posting that holds
  the document; a claim whose posting is then not accepted is given back by a fact to the
  home (``gateway.ledger.document_claims``).

Each hop is one record consumed and one produced in the engine's transactions, so each is
done exactly once.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any

import gateway.ledger as ledger
from contracts import ledger as wire
from contracts.base import Contract
from contracts.custody import CertifiedAccount, CustodyBalanceUpdated, CustodyMovementRecorded
from contracts.dead_letter import DeadLetterReason
from contracts.envelope import (
    Envelope,
    MessageDecodeError,
    decode_message,
    envelope_from_headers,
    envelope_headers,
)
from contracts.topics import TOPICS_BY_NAME
from contracts.values import AccountingLevel
from gateway.ledger.codec import FACT_VERSION, FactDecoder, encode_fact
from gateway.processors.partitions import partition_of
from gateway.processors.records import InputRecord, OutputRecord, dead_letter_records, published
from gateway.processors.signed_senders import SigningKeys, authentication_refusal
from gateway.processors.step import Outcome, Processed
from gateway.registry.decision_messages import rule_violation
from gateway.violations import Violation

LEDGER_SOURCE = "/custody-gateway/ledger"
LEDGER_COMMANDS_TOPIC = "ledger.commands"
LEDGER_TRANSFERS = "ledger.transfers"
FACT_HEADER = "ledger-fact"
"""On ``ledger.transfers``: the record is a fact of this version, not a forwarded command."""
HOPS_HEADER = "ledger-hops"
CLAIM_HEADER = "ledger-claim"
"""On ``ledger.transfers``: the command comes to claim this document at its home."""
DECIDER_HEADER = "ledger-claim-for"
"""With ``CLAIM_HEADER``: the partition that decides the command, where it goes back."""
ANSWER_HEADER = "ledger-claim-answer"
"""On a command back from a document's home: ``[document, null]`` when claimed for the
posting, ``[document, posting_id]`` naming the posting that holds it (one per document)."""
MAX_HOPS = 8
FACT_MESSAGE_TYPE = "ledger.fact"
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
    | wire.RecordTransferReceipt
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
    partitions: int = 1
    """How many partitions ``ledger.commands`` and ``ledger.transfers`` have."""
    signing_keys: SigningKeys | None = None
    """With a parties file: the keys a command on ``ledger.commands`` must be signed with
    (the parties' and the registry's own, for its custody moves)."""

    def owns(self, partition: int) -> Callable[[str], bool]:
        """Whether ``partition`` holds an account holder."""
        count = self.partitions
        return lambda holder_id: partition_of(holder_id, count) == partition


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
    (an oracle folding the input topic again, as the fault harness and tests do) no output is
    built: the same state and outcome, and ``outputs`` empty."""
    if record.topic == LEDGER_TRANSFERS and record.header(FACT_HEADER) is not None:
        return _apply_remote_fact(state, record, now=now, settings=settings, publish=publish)
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
    # a command forwarded on ledger.transfers travels as it came on ledger.commands
    topic = LEDGER_COMMANDS_TOPIC if record.topic == LEDGER_TRANSFERS else record.topic
    if type(body) not in TOPICS_BY_NAME[topic].message_types:
        message = f"{body.MESSAGE_TYPE} does not travel on {record.topic}"
        return _dead_letter(
            state, record, DeadLetterReason.NOT_AN_INPUT, message, "ce_type", now, settings, publish
        )
    assert isinstance(body, LedgerCommandBody)  # the topic carries nothing else
    envelope = decoded.envelope
    if settings.signing_keys is not None and record.topic == LEDGER_COMMANDS_TOPIC:
        # ledger.transfers is the gateway's own (ACLs): a command forwarded there was
        # verified when it came in on ledger.commands
        unproven = authentication_refusal(record, envelope.sender_party_id, settings.signing_keys)
        if unproven is not None:
            reason = DeadLetterReason.SENDER_NOT_AUTHENTICATED
            return _dead_letter(
                state, record, reason, unproven.message, unproven.field, now, settings, publish
            )
    claimed = record.header(CLAIM_HEADER) if record.topic == LEDGER_TRANSFERS else None
    if claimed is not None:
        return _claim_at_home(state, record, body, claimed, envelope, now, settings)
    answers: ledger.HomeAnswers = {}
    try:
        refusal = _sender_violation(body, envelope.sender_party_id, state, settings)
        if refusal is not None:
            return _rejected(state, body, (refusal,), envelope, now, settings, publish)
        try:
            command = to_core_command(body)
        except _Unbookable as unbookable:
            return _rejected(state, body, (unbookable.violation,), envelope, now, settings, publish)
        answers = _answers(record)
        if ledger.is_repeat(state, command):  # the same command again
            repeated: LedgerProcessed = Processed(
                state,
                (),
                Outcome.ALREADY_HANDLED,
                body.MESSAGE_TYPE,
                correlation_id=envelope.correlation_id,
            )
            if command.posting_id in state.rejections:
                repeated = _releasing(repeated, command, answers, envelope, settings, publish)
            return repeated
        here = settings.owns(record.partition)
        outcome = ledger.post(state, command, owns=here, home=here, answers=answers)
    except Exception as error:  # a defect must not block the ledger: set the record aside
        detail = "".join(traceback.format_exception_only(error)).strip()
        return _dead_letter(
            state, record, DeadLetterReason.PROCESSING_ERROR, detail, None, now, settings, publish
        )
    if isinstance(outcome, ledger.Forward):  # to the partition holding the holder it debits
        holder = outcome.holder_id
        return _passed_on(
            state,
            record,
            body,
            envelope,
            now,
            settings,
            where=f"the partition holding {holder}",
            key=holder.encode("utf-8"),
        )
    if isinstance(outcome, ledger.Claim):  # to the document's home, and back here
        document = outcome.document
        return _passed_on(
            state,
            record,
            body,
            envelope,
            now,
            settings,
            where=f"the home of {document}",
            key=document.encode("utf-8"),
            adding=((CLAIM_HEADER, document.encode()), (DECIDER_HEADER, b"%d" % record.partition)),
        )
    if isinstance(outcome, ledger.Rejected):
        rejected = _rejected(outcome.state, body, outcome.reasons, envelope, now, settings, publish)
        released = _releasing(rejected, command, answers, envelope, settings, publish)
        return _journaled(released, outcome.fact)
    outputs: tuple[OutputRecord, ...] = ()
    if publish:
        outputs = (
            *published(
                _booked_messages(outcome, body, command, now),
                envelope,
                now,
                LEDGER_SOURCE,
                settings.registry_party,
            ),
            *_facts_for_others(outcome, record.partition, envelope, settings),
        )
    return _journaled(
        Processed(
            outcome.state,
            outputs,
            Outcome.BOOKED,
            body.MESSAGE_TYPE,
            correlation_id=envelope.correlation_id,
        ),
        outcome.fact,
    )


_SAME_SHAPE: dict[type[Contract], Any] = {
    wire.RecordCertifiedInput: ledger.CertifiedInput,
    wire.RecordEligibleScrapInput: ledger.EligibleScrapInput,
    wire.RecordNonCertifiedInput: ledger.NonCertifiedInput,
    wire.RecordCertifiedOutput: ledger.CertifiedOutput,
    wire.RecordPhysicalTransfer: ledger.PhysicalTransfer,
    wire.RecordTransferReceipt: ledger.TransferReceipt,
    wire.AllocateToSiteLevel: ledger.LevelAllocation,
    wire.JoinCertificate: ledger.JoinCertificate,
    wire.LeaveCertificate: ledger.LeaveCertificate,
}
"""Wire commands whose fields the core command (a dataclass) has under the same names."""


def to_core_command(body: LedgerCommandBody) -> ledger.Command:
    """The core's command for a wire command."""
    core_type = _SAME_SHAPE.get(type(body))
    if core_type is not None:
        values = {name: _core_value(getattr(body, name)) for name in _field_names(core_type)}
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
            return ledger.ClosePeriod(
                posting_id=body.posting_id, period=_period(body), certificate_id=body.certificate_id
            )
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


@cache
def _field_names(core_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(core_type))


def _core_value(value: object) -> object:
    """A wire value as the core holds it (its own enums for levels and balance rules)."""
    if type(value) is str:
        return value
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
        if isinstance(body, wire.RecordPhysicalTransfer):
            site_id = body.from_site
        elif isinstance(body, wire.RecordTransferReceipt):
            site_id = body.to_site
        else:
            site_id = body.site_id
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
    if isinstance(command, ledger.ClosePeriod):
        closed_for = outcome.fact.closed_certificate if outcome.fact is not None else None
        return [
            _period_closed(command.posting_id, command.period, closed_for, outcome.statements, now)
        ]
    changed = [entry.account for entry in outcome.entries]
    changed.extend(credit.account for credit in outcome.credits)
    return [
        wire.LedgerPostingAccepted.build(
            posting_id=command.posting_id,
            command_type=body.MESSAGE_TYPE,
            accounts=tuple(_account(account) for account in changed),
            decided_at=now,
        ),
        *_balance_updates(outcome.entries, now),
    ]


def _period_closed(
    posting_id: str,
    period: ledger.Period,
    certificate_id: str | None,
    statements: Sequence[ledger.Reconciliation],
    now: datetime,
) -> Contract:
    return wire.LedgerPeriodClosed.build(
        posting_id=posting_id,
        period_kind=wire.PeriodKind(period.kind.value),
        period_start=period.start,
        period_end=period.end,
        certificate_id=certificate_id,
        statements=tuple(
            wire.AccountStatement(
                account=_account(statement.account),
                opening_kg=statement.opening_kg,
                in_kg=statement.in_kg,
                out_kg=statement.out_kg,
                closing_kg=statement.closing_kg,
            )
            for statement in statements
        ),
        decided_at=now,
    )


def _balance_updates(entries: Sequence[ledger.BalanceUpdate], now: datetime) -> list[Contract]:
    return [
        CustodyBalanceUpdated.build(
            account=_account(entry.account),
            posting_id=entry.posting_id,
            delta_kg=entry.delta_kg,
            balance_kg=entry.balance_kg,
            occurred_on=entry.occurred_on,
            recorded_at=now,
        )
        for entry in entries
    ]


# ---- between partitions --------------------------------------------------------------------


def _facts_for_others(
    outcome: ledger.Accepted, partition: int, cause: Envelope, settings: LedgerSettings
) -> list[OutputRecord]:
    """The credits for holders held elsewhere, and the directory change (or period close)
    for every other partition."""
    fact = outcome.fact
    if fact is None or settings.partitions == 1:
        return []
    headers = [(FACT_HEADER, str(FACT_VERSION).encode()), *envelope_headers(cause)]
    records = [
        OutputRecord(
            topic=LEDGER_TRANSFERS,
            key=credit.account.holder_id.encode("utf-8"),
            value=encode_fact(fact.credit_elsewhere(credit)),
            headers=headers,
            message_type=FACT_MESSAGE_TYPE,
        )
        for credit in outcome.credits
    ]
    if fact.changes_directory:
        shared = encode_fact(fact.directory_part())
        records.extend(
            OutputRecord(
                topic=LEDGER_TRANSFERS,
                key=fact.posting_id.encode("utf-8"),
                value=shared,
                headers=headers,
                message_type=FACT_MESSAGE_TYPE,
                partition=other,
            )
            for other in range(settings.partitions)
            if other != partition
        )
    return records


def _claim_at_home(
    state: ledger.LedgerState,
    record: InputRecord,
    body: LedgerCommandBody,
    document_header: bytes,
    envelope: Envelope,
    now: datetime,
    settings: LedgerSettings,
) -> LedgerProcessed:
    """At a document's home: claim it for the command's posting (or name the posting that
    holds it), and send the command back to the partition that decides it, with the answer."""
    try:
        document = document_header.decode("utf-8")
        decider = int(record.header(DECIDER_HEADER) or b"")
        after, holder, fact = ledger.claim_document(state, document, to_core_command(body))
    except Exception as error:
        detail = "".join(traceback.format_exception_only(error)).strip()
        return _dead_letter(
            state, record, DeadLetterReason.PROCESSING_ERROR, detail, None, now, settings, True
        )
    answer = json.dumps([document, holder]).encode("utf-8")
    passed = _passed_on(
        after,
        record,
        body,
        envelope,
        now,
        settings,
        where=f"partition {decider}, which decides it",
        key=record.key or b"",
        partition=decider,
        dropping=(CLAIM_HEADER, DECIDER_HEADER),
        adding=((ANSWER_HEADER, answer),),
    )
    if passed.outcome is not Outcome.FORWARDED:  # set aside: nothing is claimed
        return replace(passed, state=state)
    return _journaled(passed, fact)


def _passed_on(
    state: ledger.LedgerState,
    record: InputRecord,
    body: LedgerCommandBody,
    envelope: Envelope,
    now: datetime,
    settings: LedgerSettings,
    *,
    where: str,
    key: bytes,
    partition: int | None = None,
    dropping: tuple[str, ...] = (),
    adding: tuple[tuple[str, bytes], ...] = (),
) -> LedgerProcessed:
    """The command as it came, on ``ledger.transfers`` to another partition (one more hop:
    a command passed on ``MAX_HOPS`` times is set aside)."""
    hops = int(record.header(HOPS_HEADER) or b"0")
    if hops >= MAX_HOPS:
        message = f"forwarded {hops} times without reaching {where}"
        return _dead_letter(
            state, record, DeadLetterReason.PROCESSING_ERROR, message, None, now, settings, True
        )
    left_out = (HOPS_HEADER, *dropping)
    headers = [(name, value) for name, value in record.headers if name not in left_out]
    passed = OutputRecord(
        topic=LEDGER_TRANSFERS,
        key=key,
        value=record.value or b"",
        headers=[*headers, *adding, (HOPS_HEADER, str(hops + 1).encode())],
        message_type=body.MESSAGE_TYPE,
        partition=partition,
    )
    return Processed(
        state,
        (passed,),
        Outcome.FORWARDED,
        body.MESSAGE_TYPE,
        correlation_id=envelope.correlation_id,
    )


def _answers(record: InputRecord) -> ledger.HomeAnswers:
    """What the homes of the command's documents answered (none on its first arrival)."""
    answers: dict[str, str | None] = {}
    for name, value in record.headers:
        if name == ANSWER_HEADER:
            document, holder = json.loads(value)
            answers[str(document)] = None if holder is None else str(holder)
    return answers


def _releasing(
    processed: LedgerProcessed,
    command: ledger.Command,
    answers: ledger.HomeAnswers,
    cause: Envelope,
    settings: LedgerSettings,
    publish: bool,
) -> LedgerProcessed:
    """The outcome of a command not accepted, with the documents claimed for it given back
    to their homes."""
    documents = ledger.granted(answers)
    if not documents or not publish:
        return processed
    headers = [(FACT_HEADER, str(FACT_VERSION).encode()), *envelope_headers(cause)]
    releases = tuple(
        OutputRecord(
            topic=LEDGER_TRANSFERS,
            key=document.encode("utf-8"),
            value=encode_fact(ledger.release_fact(command, (document,))),
            headers=headers,
            message_type=FACT_MESSAGE_TYPE,
            partition=partition_of(document, settings.partitions),
        )
        for document in documents
    )
    return replace(processed, outputs=(*processed.outputs, *releases))


_DECODE_FACT = FactDecoder()


def _apply_remote_fact(
    state: ledger.LedgerState,
    record: InputRecord,
    *,
    now: datetime,
    settings: LedgerSettings,
    publish: bool,
) -> LedgerProcessed:
    """What another partition decided, carried out here: the credit (and its balance update),
    the directory change, or the period close (and this partition's statements)."""
    try:
        fact = _DECODE_FACT(record.value or b"")
        cause = envelope_from_headers(record.headers)
        after, entries = ledger.apply_fact(state, fact)
    except Exception as error:
        detail = "".join(traceback.format_exception_only(error)).strip()
        return _dead_letter(
            state, record, DeadLetterReason.PROCESSING_ERROR, detail, None, now, settings, publish
        )
    messages = _balance_updates(entries, now)
    if fact.closed is not None:
        statements = ledger.statements(state, fact.closed, fact.closed_for)
        messages.append(
            _period_closed(fact.posting_id, fact.closed, fact.closed_certificate, statements, now)
        )
    outputs = (
        published(messages, cause, now, LEDGER_SOURCE, settings.registry_party) if publish else ()
    )
    return _journaled(
        Processed(
            after, outputs, Outcome.BOOKED, FACT_MESSAGE_TYPE, correlation_id=cause.correlation_id
        ),
        fact,
    )


@lru_cache(maxsize=1 << 18)
def _account(account: ledger.AccountKey) -> CertifiedAccount:
    """The wire account of a core account (made once per account: contracts are frozen)."""
    return CertifiedAccount(
        holder_id=account.holder_id,
        material_quality=account.material_quality,
        level=AccountingLevel(account.level.value),
        certificate_id=account.certificate_id,
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


def _journaled(processed: LedgerProcessed, fact: ledger.Fact | None) -> LedgerProcessed:
    """The outcome with its fact to journal (None: nothing changed)."""
    if fact is None:
        return processed
    entry = (fact.posting_id.encode("utf-8"), encode_fact(fact))
    return replace(processed, changed_state=True, journal=(entry,))


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
