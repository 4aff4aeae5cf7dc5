"""Monthly and yearly period closing: one reconciliation statement per account (opening, in,
out, closing), the closing carried forward as the next period's opening.

Closing a period closes every day up to its end: a command dated on or before the last
closed day is rejected (``post``), so a statement never changes once made. Periods of one
kind close in sequence, and a period may not leave a gap after what is already closed.
A yearly close may follow monthly closes of the same year (or precede them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from gateway.ledger.model import ZERO, AccountKey, ClosedPeriod, Period, Reconciliation
from gateway.ledger.rules import PERIOD_NOT_CLOSABLE
from gateway.ledger.state import LedgerState
from gateway.violations import Violation

ONE_DAY = timedelta(days=1)


class PeriodNotClosable(ValueError):
    """The period cannot be closed now; ``violation`` says why."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message)
        self.violation = violation


def close_period(
    state: LedgerState, period: Period
) -> tuple[LedgerState, tuple[Reconciliation, ...]]:
    """Close the period; raises ``PeriodNotClosable`` if it is closed already or out of turn.

    Accounts with no opening balance and no movement in the period get no statement."""
    _check_closable(state, period)
    openings = _openings(state, period)
    ins: defaultdict[AccountKey, Decimal] = defaultdict(lambda: ZERO)
    outs: defaultdict[AccountKey, Decimal] = defaultdict(lambda: ZERO)
    for entry in state.entries:
        if period.covers(entry.occurred_on):
            if entry.delta_kg > ZERO:
                ins[entry.account] += entry.delta_kg
            else:
                outs[entry.account] -= entry.delta_kg
    carried = {account for account, kg in openings.items() if kg != ZERO}
    accounts = sorted(carried | ins.keys() | outs.keys(), key=lambda account: account.text)
    statements = tuple(
        Reconciliation(
            account=account,
            opening_kg=openings.get(account, ZERO),
            in_kg=ins[account],
            out_kg=outs[account],
            closing_kg=openings.get(account, ZERO) + ins[account] - outs[account],
        )
        for account in accounts
    )
    closed = ClosedPeriod(period, statements)
    return replace(state, closed_periods=(*state.closed_periods, closed)), statements


def _openings(state: LedgerState, period: Period) -> dict[AccountKey, Decimal]:
    """The closings of the same kind's period just before, carried forward; for a first
    period, the balances built by everything dated before it."""
    for closed in reversed(state.closed_periods):
        if closed.period.kind is period.kind and closed.period.end + ONE_DAY == period.start:
            return {r.account: r.closing_kg for r in closed.reconciliations}
    openings: defaultdict[AccountKey, Decimal] = defaultdict(lambda: ZERO)
    for entry in state.entries:
        if entry.occurred_on < period.start:
            openings[entry.account] += entry.delta_kg
    return dict(openings)


def _check_closable(state: LedgerState, period: Period) -> None:
    closed = [c.period for c in state.closed_periods]
    if period in closed:
        raise _not_closable(period, f"{period.label} is already closed")
    same_kind = [p for p in closed if p.kind is period.kind]
    if same_kind:
        latest = max(same_kind, key=lambda p: p.end)
        if period.start != latest.end + ONE_DAY:
            raise _not_closable(
                period,
                f"{period.kind.value}s close in sequence: {latest.label} was closed last, "
                f"so the next {period.kind.value} to close starts {latest.end + ONE_DAY}",
            )
    through = state.closed_through
    if through is not None and period.start > through + ONE_DAY:
        raise _not_closable(
            period,
            f"the ledger is closed through {through}; closing {period.label} would leave "
            f"{through + ONE_DAY} to {period.start - ONE_DAY} open behind it",
        )


def _not_closable(period: Period, message: str) -> PeriodNotClosable:
    return PeriodNotClosable(
        PERIOD_NOT_CLOSABLE.violation("period", message, observed=f"{period.start} to {period.end}")
    )
