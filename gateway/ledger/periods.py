"""Monthly and yearly period closing, per certificate: one reconciliation statement per
account of the certificate (opening, in, out, closing), the closing carried forward as the
next period's opening.

Closing a period for a certificate closes every day up to its end for it: a command dated on
or before its last closed day that books under the certificate is rejected (``post``), so a
statement never changes once made; other certificates stay open. Periods of one kind close
in sequence, and a period may not leave a gap after what is already closed. A yearly close
may follow monthly closes of the same year (or precede them). A close that names no
certificate closes the period for every certificate registered (what a close did before
certificates were closed apart).

Statements come from what the state keeps per account, not from a history of entries: the
certificate's accounts (``LedgerState.certificate_accounts``), each one's balance and its
flows per month. A period's in and out are its months' flows; its opening is the balance
less the net of every month from the period's start on. So a close costs O(accounts of the
certificate x months from the period's start to the latest month booked), whatever the
length of the history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from gateway.ledger.facts import with_closed
from gateway.ledger.model import ZERO, Period, Reconciliation
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
    state: LedgerState, period: Period, certificate_id: str | None = None
) -> tuple[LedgerState, tuple[Reconciliation, ...]]:
    """The state with the period closed for the certificate (None: for every certificate),
    and its statements; raises ``PeriodNotClosable`` if it is closed already or out of turn
    for one of them. Accounts with no opening balance and no movement in the period get no
    statement."""
    certificate_ids = closing_for(state, certificate_id)
    for closing in certificate_ids:
        check_closable(state, period, closing)
    closes = state.closes
    for closing in certificate_ids:
        closes = closes.set(closing, with_closed(closes.get(closing), period))
    return replace(state, closes=closes), statements(state, period, certificate_ids)


def closing_for(state: LedgerState, certificate_id: str | None) -> tuple[str, ...]:
    """The certificates a close naming ``certificate_id`` (or none: all) closes."""
    if certificate_id is None:
        return tuple(sorted(state.certificates))
    return (certificate_id,)


def statements(
    state: LedgerState, period: Period, certificate_ids: Iterable[str]
) -> tuple[Reconciliation, ...]:
    """One reconciliation per account of the certificates with an opening balance or a
    movement in the period."""
    months = sorted(month for month in state.flows if month >= period.start)
    made: list[Reconciliation] = []
    for certificate_id in certificate_ids:
        accounts = state.certificate_accounts.get(certificate_id) or ()
        for account in accounts:
            in_kg = out_kg = later = ZERO
            for month in months:
                flow = (state.flows[month]).get(account)
                if flow is None:
                    continue
                if period.covers(month):
                    in_kg, out_kg = in_kg + flow.in_kg, out_kg + flow.out_kg
                else:
                    later += flow.in_kg - flow.out_kg
            closing: Decimal = state.balance(account) - later
            opening = closing - in_kg + out_kg
            if opening != ZERO or in_kg or out_kg:
                made.append(Reconciliation(account, opening, in_kg, out_kg, closing))
    return tuple(sorted(made, key=lambda statement: statement.account.text))


def check_closable(state: LedgerState, period: Period, certificate_id: str) -> None:
    closed = state.closed_periods(certificate_id)
    whose = f"for certificate {certificate_id}"
    if period in closed:
        raise _not_closable(period, f"{period.label} is already closed {whose}")
    same_kind = [p for p in closed if p.kind is period.kind]
    if same_kind:
        latest = max(same_kind, key=lambda p: p.end)
        if period.start != latest.end + ONE_DAY:
            raise _not_closable(
                period,
                f"{period.kind.value}s close in sequence: {latest.label} was closed last "
                f"{whose}, so the next {period.kind.value} to close starts "
                f"{latest.end + ONE_DAY}",
            )
    through = state.closed_through(certificate_id)
    if through is not None and period.start > through + ONE_DAY:
        raise _not_closable(
            period,
            f"certificate {certificate_id} is closed through {through}; closing "
            f"{period.label} would leave {through + ONE_DAY} to {period.start - ONE_DAY} open "
            "behind it",
        )


def _not_closable(period: Period, message: str) -> PeriodNotClosable:
    return PeriodNotClosable(
        PERIOD_NOT_CLOSABLE.violation("period", message, observed=f"{period.start} to {period.end}")
    )
