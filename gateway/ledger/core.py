"""The ledger's pure core: the state and one command in, an ``Outcome`` out. No I/O and no
clock: every date is the command's own.

A decision is made by the rules and carried out as a ``Fact`` (``gateway.ledger.facts``):
``post`` plans the command, checks it, and applies the fact of its acceptance or rejection.
Restoring applies the journaled facts without running the rules.

A posting id is decided once. The same command again changes nothing (``Accepted`` with no
entries, or the same ``Rejected``); another command under a used id is rejected.

On a partitioned ledger, ``owns`` says which account holders this partition holds: a
command that debits a holder held elsewhere is not decided here (``Forward`` names where it
is decided); a credit to a holder held elsewhere is accepted here with the debit and carried
out there (``Accepted.credits``); a document whose home is another partition is claimed
there before the command is accepted (``Claim``, ``gateway.ledger.document_claims``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Context, Decimal
from typing import assert_never

from contracts.json_numbers import MAX_DIGITS, digits_in_all
from gateway.ledger.commands import (
    POSTINGS,
    CertifiedInput,
    CertifiedOutput,
    ClosePeriod,
    Command,
    CustodyMove,
    EligibleScrapInput,
    JoinCertificate,
    LeaveCertificate,
    LevelAllocation,
    NonCertifiedInput,
    PhysicalTransfer,
    RegisterCertificate,
    RegisterSite,
    TransferReceipt,
)
from gateway.ledger.document_claims import HomeAnswers
from gateway.ledger.facts import Fact, FactKind, apply_fact, command_digest
from gateway.ledger.membership import (
    join_certificate,
    leave_certificate,
    register_certificate,
    register_site,
)
from gateway.ledger.model import ZERO, BalanceUpdate, Reconciliation
from gateway.ledger.periods import PeriodNotClosable, close_period, closing_for
from gateway.ledger.plan import Delta, Plan, claimed_at_home
from gateway.ledger.postings import (
    book_allocation,
    book_custody_move,
    book_input,
    book_output,
    book_receipt,
    book_transfer,
    record_non_certified,
)
from gateway.ledger.rules import (
    BALANCE_NOT_EXACT,
    NON_POSITIVE_QUANTITY,
    OVERDRAW,
    PERIOD_CLOSED,
    POSTING_ID_REUSED,
    UNKNOWN_CERTIFICATE,
    Refused,
)
from gateway.ledger.state import LedgerState
from gateway.violations import Violation, shown

Owns = Callable[[str], bool]
"""Whether this partition holds an account holder's accounts."""


@dataclass(frozen=True)
class Accepted:
    state: LedgerState
    entries: tuple[BalanceUpdate, ...]
    """Every balance the command changed here, in order; each says S or G."""
    fact: Fact | None = None
    """What the acceptance changed (None: the same command again, nothing changed)."""
    credits: tuple[Delta, ...] = ()
    """Credits to accounts held by other partitions, to be applied there."""
    statements: tuple[Reconciliation, ...] = ()
    """A period close's reconciliation statements."""


@dataclass(frozen=True)
class Rejected:
    state: LedgerState
    """Balances and directory as before; only the rejected posting id is remembered."""
    reasons: tuple[Violation, ...]
    fact: Fact | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)


@dataclass(frozen=True)
class Forward:
    """Not decided here: the command debits ``holder_id``, held by another partition."""

    state: LedgerState
    holder_id: str


@dataclass(frozen=True)
class Claim:
    """Not decided yet: the command would be accepted, but books ``document``, whose home is
    another partition: the home claims it for the posting first, and the command is then
    decided here with its answer (``post``'s ``answers``)."""

    state: LedgerState
    document: str


Outcome = Accepted | Rejected | Forward | Claim

NO_ANSWERS: HomeAnswers = {}


def _everything(_key: str) -> bool:
    return True


