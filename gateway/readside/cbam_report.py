"""The importer's quarterly CBAM report (§6.3-6.4, DOMAIN sections 4 and 6), built from the
read side's rows. Pure: rows and the default-value tables in, the report out.

Readings:
- The importer is the party a warrant is issued to (``warrants.holder_id``). The goods it
  received in a quarter are the warrants issued to it with ``issued_at`` in the quarter (UTC),
  kept when cancelled later: the goods were imported.
- A warrant's mass is its ``net_weight_kg``; tonnes are kg / 1000, exact.
- A warrant's figures (t CO2e per t of goods), in this order:
  1. none of its CoAs carries emissions yet: the default value from the tables, for the CN
     code and the country, in the quarter's period and with its year's mark-up
     (``figures_from = "default_table"``, both figures default, not verified);
  2. every CoA carries the emissions of one and the same form: those
     (``"attached"``);
  3. its CoAs carry different forms, or some carry none: the figures the warrant itself
     states (``WarrantDocument.emissions``, ``"warrant_document"``), with the verification
     of the form it names.
- The goods type is the first CN code of that form, ``7601`` (unwrought aluminium, all
  exchange aluminium) without one; the country of origin is the form's installation country,
  the country the warrant states without one.
- A figure is verified when its form names a verifier; a default is never verified.
- Priced emissions: those the period's tables list (the definitive period: direct only;
  indirect ones are reported); none in the transitional period.
- Deadlines: due one month after the quarter ends, correctable for two months after that.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, localcontext
from typing import Any

from contracts.cbam_report import (
    REGISTRY_FIELDS_FILLED,
    REGISTRY_FIELDS_NOT_KNOWN,
    ImportsOfYear,
    QuarterlyCbamReport,
    ReportedCarbonPrice,
    ReportedWarrant,
    ReportLine,
    ReportTotals,
)
from gateway.readside.default_values import DefaultValueTables
from gateway.readside.views import ACTUAL, DEFAULT, basis

Row = Mapping[str, Any]
UNWROUGHT_ALUMINIUM = "7601"
EXEMPTION_THRESHOLD_T = Decimal(50)
"""Importers under 50 t of CBAM goods a calendar year (all goods) are exempt."""
ATTACHED, WARRANT_DOCUMENT, DEFAULT_TABLE = "attached", "warrant_document", "default_table"
_EXACT = 60
"""Digits of precision for sums and products: far beyond any figure, so nothing rounds."""


def _month_start(year: int, month: int) -> datetime:
    """The first instant of ``month`` (1-based, may run past 12) of ``year``, UTC."""
    years, index = divmod(month - 1, 12)
    return datetime(year + years, index + 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Quarter:
    year: int
    quarter: int

    @classmethod
    def of(cls, moment: date | datetime) -> Quarter:
        """The quarter holding ``moment`` (a datetime is read in UTC)."""
        if isinstance(moment, datetime):
            moment = moment.astimezone(UTC)
        return cls(moment.year, (moment.month - 1) // 3 + 1)

    def __post_init__(self) -> None:
        if self.quarter not in (1, 2, 3, 4):
            raise ValueError(f"quarter {self.quarter} is not 1 to 4")

    @property
    def starts(self) -> datetime:
        return _month_start(self.year, 3 * self.quarter - 2)

    @property
    def ends(self) -> datetime:
        """The first instant after the quarter."""
        return _month_start(self.year, 3 * self.quarter + 1)

    @property
    def due_by(self) -> datetime:
        """The report is due before this instant: one month after the quarter ends."""
        return _month_start(self.year, 3 * self.quarter + 2)

    @property
    def corrections_until(self) -> datetime:
        """Corrections are accepted before this instant: two months after the due date."""
        return _month_start(self.year, 3 * self.quarter + 4)

    @property
    def name(self) -> str:
        return f"{self.year}Q{self.quarter}"

    def holds(self, moment: datetime) -> bool:
        return self.starts <= moment < self.ends


@dataclass(frozen=True)
class CarbonPrice:
    instrument: str | None
    amount_per_tco2e: Decimal
    currency: str
    paid_at: str


@dataclass(frozen=True)
class WarrantFigures:
    """A warrant's embedded emissions, t CO2e per t of goods, and how they were determined."""

    direct_tco2e_per_t: Decimal
    indirect_tco2e_per_t: Decimal
    direct_basis: str
    indirect_basis: str
    verified: bool
    figures_from: str
    form_id: str | None = None
    verifier: str | None = None
    level_of_assurance: str | None = None


