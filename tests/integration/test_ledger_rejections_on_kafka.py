"""Every rejection the ledger answers with, through a running gateway on the real broker: one
``LedgerPostingRejected`` per refused command on ``registry.ledger-decisions`` (read
committed), naming the expected code and rule, and the gateway still booking afterwards.

The commands are the rows of ``tests/unit/ledger/rejection_rows.py``, each under ids of its
own, all sent to one app run; the passing quantity edges come last."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import ledger as wire
from contracts.base import Contract
from gateway.processors.ledger import LedgerCommandBody
from tests.conftest import TestTopics
from tests.integration.ledger_support import read, send, state_balances, wait_until_booked
from tests.integration.registry_support import registry_settings, running_registry
from tests.unit.ledger.rejection_rows import ACCEPTED_EDGES, ROWS, Sent, one_stream

pytestmark = pytest.mark.broker

DECISIONS = "registry.ledger-decisions"
Decision = tuple[str, str, tuple[tuple[str, str], ...]]
"""Posting id, booked or rejected, and the (code, rule) of every violation."""


def booked(body: Contract) -> Decision:
    assert isinstance(body, LedgerCommandBody)
    return body.posting_id, "booked", ()


def decision(body: Contract) -> Decision:
    if isinstance(body, wire.LedgerPostingRejected):
        violations = tuple((v.code, v.rule) for v in body.violations)
        return body.posting_id, "rejected", violations
    assert isinstance(body, wire.LedgerPostingAccepted | wire.LedgerPeriodClosed), body
    return body.posting_id, "booked", ()


async def test_every_rejection_is_published_once_with_its_code_and_the_gateway_books_on(
    topics: TestTopics, tmp_path: Path
) -> None:
    groups = one_stream([*(row.steps for row in ROWS), *(edge.steps for edge in ACCEPTED_EDGES)])
    rejecting, passing = groups[: len(ROWS)], groups[len(ROWS) :]
    expected: list[Decision] = []
    for row, steps in zip(ROWS, rejecting, strict=True):
        (*setup, (refused, _)) = steps
        expected += [booked(body) for body, _ in setup]
        rule = (row.rejection.code, row.rejection.rule)
        expected.append((booked(refused)[0], "rejected", (rule,)))
    expected += [booked(body) for steps in passing for body, _ in steps]
    stream: list[Sent] = [step for steps in groups for step in steps]

    async with running_registry(registry_settings(topics, tmp_path / "state")) as app:
        await send(topics, stream)
        await wait_until_booked(topics, app.ledger_group_id)
        assert app.ready, "the gateway stopped"
        assert app.ledger is not None
        balances = state_balances(app.ledger.state_of(0))

    decisions = [decision(record.decoded.body) for record in await read(topics, DECISIONS)]
    assert decisions == expected
    rejected = [codes[0][0] for _, outcome, codes in decisions if outcome == "rejected"]
    assert rejected == [row.rejection.code for row in ROWS]
    for edge, steps in zip(ACCEPTED_EDGES, passing, strict=True):
        prefix = booked(steps[0][0])[0].split(".", 1)[0]
        assert balances[edge.account_under(f"{prefix}.")] == edge.balance_kg
