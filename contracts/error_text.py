"""What a sender reads when a message breaks its contract: each problem with its fix.

Pydantic's own texts name the problem ("invalid character in year", "String should match
pattern '^[A-Z][a-z]{0,2}$'"); these add what is expected instead: the date or time format,
the chemical element's form, the allowed values of an enum, the closest valid message types.
The envelope's decoder (the registry's dead letters) and ``gateway check`` both use them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic_core import ErrorDetails

DATE_FORMAT = "a date YYYY-MM-DD, e.g. 2026-03-01"
TIME_FORMAT = "an RFC 3339 time with a zone, e.g. 2026-03-01T09:00:00Z"
ELEMENT_FORM = "a chemical element symbol, e.g. Cu, Si, Fe (not the element's name)"
ELEMENT_PATTERN = r"^[A-Z][a-z]{0,2}$"

MAX_PROBLEMS = 8
"""Problems a message lists; the rest are counted (a dead letter's text is bounded)."""
MAX_OBSERVED = 60
"""Characters of an observed value quoted in a message."""

_DATE_TYPES = frozenset(
    {"date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact", "date_type"}
)
_TIME_TYPES = frozenset({"datetime_parsing", "datetime_from_date_parsing", "datetime_type"})
_ZONE_TYPES = frozenset({"timezone_aware"})


def problem_text(item: ErrorDetails) -> str:
    """One pydantic problem as a person reads it: what is wrong, what was given, the fix."""
    kind = item["type"]
    given = _observed(item.get("input"))
    context: dict[str, Any] = dict(item.get("ctx") or {})
    if kind in _DATE_TYPES:
        return f"{item['msg']}{given}; expected {DATE_FORMAT}"
    if kind in _TIME_TYPES or kind in _ZONE_TYPES:
        return f"{item['msg']}{given}; expected {TIME_FORMAT}"
    if kind == "string_pattern_mismatch" and context.get("pattern") == ELEMENT_PATTERN:
        return f"not a chemical element symbol{given}; expected {ELEMENT_FORM}"
    if kind == "value_error" and "chemical element symbol" in item["msg"]:
        return f"{item['msg'].removeprefix('Value error, ')}; expected {ELEMENT_FORM}"
    if kind in {"enum", "literal_error"}:
        expected = context.get("expected", "")
        close = _closest(item.get("input"), _quoted_values(str(expected)))
        hint = f" (did you mean {close}?)" if close else ""
        value = given.removeprefix(" (got ").removesuffix(")") or "the value"
        return f"{value} is not allowed{hint}; allowed: {expected}"
    return f"{item['msg']}{given}"


def problems_text(problems: Sequence[tuple[str, str]]) -> str:
    """``path: text; path: text``, at most ``MAX_PROBLEMS`` of them and the rest counted."""
    shown = "; ".join(f"{path}: {text}" for path, text in problems[:MAX_PROBLEMS])
    rest = len(problems) - MAX_PROBLEMS
    return shown if rest <= 0 else f"{shown}; and {rest} more"


def unknown_type_text(message_type: str, known: Iterable[str]) -> str:
    """An unknown type with the closest known ones, or all of them when none is close."""
    valid = sorted(known)
    close = difflib.get_close_matches(message_type, valid, n=3, cutoff=0.6)
    if close:
        return f"unknown message type {message_type!r}; did you mean {', '.join(close)}?"
    return f"unknown message type {message_type!r}; valid types: {', '.join(valid)}"


def _observed(value: object) -> str:
    if isinstance(value, dict | list) or value is None:
        return ""
    text = repr(value)
    if len(text) > MAX_OBSERVED:
        text = text[: MAX_OBSERVED - 1] + "…"
    return f" (got {text})"


def _quoted_values(expected: str) -> list[str]:
    """``'a', 'b' or 'c'`` -> ``["a", "b", "c"]``."""
    return [part for index, part in enumerate(expected.split("'")) if index % 2 == 1]


def _closest(given: object, allowed: list[str]) -> str | None:
    if not isinstance(given, str) or not allowed:
        return None
    close = difflib.get_close_matches(given.lower(), allowed, n=1, cutoff=0.6)
    return f"'{close[0]}'" if close else None
