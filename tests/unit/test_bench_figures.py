"""The benchmark's pure helpers: its statistics and its tables."""

from __future__ import annotations

import math

import pytest

from gateway.tools.bench.framework import Spread, percentile, slope
from gateway.tools.bench.tables import Table


def test_nearest_rank_percentiles() -> None:
    values = [float(number) for number in range(1, 101)]
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7.0], 0.99) == 7
    assert math.isnan(percentile([], 0.5))


def test_spread_and_slope() -> None:
    assert Spread.of([3.0, 1.0, 2.0]) == Spread(1.0, 2.0, 3.0)
    assert slope([(0.0, 0.0), (1.0, 2.0), (2.0, 4.0)]) == pytest.approx(2.0)
    assert slope([(1.0, 5.0)]) == 0.0


def test_a_table_renders_aligned_and_as_json() -> None:
    table = Table(
        title="t",
        columns=("", "events/s", "ok"),
        rows=(("a", 12345.6, True), ("bb", 0.4567, None)),
        notes=("a note",),
    )
    assert table.render().splitlines() == [
        "t",
        "    events/s   ok",
        "--  --------  ---",
        "a     12,346  yes",
        "bb      0.46    -",
        "  a note",
    ]
    assert table.as_json()["rows"] == [
        {"": "a", "events/s": 12345.6, "ok": True},
        {"": "bb", "events/s": 0.4567, "ok": None},
    ]


def test_a_table_refuses_ragged_rows_and_repeated_columns() -> None:
    with pytest.raises(ValueError, match="columns"):
        Table(title="t", columns=("", "x"), rows=(("a",),))
    with pytest.raises(ValueError, match="distinct"):
        Table(title="t", columns=("", "x", "x"), rows=())