@dataclass(frozen=True)
class ReceivedWarrant:
    """A warrant issued to the importer, as the report counts it."""

    warrant_id: str
    issued_at: datetime
    cancelled_at: str | None
    net_weight_kg: Decimal
    cn_code: str
    country: str
    figures: WarrantFigures
    carbon_prices: tuple[CarbonPrice, ...] = ()

    @property
    def net_mass_t(self) -> Decimal:
        return self.net_weight_kg / 1000


def utc_moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} names no time zone")
    return moment.astimezone(UTC)


def _carbon_prices(disclosure: Row) -> tuple[CarbonPrice, ...]:
    return tuple(
        CarbonPrice(
            instrument=price.get("instrument"),
            amount_per_tco2e=Decimal(str(price["amount_per_tco2e"])),
            currency=str(price["currency"]),
            paid_at=str(price["paid_at"]),
        )
        for price in disclosure.get("carbon_prices_paid") or ()
    )


def _from_form(
    summary: Row, form: Row | None, figures_from: str, form_id: str | None
) -> tuple[WarrantFigures, Row]:
    disclosure: Row = (form or {}).get("disclosure") or {}
    verifier = disclosure.get("verifier_name")
    figures = WarrantFigures(
        direct_tco2e_per_t=Decimal(str(summary["direct_tco2e_per_t"])),
        indirect_tco2e_per_t=Decimal(str(summary["indirect_tco2e_per_t"])),
        direct_basis=basis(summary["direct_is_default_value"]),
        indirect_basis=basis(summary["indirect_is_default_value"]),
        verified=verifier is not None,
        figures_from=figures_from,
        form_id=form_id,
        verifier=verifier,
        level_of_assurance=disclosure.get("level_of_assurance"),
    )
    return figures, disclosure


def received_warrant(
    warrant: Row,
    attachments: Sequence[Row | None],
    forms: Mapping[str, Row],
    defaults: DefaultValueTables,
) -> ReceivedWarrant:
    """The report's reading of one ``warrants`` row; ``attachments`` holds the
    ``certificate_emissions`` row of each CoA it names (None for a CoA without one), and
    ``forms`` the ``cbam_forms`` rows by form id."""
    issued_at = utc_moment(warrant["issued_at"])
    present = [a for a in attachments if a is not None]
    disclosure: Row = {}
    figures: WarrantFigures | None = None
    if present:
        form_ids = {a["form_id"] for a in present}
        if len(present) == len(attachments) and len(form_ids) == 1:
            form_id = present[0]["form_id"]
            figures, disclosure = _from_form(
                present[0]["emissions"], forms.get(form_id), ATTACHED, form_id
            )
        else:
            stated = (warrant.get("document") or {}).get("emissions") or {}
            form_id = stated.get("form_id")
            figures, disclosure = _from_form(
                stated["summary"],
                None if form_id is None else forms.get(form_id),
                WARRANT_DOCUMENT,
                form_id,
            )
    cn_codes = disclosure.get("cn_codes") or ()
    cn_code = str(cn_codes[0]) if cn_codes else UNWROUGHT_ALUMINIUM
    country = str(disclosure.get("installation_country") or warrant["country_of_origin"])
    if figures is None:
        default = defaults.figure(cn_code, country, issued_at.date())
        figures = WarrantFigures(
            direct_tco2e_per_t=default.direct_tco2e_per_t,
            indirect_tco2e_per_t=default.indirect_tco2e_per_t,
            direct_basis=DEFAULT,
            indirect_basis=DEFAULT,
            verified=False,
            figures_from=DEFAULT_TABLE,
        )
    return ReceivedWarrant(
        warrant_id=warrant["warrant_id"],
        issued_at=issued_at,
        cancelled_at=warrant.get("cancelled_at"),
        net_weight_kg=Decimal(str(warrant["net_weight_kg"])),
        cn_code=cn_code,
        country=country,
        figures=figures,
        carbon_prices=_carbon_prices(disclosure),
    )


