"""What the exchange shows everyone (§4.2.3, seed 004 lines 342-348). Pure.

- **Public disclosures.** A producer may opt in (the form's permission to publish) to show its
  brand's emissions on the live sustainability disclosures. Only the years whose standing form
  gave that permission are shown; a brand that never opted in is not named at all.
- **Aggregate statistics.** The exchange summarises the emissions reported across listed
  brands, not before the definitive period starts (1 January 2026 in the source; a setting),
  and never so that one brand's figure can be read from them. Per reporting year and scope
  (direct, indirect, total), when at least ``minimum_group`` listed brands reported:
  the number of brands, the mean, and the 10th, 25th, 50th, 75th and 90th percentiles, each
  the mean of the ``minimum_group`` reported figures nearest that rank, so that no published
  figure is any one brand's own. No minimum or maximum is published (each is one brand's). A
  year with fewer brands is listed as withheld, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

SCOPES = ("direct", "indirect", "total")
PERCENTILES = (10, 25, 50, 75, 90)
PUBLISHED_PLACES = Decimal("0.001")


@dataclass(frozen=True)
class ReportedFigures:
    """One listed brand's standing form for one year, as the read side keeps it."""

    brand: str
    reporting_year: int
    direct: Decimal
    indirect: Decimal
    total: Decimal

    def of(self, scope: str) -> Decimal:
        return {"direct": self.direct, "indirect": self.indirect, "total": self.total}[scope]


@dataclass(frozen=True)
class ScopeDistribution:
    scope: str
    brands: int
    mean: Decimal
    percentiles: dict[int, Decimal]


@dataclass(frozen=True)
class YearStatistics:
    reporting_year: int
    brands: int
    distributions: tuple[ScopeDistribution, ...]
    withheld: str | None = None


@dataclass(frozen=True)
class StatisticsPolicy:
    published_from: date
    minimum_group: int

    def __post_init__(self) -> None:
        if self.minimum_group < 2:
            raise ValueError("a group of fewer than 2 brands would reveal a brand's figure")


class NotYetPublished(Exception):
    """The statistics are not published before the policy's date."""


def _rounded(value: Decimal) -> Decimal:
    return value.quantize(PUBLISHED_PLACES, rounding=ROUND_HALF_EVEN)


def blended_percentile(values: Sequence[Decimal], percentile: int, group: int) -> Decimal:
    """The mean of the ``group`` sorted values nearest the percentile's rank."""
    ordered = sorted(values)
    if len(ordered) < group:
        raise ValueError(f"{len(ordered)} values are fewer than a group of {group}")
    rank = round(percentile / 100 * (len(ordered) - 1))
    start = min(max(rank - group // 2, 0), len(ordered) - group)
    window = ordered[start : start + group]
    return sum(window, Decimal(0)) / group


def statistics(
    figures: Iterable[ReportedFigures], policy: StatisticsPolicy, *, today: date
) -> list[YearStatistics]:
    """The distribution per reporting year, newest first; raises ``NotYetPublished`` before
    the policy's date."""
    if today < policy.published_from:
        raise NotYetPublished(
            f"the aggregate statistics are not published before {policy.published_from} "
            "(§4.2.3: no earlier than the start of the definitive period)"
        )
    by_year: dict[int, list[ReportedFigures]] = {}
    for figure in figures:
        by_year.setdefault(figure.reporting_year, []).append(figure)
    answer = []
    for year in sorted(by_year, reverse=True):
        reported = by_year[year]
        if len(reported) < policy.minimum_group:
            answer.append(
                YearStatistics(
                    year,
                    len(reported),
                    (),
                    withheld=f"fewer than {policy.minimum_group} listed brands reported for "
                    f"{year}: a distribution would reveal a brand's figure",
                )
            )
            continue
        distributions = []
        for scope in SCOPES:
            values = [f.of(scope) for f in reported]
            distributions.append(
                ScopeDistribution(
                    scope=scope,
                    brands=len(values),
                    mean=_rounded(sum(values, Decimal(0)) / len(values)),
                    percentiles={
                        p: _rounded(blended_percentile(values, p, policy.minimum_group))
                        for p in PERCENTILES
                    },
                )
            )
        answer.append(YearStatistics(year, len(reported), tuple(distributions)))
    return answer
