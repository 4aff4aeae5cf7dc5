"""Monthly and yearly period closing: one reconciliation statement per account (opening, in,
out, closing), the closing carried forward as the next period's opening.

Closing a period closes every day up to its end: a command dated on or before the last
closed day is rejected (``post``), so a statement never changes once made. Periods of one
kind close in sequence, and a period may not leave a gap after what is already closed.
A yearly close may follow monthly closes of the same year (or precede them).

Statements come from the months' flows the state keeps per account (not from a history of
entries): a period's in and out are its months' flows, its opening the net of every month
before it. Because nothing dated in a closed period is booked later, that opening is the
closing of the period of the same kind just before.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from gateway.ledger.model import ZERO, AccountKey, Period, Reconciliation
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
    """The state with the period closed, and its statements; raises ``PeriodNotClosable`` if
    it is closed already or out of turn. Accounts with no opening balance and no movement in
    the period get no statement."""
    check_closable(state, period)
    return replace(state, closed_periods=(*state.closed_periods, period)), statements(state, period)


def statements(state: LedgerState, period: Period) -> tuple[Reconciliation, ...]:
    """One reconciliation per account with an opening balance or a movement in the period."""
    openings: defaultdict[AccountKey, Decimal] = defaultdict(lambda: ZERO)
    ins: defaultdict[AccountKey, Decimal] = defaultdict(lambda: ZERO)
    outs: defaultdict[AccountKey, Decimal] = defaultdict(lambda: ZERO)
    for month, flows in state.flows.items():
        if month < period.start:
            for account, flow in flows.items():
                openings[account] += flow.in_kg - flow.out_kg
        elif period.covers(month):
            for account, flow in flows.items():
                ins[account] += flow.in_kg
                outs[account] += flow.out_kg
    carried = {account for account, kg in openings.items() if kg != ZERO}
    moved = {account for account in ins.keys() | outs.keys() if ins[account] or outs[account]}
    accounts = sorted(carried | moved, key=lambda account: account.text)
    return tuple(
        Reconciliation(
            account=account,
            opening_kg=openings[account],
            in_kg=ins[account],
            out_kg=outs[account],
            closing_kg=openings[account] + ins[account] - outs[account],
        )
        for account in accounts
    )


def check_closable(state: LedgerState, period: Period) -> None:
    closed = list(state.closed_periods)
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