def text(number: Decimal) -> str:
    """A decimal as plain digits (no exponent), exactly."""
    return format(number, "f")


def _reported(warrant: ReceivedWarrant) -> ReportedWarrant:
    figures, mass = warrant.figures, warrant.net_mass_t
    return ReportedWarrant(
        warrant_id=warrant.warrant_id,
        issued_at=warrant.issued_at.isoformat(),
        cancelled_at=warrant.cancelled_at,
        net_mass_t=text(mass),
        direct_tco2e_per_t=text(figures.direct_tco2e_per_t),
        indirect_tco2e_per_t=text(figures.indirect_tco2e_per_t),
        direct_tco2e=text(mass * figures.direct_tco2e_per_t),
        indirect_tco2e=text(mass * figures.indirect_tco2e_per_t),
        direct_basis=figures.direct_basis,
        indirect_basis=figures.indirect_basis,
        verified=figures.verified,
        figures_from=figures.figures_from,
        form_id=figures.form_id,
        verifier=figures.verifier,
        level_of_assurance=figures.level_of_assurance,
    )


def _priced(direct: Decimal, indirect: Decimal, priced: frozenset[str]) -> Decimal:
    return (direct if "direct" in priced else Decimal(0)) + (
        indirect if "indirect" in priced else Decimal(0)
    )


def _line(
    number: int,
    key: tuple[str, str],
    warrants: Sequence[ReceivedWarrant],
    priced: frozenset[str],
) -> ReportLine:
    mass = sum((w.net_mass_t for w in warrants), Decimal(0))
    direct = sum((w.net_mass_t * w.figures.direct_tco2e_per_t for w in warrants), Decimal(0))
    indirect = sum((w.net_mass_t * w.figures.indirect_tco2e_per_t for w in warrants), Decimal(0))

    def mass_of(chosen: Iterable[ReceivedWarrant]) -> Decimal:
        return sum((w.net_mass_t for w in chosen), Decimal(0))

    actual = [w for w in warrants if w.figures.direct_basis == ACTUAL]
    paid_on: dict[CarbonPrice, Decimal] = defaultdict(Decimal)
    for warrant in warrants:
        for price in dict.fromkeys(warrant.carbon_prices):
            paid_on[price] += warrant.net_mass_t
    prices = [
        ReportedCarbonPrice(
            instrument=price.instrument,
            amount_per_tco2e=text(price.amount_per_tco2e),
            currency=price.currency,
            paid_at=price.paid_at,
            net_mass_t=text(paid),
        )
        for price, paid in sorted(
            paid_on.items(),
            key=lambda item: (item[0].paid_at, item[0].currency, item[0].amount_per_tco2e),
        )
    ]
    return ReportLine(
        item_number=number,
        cn_code=key[0],
        country_of_origin=key[1],
        net_mass_t=text(mass),
        direct_tco2e=text(direct),
        indirect_tco2e=text(indirect),
        priced_tco2e=text(_priced(direct, indirect, priced)),
        direct_default_mass_t=text(
            mass_of(w for w in warrants if w.figures.direct_basis == DEFAULT)
        ),
        direct_actual_verified_mass_t=text(mass_of(w for w in actual if w.figures.verified)),
        direct_actual_unverified_mass_t=text(mass_of(w for w in actual if not w.figures.verified)),
        carbon_prices_paid=prices,
        warrants=[
            _reported(w) for w in sorted(warrants, key=lambda w: (w.issued_at, w.warrant_id))
        ],
    )


