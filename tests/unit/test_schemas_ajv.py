"""Strict Ajv (JavaScript, draft 2020-12, ajv-formats) compiles every exported schema, accepts
every sample and refuses what the gateway refuses: each sample mutated field by field, with
values derived from its schema, gets the same verdict from Ajv as from the gateway's decoder.

Runs ``tests/browser/check_schemas.mjs`` under node (``npm ci --prefix tests/browser``)."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from contracts.base import Contract
from contracts.envelope import MessageDecodeError, decode_body
from contracts.json_numbers import parse_exact
from contracts.message_types import ALL_CONTRACTS
from contracts.schema_export import SCHEMA_DIRECTORY, VOCABULARY_SCHEMA, schema_file_name
from producers.samples import sample_messages

BROWSER_TESTS = Path(__file__).parents[1] / "browser"
SCRIPT = BROWSER_TESTS / "check_schemas.mjs"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (BROWSER_TESTS / "node_modules" / "ajv").is_dir(),
        reason="ajv is not installed: npm ci --prefix tests/browser",
    ),
]

KNOWN = {
    # What the models refuse and JSON Schema cannot say (cross-item and cross-field rules):
    # the gateway's reason (a regular expression) → what it is.
    r"is listed more than once": "an element listed twice in a chemistry",
    r"kept_base64 holds \d+ bytes, more than size_bytes|truncated is \w+ but kept_base64": (
        "a dead letter's kept bytes against its size_bytes and truncated"
    ),
    r"more than original_header_count": "a dead letter's headers against their count",
}
VERSION_LEFT_OUT = "a body without schema_version, which the gateway reads as version 1"
"""What the schemas require and the gateway does not (for senders that predate versioning)."""

BATCH = "custody.production-batch.recorded"
REFUSED_BY_BOTH = [
    # (message type, where, what): the refusals the schemas must share with the gateway.
    (BATCH, ("total_net_weight_kg",), -1),
    (BATCH, ("piece_weight_kg",), -0.001),
    (BATCH, ("chemistry", 0, "detected_percent"), 100.5),
    (BATCH, ("chemistry", 0, "detected_percent"), -1),
    (BATCH, ("chemistry", 0, "element"), "Xx"),
    (BATCH, ("brand",), " NORDAL"),
    (BATCH, ("brand",), "x" * 101),
    (BATCH, ("brand",), None),
    (BATCH, ("unexpected_field",), 1),
    (BATCH, ("schema_version",), 2),
    ("custody.lot.arrived", ("net_weight_kg",), -20000),
    ("custody.ledger.certified-input", ("quantity_kg",), -1),
    ("custody.cbam-form.submitted", ("main_emission_source", "latitude"), 90.5),
]

MISSING = object()
Location = tuple[str | int, ...]


def _path(location: Location) -> str:
    text = ""
    for step in location:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _resolved(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = {
            **defs[node["$ref"].rsplit("/", 1)[-1]],
            **{k: v for k, v in node.items() if k != "$ref"},
        }
    return node


def _bad_values(node: dict[str, Any], value: Any) -> Iterator[Any]:
    """Values at or past the edges of what ``node`` allows, and probes that ignore it (for
    bounds the schema might lack)."""
    kind = node.get("type")
    if kind in ("number", "integer"):
        yield from (-1, 0, 10**12)
    if kind == "string":
        yield from ("", " x", "x ", "x" * 4001)
    if "const" in node:
        yield node["const"] + 1
        yield 0
    if "enum" in node:
        yield "no_such_value"
    if kind in ("number", "integer"):
        for keyword, step in (("minimum", -1), ("maximum", 1)):
            if keyword in node:
                yield node[keyword] + step
                if kind == "number":
                    yield node[keyword] + step / 1000
                yield node[keyword]
        for keyword in ("exclusiveMinimum", "exclusiveMaximum"):
            if keyword in node:
                yield node[keyword]
        if kind == "integer":
            yield 1.5
    if kind == "string":
        text = value if isinstance(value, str) and value else "x"
        if "minLength" in node:
            yield "x" * (node["minLength"] - 1)
        if "maxLength" in node:
            yield "x" * (node["maxLength"] + 1)
        if "pattern" in node:
            yield from (f" {text}", f"{text} ", text.lower(), text.upper(), f"{text}!", "x", "")
        if node.get("format") == "date":
            yield from ("2026-02-30", "2026-3-4", "2026-03-04T08:00:00Z")
        if node.get("format") == "date-time":
            yield from ("2026-03-04T08:00:00", "2026-03-04 08:00:00Z", "2026-03-04")


def _changes(
    value: Any, node: dict[str, Any], defs: dict[str, Any], at: Location
) -> Iterator[tuple[Location, Any]]:
    """(where, what) for every mutation of ``value`` (``MISSING``: the key deleted)."""
    node = _resolved(node, defs)
    if at:
        yield at, None
    for branch in (_resolved(b, defs) for b in node.get("anyOf", [node])):
        for bad in _bad_values(branch, value):
            yield at, bad
        if branch.get("type") == "object" and isinstance(value, dict):
            yield (*at, "unexpected_field"), 1
            for key in branch.get("required", []):
                yield (*at, key), MISSING
            for key, child in branch.get("properties", {}).items():
                yield from _changes(value.get(key), child, defs, (*at, key))
        if branch.get("type") == "array" and isinstance(value, list):
            if branch.get("minItems"):
                yield at, []
            if value:
                yield at, [*value, value[0]]
            for index, item in enumerate(value):
                yield from _changes(item, branch.get("items", {}), defs, (*at, index))


def _mutated(body: dict[str, Any], at: Location, what: Any) -> dict[str, Any]:
    result = copy.deepcopy(body)
    parent: Any = result
    for step in at[:-1]:
        parent = parent[step]
    if what is MISSING:
        parent.pop(at[-1], None)
    else:
        parent[at[-1]] = what
    return result


def _gateway_refusal(message_type: str, body: dict[str, Any]) -> str | None:
    """Why the gateway's decoder refuses ``body``; None when it reads it."""
    try:
        decode_body(message_type, parse_exact(json.dumps(body)))
    except MessageDecodeError as error:
        return str(error)
    return None


