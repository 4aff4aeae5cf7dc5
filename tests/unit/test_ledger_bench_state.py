"""The ledger benchmark's state, built directly rather than booked, is a state the ledger
could hold: its snapshot restores to the very same value (the benchmark checks this too)."""

from __future__ import annotations

from gateway.ledger.codec import decode_snapshot, encode_chunks, snapshot_items
from gateway.tools.bench.ledger_measures import populated


def test_the_benchmarks_ledger_state_restores_from_its_snapshot_unchanged() -> None:
    state = populated(300)
    assert decode_snapshot(encode_chunks(snapshot_items(state), 4_096)) == state
    assert set(state.certificate_accounts) == {"C-SMELTERS", "C-WAREHOUSES"}
