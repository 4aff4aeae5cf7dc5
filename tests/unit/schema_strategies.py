"""Hypothesis strategies for instances of the exported JSON Schemas (the subset our schemas
use: objects, arrays, strings with patterns, lengths and formats, numbers with bounds, enums,
consts, anyOf and $ref into $defs). A body drawn here is one a party's own validator of the
published schema would accept. (hypothesis-jsonschema 0.23 does not run on this hypothesis.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hypothesis import strategies as st

MAX_TEXT = 60
MAX_ITEMS = 3


def instances_of(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Instances of ``schema`` (its ``$defs`` resolved), optional properties sometimes left out."""
    return _strategy(schema, schema.get("$defs", {}))


def _strategy(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: _strategy(defs[name], defs))
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "anyOf" in node:
        return st.one_of([_strategy(branch, defs) for branch in node["anyOf"]])
    kind = node.get("type")
    if kind == "object":
        return _object(node, defs)
    if kind == "array":
        items = _strategy(node.get("items", {}), defs)
        low = node.get("minItems", 0)
        return st.lists(items, min_size=low, max_size=max(low, node.get("maxItems", MAX_ITEMS)))
    if kind == "string":
        return _string(node)
    if kind == "integer":
        return st.integers(node.get("minimum"), node.get("maximum"))
    if kind == "number":
        return st.floats(
            node.get("minimum"), node.get("maximum"), allow_nan=False, allow_infinity=False
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return st.none()


def _object(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = node.get("properties", {})
    required = set(node.get("required", ()))
    return st.fixed_dictionaries(
        {name: _strategy(properties[name], defs) for name in properties if name in required},
        optional={
            name: _strategy(properties[name], defs) for name in properties if name not in required
        },
    )


def _string(node: dict[str, Any]) -> st.SearchStrategy[str]:
    low = node.get("minLength", 0)
    high = min(node.get("maxLength", MAX_TEXT), max(low, MAX_TEXT))
    if node.get("format") == "date-time":
        return st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ).map(datetime.isoformat)
    if node.get("format") == "date":
        return st.dates(date(2000, 1, 1), date(2100, 1, 1)).map(date.isoformat)
    if "pattern" in node:
        return st.from_regex(node["pattern"], fullmatch=True).filter(
            lambda text: low <= len(text) <= node.get("maxLength", 10**9)
        )
    return st.text(min_size=low, max_size=high)
