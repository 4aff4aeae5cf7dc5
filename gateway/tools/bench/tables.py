"""The figures a scenario prints: tables of plain values, rendered for a terminal or as JSON."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

Cell = str | int | float | None
"""A table cell: text, a count, a measure (rendered with sensible precision) or nothing."""


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    """The heading of every column, the first one naming the rows."""
    rows: tuple[tuple[Cell, ...], ...]
    notes: tuple[str, ...] = field(default=())
    """Lines printed under the table: what was measured and how."""

    def __post_init__(self) -> None:
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"columns must be distinct (they key the JSON rows): {self.columns}")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"row {row!r} does not have the {len(self.columns)} columns")

    def render(self) -> str:
        text = [[self.columns[0], *self.columns[1:]]]
        text += [[_text(cell) for cell in row] for row in self.rows]
        widths = [max(len(line[index]) for line in text) for index in range(len(self.columns))]
        lines = [self.title]
        for number, line in enumerate(text):
            first = line[0].ljust(widths[0])
            rest = (cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True))
            lines.append("  ".join((first, *rest)).rstrip())
            if number == 0:
                lines.append("  ".join("-" * width for width in widths))
        lines += [f"  {note}" for note in self.notes]
        return "\n".join(lines)

    def as_json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [dict(zip(self.columns, row, strict=True)) for row in self.rows],
            "notes": list(self.notes),
        }


def _text(cell: Cell) -> str:
    if cell is None:
        return "-"
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, int):
        return f"{cell:,}"
    if isinstance(cell, float):
        if math.isnan(cell):
            return "-"
        size = abs(cell)
        if size >= 100:
            return f"{cell:,.0f}"
        if size >= 10:
            return f"{cell:.1f}"
        return f"{cell:.2f}"
    return cell


def render_all(tables: Sequence[Table]) -> str:
    return "\n\n".join(table.render() for table in tables)
