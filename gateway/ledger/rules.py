"""The rules a posting can fail, named as the CoC notes state them; every rejection the
ledger answers with (a stable code and the rule it names); and how a failure is raised
inside the core (``post`` turns it into a ``Rejected`` outcome).

A rule text travels on the wire as a rule reference (``contracts.values.RuleReference``): at
most 64 characters. ``REJECTIONS`` lists every code the ledger can answer with.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.violations import Violation

NO_NEGATIVE_BALANCE = "CoC mass balance: no negative balance"
CREDITS_FROM_INPUTS = "CoC: certified inputs create credits, outputs consume them"
PHYSICAL_TRANSFER = "CoC notes: site-level transfers need a physical transfer"
SAME_SCOPE = "CoC notes: all sites under one certificate use the same scope"
SCENARIO_3 = "CoC scenario 3: site-level material never flows back to group"
UNIQUE_SITE_ID = "CoC notes: every site has a unique site id"
MEMBERSHIP = "CoC notes: sites move in and out of group certificates"
REGISTERED_HOLDERS = "ledger: postings name registered sites, groups and certificates"
POSTING_IDENTITY = "ledger: one decision per posting id"
PERIOD_CLOSING = "CoC mass balance: monthly and yearly period closing"
SENDER_IDENTITY = "sender identity"
OWN_ACCOUNTS = "CoC: each certificate keeps its own material accounts"
RECEIVED_AS_DISPATCHED = "CoC notes: a physical transfer is received as it was dispatched"
NOMINATION = "CoC scenario 2: only nominated sites run their own accounting"
DOCUMENT_ONCE = "CoC mass balance: a document's quantity is credited once"
EXACT_QUANTITIES = "ledger: every quantity is kept and published exactly"


@dataclass(frozen=True)
class Rejection:
    """One reason the ledger refuses a command: a stable code and the rule it names."""

    code: str
    rule: str

    def violation(
        self,
        field: str,
        message: str,
        *,
        observed: str | None = None,
        allowed: str | None = None,
    ) -> Violation:
        return Violation(self.code, self.rule, field, observed, allowed, message)


# Registrations and membership changes.
CERTIFICATE_EXISTS = Rejection("CERTIFICATE_EXISTS", REGISTERED_HOLDERS)
SEPARATE_QUALITY_NEEDS_GROUP_LEVEL = Rejection("SEPARATE_QUALITY_NEEDS_GROUP_LEVEL", SCENARIO_3)
SITE_EXISTS = Rejection("SITE_EXISTS", UNIQUE_SITE_ID)
UNKNOWN_SITE = Rejection("UNKNOWN_SITE", UNIQUE_SITE_ID)
UNKNOWN_CERTIFICATE = Rejection("UNKNOWN_CERTIFICATE", REGISTERED_HOLDERS)
ALREADY_MEMBER = Rejection("ALREADY_MEMBER", MEMBERSHIP)
NOT_A_MEMBER = Rejection("NOT_A_MEMBER", MEMBERSHIP)
MEMBERSHIP_ORDER = Rejection("MEMBERSHIP_ORDER", MEMBERSHIP)
CARRIED_BALANCE_NOT_ACCOUNTED = Rejection("CARRIED_BALANCE_NOT_ACCOUNTED", MEMBERSHIP)
TRANSFER_IN_TRANSIT = Rejection("TRANSFER_IN_TRANSIT", MEMBERSHIP)
# The account a posting books to.
SITE_NOT_CERTIFIED = Rejection("SITE_NOT_CERTIFIED", MEMBERSHIP)
SITE_NOT_NOMINATED = Rejection("SITE_NOT_NOMINATED", NOMINATION)
LEVEL_OUTSIDE_SCOPE = Rejection("LEVEL_OUTSIDE_SCOPE", SAME_SCOPE)
WRONG_HOLDER = Rejection("WRONG_HOLDER", SAME_SCOPE)
UNKNOWN_HOLDER = Rejection("UNKNOWN_HOLDER", REGISTERED_HOLDERS)
CERTIFICATE_AMBIGUOUS = Rejection("CERTIFICATE_AMBIGUOUS", OWN_ACCOUNTS)
CREDITS_ACROSS_SITES = Rejection("CREDITS_ACROSS_SITES", PHYSICAL_TRANSFER)
SITE_MATERIAL_TO_GROUP = Rejection("SITE_MATERIAL_TO_GROUP", SCENARIO_3)
# What a posting moves.
NON_POSITIVE_QUANTITY = Rejection("NON_POSITIVE_QUANTITY", CREDITS_FROM_INPUTS)
OVERDRAW = Rejection("OVERDRAW", NO_NEGATIVE_BALANCE)
BALANCE_NOT_EXACT = Rejection("BALANCE_NOT_EXACT", EXACT_QUANTITIES)
TRANSFER_TO_ITSELF = Rejection("SAME_ENDPOINTS", PHYSICAL_TRANSFER)
TRANSFER_ACROSS_CERTIFICATES = Rejection("TRANSFER_ACROSS_CERTIFICATES", CREDITS_FROM_INPUTS)
ALLOCATION_LEVELS = Rejection("ALLOCATION_LEVELS", SCENARIO_3)
ALLOCATION_OUTSIDE_SCENARIO_3 = Rejection("ALLOCATION_OUTSIDE_SCENARIO_3", SCENARIO_3)
MOVE_TO_SAME_HOLDER = Rejection("SAME_ENDPOINTS", CREDITS_FROM_INPUTS)
USE_PHYSICAL_TRANSFER = Rejection("USE_PHYSICAL_TRANSFER", PHYSICAL_TRANSFER)
COC_DOCUMENT_CREDITED = Rejection("COC_DOCUMENT_CREDITED", DOCUMENT_ONCE)
TRANSPORT_DOCUMENT_USED = Rejection("TRANSPORT_DOCUMENT_USED", DOCUMENT_ONCE)
NOT_IN_TRANSIT = Rejection("NOT_IN_TRANSIT", RECEIVED_AS_DISPATCHED)
TRANSFER_ALREADY_RECEIVED = Rejection("TRANSFER_ALREADY_RECEIVED", RECEIVED_AS_DISPATCHED)
RECEIPT_MISMATCH = Rejection("RECEIPT_MISMATCH", RECEIVED_AS_DISPATCHED)
# Posting ids and periods.
POSTING_ID_REUSED = Rejection("POSTING_ID_REUSED", POSTING_IDENTITY)
PERIOD_CLOSED = Rejection("PERIOD_CLOSED", PERIOD_CLOSING)
PERIOD_NOT_CLOSABLE = Rejection("PERIOD_NOT_CLOSABLE", PERIOD_CLOSING)
# Decided by the pipeline (gateway/processors/ledger.py) before a command reaches the core.
SENDER_NOT_PERMITTED = Rejection("SENDER_NOT_PERMITTED", SENDER_IDENTITY)
PERIOD_START = Rejection("PERIOD_START", PERIOD_CLOSING)

REJECTIONS: tuple[Rejection, ...] = (
    CERTIFICATE_EXISTS,
    SEPARATE_QUALITY_NEEDS_GROUP_LEVEL,
    SITE_EXISTS,
    UNKNOWN_SITE,
    UNKNOWN_CERTIFICATE,
    ALREADY_MEMBER,
    NOT_A_MEMBER,
    MEMBERSHIP_ORDER,
    CARRIED_BALANCE_NOT_ACCOUNTED,
    TRANSFER_IN_TRANSIT,
    SITE_NOT_CERTIFIED,
    SITE_NOT_NOMINATED,
    LEVEL_OUTSIDE_SCOPE,
    WRONG_HOLDER,
    UNKNOWN_HOLDER,
    CERTIFICATE_AMBIGUOUS,
    CREDITS_ACROSS_SITES,
    SITE_MATERIAL_TO_GROUP,
    NON_POSITIVE_QUANTITY,
    OVERDRAW,
    BALANCE_NOT_EXACT,
    TRANSFER_TO_ITSELF,
    TRANSFER_ACROSS_CERTIFICATES,
    ALLOCATION_LEVELS,
    ALLOCATION_OUTSIDE_SCENARIO_3,
    MOVE_TO_SAME_HOLDER,
    USE_PHYSICAL_TRANSFER,
    COC_DOCUMENT_CREDITED,
    TRANSPORT_DOCUMENT_USED,
    NOT_IN_TRANSIT,
    TRANSFER_ALREADY_RECEIVED,
    RECEIPT_MISMATCH,
    POSTING_ID_REUSED,
    PERIOD_CLOSED,
    PERIOD_NOT_CLOSABLE,
    SENDER_NOT_PERMITTED,
    PERIOD_START,
)
"""Every rejection the ledger answers with. ``SAME_ENDPOINTS`` is one code under two rules:
a transfer from a site to itself, a custody move to the holder it comes from."""


class Refused(Exception):
    """Raised inside the core when a command breaks a rule; never escapes ``post``."""

    def __init__(self, *reasons: Violation) -> None:
        super().__init__("; ".join(reason.message for reason in reasons))
        self.reasons = reasons


def refused(
    rejection: Rejection,
    field: str,
    message: str,
    *,
    observed: str | None = None,
    allowed: str | None = None,
) -> Refused:
    return Refused(rejection.violation(field, message, observed=observed, allowed=allowed))
