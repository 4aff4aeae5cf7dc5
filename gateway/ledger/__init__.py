"""Chain-of-custody mass-balance ledger: a pure core over plain values (CoC notes).

``post(state, command) -> Accepted | Rejected`` books one command; ``close_period`` closes a
month or a year with a reconciliation per account. No I/O, no clock, no Kafka.
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
)
from gateway.ledger.core import Accepted, Outcome, Rejected, post, replay
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
    site_quality,
)
from gateway.ledger.periods import PeriodNotClosable, close_period
from gateway.ledger.state import LedgerState, RejectedPosting

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
    "EligibleScrapInput",
    "JoinCertificate",
    "LeaveCertificate",
    "LedgerState",
    "Level",
    "LevelAllocation",
    "Membership",
    "NonCertifiedInput",
    "Outcome",
    "Period",
    "PeriodKind",
    "PeriodNotClosable",
    "PhysicalTransfer",
    "Reconciliation",
    "RegisterCertificate",
    "RegisterSite",
    "Rejected",
    "RejectedPosting",
    "Site",
    "close_period",
    "post",
    "replay",
    "site_quality",
]
