"""What a command will change if it is accepted: the booking ``post`` then carries out."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.ledger.model import AccountKey, Certificate, Membership, Site, Transit


@dataclass(frozen=True)
class Delta:
    account: AccountKey
    kg: Decimal


@dataclass(frozen=True)
class SiteRecord:
    """A site as it is after a command, with its whole membership history (a few entries)."""

    site: Site
    memberships: tuple[Membership, ...]


@dataclass(frozen=True)
class Plan:
    deltas: tuple[Delta, ...] = ()
    """The balance changes, in order; none may take an account below zero."""
    posting_sites: tuple[str, ...] = ()
    """The sites a posting books for, whose latest posting date it moves on."""
    certificates: tuple[Certificate, ...] = ()
    """Certificates the command registers."""
    site_records: tuple[SiteRecord, ...] = ()
    """Sites the command registers or whose membership it changes."""
    certificate_ids: tuple[str, ...] = ()
    """Certificates the command books under besides those of its deltas' accounts (a
    membership change, a posting that moves no credits): their closed periods apply."""
    documents: tuple[str, ...] = ()
    """The documents whose quantity the posting books (``document_key``): each once."""
    transit_opened: Transit | None = None
    """The transfer a dispatch puts in transit."""
    transit_closed: str | None = None
    """The transport document of the transfer a receipt takes out of transit."""


COC_DOCUMENT, TRANSPORT_DOCUMENT, RECEIPT = "coc", "transport", "receipt"
"""The kinds of document a posting books."""
_CLAIMED_AT_HOME = frozenset({COC_DOCUMENT, TRANSPORT_DOCUMENT})


def document_key(kind: str, reference: str) -> str:
    """A document as the ledger remembers it: its kind and reference ("coc:COC-1")."""
    return f"{kind}:{reference}"


def claimed_at_home(key: str) -> bool:
    """Whether a document is booked once across the whole ledger, so that on a partitioned
    ledger the partition it hashes to (its home) claims it before any other books it: a CoC
    document and a transport document may be named at any site. A receipt is not: it is
    decided where the receiving site is held, which is where a second receipt would come."""
    return key.partition(":")[0] in _CLAIMED_AT_HOME
