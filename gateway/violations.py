"""What a decision says when something fails: one entry per failed rule, never only the first."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Violation:
    """One failed rule: a stable code, the rule as the source numbers it, the field at fault,
    what was observed and what the rule allows."""

    code: str
    rule: str
    field: str
    observed: str | None
    allowed: str | None
    message: str


def shown(value: object) -> str | None:
    """A value as it appears in a violation: decimals without exponent or needless zeros."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return str(value)
