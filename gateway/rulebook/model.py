"""The shape of the rulebook data (``rulebook.json``) and how it is loaded.

The rulebook is data, not code branches: limits, shapes, dates and rule references live in
the JSON file, versioned, and a deployment may point at its own file or override the dates
that the exchange sets by Notice.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from contracts.values import MetalContract, Shape

BUNDLED_RULEBOOK = Path(__file__).with_name("rulebook.json")


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bounds(_Data):
    """An inclusive range; a missing end is unbounded."""

    min: Decimal | None = None
    max: Decimal | None = None

    def contains(self, value: Decimal) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self, unit: str = "") -> str:
        suffix = f" {unit}" if unit else ""
        if self.min is not None and self.max is not None:
            return f"{_plain(self.min)}-{_plain(self.max)}{suffix}"
        if self.max is not None:
            return f"<= {_plain(self.max)}{suffix}"
        if self.min is not None:
            return f">= {_plain(self.min)}{suffix}"
        return "any"


class Specification(_Data):
    """A quality specification: element limits in % by mass, and what else it demands.

    ``limits`` is None for a designation the exchange names but whose limits are not
    configured: metal claimed to it is refused, never passed.
    """

    designation: str
    contracts: tuple[MetalContract, ...]
    rule: str = Field(description="Where the contract names it, e.g. 'SCR 1(a)(i)'.")
    standard: str = Field(description="The published standard the limits come from.")
    limits: dict[str, Bounds] | None
    others_each_max: Decimal | None = None
    others_total_max: Decimal | None = None
    aluminium_min: Decimal | None = Field(
        default=None, description="Minimum Al, % by mass; None when Al is the remainder."
    )
    sludge_max: Decimal | None = Field(default=None, description="Fe + 2 Mn + 3 Cr at most.")
    filtration_required: bool = False
    warrants_created_until: date | None = Field(
        default=None, description="Only for warrants created up to this date (inclusive)."
    )
    note: str | None = None


class ShapeRules(_Data):
    """Weights (kg) and dimensions (mm) one piece of a shape may have under a contract."""

    rule: str
    piece_weight_kg: Bounds
    dimensions_mm: dict[str, Bounds] = Field(default_factory=dict)
    square_top_and_bottom: bool = False
    bundle_weight_kg: Bounds | None = None


class ContractRules(_Data):
    """One physically settled contract's special contract rules."""

    name: str
    lot_size_t: Decimal
    lot_tolerance_percent: Decimal
    max_production_batches: int | None
    one_batch_per_bundle: bool
    specifications: tuple[str, ...]
    shapes: dict[Shape, ShapeRules]
    rules: dict[str, str] = Field(
        description="Rule references by topic, as the source numbers them."
    )
    warning_clause: str

    def rule(self, topic: str) -> str:
        return f"{self.name} {self.rules[topic]}"


class FormDeadline(_Data):
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)


class CbamRules(_Data):
    """CBAM reporting (§4, Appendix II) and the dates the exchange sets by Notice."""

    notice_date: date = Field(description="The SCR 4.2 date, set by the exchange by Notice.")
    first_reporting_year: int
    form_deadline: FormDeadline
    default_direct_tco2e_per_t: Decimal
    default_indirect_tco2e_per_t: Decimal
    cn_code_prefix: str
    aggregated_goods_category: str
    levels_of_assurance: tuple[str, ...]
    alloying_report_threshold_percent: Decimal
    alloying_as_primary_threshold_percent: Decimal
    rules: dict[str, str]

    def deadline_for(self, reporting_year: int) -> date:
        """The last day a form for ``reporting_year`` is due (15 March of the next year)."""
        return date(reporting_year + 1, self.form_deadline.month, self.form_deadline.day)


class Rulebook(_Data):
    version: str
    source: str
    cbam: CbamRules
    specifications: dict[str, Specification]
    contracts: dict[MetalContract, ContractRules]
    pending_limit: timedelta = Field(
        default=timedelta(days=30),
        gt=timedelta(0),
        description="How long a warrant request may pend (the gateway's choice, not the "
        'source\'s; ISO 8601, e.g. "P30D"): a request still pending after it is rejected as '
        "expired.",
    )


def load_rulebook(path: Path | None = None, *, cbam_notice_date: date | None = None) -> Rulebook:
    """Read a rulebook file (the bundled one by default); a notice date given here wins."""
    text = (path or BUNDLED_RULEBOOK).read_text(encoding="utf-8")
    rulebook = Rulebook.model_validate_json(text)
    if cbam_notice_date is None:
        return rulebook
    cbam = rulebook.cbam.model_copy(update={"notice_date": cbam_notice_date})
    return rulebook.model_copy(update={"cbam": cbam})


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
