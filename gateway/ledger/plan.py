"""What a command will change if it is accepted: the booking ``post`` then carries out."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.ledger.model import AccountKey
from gateway.ledger.state import LedgerState


@dataclass(frozen=True)
class Delta:
    account: AccountKey
    kg: Decimal


@dataclass(frozen=True)
class Plan:
    state: LedgerState
    """The state with the command's registry changes (certificates, sites, memberships)."""
    deltas: tuple[Delta, ...] = ()
    """The balance changes, in order; none may take an account below zero."""
    posting_sites: tuple[str, ...] = ()
    """The sites a posting books for, whose latest posting date it moves on."""
