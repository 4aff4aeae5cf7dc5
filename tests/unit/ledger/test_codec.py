"""The ledger's fact and snapshot records: a fact written by the previous version (1, with no
balance after its deltas) restores; a record of a version this one does not know is refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gateway.ledger import Accepted, AccountKey, FactKind, LedgerState, Level, apply_fact, post
from gateway.ledger.codec import (
    FACT_VERSION,
    UnknownVersion,
    decode_fact,
    decode_snapshot,
    encode_fact,
)
from tests.unit.ledger.builders import SITE_LEVEL, certificate, join, received, site

WRITTEN_BY_VERSION_1 = (
    b'{"v":1,"id":"in-7","t":"CertifiedInput","d":"5f0c3b6f0f9a4d1e8c2b7a6d5e4f3a2b",'
    b'"on":"2026-03-02","k":"accepted","deltas":[["ALPHA-1","asi_aluminium","S","1000"]],'
    b'"sites":["ALPHA-1"]}'
)
"""A version 1 journal record, as the first fact journal wrote it."""

ALPHA = AccountKey("ALPHA-1", "asi_aluminium", Level.SITE)


def certified_alpha() -> LedgerState:
    state = LedgerState()
    for command in (
        certificate("reg", "C-ALPHA", "ALPHA", SITE_LEVEL),
        site("reg-site", "ALPHA-1"),
        join("join", "ALPHA-1", "C-ALPHA", on=1),
    ):
        state = post(state, command).state
    return state


def test_a_fact_written_by_the_previous_version_restores() -> None:
    fact = decode_fact(WRITTEN_BY_VERSION_1)
    assert fact.kind is FactKind.ACCEPTED
    assert fact.balances_after == (None,)
    state, entries = apply_fact(certified_alpha(), fact, check=True)
    assert state.balances[ALPHA] == Decimal(1000)
    assert "in-7" in state.applied and state.last_posted_on["ALPHA-1"] == date(2026, 3, 2)
    assert [entry.balance_kg for entry in entries] == [Decimal(1000)]
    upcast = decode_fact(encode_fact(fact))
    assert upcast == fact and b'"v":%d' % FACT_VERSION in encode_fact(fact)


def test_a_fact_names_the_balance_it_left_and_a_restore_can_check_it() -> None:
    outcome = post(certified_alpha(), received("in-1", "ALPHA-1", 250, on=2))
    assert isinstance(outcome, Accepted) and outcome.fact is not None
    fact = decode_fact(encode_fact(outcome.fact))
    assert fact.balances_after == (Decimal(250),)
    assert apply_fact(certified_alpha(), fact, check=True)[0] == outcome.state


def test_records_of_an_unknown_version_are_refused() -> None:
    with pytest.raises(UnknownVersion):
        decode_fact(WRITTEN_BY_VERSION_1.replace(b'"v":1', b'"v":99'))
    with pytest.raises(UnknownVersion):
        decode_snapshot([b'{"v":7,"items":[]}'])
