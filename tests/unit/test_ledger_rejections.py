"""Every rejection the ledger answers with, through the pipeline (``process_ledger_record``):
decoded, decided, and encoded as the ``LedgerPostingRejected`` its sender reads back, so that
a rejection the wire cannot carry fails here and not in the worker.

One row per entry of ``gateway.ledger.rules.REJECTIONS`` (``tests/unit/ledger/
rejection_rows.py``); the table is checked against that list, and the list against the
source of the core and the pipeline.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import gateway.ledger.rules as rules
import gateway.processors.ledger as pipeline
from contracts import ledger as wire
from contracts.base import Contract
from contracts.custody import CustodyBalanceUpdated
from contracts.envelope import decode_message
from gateway.ledger import Command, LedgerState
from gateway.ledger.rules import REJECTIONS, Rejection
from gateway.processors.ledger import (
    LedgerCommandBody,
    LedgerProcessed,
    process_ledger_record,
    to_core_command,
)
from gateway.processors.records import InputRecord
from gateway.processors.step import Outcome
from tests.unit.ledger.builders import (
    S,
    allocated,
    moved,
    received,
    scrap,
    shipped,
    sold,
    uncertified,
)
from tests.unit.ledger.rejection_rows import (
    ACCEPTED_EDGES,
    GROUP_LEVEL_B1,
    ROWS,
    SCENARIO_3_Q1,
    SITE_LEVEL_A1_A2,
    Edge,
    Row,
    Sent,
    as_wire,
    one_stream,
    sent,
)
from tests.unit.test_ledger_pipeline import NOW, SETTINGS, balances, bodies_of, record, run

LEDGER_PACKAGE = Path(rules.__file__).parent
PIPELINE_SOURCE = Path(pipeline.__file__)


def posting_id(body: Contract) -> str:
    assert isinstance(body, LedgerCommandBody)
    return body.posting_id


def assert_rejected_with(result: LedgerProcessed, rejection: Rejection, command: Contract) -> None:
    """One record on the decisions topic: a rejection of ``command`` naming only ``rejection``."""
    assert result.outcome is Outcome.REJECTED, result
    (output,) = result.outputs
    assert output.topic == "registry.ledger-decisions"
    decision = decode_message(output.headers, output.value).body
    assert isinstance(decision, wire.LedgerPostingRejected)
    assert decision.posting_id == posting_id(command)
    assert [(v.code, v.rule) for v in decision.violations] == [(rejection.code, rejection.rule)]


def assert_all_booked(results: list[LedgerProcessed]) -> None:
    assert [r.outcome for r in results] == [Outcome.BOOKED] * len(results), [
        (r.message_type, [v.code for v in r.violations]) for r in results
    ]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_the_last_command_of_a_row_is_rejected_naming_its_code_and_rule(row: Row) -> None:
    _, results, _ = run(list(row.steps))
    *setup, last = results
    assert_all_booked(setup)
    assert_rejected_with(last, row.rejection, row.steps[-1][0])


def test_every_listed_rejection_has_exactly_one_row() -> None:
    assert len(set(REJECTIONS)) == len(REJECTIONS)
    assert [row.rejection for row in ROWS] == list(REJECTIONS)


def test_every_rejection_declared_in_the_rules_is_listed() -> None:
    declared = {value for value in vars(rules).values() if isinstance(value, Rejection)}
    assert declared == set(REJECTIONS)


def _calls(path: Path, name: str) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


def test_the_core_builds_violations_only_from_the_listed_rejections() -> None:
    # codec.py reads back violations the journal holds: it makes none of its own
    core_modules = [
        path for path in LEDGER_PACKAGE.glob("*.py") if path.name not in {"rules.py", "codec.py"}
    ]
    assert len(core_modules) >= 8
    own = [
        f"{path.name}:{call.lineno}"
        for path in core_modules
        for name in ("Violation", "Rejection")
        for call in _calls(path, name)
    ]
    assert own == [], "a code of the core's own, not in rules.REJECTIONS"


def _static_text(expression: ast.expr) -> str:
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        return expression.value
    assert isinstance(expression, ast.Name), ast.unparse(expression)
    value = getattr(pipeline, expression.id)
    assert isinstance(value, str), expression.id
    return value


def test_every_violation_the_pipeline_builds_itself_is_listed() -> None:
    built = {
        (_static_text(call.args[0]), _static_text(call.args[1]))
        for call in _calls(PIPELINE_SOURCE, "Violation")
    }
    assert {code for code, _ in built} == {"PERIOD_START", "SENDER_NOT_PERMITTED"}
    assert built <= {(rejection.code, rejection.rule) for rejection in REJECTIONS}


def test_all_rows_one_after_another_in_one_ledger_are_decided_as_alone() -> None:
    """The stream the broker test sends: each row under ids of its own, in one ledger."""
    groups = one_stream([row.steps for row in ROWS])
    _, results, _ = run([step for group in groups for step in group])
    for row, group in zip(ROWS, groups, strict=True):
        mine, results = results[: len(group)], results[len(group) :]
        assert_all_booked(mine[:-1])
        assert_rejected_with(mine[-1], row.rejection, group[-1][0])


@pytest.mark.parametrize("edge", ACCEPTED_EDGES, ids=lambda edge: edge.case)
def test_the_quantity_edges_that_pass_are_booked(edge: Edge) -> None:
    state, results, _ = run(list(edge.steps))
    assert_all_booked(results)
    assert balances(state)[edge.account] == edge.balance_kg
    (accepted, *updates) = bodies_of(results[-1])
    assert isinstance(accepted, wire.LedgerPostingAccepted)
    assert isinstance(updates[-1], CustodyBalanceUpdated)
    assert updates[-1].balance_kg == edge.balance_kg


ZERO_KG_POSTINGS: dict[str, Command] = {
    "certified input": received("zero", "A1", 0),
    "eligible scrap input": scrap("zero", "A1", 0),
    "non-certified input": uncertified("zero", "A1", 0),
    "certified output": sold("zero", "A1", 0),
    "physical transfer": shipped("zero", "A1", "A2", 0),
    "level allocation": allocated("zero", "Q1", 0),
    "custody move": moved("zero", "A1", "Q1", 0, level=S),
}


@pytest.mark.parametrize("kind", ZERO_KG_POSTINGS)
def test_a_0_kg_posting_of_any_kind_is_one_rejection_naming_the_quantity(kind: str) -> None:
    setup = [sent(step) for step in (*SITE_LEVEL_A1_A2, *GROUP_LEVEL_B1, *SCENARIO_3_Q1)]
    zero: Sent = sent(ZERO_KG_POSTINGS[kind])
    state, results, _ = run([*setup, zero])
    assert_all_booked(results[:-1])
    assert_rejected_with(results[-1], rules.NON_POSITIVE_QUANTITY, zero[0])
    assert state.balances == {}


def test_a_negative_quantity_cannot_be_read_and_is_a_dead_letter_naming_the_field() -> None:
    good = record(as_wire(received("in-1", "A1", 100)), 0, "operator-A1")
    body = json.loads(good.value or b"{}")
    body["quantity_kg"] = -1
    negative = InputRecord(
        "ledger.commands", 0, 1, None, good.key, json.dumps(body).encode(), good.headers
    )
    result = process_ledger_record(LedgerState(), negative, now=NOW, settings=SETTINGS)
    assert result.outcome is Outcome.DEAD_LETTER
    assert result.dead_letter_reason is not None
    assert result.dead_letter_reason.value == "schema_violation"
    (letter,) = result.outputs
    assert json.loads(letter.value)["error"]["field"] == "quantity_kg"


def test_the_rows_wire_commands_are_the_core_commands_they_were_written_as() -> None:
    bodies = [
        body
        for row in ROWS
        if row.rejection is not rules.PERIOD_START  # a period no core command can name
        for body, _ in row.steps
    ]
    bodies += [body for edge in ACCEPTED_EDGES for body, _ in edge.steps]
    for body in bodies:
        assert isinstance(body, LedgerCommandBody)
        assert as_wire(to_core_command(body)) == body