def quarterly_report(
    importer_id: str,
    quarter: Quarter,
    warrants: Iterable[ReceivedWarrant],
    defaults: DefaultValueTables,
) -> QuarterlyCbamReport:
    """The report of the warrants issued to ``importer_id`` in ``quarter`` (others are
    left out): one line per CN code and country, and totals that are the lines' sums."""
    period = defaults.period_of(quarter.starts.date())
    by_line: dict[tuple[str, str], list[ReceivedWarrant]] = defaultdict(list)
    for warrant in warrants:
        if quarter.holds(warrant.issued_at):
            by_line[(warrant.cn_code, warrant.country)].append(warrant)
    with localcontext() as context:
        context.prec = _EXACT
        lines = [
            _line(number, key, by_line[key], period.priced_emissions)
            for number, key in enumerate(sorted(by_line), start=1)
        ]
        summed = {
            name: sum((Decimal(getattr(line, name)) for line in lines), Decimal(0))
            for name in ("net_mass_t", "direct_tco2e", "indirect_tco2e", "priced_tco2e")
        }
        totals = ReportTotals(
            warrants=sum(len(line.warrants) for line in lines),
            net_mass_t=text(summed["net_mass_t"]),
            direct_tco2e=text(summed["direct_tco2e"]),
            indirect_tco2e=text(summed["indirect_tco2e"]),
            total_tco2e=text(summed["direct_tco2e"] + summed["indirect_tco2e"]),
            priced_tco2e=text(summed["priced_tco2e"]),
        )
    return QuarterlyCbamReport(
        importer_id=importer_id,
        year=quarter.year,
        quarter=quarter.quarter,
        reporting_period=quarter.name,
        period_starts=quarter.starts.isoformat(),
        period_ends=quarter.ends.isoformat(),
        due_by=quarter.due_by.isoformat(),
        corrections_until=quarter.corrections_until.isoformat(),
        cbam_period=period.name,
        priced_emissions=sorted(period.priced_emissions),
        default_values_version=defaults.version,
        lines=lines,
        totals=totals,
        registry_fields_filled=list(REGISTRY_FIELDS_FILLED),
        registry_fields_not_known=list(REGISTRY_FIELDS_NOT_KNOWN),
    )


def imports_of_year(
    importer_id: str,
    year: int,
    warrants: Iterable[Row],
    threshold_t: Decimal = EXEMPTION_THRESHOLD_T,
) -> ImportsOfYear:
    """The importer's cumulative net mass of the ``warrants`` rows issued to it in ``year``
    (UTC), all goods, against the exemption threshold; cancelled ones count too."""
    received = sorted(
        (utc_moment(w["issued_at"]), str(w["warrant_id"]), Decimal(str(w["net_weight_kg"])))
        for w in warrants
        if w["holder_id"] == importer_id
    )
    in_year = [r for r in received if r[0].year == year]
    mass = Decimal(0)
    crossed: tuple[datetime, str, Decimal] | None = None
    with localcontext() as context:
        context.prec = _EXACT
        for entry in in_year:
            mass += entry[2] / 1000
            if crossed is None and mass > threshold_t:
                crossed = entry
    return ImportsOfYear(
        importer_id=importer_id,
        year=year,
        warrants=len(in_year),
        net_mass_t=text(mass),
        threshold_t=text(threshold_t),
        exceeded=crossed is not None,
        exceeded_by_warrant=None if crossed is None else crossed[1],
        exceeded_at=None if crossed is None else crossed[0].isoformat(),
    )


# -- filing: a report version is the importer's filing -------------------------------------
@dataclass(frozen=True)
class Filing:
    """A filing the rules allow: its version, and whether it is a late first filing."""

    version: int
    late: bool


@dataclass(frozen=True)
class FilingRefused:
    """A filing the rules refuse: the rule broken, for a person."""

    rule: str


def filing_of(
    quarter: Quarter, now: datetime, filed_versions: Iterable[int], version: int
) -> Filing | FilingRefused:
    """Whether the importer may file ``version`` of its report of ``quarter`` at ``now``:
    only once the quarter has ended, only before the correction window closes (two months
    after the due date), and version n + 1 only after n (a correction is a new version; the
    ones before are kept). A first filing after the due date is accepted, marked late."""
    if now < quarter.ends:
        return FilingRefused(
            f"the report of {quarter.name} can be filed once the quarter has ended, "
            f"from {quarter.ends.isoformat()}"
        )
    if now >= quarter.corrections_until:
        return FilingRefused(
            f"the report of {quarter.name} can no longer be filed or corrected: the "
            f"correction window closed at {quarter.corrections_until.isoformat()}"
        )
    expected = max(filed_versions, default=0) + 1
    if version != expected:
        return FilingRefused(
            f"version {version} cannot be filed: version n + 1 only after n, and the next "
            f"version of {quarter.name} is {expected}"
        )
    return Filing(version=version, late=version == 1 and now >= quarter.due_by)
