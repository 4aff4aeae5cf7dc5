"""A balance is kept with at most 28 digits, as a quantity travels (issue 11 item 18): a
posting that would leave more is refused, not rounded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.ledger import Accepted, LedgerState, Rejected, post, replay
from tests.unit.ledger.builders import SITE_LEVEL, certificate, join, received, site


def certified() -> LedgerState:
    return replay(
        [
            certificate("reg", "C-ALPHA", "ALPHA", SITE_LEVEL),
            site("reg-1", "ALPHA-1"),
            join("join-1", "ALPHA-1", "C-ALPHA", on=1),
        ]
    )


@pytest.mark.parametrize(
    ("first", "second", "exact"),
    [
        ("9" * 27, "1", True),  # 28 whole digits
        ("9" * 28, "1", False),  # 29 whole digits: 1E+28 once rounded
        ("5" + "0" * 27, "5" + "0" * 27, False),  # 29 whole digits, few significant ones
        ("1" + "0" * 26, "0.5", True),  # 27 whole digits and one place
        ("1" + "0" * 26, "0.05", False),  # 27 whole digits and two places
        ("0." + "1" * 28, "0." + "0" * 27 + "1", True),
    ],
)
def test_a_posting_leaving_a_balance_past_28_digits_is_refused(
    first: str, second: str, exact: bool
) -> None:
    state = post(certified(), received("in-1", "ALPHA-1", first)).state
    outcome = post(state, received("in-2", "ALPHA-1", second))
    if exact:
        assert isinstance(outcome, Accepted)
        (entry,) = outcome.entries
        assert entry.balance_kg == Decimal(first) + Decimal(second)
    else:
        assert isinstance(outcome, Rejected) and outcome.codes == ("BALANCE_NOT_EXACT",)
        assert "more than the 28 digits" in outcome.reasons[0].message
        assert outcome.state.balances == state.balances
