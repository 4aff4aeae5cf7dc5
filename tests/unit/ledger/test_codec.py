"""The ledger's fact and snapshot records: facts written by previous versions (1, with no
balance after its deltas; 2, with no certificate on its accounts) and a version 1 snapshot
restore; a record of a version this one does not know is refused."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from gateway.ledger import (
    Accepted,
    AccountKey,
    ClosePeriod,
    FactKind,
    LedgerState,
    Level,
    Period,
    apply_fact,
    apply_facts,
    post,
    replay,
)
from gateway.ledger.codec import (
    FACT_VERSION,
    UnknownVersion,
    decode_fact,
    decode_snapshot,
    encode_chunks,
    encode_fact,
    snapshot_items,
)
from tests.unit.ledger.builders import (
    GROUP_LEVEL,
    SITE_LEVEL,
    TAKE,
    certificate,
    join,
    leave,
    received,
    shipped,
    site,
)

WRITTEN_BY_VERSION_1 = (
    b'{"v":1,"id":"in-7","t":"CertifiedInput","d":"5f0c3b6f0f9a4d1e8c2b7a6d5e4f3a2b",'
    b'"on":"2026-03-02","k":"accepted","deltas":[["ALPHA-1","asi_aluminium","S","1000"]],'
    b'"sites":["ALPHA-1"]}'
)
"""A version 1 journal record, as the first fact journal wrote it."""

ALPHA = AccountKey("ALPHA-1", "asi_aluminium", Level.SITE, "C-ALPHA")


def certified_alpha() -> LedgerState:
    return replay(
        [
            certificate("reg", "C-ALPHA", "ALPHA", SITE_LEVEL),
            site("reg-site", "ALPHA-1"),
            join("join", "ALPHA-1", "C-ALPHA", on=1),
        ]
    )


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


WRITTEN_BY_VERSION_2 = (
    b'{"v":2,"id":"in-8","t":"CertifiedInput","d":"00","on":"2026-03-02","k":"accepted",'
    b'"deltas":[["HOLDCO","asi_aluminium","G","100","100"]],"sites":["X1"]}'
)
"""A version 2 journal record: its account names no certificate."""


def holdco() -> LedgerState:
    """HOLDCO holding a site-level certificate first, then a group-level one (X1's)."""
    return replay(
        [
            certificate("reg-1", "C-SITE", "HOLDCO", SITE_LEVEL),
            certificate("reg-2", "C-GROUP", "HOLDCO", GROUP_LEVEL),
            site("reg-3", "X1"),
            join("join", "X1", "C-GROUP", on=1),
        ]
    )


def test_a_version_2_fact_restores_under_the_certificate_that_keeps_the_groups_accounts() -> None:
    fact = decode_fact(WRITTEN_BY_VERSION_2)
    assert fact.legacy
    state, entries = apply_fact(holdco(), fact, check=True)
    under = AccountKey("HOLDCO", "asi_aluminium", Level.GROUP, "C-GROUP")
    assert state.balances == {under: Decimal(100)}
    assert [entry.account for entry in entries] == [under]
    assert apply_facts([fact], holdco()) == state
    assert decode_fact(encode_fact(fact)) == fact


def test_a_legacy_join_carries_the_site_balances_into_the_certificate_it_joins() -> None:
    state = post(certified_alpha(), received("in-1", "ALPHA-1", 300, on=2)).state
    for command in (
        leave("leave", "ALPHA-1", "C-ALPHA", 5, TAKE),
        certificate("reg-2", "C-BETA", "BETA", SITE_LEVEL),
    ):
        state = post(state, command).state
    outcome = post(state, join("join-2", "ALPHA-1", "C-BETA", on=6))
    assert isinstance(outcome, Accepted) and outcome.fact is not None
    written_by_version_2 = replace(outcome.fact, deltas=(), balances_after=(), legacy=True)
    restored, entries = apply_fact(state, written_by_version_2)
    assert restored == outcome.state
    assert [(entry.account.text, entry.balance_kg) for entry in entries] == [
        ("ALPHA-1/asi_aluminium/S@C-ALPHA", Decimal(0)),
        ("ALPHA-1/asi_aluminium/S@C-BETA", Decimal(300)),
    ]


def test_a_version_1_snapshot_restores_its_accounts_and_closes_under_their_certificates() -> None:
    state = post(certified_alpha(), received("in-1", "ALPHA-1", 250, on=2)).state
    state = post(state, ClosePeriod(posting_id="close", period=Period.month(2026, 2))).state
    chunks = encode_chunks(snapshot_items(state), 1 << 20)
    version_1 = [
        json.dumps(
            {
                "v": 1,
                "items": [
                    [field for n, field in enumerate(item) if n != _certificate_at(item)]
                    for item in json.loads(chunk)["items"]
                ],
            }
        ).encode()
        for chunk in chunks
    ]
    assert decode_snapshot(version_1) == state == decode_snapshot(chunks)


def _certificate_at(item: list[object]) -> int:
    """Where a version 2 balance, flow or closed-period item names its certificate (-1:
    nowhere); a version 1 closed period closed the whole ledger."""
    return {"b": 4, "f": 5, "p": 3}.get(str(item[0]), -1)


def test_the_documents_a_posting_booked_restore_from_its_fact_and_from_a_snapshot() -> None:
    outcome = post(certified_alpha(), received("in-1", "ALPHA-1", 250, on=2))
    assert isinstance(outcome, Accepted) and outcome.fact is not None
    fact = decode_fact(encode_fact(outcome.fact))
    assert fact.documents == ("coc:COC-in-1",)
    restored = apply_facts([fact], certified_alpha())
    assert restored.booked_documents == {"coc:COC-in-1": "in-1"} and restored == outcome.state
    assert decode_snapshot(encode_chunks(snapshot_items(restored), 1 << 20)) == restored


def test_a_transfer_in_transit_restores_from_its_fact_and_from_a_snapshot() -> None:
    state = replay(
        [site("reg-2", "ALPHA-2"), join("join-2", "ALPHA-2", "C-ALPHA", on=1)],
        post(certified_alpha(), received("in-1", "ALPHA-1", 250, on=2)).state,
    )
    outcome = post(state, shipped("transfer-1", "ALPHA-1", "ALPHA-2", 100, on=3))
    assert isinstance(outcome, Accepted) and outcome.fact is not None
    fact = decode_fact(encode_fact(outcome.fact))
    assert fact.transit_opened is not None and fact.transit_opened.quantity_kg == Decimal(100)
    restored = apply_facts([fact], state)
    assert restored == outcome.state and "CMR-transfer-1" in restored.transits
    assert decode_snapshot(encode_chunks(snapshot_items(restored), 1 << 20)) == restored
