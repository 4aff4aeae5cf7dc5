"""The custody moves the registry's events imply, on the real broker: a claimed lot issued to a
holder and then cancelled puts each of its three moves on the ledger's command topic exactly
once, in the registry's transactions, and the ledger decides each once."""

from __future__ import annotations

import base64
from collections import Counter
from pathlib import Path

import pytest

from consumers.record_reader import read_to_end
from contracts.custody import CustodyMovementRecorded, CustodyMoveReason
from contracts.dead_letter import DeadLetterRecorded
from contracts.ledger import LedgerPostingAccepted, LedgerPostingRejected
from contracts.warrants import WarrantStateChanged
from tests.conftest import TestTopics
from tests.integration.ledger_support import wait_until_booked
from tests.integration.registry_support import (
    all_outputs,
    publish,
    registry_settings,
    running_registry,
    types_of,
    wait_until_consumed,
)
from tests.integration.test_registry_on_kafka import final_warrant_states, group_of
from tests.unit.test_registry_custody_moves import (
    HOLDER,
    LOT,
    WAREHOUSE,
    WARRANT,
    cancel,
    claimed_scenario,
)

pytestmark = pytest.mark.broker

POSTINGS = {
    f"lot-arrival.{LOT}": CustodyMoveReason.LOT_ARRIVAL,
    f"warrant-issued.{WARRANT}": CustodyMoveReason.WARRANT_ISSUED,
    f"warrant-cancelled.{WARRANT}": CustodyMoveReason.WARRANT_CANCELLED,
}
ONE_EACH = Counter(dict.fromkeys(POSTINGS, 1))


async def test_a_claimed_lot_warranted_and_cancelled_moves_custody_once_per_event(
    topics: TestTopics, tmp_path: Path
) -> None:
    async with running_registry(registry_settings(topics, tmp_path / "state")) as app:
        await publish(topics, claimed_scenario())
        await wait_until_consumed(topics, group_of(app))
        await publish(topics, [cancel(), cancel()])  # the same cancellation delivered twice
        await wait_until_consumed(topics, group_of(app))
        # The registry writes ledger.commands in transactions: the ledger's committed offset
        # passes their commit markers, so waiting for it to reach the end returns.
        await wait_until_booked(topics, app.ledger_group_id)
    commands = await read_to_end(topics.bootstrap_servers, [topics.prefix + "ledger.commands"])
    moves = [r.decoded.body for r in commands]
    assert all(isinstance(move, CustodyMovementRecorded) for move in moves)
    assert Counter(move.posting_id for move in moves) == ONE_EACH  # type: ignore[attr-defined]
    # each keyed by the holder it debits, so it lands on the partition holding that holder
    assert [r.key for r in commands] == [move.from_holder_id.encode() for move in moves]  # type: ignore[attr-defined]
    assert {
        move.posting_id: move.reason for move in moves if isinstance(move, CustodyMovementRecorded)
    } == POSTINGS

    registry_outputs = await all_outputs(topics)
    assert final_warrant_states(registry_outputs) == {LOT: "cancelled"}
    # the lot's state record names its holder once issued, and when it is cancelled, and
    # the warehouse holding the lot on both
    holders = [
        (body.state.value, body.warrant_holder_id, body.warehouse_id)
        for body in (r.decoded.body for r in registry_outputs)
        if isinstance(body, WarrantStateChanged)
    ]
    assert holders[-2:] == [("issued", HOLDER, WAREHOUSE), ("cancelled", HOLDER, WAREHOUSE)]
    assert types_of(registry_outputs).count("custody.warrant.cancelled") == 1
    ledger_outcomes = Counter[str]()
    for record in await read_to_end(
        topics.bootstrap_servers,
        [topics.prefix + "registry.ledger-decisions", topics.prefix + "registry.dead-letters"],
    ):
        body = record.decoded.body
        if isinstance(body, LedgerPostingAccepted | LedgerPostingRejected):
            ledger_outcomes[body.posting_id] += 1
        elif isinstance(body, DeadLetterRecorded):
            kept_key = body.original_key.kept_base64 if body.original_key else ""
            key = base64.b64decode(kept_key).decode()
            ledger_outcomes[f"dead letter from {body.source.topic}: {key}"] += 1
    assert ledger_outcomes == ONE_EACH  # one outcome each, and no dead letter at all
