"""The read side's tables, named once for every store (SQLite, PostgreSQL).

Each table is written from one topic only, and each row by the events of one record key (a
lot, a warrant, an eCOA, a form, a brand, an account), so that replaying a partition from any
earlier offset, in order, ends with the same rows: delivery at least once is enough. Every row
keeps the id of the event that last wrote it (``event_id``), so a rebuilt store can be compared
with the live one row by row.

Columns are text, integers or JSON text; quantities are decimal strings (exact, as on the wire).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ColumnType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    JSON = "json"
    """JSON text: read back with ``json.loads``."""


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = ColumnType.TEXT


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    source_topic: str
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return (*self.key, *(column.name for column in self.columns), "event_id")


def _text(*names: str) -> tuple[Column, ...]:
    return tuple(Column(name) for name in names)


WARRANT_STATES = Table(
    "warrant_states",
    key=("lot_id",),
    columns=(
        *_text("brand", "state", "warrant_id", "holder_id", "warehouse_id", "updated_at"),
        Column("detail", ColumnType.JSON),
    ),
    source_topic="registry.warrant-state",
    indexes=(("holder_id",), ("warrant_id",)),
)
"""The current state of every lot put forward for a warrant, with its holder."""

WARRANTS = Table(
    "warrants",
    key=("warrant_id",),
    columns=(
        *_text(
            "lot_id",
            "brand",
            "holder_id",
            "issued_at",
            "cancelled_at",
            "contract",
            "shape",
            "country_of_origin",
            "net_weight_kg",
        ),
        Column("document", ColumnType.JSON),
    ),
    source_topic="registry.warrant-decisions",
    indexes=(("holder_id",), ("issued_at",)),
)
"""Every warrant issued, with the document it states, and its cancellation."""

WARRANT_CERTIFICATES = Table(
    "warrant_certificates",
    key=("warrant_id", "ecoa_id"),
    columns=(),
    source_topic="registry.warrant-decisions",
    indexes=(("ecoa_id",),),
)
"""Which CoAs (eCOA ids) each warrant names."""

CERTIFICATES = Table(
    "certificates",
    key=("ecoa_id",),
    columns=(*_text("brand", "kind", "decided_at"), Column("cast_references", ColumnType.JSON)),
    source_topic="registry.ecoa-decisions",
)
"""Every eCOA the registry accepted."""

CERTIFICATE_EMISSIONS = Table(
    "certificate_emissions",
    key=("ecoa_id",),
    columns=(
        *_text("brand", "form_id", "attached_at"),
        Column("reporting_year", ColumnType.INTEGER),
        Column("flagged_previous_year", ColumnType.INTEGER),
        Column("emissions", ColumnType.JSON),
    ),
    source_topic="registry.cbam-form-decisions",
    indexes=(("form_id",),),
)
"""The emissions attached to each CoA: the last attachment (a year's own form replaces the
previous year's)."""

FORMS = Table(
    "cbam_forms",
    key=("form_id",),
    columns=(
        *_text("brand", "decided_at"),
        Column("reporting_year", ColumnType.INTEGER),
        Column("permission_to_publish", ColumnType.INTEGER),
        Column("emissions", ColumnType.JSON),
        Column("disclosure", ColumnType.JSON),
    ),
    source_topic="registry.cbam-form-decisions",
    indexes=(("brand", "reporting_year"),),
)
"""Every CBAM form the registry accepted, with what it discloses beyond the figures."""

BRAND_FORMS = Table(
    "brand_forms",
    key=("brand", "reporting_year"),
    columns=(Column("form_id"),),
    source_topic="registry.cbam-form-decisions",
)
"""The form that stands for a brand's year: the last one accepted (a correction replaces it)."""

BRANDS = Table(
    "brands",
    key=("brand",),
    columns=(*_text("producer_id", "country_of_origin", "status", "effective_at"),),
    source_topic="registry.brand-status",
    indexes=(("producer_id",),),
)
"""Every listed brand, its producer and its status."""

BALANCES = Table(
    "custody_balances",
    key=("account_key",),
    columns=(*_text("holder_id", "material_quality", "level", "certificate", "balance_kg"),),
    source_topic="registry.custody-balances",
    indexes=(("holder_id",),),
)
"""The last balance of every mass-balance account."""

REPORT_VERSIONS = Table(
    "cbam_report_versions",
    key=("importer_id", "year", "quarter", "version"),
    columns=(
        *_text("filing_id", "filed_at"),
        Column("late", ColumnType.INTEGER),
        Column("report", ColumnType.JSON),
    ),
    source_topic="registry.cbam-reports",
)
"""Every version of every importer's quarterly CBAM report as filed (the key's year, quarter
and version are kept as text, like every key column)."""

TABLES: tuple[Table, ...] = (
    WARRANT_STATES,
    WARRANTS,
    WARRANT_CERTIFICATES,
    CERTIFICATES,
    CERTIFICATE_EMISSIONS,
    FORMS,
    BRAND_FORMS,
    BRANDS,
    BALANCES,
    REPORT_VERSIONS,
)
TABLES_BY_NAME = {table.name: table for table in TABLES}
SOURCE_TOPICS: tuple[str, ...] = tuple(dict.fromkeys(table.source_topic for table in TABLES))
"""The topics the read side subscribes to, in catalogue names (without the prefix)."""
