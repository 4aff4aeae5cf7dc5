"""The exchange's aggregate statistics (§4.2.3): not before the date, never over fewer brands
than the minimum group, and no published figure that follows one brand's own."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.readside.disclosures import (
    PERCENTILES,
    NotYetPublished,
    ReportedFigures,
    StatisticsPolicy,
    blended_percentile,
    statistics,
)

POLICY = StatisticsPolicy(published_from=date(2026, 1, 1), minimum_group=5)
AFTER = date(2026, 6, 1)


def figures(values: list[Decimal], year: int = 2025) -> list[ReportedFigures]:
    return [
        ReportedFigures(f"BRAND{n}", year, value, value / 2, value + value / 2)
        for n, value in enumerate(values)
    ]


def test_nothing_is_published_before_the_date() -> None:
    with pytest.raises(NotYetPublished, match="2026-01-01"):
        statistics(figures([Decimal(1)] * 9), POLICY, today=date(2025, 12, 31))
    assert statistics(figures([Decimal(1)] * 9), POLICY, today=date(2026, 1, 1))


def test_a_year_with_fewer_brands_than_the_group_is_withheld_saying_why() -> None:
    [year] = statistics(figures([Decimal(n) for n in range(4)]), POLICY, today=AFTER)
    assert year.distributions == () and year.brands == 4
    assert year.withheld is not None and "fewer than 5" in year.withheld


def test_with_exactly_the_group_every_percentile_is_the_mean() -> None:
    [year] = statistics(figures([Decimal(n) for n in (1, 2, 3, 4, 15)]), POLICY, today=AFTER)
    direct = year.distributions[0]
    assert direct.scope == "direct" and direct.mean == Decimal("5.000")
    assert set(direct.percentiles.values()) == {Decimal("5.000")}


def test_each_year_stands_alone_newest_first() -> None:
    rows = figures([Decimal(n) for n in range(5)], 2024) + figures([Decimal(1)] * 6, 2025)
    assert [y.reporting_year for y in statistics(rows, POLICY, today=AFTER)] == [2025, 2024]


def test_the_group_cannot_be_smaller_than_two() -> None:
    with pytest.raises(ValueError, match="fewer than 2"):
        StatisticsPolicy(published_from=date(2026, 1, 1), minimum_group=1)


values = st.lists(
    st.decimals(min_value=0, max_value=30, places=3, allow_nan=False), min_size=5, max_size=60
)


@given(values, st.integers(0, 59), st.decimals(min_value=Decimal("0.001"), max_value=5, places=3))
def test_one_brand_moves_a_percentile_by_at_most_a_group_share_of_its_change(
    reported: list[Decimal], which: int, change: Decimal
) -> None:
    """Raising one brand's figure moves no published percentile by more than the change
    divided by the group: no figure follows one brand's own."""
    which %= len(reported)
    raised = [v + change if n == which else v for n, v in enumerate(reported)]
    for percentile in PERCENTILES:
        before = blended_percentile(reported, percentile, 5)
        after = blended_percentile(raised, percentile, 5)
        assert Decimal(0) <= after - before <= change / 5 + Decimal("1e-20")


@given(values)
def test_each_percentile_lies_within_the_reported_figures_and_in_order(
    reported: list[Decimal],
) -> None:
    blended = [blended_percentile(reported, p, 5) for p in PERCENTILES]
    assert blended == sorted(blended)
    assert min(reported) <= blended[0] and blended[-1] <= max(reported)