def post(
    state: LedgerState,
    command: Command,
    *,
    owns: Owns = _everything,
    home: Owns = _everything,
    answers: HomeAnswers = NO_ANSWERS,
) -> Outcome:
    """Book one command: ``Accepted`` with the new state and the balance updates it made, or
    ``Rejected`` with every rule it broke (an overdraw names the available balance).

    ``home`` says which documents this partition is the home of; ``answers`` are what the
    homes of the others said when they were claimed for this command: a document held by
    another posting is refused as if booked here."""
    digest = command_digest(command)
    earlier = _decided_before(state, command, digest)
    if earlier is not None:
        return earlier
    if isinstance(command, ClosePeriod):
        return _close(state, command, digest)
    if isinstance(command, JoinCertificate | LeaveCertificate) and not owns(command.site_id):
        # decided where the site's own accounts and postings are
        return Forward(state, command.site_id)
    if isinstance(command, TransferReceipt) and not owns(command.to_site):
        # decided where the receiving site is, so that a transfer is received once
        return Forward(state, command.to_site)
    reasons = _non_positive_quantity(command)
    held = [(document, holder) for document, holder in answers.items() if holder is not None]
    planning = state
    if held:
        planning = replace(state, booked_documents=state.booked_documents.updated(held))
    try:
        plan = _plan(planning, command)
    except Refused as refusal:
        return _reject(state, command, digest, (*reasons, *refusal.reasons))
    reasons = [*_closed_period(state, command, plan), *reasons]
    if reasons:
        return _reject(state, command, digest, tuple(reasons))
    local = tuple(delta for delta in plan.deltas if owns(delta.account.holder_id))
    credits = tuple(delta for delta in plan.deltas if not owns(delta.account.holder_id))
    for delta in credits:
        if delta.kg < ZERO:
            return Forward(state, delta.account.holder_id)
    balances_after, refusals = _booked(state, local, command)
    if refusals:
        return _reject(state, command, digest, refusals)
    for document in plan.documents:
        if claimed_at_home(document) and not home(document) and document not in answers:
            return Claim(state, document)
    fact = Fact(
        posting_id=command.posting_id,
        command_type=type(command).__name__,
        digest=digest,
        occurred_on=command.occurred_on,
        kind=FactKind.ACCEPTED,
        deltas=local,
        balances_after=balances_after,
        posting_sites=plan.posting_sites,
        certificates=plan.certificates,
        site_records=plan.site_records,
        documents=plan.documents,
        transit_opened=plan.transit_opened,
        transit_closed=plan.transit_closed,
    )
    after, entries = apply_fact(state, fact)
    return Accepted(after, entries, fact, credits)


def replay(commands: Iterable[Command], state: LedgerState | None = None) -> LedgerState:
    """Post every command in order, from ``state`` or an empty ledger."""
    current = state if state is not None else LedgerState()
    for command in commands:
        current = post(current, command).state
    return current


def _plan(state: LedgerState, command: Command) -> Plan:
    match command:
        case RegisterCertificate():
            return register_certificate(state, command)
        case RegisterSite():
            return register_site(state, command)
        case JoinCertificate():
            return join_certificate(state, command)
        case LeaveCertificate():
            return leave_certificate(state, command)
        case CertifiedInput() | EligibleScrapInput():
            return book_input(state, command)
        case CertifiedOutput():
            return book_output(state, command)
        case NonCertifiedInput():
            return record_non_certified(state, command)
        case PhysicalTransfer():
            return book_transfer(state, command)
        case TransferReceipt():
            return book_receipt(state, command)
        case LevelAllocation():
            return book_allocation(state, command)
        case CustodyMove():
            return book_custody_move(state, command)
        case ClosePeriod():
            raise AssertionError("a period close is not planned: see _close")
        case _:
            assert_never(command)


def _close(state: LedgerState, command: ClosePeriod, digest: str) -> Outcome:
    """Close the period (``close_period``). Unlike a posting, a close may cover days already
    closed by the other kind of period."""
    if command.certificate_id is not None and command.certificate_id not in state.certificates:
        return _reject(state, command, digest, (_unknown_certificate(command.certificate_id),))
    try:
        _closed, statements = close_period(state, command.period, command.certificate_id)
    except PeriodNotClosable as refusal:
        return _reject(state, command, digest, (refusal.violation,))
    fact = Fact(
        posting_id=command.posting_id,
        command_type=type(command).__name__,
        digest=digest,
        occurred_on=command.occurred_on,
        kind=FactKind.ACCEPTED,
        closed=command.period,
        closed_for=closing_for(state, command.certificate_id),
    )
    return Accepted(apply_fact(state, fact)[0], (), fact, statements=statements)


def _decided_before(state: LedgerState, command: Command, digest: str) -> Outcome | None:
    earlier = state.decided(command.posting_id)
    if earlier is None:
        return None
    if earlier.digest != digest:
        return Rejected(state, (_reused_id(command, earlier.command_type),))
    if command.posting_id in state.rejections:
        return Rejected(state, earlier.reasons)
    return Accepted(state, ())


def is_repeat(state: LedgerState, command: Command) -> bool:
    """Whether the same command was decided already under its posting id."""
    earlier = state.decided(command.posting_id)
    return earlier is not None and earlier.digest == command_digest(command)


def _reused_id(command: Command, earlier_type: str) -> Violation:
    return POSTING_ID_REUSED.violation(
        "posting_id",
        f"posting id {command.posting_id} was already used for another "
        f"{earlier_type}; send new content under a new posting id",
        observed=command.posting_id,
    )