def _known(at: Location, body: dict[str, Any], refusal: str | None) -> str | None:
    """Which known difference a disagreement is, if it is one."""
    if refusal is None:
        return VERSION_LEFT_OUT if at == ("schema_version",) and at[0] not in body else None
    return next((what for pattern, what in KNOWN.items() if re.search(pattern, refusal)), None)


def _run_ajv(cases: list[dict[str, Any]]) -> dict[str, Any]:
    assert NODE is not None
    completed = subprocess.run(
        [NODE, str(SCRIPT), str(SCHEMA_DIRECTORY)],
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


@dataclass(frozen=True)
class Case:
    sample: Contract
    at: Location
    body: Any
    refusal: str | None
    ajv_valid: bool
    ajv_error: str | None


@cache
def _run() -> tuple[list[Case], dict[str, Any]]:
    """Every sample and its mutations, with both verdicts; and what the script reports."""
    mutations: list[tuple[Contract, Location, Any]] = []
    for sample in sample_messages():
        name = schema_file_name(type(sample))
        schema = json.loads((SCHEMA_DIRECTORY / name).read_text(encoding="utf-8"))
        good = sample.model_dump(mode="json")
        named = [(at, what) for kind, at, what in REFUSED_BY_BOTH if kind == sample.MESSAGE_TYPE]
        mutations.append((sample, (), good))
        for at, what in [*named, *_changes(good, schema, schema.get("$defs", {}), ())]:
            mutations.append((sample, at, _mutated(good, at, what)))
    result = _run_ajv(
        [{"schema": schema_file_name(type(s)), "body": body} for s, _, body in mutations]
    )
    cases = [
        Case(
            sample,
            at,
            body,
            _gateway_refusal(sample.MESSAGE_TYPE, body),
            verdict["valid"],
            verdict["error"],
        )
        for (sample, at, body), verdict in zip(mutations, result["verdicts"], strict=True)
    ]
    return cases, result


def test_strict_ajv_compiles_every_schema_once_our_keywords_are_declared() -> None:
    _, result = _run()
    names = sorted(path.name for path in SCHEMA_DIRECTORY.glob("*.json"))
    assert sorted(result["compiled"]) == [name for name in names if name != VOCABULARY_SCHEMA]
    assert 'unknown keyword: "x-message-type"' in result["undeclared"]


def test_ajv_and_the_gateway_accept_every_sample() -> None:
    samples = [case for case in _run()[0] if not case.at]
    assert len(samples) == len(ALL_CONTRACTS)
    assert [(c.sample.MESSAGE_TYPE, c.ajv_error, c.refusal) for c in samples if c.ajv_error] == []
    assert [c.refusal for c in samples if c.refusal] == []


def test_ajv_and_the_gateway_agree_on_every_mutated_sample() -> None:
    cases, _ = _run()
    mismatches = []
    known_seen = set()
    for case in cases:
        if case.ajv_valid == (case.refusal is None):
            continue
        known = _known(case.at, case.body, case.refusal)
        if known:
            known_seen.add(known)
        else:
            mismatches.append(
                f"{case.sample.MESSAGE_TYPE} {_path(case.at)}={_value_at(case.body, case.at)!r}: "
                f"gateway {case.refusal or 'accepts'}; Ajv {case.ajv_error or 'accepts'}"
            )
    assert not mismatches, "\n".join(mismatches)
    assert known_seen == {*KNOWN.values(), VERSION_LEFT_OUT}, "a known difference is no more"
    refused_by_both = [case for case in cases if case.refusal and not case.ajv_valid]
    assert len(refused_by_both) > 5000


def test_both_refuse_negative_weights_bad_percentages_patterns_fields_and_versions() -> None:
    cases = {(c.sample.MESSAGE_TYPE, c.at, repr(_value_at(c.body, c.at))): c for c in _run()[0]}
    for kind, at, what in REFUSED_BY_BOTH:
        case = cases[kind, at, repr(what)]
        assert case.refusal and not case.ajv_valid, (kind, at, what)


def _value_at(body: Any, at: Location) -> Any:
    for step in at:
        if isinstance(body, dict) and step not in body:
            return "<missing>"
        body = body[step]
    return body
