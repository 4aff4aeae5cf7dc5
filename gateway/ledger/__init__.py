"""Chain-of-custody mass-balance ledger: a pure core over plain values (CoC notes).

``post(state, command) -> Accepted | Rejected | Forward`` books one command and says what it
changed as a ``Fact``; ``apply_fact`` carries a fact out without the rules (restore, and
what other partitions decided). No I/O, no clock, no Kafka.
"""

from gateway.ledger.commands import (
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
from gateway.ledger.core import Accepted, Forward, Outcome, Owns, Rejected, is_repeat, post, replay
from gateway.ledger.facts import Fact, FactKind, FactMismatch, apply_fact, apply_facts
from gateway.ledger.model import (
    AccountingScope,
    AccountKey,
    BalanceRule,
    BalanceUpdate,
    Certificate,
    ClosedPeriod,
    CustodyReason,
    Level,
    Membership,
    Period,
    PeriodKind,
    Reconciliation,
    Site,
    Transit,
    site_quality,
)
from gateway.ledger.periods import PeriodNotClosable, close_period, statements
from gateway.ledger.plan import Delta, SiteRecord
from gateway.ledger.state import DecidedPosting, Flow, LedgerState

__all__ = [
    "Accepted",
    "AccountKey",
    "AccountingScope",
    "BalanceRule",
    "BalanceUpdate",
    "Certificate",
    "CertifiedInput",
    "CertifiedOutput",
    "ClosePeriod",
    "ClosedPeriod",
    "Command",
    "CustodyMove",
    "CustodyReason",
    "DecidedPosting",
    "Delta",
    "EligibleScrapInput",
    "Fact",
    "FactKind",
    "FactMismatch",
    "Flow",
    "Forward",
    "JoinCertificate",
    "LeaveCertificate",
    "LedgerState",
    "Level",
    "LevelAllocation",
    "Membership",
    "NonCertifiedInput",
    "Outcome",
    "Owns",
    "Period",
    "PeriodKind",
    "PeriodNotClosable",
    "PhysicalTransfer",
    "Reconciliation",
    "RegisterCertificate",
    "RegisterSite",
    "Rejected",
    "Site",
    "SiteRecord",
    "TransferReceipt",
    "Transit",
    "apply_fact",
    "apply_facts",
    "close_period",
    "is_repeat",
    "post",
    "replay",
    "site_quality",
    "statements",
]