def _closed_period(state: LedgerState, command: Command, plan: Plan) -> list[Violation]:
    """A violation for each certificate the command books under that is closed on its date."""
    day = command.occurred_on
    touched = {delta.account.certificate_id for delta in plan.deltas} | set(plan.certificate_ids)
    violations = []
    for certificate_id in sorted(touched):
        through = state.closed_through(certificate_id)
        if through is None or day > through:
            continue
        periods = state.closed_periods(certificate_id)
        covering = [period for period in periods if period.covers(day)]
        if covering:
            period = min(covering, key=lambda p: p.end - p.start)
            where = f"falls in closed {period.label} ({period.start} to {period.end})"
        else:
            period = min(periods, key=lambda p: p.start)
            where = f"is before closed {period.label}, which closed everything before it"
        violations.append(
            PERIOD_CLOSED.violation(
                "occurred_on",
                f"{type(command).__name__} {command.posting_id} dated {day} {where} of "
                f"certificate {certificate_id}, which is closed through {through}",
                observed=str(day),
                allowed=f"after {through}",
            )
        )
    return violations


def _unknown_certificate(certificate_id: str) -> Violation:
    return UNKNOWN_CERTIFICATE.violation(
        "certificate_id",
        f"certificate {certificate_id} is not registered: there is no period of it to close",
        observed=certificate_id,
    )


def _non_positive_quantity(command: Command) -> list[Violation]:
    if not isinstance(command, POSTINGS):
        return []
    quantity = command.quantity_kg
    if quantity.is_finite() and quantity > ZERO:
        return []
    observed = shown(quantity) if quantity.is_finite() else str(quantity)
    return [
        NON_POSITIVE_QUANTITY.violation(
            "quantity_kg",
            f"a posting moves a positive quantity of material, not {observed} kg",
            observed=observed,
            allowed="> 0",
        )
    ]


def _booked(
    state: LedgerState, deltas: tuple[Delta, ...], command: Command
) -> tuple[tuple[Decimal, ...], tuple[Violation, ...]]:
    """The balance each delta leaves, and a refusal for each that goes below zero or past
    the digits a balance is kept with."""
    running: dict[object, Decimal] = {}
    after: list[Decimal] = []
    refusals: list[Violation] = []
    for delta in deltas:
        available = running.get(delta.account, state.balance(delta.account))
        balance = available + delta.kg
        if not _plainly_exact(balance):
            exact = _exact_sum(balance, available, delta.kg)
            if digits_in_all(exact) > MAX_DIGITS:  # it could not be kept or published exactly
                refusals.append(_not_exact(command, delta, exact))
        if balance < ZERO:
            refusals.append(_overdraw(command, delta, available))
        running[delta.account] = balance
        after.append(balance)
    return tuple(after), tuple(refusals)


_WIDE = Context(prec=2 * MAX_DIGITS + 2)
"""Wide enough to add two balances of ``MAX_DIGITS`` digits without rounding."""


def _plainly_exact(balance: Decimal) -> bool:
    """A balance of a few digits, and no more than a few places (every usual one): the sum
    was not rounded and is within the digits a quantity may have."""
    _sign, digits, exponent = balance.as_tuple()
    return len(digits) < _FEW and isinstance(exponent, int) and -_FEW < exponent <= 0


_FEW = 20


def _exact_sum(balance: Decimal, available: Decimal, kg: Decimal) -> Decimal:
    """``available + kg`` exactly: ``balance``, their sum in the default context, unless that
    context (of ``MAX_DIGITS`` significant digits) may have rounded it."""
    if len(balance.as_tuple().digits) < MAX_DIGITS:
        return balance
    return _WIDE.add(available, kg)


def _not_exact(command: Command, delta: Delta, exact: Decimal) -> Violation:
    return BALANCE_NOT_EXACT.violation(
        "quantity_kg",
        f"{type(command).__name__} {command.posting_id} would leave {delta.account.text} at "
        f"{shown(exact)} kg, more than the {MAX_DIGITS} digits (whole digits and decimal "
        "places) a quantity is kept and published with",
        observed=shown(delta.kg),
        allowed=f"a balance of at most {MAX_DIGITS} digits",
    )


def _overdraw(command: Command, delta: Delta, available: Decimal) -> Violation:
    return OVERDRAW.violation(
        "quantity_kg",
        f"{type(command).__name__} {command.posting_id} takes {shown(-delta.kg)} kg from "
        f"{delta.account.text}: available balance {shown(available)} kg",
        observed=shown(-delta.kg),
        allowed=f"at most {shown(available)}",
    )


def _reject(
    state: LedgerState, command: Command, digest: str, reasons: tuple[Violation, ...]
) -> Rejected:
    fact = Fact(
        posting_id=command.posting_id,
        command_type=type(command).__name__,
        digest=digest,
        occurred_on=command.occurred_on,
        kind=FactKind.REJECTED,
        reasons=reasons,
    )
    return Rejected(apply_fact(state, fact)[0], reasons, fact)
