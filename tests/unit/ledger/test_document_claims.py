"""A document's home claims it for one posting (``gateway.ledger.document_claims``): the
pure core, without partitions or Kafka. The partitions exchanging claims are in
``tests/unit/test_ledger_partitions.py`` and on the broker."""

from __future__ import annotations

from gateway.ledger import (
    Accepted,
    Claim,
    LedgerState,
    Rejected,
    apply_fact,
    apply_facts,
    claim_document,
    post,
    release_fact,
    replay,
)
from gateway.ledger.codec import (
    decode_fact,
    decode_snapshot,
    encode_chunks,
    encode_fact,
    snapshot_items,
)
from gateway.ledger.state import DocumentClaim
from tests.unit.ledger.builders import SITE_LEVEL, certificate, join, received, site

DOCUMENT = "coc:COC-in-1"


def certified() -> LedgerState:
    return replay(
        [
            certificate("reg", "C-ALPHA", "ALPHA", SITE_LEVEL),
            site("reg-1", "ALPHA-1"),
            join("join-1", "ALPHA-1", "C-ALPHA", on=1),
        ]
    )


def test_a_home_grants_a_free_document_once_and_the_same_command_again() -> None:
    command = received("in-1", "ALPHA-1", 250, on=2)
    state, holder, fact = claim_document(certified(), DOCUMENT, command)
    assert holder is None and fact is not None
    assert state.document_claims.get(DOCUMENT) == DocumentClaim("in-1", fact.digest)
    again, holder_again, no_fact = claim_document(state, DOCUMENT, command)
    assert (again, holder_again, no_fact) == (state, None, None)


def test_a_home_names_the_posting_holding_a_claimed_or_booked_document() -> None:
    claimed, _, _ = claim_document(certified(), DOCUMENT, received("in-1", "ALPHA-1", 250, on=2))
    other = received("in-2", "ALPHA-1", 100, on=2)
    assert claim_document(claimed, DOCUMENT, other)[1:] == ("in-1", None)
    changed = received("in-1", "ALPHA-1", 999, on=2)  # the same posting id, other content
    assert claim_document(claimed, DOCUMENT, changed)[1:] == ("in-1", None)
    booked = post(certified(), received("in-1", "ALPHA-1", 250, on=2)).state  # booked at home
    assert claim_document(booked, "coc:COC-in-1", other)[1:] == ("in-1", None)


def test_a_release_gives_back_only_the_claim_of_its_own_command() -> None:
    command = received("in-1", "ALPHA-1", 250, on=2)
    claimed, _, _ = claim_document(certified(), DOCUMENT, command)
    changed = received("in-1", "ALPHA-1", 999, on=2)
    assert apply_fact(claimed, release_fact(changed, (DOCUMENT,)))[0] == claimed
    released, entries = apply_fact(claimed, release_fact(command, (DOCUMENT,)))
    assert entries == () and not released.document_claims
    assert claim_document(released, DOCUMENT, received("in-2", "ALPHA-1", 9, on=2))[1] is None


def test_a_posting_away_from_the_home_waits_for_its_claim_and_obeys_the_answer() -> None:
    away = lambda key: key != DOCUMENT  # noqa: E731 - this partition is not the home
    command = received("in-1", "ALPHA-1", 250, on=2)
    waiting = post(certified(), command, home=away)
    assert isinstance(waiting, Claim) and waiting.document == DOCUMENT
    granted = post(certified(), command, home=away, answers={DOCUMENT: None})
    assert isinstance(granted, Accepted) and granted.state.booked_documents == {DOCUMENT: "in-1"}
    held = post(certified(), command, home=away, answers={DOCUMENT: "in-0"})
    assert isinstance(held, Rejected) and held.codes == ("COC_DOCUMENT_CREDITED",)
    assert "booked by posting in-0" in held.reasons[0].message
    assert not held.state.booked_documents


def test_claims_and_releases_restore_from_their_facts_and_a_snapshot() -> None:
    command = received("in-1", "ALPHA-1", 250, on=2)
    claimed, _, claim = claim_document(certified(), DOCUMENT, command)
    assert claim is not None
    other, _, second = claim_document(claimed, "coc:COC-in-2", received("in-2", "ALPHA-1", 5, on=2))
    assert second is not None
    release = release_fact(command, (DOCUMENT,))
    facts = [decode_fact(encode_fact(fact)) for fact in (claim, second, release)]
    restored = apply_facts(facts, certified())
    assert restored == apply_fact(other, release)[0]
    assert [c.posting_id for c in restored.document_claims.values()] == ["in-2"]
    assert decode_snapshot(encode_chunks(snapshot_items(other), 1 << 20)) == other
