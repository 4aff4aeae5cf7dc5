"""Decimal quantities as exact JSON numbers: read with every digit they have, written so that
they read back as the same value, and refused when a body's number cannot be carried.

Reading. pydantic reads a JSON integer exactly, but a number with a fraction or an exponent
through a binary float, which holds at most 15 significant digits. ``may_lose_digits`` finds,
without parsing, a body that has a longer such number or an exponent; that body is parsed by
``parse_exact`` (every such number a ``Decimal``) and validated from what it gives.

Limits. A number has at most ``MAX_DIGITS`` digits, whole digits and decimal places together
(zeros ending a fraction not counted), and is finite: ``unreadable_number`` names the first
number of a parsed body that is not. ``MAX_DIGITS`` is ``Decimal``'s default precision, so
the rules compare and add such numbers exactly. A body that ``may_lose_digits`` lets through
has no number longer than 16 characters and no exponent, so it is within the limits.

Writing. ``json_number`` writes a ``Decimal`` of at most 15 significant digits as the float
equal to it (pydantic writes a float with the shortest digits that read back as it, so the
text is the one written before exact numbers), an integral one as an integer, and a longer
fraction as its own digits. pydantic writes no number from digits: ``dump_exact`` asks for
such a fraction as a string with a marker of its own, then unquotes the marked strings.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from pydantic_core import PydanticSerializationError

MAX_DIGITS = 28
FLOAT_DIGITS = 15
"""Significant digits that any binary float (IEEE 754 double) of normal range holds exactly."""

_NUMBER_SHAPES = bytes.maketrans(b"123456789.E-", b"0000000000e+")
"""A body's bytes with the shape of its numbers: every digit and point ``0``, an exponent's
letter ``e`` and sign ``+`` (C-speed ``bytes.translate`` and a literal search take a microsecond
or two for a 2 kB body, a regular expression over the body ten or more)."""

_EXPONENT = re.compile(rb"0e[0+]")

_FLOAT_RANGE = range(-300, 300)
"""Exponents (``Decimal.adjusted``) well inside a float's normal range."""

_MARKER: ContextVar[str | None] = ContextVar("exact_number_marker", default=None)
"""``dump_exact``'s marker while it dumps again (``json_number`` takes no serialisation
context, which would cost every number a little)."""

Location = tuple[int | str, ...]


def may_lose_digits(value: bytes) -> bool:
    """Whether pydantic's own JSON parsing might not read every number of ``value`` exactly:
    ``value`` has a run of more than 16 digits and points, or an exponent (a string that
    looks like one only costs the exact parse)."""
    shape = value.translate(_NUMBER_SHAPES)
    return b"00000000000000000" in shape or _EXPONENT.search(shape) is not None


def parse_exact(text: str | bytes) -> Any:
    """JSON with every number exact: a fraction or an exponent as a ``Decimal``, an integer as
    an ``int`` (as a ``Decimal`` when longer than any number may be, for
    ``unreadable_number`` to name)."""
    return json.loads(text, parse_float=Decimal, parse_int=_integer)


def _integer(text: str) -> int | Decimal:
    return int(text) if len(text.lstrip("-")) <= MAX_DIGITS else Decimal(text)


def unreadable_number(value: Any, location: Location = ()) -> tuple[Location, str] | None:
    """Where the first number of a parsed body (``parse_exact``) that breaks the limits is,
    and which limit it breaks."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    elif isinstance(value, float) and not math.isfinite(value):
        return location, f"{_json_constant(value)} is not a finite number"
    elif isinstance(value, Decimal) and digits_in_all(value) > MAX_DIGITS:
        return location, (
            f"{_abridged(value)} has more than the {MAX_DIGITS} digits a number may have "
            "(whole digits and decimal places)"
        )
    else:
        return None
    for key, item in items:
        found = unreadable_number(item, (*location, key))
        if found is not None:
            return found
    return None


def digits_in_all(value: Decimal) -> int:
    """Whole digits plus decimal places of a finite ``value``, zeros ending its fraction not
    counted (``0.050`` has 2, ``1E+5`` 6); no arithmetic, so an exponent bomb costs nothing."""
    if not value:
        return 1
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int), "only a finite value has digits to count"
    ending_zeros = len(digits) - len(bytes(digits).rstrip(b"\x00"))
    dropped = min(ending_zeros, max(-exponent, 0))
    significant, exponent = len(digits) - dropped, exponent + dropped
    return max(significant + exponent, 0) + max(-exponent, 0)


def _json_constant(value: float) -> str:
    return "NaN" if math.isnan(value) else ("-Infinity" if value < 0 else "Infinity")


def _abridged(value: Decimal) -> str:
    text = str(value)
    return text if len(text) <= 60 else f"{text[:30]}…{text[-20:]} ({len(text)} characters)"


def json_number(value: Decimal) -> float | int | str:
    """``value`` as pydantic is to write it in JSON (the serializer of every contract decimal):
    a float or an integer equal to it, or, inside ``dump_exact``, its digits marked."""
    text = str(value)
    if len(text) <= FLOAT_DIGITS and "E" not in text:
        return float(text)
    if value == value.to_integral_value():
        return int(value)
    if len(value.as_tuple().digits) <= FLOAT_DIGITS and value.adjusted() in _FLOAT_RANGE:
        return float(text)
    marker = _MARKER.get()
    if marker is None:
        raise ValueError(
            f"{text} has more digits than a float holds; write it with "
            "contracts.json_numbers.dump_exact"
        )
    return marker + text


def dump_exact(dump: Callable[[], bytes]) -> bytes:
    """What ``dump`` (a pydantic JSON dump) writes, with every ``json_number`` exact: a number
    too long for a float is written by its digits."""
    try:
        return dump()
    except PydanticSerializationError:
        marker = f"exact-number-{secrets.token_hex(16)}:"
        token = _MARKER.set(marker)
        try:
            written = dump()
        finally:
            _MARKER.reset(token)
        marked = re.compile(b'"' + re.escape(marker.encode()) + rb'([-+.0-9E]+)"')
        return marked.sub(rb"\1", written)
