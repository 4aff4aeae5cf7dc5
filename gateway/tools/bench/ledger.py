"""``ledger``: what a custody posting costs with 100,000 accounts (against 10 and 10,000), the
journal's restore of 1,000,000 facts, a snapshot, and postings through the broker with a
running gateway. The measurements are ``ledger_measures``'s; this is the bench's scenario."""

from __future__ import annotations

import argparse

from gateway.tools.bench.framework import BenchContext, Scenario, positive_int
from gateway.tools.bench.ledger_measures import (
    PARTS,
    LedgerBenchOptions,
    parts_named,
    run_ledger_bench,
)
from gateway.tools.bench.tables import Table


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--accounts", type=positive_int, default=100_000, help="accounts in the ledger (100000)"
    )
    group.add_argument(
        "--postings", type=positive_int, default=20_000, help="postings timed in-process (20000)"
    )
    group.add_argument(
        "--journal-facts",
        type=positive_int,
        default=1_000_000,
        help="journaled facts restored (1000000)",
    )
    group.add_argument(
        "--broker-postings",
        type=int,
        default=20_000,
        help="postings through the broker and a running gateway (20000; 0: none)",
    )
    group.add_argument(
        "--ledger-parts",
        type=parts_named,
        default=PARTS,
        help=f"the ledger's measures to run, comma-separated, of {','.join(PARTS)} (all)",
    )


async def run(context: BenchContext, arguments: argparse.Namespace) -> list[Table]:
    options = LedgerBenchOptions(
        accounts=arguments.accounts,
        postings=arguments.postings,
        journal_entries=arguments.journal_facts,
        bootstrap_servers=context.bootstrap_servers if arguments.broker_postings else None,
        broker_postings=arguments.broker_postings,
        parts=arguments.ledger_parts,
    )
    rows = await run_ledger_bench(options)
    return [
        Table(
            title="ledger: custody postings, the journal's restore and a snapshot",
            columns=("measured", "figure"),
            rows=tuple(rows),
            notes=(
                "in-process: the ledger's step over records of the realistic mix (certified "
                "inputs and outputs, custody moves), the state threaded through",
                "journal restore: the facts read back and applied in a process of its own, "
                "the rules not run; targets: >= 5,000 postings/s with 100,000 accounts, 1M "
                "facts restored in <= 30 s",
            ),
        )
    ]


SCENARIO = Scenario(
    name="ledger",
    summary="postings/s with 100,000 accounts, the journal's restore of 1M facts, a snapshot",
    add_arguments=add_arguments,
    run=run,
)
