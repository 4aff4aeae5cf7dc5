"""The rules a posting can fail, named as the CoC notes state them, and how a failure is
raised inside the core (``post`` turns it into a ``Rejected`` outcome)."""

from __future__ import annotations

from gateway.violations import Violation

NO_NEGATIVE_BALANCE = "CoC mass balance: no negative balance"
CREDITS_FROM_INPUTS = "CoC mass balance: certified inputs create credits, outputs consume them"
PHYSICAL_TRANSFER = "CoC notes: site-level transfers need a physical transfer"
SAME_SCOPE = "CoC notes: all sites under one certificate use the same scope"
SCENARIO_3 = "CoC notes scenario 3: site-level material never flows back to group level"
UNIQUE_SITE_ID = "CoC notes: every site has a unique site id"
MEMBERSHIP = "CoC notes: sites move in and out of group certificates"
REGISTERED_HOLDERS = "ledger: postings name registered sites, groups and certificates"
POSTING_IDENTITY = "ledger: one decision per posting id"
PERIOD_CLOSING = "CoC mass balance: monthly and yearly period closing"


class Refused(Exception):
    """Raised inside the core when a command breaks a rule; never escapes ``post``."""

    def __init__(self, *reasons: Violation) -> None:
        super().__init__("; ".join(reason.message for reason in reasons))
        self.reasons = reasons


def refused(
    code: str,
    rule: str,
    field: str,
    message: str,
    *,
    observed: str | None = None,
    allowed: str | None = None,
) -> Refused:
    return Refused(Violation(code, rule, field, observed, allowed, message))
