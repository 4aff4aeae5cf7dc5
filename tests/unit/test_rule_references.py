"""Every rule and code a decision can name fits the wire: a ``RuleViolation`` takes a rule
reference of at most 64 characters and an upper-snake-case code. A text that does not fit
fails here, not when a rejection is built in production (where it would stop the worker).

The rules come from the ledger's rules, the rulebook's data (``rulebook.json``, as the
rulebook composes its references) and the source of the deciding packages: every literal or
module constant passed as a rule or a code."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import ValidationError

import gateway.ledger.rules as ledger_rules
from gateway.ledger.rules import REJECTIONS, Rejection
from gateway.processors.ledger import SENDER_RULE
from gateway.registry.decision_messages import rule_violation
from gateway.registry.warrants import CANCEL_RULE, CUSTODY_RULE
from gateway.rulebook.model import load_rulebook
from gateway.violations import Violation

REPOSITORY = Path(__file__).resolve().parents[2]
DECIDING_PACKAGES = ("gateway/ledger", "gateway/processors", "gateway/registry", "gateway/rulebook")
RULE_POSITION = {"Violation": 1, "Rejection": 1, "CommandRefused": 1, "Missing": 2}
"""Where the constructors that carry a rule take it when it is passed by position."""
CODE_POSITION = {"Violation": 0, "Rejection": 0}


def built(*, code: str = "SOME_CODE", rule: str = "some rule") -> None:
    """Raises ``ValidationError`` unless a rejection naming ``code`` and ``rule`` can be sent."""
    rule_violation(Violation(code, rule, "field", "observed", "allowed", "message"))


def test_a_rule_reference_longer_than_the_wire_allows_is_caught() -> None:
    built(rule="x" * 64)
    with pytest.raises(ValidationError, match="at most 64 characters"):
        built(rule="x" * 65)
    with pytest.raises(ValidationError):
        built(code="lower_case")


LEDGER_RULE_TEXTS = {
    name: value
    for name, value in vars(ledger_rules).items()
    if name.isupper() and isinstance(value, str)
}


@pytest.mark.parametrize("name", LEDGER_RULE_TEXTS)
def test_every_rule_the_ledger_names_fits_the_wire(name: str) -> None:
    built(rule=LEDGER_RULE_TEXTS[name])


@pytest.mark.parametrize("rejection", REJECTIONS, ids=lambda r: f"{r.code} {r.rule}")
def test_every_ledger_rejection_fits_the_wire(rejection: Rejection) -> None:
    built(code=rejection.code, rule=rejection.rule)


def rulebook_references() -> dict[str, str]:
    """Every rule reference the bundled rulebook gives, as the rulebook composes them."""
    rulebook = load_rulebook()
    references = {f"cbam {topic}": rule for topic, rule in rulebook.cbam.rules.items()}
    for designation, specification in rulebook.specifications.items():
        references[f"specification {designation}"] = specification.rule
    for metal, contract in rulebook.contracts.items():
        for topic in contract.rules:
            references[f"{metal.value} {topic}"] = contract.rule(topic)
        for shape, shape_rules in contract.shapes.items():
            references[f"{metal.value} shape {shape.value}"] = f"{contract.name} {shape_rules.rule}"
        for designation in contract.specifications:
            specification = rulebook.specifications[designation]
            references[f"{metal.value} {designation}"] = f"{contract.name} {specification.rule}"
    return references


RULEBOOK_REFERENCES = rulebook_references()


@pytest.mark.parametrize("where", RULEBOOK_REFERENCES)
def test_every_rule_reference_of_the_rulebook_fits_the_wire(where: str) -> None:
    built(rule=RULEBOOK_REFERENCES[where])


def _modules() -> Iterator[tuple[Path, ModuleType]]:
    for package in DECIDING_PACKAGES:
        for path in sorted((REPOSITORY / package).glob("*.py")):
            name = ".".join(path.relative_to(REPOSITORY).with_suffix("").parts)
            yield path, importlib.import_module(name.removesuffix(".__init__"))


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _argument(call: ast.Call, keyword: str, positions: Mapping[str, int]) -> ast.expr | None:
    for given in call.keywords:
        if given.arg == keyword:
            return given.value
    position = positions.get(_called_name(call) or "")
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _static_text(expression: ast.expr, module: ModuleType) -> str | None:
    """The text of a literal or of a module-level constant (its own or imported); None when
    it is computed (from the rulebook's data, checked above, or passed through)."""
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        return expression.value
    if isinstance(expression, ast.Name):
        value = getattr(module, expression.id, None)
        return value if isinstance(value, str) else None
    return None


def texts_in_source(keyword: str, positions: Mapping[str, int]) -> dict[str, str]:
    """Every static text the deciding packages pass as ``keyword``, by file and line."""
    found: dict[str, str] = {}
    for path, module in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            argument = _argument(node, keyword, positions)
            text = None if argument is None else _static_text(argument, module)
            if text is not None:
                where = f"{path.relative_to(REPOSITORY)}:{node.lineno}"
                found[where] = text
    return found


RULES_IN_SOURCE = texts_in_source("rule", RULE_POSITION)
CODES_IN_SOURCE = texts_in_source("code", CODE_POSITION)


def test_the_source_scan_finds_rules_written_as_literals_and_as_constants() -> None:
    scanned = set(RULES_IN_SOURCE.values())
    assert {SENDER_RULE, CUSTODY_RULE, CANCEL_RULE, "SCR 4.1", "§4.4"} <= scanned
    assert {rejection.rule for rejection in REJECTIONS} <= scanned
    assert {"PERIOD_START", "SENDER_NOT_PERMITTED", "BRAND_NOT_LISTED"} <= set(
        CODES_IN_SOURCE.values()
    )


@pytest.mark.parametrize("where", RULES_IN_SOURCE)
def test_every_rule_written_in_the_source_fits_the_wire(where: str) -> None:
    built(rule=RULES_IN_SOURCE[where])


@pytest.mark.parametrize("where", CODES_IN_SOURCE)
def test_every_code_written_in_the_source_fits_the_wire(where: str) -> None:
    built(code=CODES_IN_SOURCE[where])
