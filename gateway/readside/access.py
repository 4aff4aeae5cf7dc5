"""Who may read what on the read side. Pure: the facts come in as plain values.

Full emissions are visible only to those with access to the CoA (§4.2.1, DOMAIN section 4):
- the exchange (its parties, from the settings);
- the producer of the CoA's brand;
- the current holder of a warrant that names the CoA (an issued warrant: after a
  cancellation the metal is no longer theirs, and a later holder sees nothing of the
  holders before);
- the warehouse holding the metal of a warrant that names the CoA: while it stands, and after
  its cancellation too (custody goes back to the warehouse until it loads the metal out,
  which the registry's outputs do not tell).
Anyone else is told the CoA does not exist (404), so nothing leaks, not even its existence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ISSUED, CANCELLED = "issued", "cancelled"


@dataclass(frozen=True)
class WarrantOfCertificate:
    """A warrant naming the CoA, its state now, its holder and its lot's warehouse."""

    warrant_id: str
    state: str
    holder_id: str | None
    warehouse_id: str | None


@dataclass(frozen=True)
class CertificateParties:
    producer_id: str | None
    warrants: tuple[WarrantOfCertificate, ...]

    def readers(self, exchange_parties: Iterable[str]) -> frozenset[str]:
        """Every party id that may read the CoA."""
        parties = set(exchange_parties)
        if self.producer_id is not None:
            parties.add(self.producer_id)
        for warrant in self.warrants:
            if warrant.state == ISSUED and warrant.holder_id is not None:
                parties.add(warrant.holder_id)
            if warrant.state in (ISSUED, CANCELLED) and warrant.warehouse_id is not None:
                parties.add(warrant.warehouse_id)
        return frozenset(parties)


def may_read_certificate(
    party_id: str, parties: CertificateParties, *, exchange_parties: Iterable[str]
) -> bool:
    return party_id in parties.readers(exchange_parties)
