"""A document booked once across a partitioned ledger (item: a CoC document's quantity is
credited once, a transport document moves its material once).

Each partition remembers the documents its own postings booked, but two sites held by two
partitions could each book the same document. So a document has a home, the partition it
hashes to, and a posting decided on another partition books it only once its home has
claimed it for that posting (``post`` answers ``Claim`` until then). The home grants a
document nobody booked or claimed, or one claimed for the same command again, and otherwise
names the posting that holds it; the deciding partition then decides with that answer, and
gives the document back (``released``) if it does not accept the posting. Claims and
releases are facts on the home's journal, so a restore knows them.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.ledger.commands import Command
from gateway.ledger.facts import Fact, FactKind, apply_fact, command_digest
from gateway.ledger.state import DocumentClaim, LedgerState

HomeAnswers = Mapping[str, str | None]
"""What the homes answered, by document: None when claimed for this posting, else the
posting that holds the document."""


def claim_document(
    state: LedgerState, document: str, command: Command
) -> tuple[LedgerState, str | None, Fact | None]:
    """At the document's home: claim it for the command's posting. The state after, the
    posting that holds the document if it is not granted (None: granted), and the fact to
    journal (None: nothing changed)."""
    digest = command_digest(command)
    booked = state.booked_documents.get(document)
    if booked is not None:
        return state, booked, None
    claim = state.document_claims.get(document)
    if claim is not None:
        granted_before = claim == DocumentClaim(command.posting_id, digest)
        return state, None if granted_before else claim.posting_id, None
    fact = _fact(command, digest, FactKind.CLAIMED, (document,))
    return apply_fact(state, fact)[0], None, fact


def release_fact(command: Command, documents: tuple[str, ...]) -> Fact:
    """What the homes apply to give back documents claimed for a posting not accepted."""
    return _fact(command, command_digest(command), FactKind.RELEASED, documents)


def granted(answers: HomeAnswers) -> tuple[str, ...]:
    return tuple(document for document, holder in answers.items() if holder is None)


def _fact(command: Command, digest: str, kind: FactKind, documents: tuple[str, ...]) -> Fact:
    return Fact(
        posting_id=command.posting_id,
        command_type=type(command).__name__,
        digest=digest,
        occurred_on=command.occurred_on,
        kind=kind,
        documents=documents,
    )
