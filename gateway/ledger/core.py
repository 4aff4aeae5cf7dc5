"""The ledger's pure core: the state and one command in, an ``Outcome`` out. No I/O and no
clock: every date is the command's own.

A posting id is decided once. The same command again changes nothing (``Accepted`` with no
entries, or the same ``Rejected``); another command under a used id is rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar, assert_never

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
)
from gateway.ledger.growing import GrowingLog, GrowingMap
from gateway.ledger.membership import (
    join_certificate,
    leave_certificate,
    register_certificate,
    register_site,
)
from gateway.ledger.model import ZERO, AccountKey, BalanceUpdate
from gateway.ledger.periods import PeriodNotClosable, close_period
from gateway.ledger.plan import Delta, Plan
from gateway.ledger.postings import (
    book_allocation,
    book_custody_move,
    book_input,
    book_output,
    book_transfer,
    record_non_certified,
)
from gateway.ledger.rules import (
    NON_POSITIVE_QUANTITY,
    OVERDRAW,
    PERIOD_CLOSED,
    POSTING_ID_REUSED,
    Refused,
)
from gateway.ledger.state import LedgerState, RejectedPosting
from gateway.violations import Violation, shown

_T = TypeVar("_T")
_V = TypeVar("_V")


@dataclass(frozen=True)
class Accepted:
    state: LedgerState
    entries: tuple[BalanceUpdate, ...]
    """Every balance the command changed, in order; each says S or G."""


@dataclass(frozen=True)
class Rejected:
    state: LedgerState
    """Balances, registry and journal as before; only the rejected posting id is remembered."""
    reasons: tuple[Violation, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)


Outcome = Accepted | Rejected


def post(state: LedgerState, command: Command) -> Outcome:
    """Book one command: ``Accepted`` with the new state and the balance updates it made, or
    ``Rejected`` with every rule it broke (an overdraw names the available balance)."""
    earlier = _decided_before(state, command)
    if earlier is not None:
        return earlier
    if isinstance(command, ClosePeriod):
        return _close(state, command)
    reasons = [*_closed_period(state, command), *_non_positive_quantity(command)]
    try:
        plan = _plan(state, command)
    except Refused as refusal:
        return _reject(state, command, (*reasons, *refusal.reasons))
    if reasons:
        return _reject(state, command, tuple(reasons))
    balances, entries, overdrawn = _book(state, plan.deltas, command)
    if overdrawn:
        return _reject(state, command, overdrawn)
    return Accepted(_accepted(plan, command, balances, entries), entries)


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
        case LevelAllocation():
            return book_allocation(state, command)
        case CustodyMove():
            return book_custody_move(state, command)
        case ClosePeriod():
            raise AssertionError("a period close is not planned: see _close")
        case _:
            assert_never(command)


def _close(state: LedgerState, command: ClosePeriod) -> Outcome:
    """Close the period (``close_period``); its statements are the state's last closed period.
    Unlike a posting, a close may cover days already closed by the other kind of period."""
    try:
        closed, _statements = close_period(state, command.period)
    except PeriodNotClosable as refusal:
        return _reject(state, command, (refusal.violation,))
    return Accepted(
        replace(
            closed,
            applied=_grown(closed.applied, command.posting_id, command),
            journal=_appended(closed.journal, command),
        ),
        (),
    )


def _decided_before(state: LedgerState, command: Command) -> Outcome | None:
    earlier = state.decided(command.posting_id)
    if earlier is None:
        return None
    if earlier != command:
        return Rejected(state, (_reused_id(command, earlier),))
    rejected = state.rejections.get(command.posting_id)
    if rejected is not None:
        return Rejected(state, rejected.reasons)
    return Accepted(state, ())


def _reused_id(command: Command, earlier: Command) -> Violation:
    return POSTING_ID_REUSED.violation(
        "posting_id",
        f"posting id {command.posting_id} was already used for another "
        f"{type(earlier).__name__}; send new content under a new posting id",
        observed=command.posting_id,
    )


def _closed_period(state: LedgerState, command: Command) -> list[Violation]:
    through = state.closed_through
    day = command.occurred_on
    if through is None or day > through:
        return []
    periods = [closed.period for closed in state.closed_periods]
    covering = [period for period in periods if period.covers(day)]
    if covering:
        period = min(covering, key=lambda p: p.end - p.start)
        where = f"falls in closed {period.label} ({period.start} to {period.end})"
    else:
        period = min(periods, key=lambda p: p.start)
        where = f"is before closed {period.label}, which closed everything before it"
    return [
        PERIOD_CLOSED.violation(
            "occurred_on",
            f"{type(command).__name__} {command.posting_id} dated {day} {where}; "
            f"the ledger is closed through {through}",
            observed=str(day),
            allowed=f"after {through}",
        )
    ]


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


def _book(
    state: LedgerState, deltas: tuple[Delta, ...], command: Command
) -> tuple[dict[AccountKey, Decimal], tuple[BalanceUpdate, ...], tuple[Violation, ...]]:
    balances = dict(state.balances)
    entries: list[BalanceUpdate] = []
    overdrawn: list[Violation] = []
    for delta in deltas:
        available = balances.get(delta.account, ZERO)
        balance = available + delta.kg
        if balance < ZERO:
            overdrawn.append(_overdraw(command, delta, available))
        balances[delta.account] = balance
        entries.append(
            BalanceUpdate(delta.account, command.posting_id, command.occurred_on, delta.kg, balance)
        )
    return balances, tuple(entries), tuple(overdrawn)


def _overdraw(command: Command, delta: Delta, available: Decimal) -> Violation:
    return OVERDRAW.violation(
        "quantity_kg",
        f"{type(command).__name__} {command.posting_id} takes {shown(-delta.kg)} kg from "
        f"{delta.account.text}: available balance {shown(available)} kg",
        observed=shown(-delta.kg),
        allowed=f"at most {shown(available)}",
    )


def _reject(state: LedgerState, command: Command, reasons: tuple[Violation, ...]) -> Rejected:
    remembered = RejectedPosting(command, reasons)
    rejections = _grown(state.rejections, command.posting_id, remembered)
    return Rejected(replace(state, rejections=rejections), reasons)


def _accepted(
    plan: Plan,
    command: Command,
    balances: dict[AccountKey, Decimal],
    entries: tuple[BalanceUpdate, ...],
) -> LedgerState:
    state = plan.state
    day = command.occurred_on
    last_posted_on = dict(state.last_posted_on)
    for site_id in plan.posting_sites:
        last_posted_on[site_id] = max(day, last_posted_on.get(site_id, day))
    return replace(
        state,
        balances=balances,
        applied=_grown(state.applied, command.posting_id, command),
        journal=_appended(state.journal, command),
        entries=_appended(state.entries, *entries),
        last_posted_on=last_posted_on,
    )


def _grown(mapping: Mapping[str, _V], key: str, value: _V) -> Mapping[str, _V]:
    grown = mapping if isinstance(mapping, GrowingMap) else GrowingMap(mapping)
    return grown.with_item(key, value)


def _appended(log: Sequence[_T], *items: _T) -> Sequence[_T]:
    grown = log if isinstance(log, GrowingLog) else GrowingLog(log)
    return grown.appended(*items)
