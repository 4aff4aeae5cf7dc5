"""The ledger benchmark's state, built directly rather than booked, is a state the ledger
could hold: its snapshot restores to the very same value (the benchmark checks this too);
and the benchmark runs the measures named."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from gateway.ledger.codec import decode_snapshot, encode_chunks, snapshot_items
from gateway.tools.bench.ledger_measures import (
    LedgerBenchOptions,
    parts_named,
    populated,
    run_ledger_bench,
)


def test_the_benchmarks_ledger_state_restores_from_its_snapshot_unchanged() -> None:
    state = populated(300)
    assert decode_snapshot(encode_chunks(snapshot_items(state), 4_096)) == state
    assert set(state.certificate_accounts) == {"C-SMELTERS", "C-WAREHOUSES"}


def test_the_ledger_benchmark_runs_only_the_parts_named() -> None:
    options = LedgerBenchOptions(accounts=50, parts=parts_named("snapshot"))
    rows = asyncio.run(run_ledger_bench(options))
    assert [label for label, _ in rows] == [
        "snapshot of 50 accounts: write",
        "snapshot of 50 accounts: read",
        "snapshot of 50 accounts: size",
        "load average (1 min) at the end, cores",
    ]
    assert parts_named("restore, postings") == ("postings", "restore")
    with pytest.raises(argparse.ArgumentTypeError, match="unknown parts journal"):
        parts_named("journal")
