"""The shape of the rulebook data (``rulebook.json``) and how it is loaded.

The rulebook is data, not code branches: limits, shapes, dates and rule references live in
the JSON file, versioned, and a deployment may point at its own file or override the dates
that the exchange sets by Notice.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    """A day of the year, the same every year (29 February is refused: not every year has it)."""

    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)

    @model_validator(mode="after")
    def _a_day_of_every_year(self) -> FormDeadline:
        try:
            date(2001, self.month, self.day)
        except ValueError:
            shown = f"{self.month:02d}-{self.day:02d}"
            raise ValueError(f"{shown} is not a day of every year") from None
        return self

    @classmethod
    def parse(cls, text: str) -> FormDeadline:
        """``"MM-DD"``, e.g. ``"03-15"`` for 15 March."""
        month, separator, day = text.partition("-")
        if not (separator and month.isdigit() and day.isdigit()):
            raise ValueError(f"{text!r} is not a month and day, MM-DD")
        return cls(month=int(month), day=int(day))


class PlausibleFigures(_Data):
    """What aluminium production can emit at all: a figure outside is a slip, most often a
    unit (kg entered as t), and the form is refused naming it."""

    direct_tco2e_per_t: Bounds
    indirect_tco2e_per_t: Bounds
    emission_factor_tco2e_per_mwh: Bounds
    unit_slip_factor: Decimal = Field(
        description="A figure this many times too large is named as kg entered as t."
    )
    justification: str


class CbamRules(_Data):
    """CBAM reporting (§4, Appendix II) and the dates the exchange sets by Notice."""

    notice_date: date = Field(description="The SCR 4.2 date, set by the exchange by Notice.")
    first_reporting_year: int
    form_deadline: FormDeadline = Field(
        description="The day of the year after the reporting year a form is due by (§4.3)."
    )
    form_deadline_overrides: dict[int, date] = Field(
        default_factory=dict,
        description="Reporting year -> its own deadline, where the exchange moved one.",
    )
    verification_start: date = Field(
        description="From this day a form must name its verifier and level of assurance "
        "(§4.1.3: the exchange requires third-party verification ahead of the EU's definitive "
        "period, which starts on 1 January 2026)."
    )
    default_direct_tco2e_per_t: Decimal
    default_indirect_tco2e_per_t: Decimal
    plausible: PlausibleFigures
    eu_methodology_only_from: date = Field(
        description="From this decision day a form must use the EU methodology (§4.3)."
    )
    cn_code_prefix: str
    aggregated_goods_category: str
    levels_of_assurance: tuple[str, ...]
    alloying_report_threshold_percent: Decimal
    alloying_as_primary_threshold_percent: Decimal
    rules: dict[str, str]

    def deadline_for(self, reporting_year: int) -> date:
        """The last day a form for ``reporting_year`` is due: the year's own deadline where
        one is set, else the yearly day (15 March) of the next year."""
        moved = self.form_deadline_overrides.get(reporting_year)
        if moved is not None:
            return moved
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


def load_rulebook(
    path: Path | None = None,
    *,
    cbam_notice_date: date | None = None,
    form_deadline: FormDeadline | None = None,
    first_form_deadline: date | None = None,
    verification_start: date | None = None,
) -> Rulebook:
    """Read a rulebook file (the bundled one by default); each date given here wins over the
    file's. ``first_form_deadline`` is the deadline of the first reporting year."""
    text = (path or BUNDLED_RULEBOOK).read_text(encoding="utf-8")
    rulebook = Rulebook.model_validate_json(text)
    cbam = rulebook.cbam
    update: dict[str, object] = {}
    if cbam_notice_date is not None:
        update["notice_date"] = cbam_notice_date
    if form_deadline is not None:
        update["form_deadline"] = form_deadline
    if first_form_deadline is not None:
        update["form_deadline_overrides"] = {
            **cbam.form_deadline_overrides,
            cbam.first_reporting_year: first_form_deadline,
        }
    if verification_start is not None:
        update["verification_start"] = verification_start
    if not update:
        return rulebook
    return rulebook.model_copy(update={"cbam": cbam.model_copy(update=update)})


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
