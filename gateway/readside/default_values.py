"""The EU CBAM default values for embedded emissions, as versioned data
(``default_values.json``), and the figure that applies to goods of one CN code and country in
one year. Pure: the file is read and validated once, at start (``load_default_values``).

- Periods: the transitional period (to 31 December 2025: 2.36 direct / 8.14 indirect t CO2e/t
  for unwrought aluminium, DOMAIN section 4) and the definitive period (from 1 January 2026:
  values per CN code and country of origin with the year's mark-up, DOMAIN section 6). Which
  emissions are priced in a period (the definitive period's aluminium pays on direct ones
  only; indirect ones are reported) is data of the period too.
- Mark-ups by year are data: a year after the last one listed takes the last one's (+30 %
  "from 2028"). The mark-up raises both figures, direct and indirect.
- A row of the country overrides the row of ``*``; the longest CN code that heads the goods'
  code wins (``760110`` over ``7601``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

BUNDLED_DEFAULT_VALUES = Path(__file__).with_name("default_values.json")
ANY_COUNTRY = "*"
EMISSION_SCOPES = frozenset({"direct", "indirect"})


class DefaultValuesError(ValueError):
    """The default-value tables are not usable: the message names what is wrong."""


@dataclass(frozen=True)
class DefaultFigure:
    """A default value with its mark-up applied, t CO2e per t of goods."""

    direct_tco2e_per_t: Decimal
    indirect_tco2e_per_t: Decimal
    mark_up: Decimal
    table_version: str
    period: str


@dataclass(frozen=True)
class DefaultPeriod:
    name: str
    starts: date
    ends: date | None
    priced_emissions: frozenset[str]
    mark_up_by_year: Mapping[int, Decimal]
    values: Mapping[tuple[str, str], tuple[Decimal, Decimal]]
    """(CN code, country) to (direct, indirect) before the mark-up."""

    def covers(self, day: date) -> bool:
        return self.starts <= day and (self.ends is None or day < self.ends)

    def mark_up(self, year: int) -> Decimal:
        listed = [y for y in self.mark_up_by_year if y <= year]
        return self.mark_up_by_year[max(listed)] if listed else Decimal(0)


@dataclass(frozen=True)
class DefaultValueTables:
    version: str
    periods: tuple[DefaultPeriod, ...]

    def period_of(self, day: date) -> DefaultPeriod:
        for period in self.periods:
            if period.covers(day):
                return period
        raise DefaultValuesError(f"no default-value period covers {day.isoformat()}")

    def figure(self, cn_code: str, country: str, day: date) -> DefaultFigure:
        """The default value for goods of ``cn_code`` from ``country``, imported on ``day``."""
        period = self.period_of(day)
        code = cn_code.replace(" ", "")
        for length in range(len(code), 0, -1):
            for where in (country, ANY_COUNTRY):
                found = period.values.get((code[:length], where))
                if found is not None:
                    mark_up = period.mark_up(day.year)
                    direct, indirect = (value * (1 + mark_up) for value in found)
                    return DefaultFigure(direct, indirect, mark_up, self.version, period.name)
        raise DefaultValuesError(
            f"no default value for CN {cn_code} from {country} in the {period.name} period"
        )


def _decimal(value: object, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation as error:
        raise DefaultValuesError(f"{where}: {value!r} is not a decimal number") from error
    if not number.is_finite() or number < 0:
        raise DefaultValuesError(f"{where}: {value!r} is not a non-negative number")
    return number


def _period(raw: Mapping[str, Any], number: int) -> DefaultPeriod:
    where = f"periods[{number}]"
    try:
        priced = frozenset(raw["priced_emissions"])
        if not priced <= EMISSION_SCOPES:
            raise DefaultValuesError(f"{where}.priced_emissions: only direct and indirect")
        values: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for index, row in enumerate(raw["values"]):
            at = f"{where}.values[{index}]"
            key = (str(row["cn_code"]).replace(" ", ""), str(row["country"]))
            if key in values:
                raise DefaultValuesError(f"{at}: CN {key[0]} / {key[1]} is listed twice")
            values[key] = (
                _decimal(row["direct_tco2e_per_t"], f"{at}.direct_tco2e_per_t"),
                _decimal(row["indirect_tco2e_per_t"], f"{at}.indirect_tco2e_per_t"),
            )
        return DefaultPeriod(
            name=str(raw["name"]),
            starts=date.fromisoformat(raw["starts"]),
            ends=None if raw["ends"] is None else date.fromisoformat(raw["ends"]),
            priced_emissions=priced,
            mark_up_by_year={
                int(year): _decimal(value, f"{where}.mark_up_by_year.{year}")
                for year, value in raw["mark_up_by_year"].items()
            },
            values=values,
        )
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, DefaultValuesError):
            raise
        raise DefaultValuesError(f"{where}: {type(error).__name__}: {error}") from error


def default_values_of(document: Mapping[str, Any]) -> DefaultValueTables:
    """Validated tables: periods in order, without gaps or overlaps, each with values."""
    version = document.get("version")
    if not isinstance(version, str) or not version:
        raise DefaultValuesError("version: a non-empty string is required")
    periods = tuple(_period(raw, n) for n, raw in enumerate(document.get("periods") or ()))
    if not periods:
        raise DefaultValuesError("periods: at least one is required")
    for earlier, later in pairwise(periods):
        if earlier.ends != later.starts:
            raise DefaultValuesError(
                f"period {later.name} must start when {earlier.name} ends ({earlier.ends})"
            )
    for period in periods:
        if not period.values:
            raise DefaultValuesError(f"period {period.name} has no values")
    return DefaultValueTables(version=version, periods=periods)


def load_default_values(path: Path = BUNDLED_DEFAULT_VALUES) -> DefaultValueTables:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DefaultValuesError(f"{path}: {error}") from error
    return default_values_of(document)


@cache
def bundled_default_values() -> DefaultValueTables:
    """The bundled tables, read and validated once per process."""
    return load_default_values(BUNDLED_DEFAULT_VALUES)
