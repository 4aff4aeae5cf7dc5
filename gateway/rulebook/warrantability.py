"""May a lot be placed on warrant? Every failed rule and every missing document is named.

The contract rules (brand, shape, lot size, pieces, bundles, production batches) come from
the contract's Special Contract Rules; the certificates of analysis and the CBAM form from
SCR 4.1 to 4.5 and §4. A failed rule rejects the request; a document that may still
arrive leaves it pending; otherwise the warrant is issued with what it must state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from contracts.ecoa import ECoAKind
from contracts.values import Dimensions, Shape
from gateway.rulebook.decisions import (
    AttachedEmissions,
    CertificateReference,
    WarrantDecision,
    WarrantOutcome,
    WarrantTerms,
)
from gateway.rulebook.model import Bounds, CbamRules, ContractRules, Rulebook, ShapeRules
from gateway.rulebook.recorded_casts import agreeing, lot_findings
from gateway.rulebook.state import (
    AcceptedForm,
    ArrivedLot,
    BrandRecord,
    BrandStatus,
    BrandView,
    CertifiedCast,
    EmissionsFigures,
    LotBundle,
    OpenRequest,
    RejectedCertificate,
    near_miss_forms,
    normalised_cast_reference,
)
from gateway.rulebook.violations import Missing, MissingKind
from gateway.violations import Violation, shown

_Value = TypeVar("_Value", bound=Hashable)

SCR_4_1 = "SCR 4.1"
SCR_4_5 = "SCR 4.5"

_STATUS_CODES = {
    BrandStatus.SUSPENDED: "BRAND_SUSPENDED",
    BrandStatus.DELISTED: "BRAND_DELISTED",
}


def decide_warrant(
    request: OpenRequest,
    lot: ArrivedLot | None,
    brand: BrandView,
    rulebook: Rulebook,
    *,
    today: date,
    now: datetime | None = None,
) -> WarrantDecision:
    """Issue, reject or hold a warrant request, listing every failed rule and missing item.

    ``lot`` is None when the request came before the lot's arrival; ``brand`` is what the
    registry knows of the request's brand; ``today`` only decides whether the previous
    year's CBAM form may still stand in for the production year's (§4.3 Figure 4). Given
    ``now``, a request that would still pend after the rulebook's pending limit is rejected
    as expired, naming what it waited for.
    """
    decision = _decide_warrant(request, lot, brand, rulebook, today=today)
    if now is not None and decision.outcome is WarrantOutcome.PENDING:
        return _expired(decision, request, rulebook, now=now) or decision
    return decision


def _decide_warrant(
    request: OpenRequest,
    lot: ArrivedLot | None,
    brand: BrandView,
    rulebook: Rulebook,
    *,
    today: date,
) -> WarrantDecision:
    if lot is None:
        return _decision(
            request, WarrantOutcome.PENDING, missing=(_lot_arrival_missing(request.lot_id),)
        )
    contract_rules = rulebook.contracts[lot.contract]
    marked = _casts_of(lot)
    certificates = _certificate_findings(marked, brand, contract_rules, rulebook)
    known_dates = _known_production_dates(marked, brand)
    emissions = _notice_date_findings(
        lot, brand, certificates.chosen, known_dates, rulebook.cbam, today=today
    )
    violations = (
        *_brand_violations(request, lot, brand, contract_rules, rulebook.cbam),
        *_marked_brand_violations(lot, contract_rules),
        *_shape_violations(lot, contract_rules),
        *_lot_weight_violations(lot, contract_rules),
        *_piece_violations(lot, contract_rules),
        *_bundle_violations(lot, contract_rules),
        *_production_batch_violations(lot, contract_rules),
        *certificates.violations,
        *_production_date_violations(lot, known_dates),
    )
    missing = (*certificates.missing, *emissions.missing)
    record = brand.record
    if violations or record is None:
        return _decision(request, WarrantOutcome.REJECTED, violations=violations, missing=missing)
    if missing or emissions.attached is None:
        return _decision(
            request,
            WarrantOutcome.PENDING,
            missing=missing,
            certificate_violations=certificates.rejected,
        )
    terms = _warrant_terms(lot, record, contract_rules, certificates.chosen, emissions.attached)
    return _decision(
        request,
        WarrantOutcome.ISSUED,
        terms=terms,
        notes=emissions.notes,
        rules_applied=_issue_rules(
            lot, contract_rules, rulebook.cbam, certificates.chosen, emissions.attached
        ),
    )


def _decision(
    request: OpenRequest,
    outcome: WarrantOutcome,
    *,
    violations: tuple[Violation, ...] = (),
    missing: tuple[Missing, ...] = (),
    terms: WarrantTerms | None = None,
    notes: tuple[str, ...] = (),
    certificate_violations: tuple[Violation, ...] = (),
    rules_applied: tuple[str, ...] = (),
) -> WarrantDecision:
    return WarrantDecision(
        request_id=request.request_id,
        lot_id=request.lot_id,
        brand=request.brand,
        outcome=outcome,
        violations=violations,
        missing=missing,
        terms=terms,
        notes=notes,
        certificate_violations=certificate_violations,
        rules_applied=rules_applied,
    )


_LISTED_AT_MOST = 10


def _listed(items: list[str]) -> str:
    """Items for a message: the first ten, and how many more."""
    more = len(items) - _LISTED_AT_MOST
    return ", ".join(items[:_LISTED_AT_MOST]) + (f" and {more} more" if more > 0 else "")


def is_overdue(request: OpenRequest, rulebook: Rulebook, *, now: datetime) -> bool:
    """Whether the request has pended longer than the rulebook's pending limit since the
    registry took it in (never, while that time is not recorded)."""
    since = request.received_at
    return since is not None and pended_too_long(since, rulebook, now=now)


def pended_too_long(since: datetime, rulebook: Rulebook, *, now: datetime) -> bool:
    """Whether a request taken in at ``since`` is past the rulebook's pending limit."""
    return now - since > rulebook.pending_limit


def _spoken_duration(duration: timedelta) -> str:
    """A duration as "30 days", or as "31 days, 0:00:01" when it is not whole days."""
    if duration % timedelta(days=1):
        return str(duration)
    return f"{duration.days} days"


def _expired(
    pending: WarrantDecision, request: OpenRequest, rulebook: Rulebook, *, now: datetime
) -> WarrantDecision | None:
    """The rejection of a request pending past the limit, or None while it may still pend.

    The limit is the gateway's reading of SCR 4.1 (a lot is warranted when its eCOA
    accompanies it), not a period the source sets; the rejection names everything awaited,
    and the rules the rejected certificates of its casts broke."""
    since = request.received_at
    if since is None or not is_overdue(request, rulebook, now=now):
        return None
    references = [item.reference for item in pending.missing]
    awaited = _listed(references)
    expiry = Violation(
        code="WARRANT_REQUEST_EXPIRED",
        rule=f"{SCR_4_1} (pending limit)",
        field="request_id",
        observed=f"pending since {since.isoformat()} ({_spoken_duration(now - since)})",
        allowed=f"<= {_spoken_duration(rulebook.pending_limit)} pending",
        message=f"request {request.request_id} waited longer than "
        f"{_spoken_duration(rulebook.pending_limit)} for: {awaited}",
    )
    return replace(
        pending,
        outcome=WarrantOutcome.REJECTED,
        violations=(expiry, *pending.certificate_violations),
    )


def _lot_arrival_missing(lot_id: str) -> Missing:
    return Missing(
        kind=MissingKind.LOT_ARRIVAL,
        reference=lot_id,
        rule=SCR_4_1,
        message=f"lot {lot_id} has not arrived at the warehouse yet; the request is decided "
        "when it does",
    )


# Brand, shape and lot size (SCR 1(b), 1(c), 2, 3.1, 3.2; §4.4)


def _brand_violations(
    request: OpenRequest,
    lot: ArrivedLot,
    brand: BrandView,
    contract_rules: ContractRules,
    cbam: CbamRules,
) -> list[Violation]:
    found = []
    if request.brand != lot.brand:
        found.append(
            Violation(
                code="LOT_BRAND_MISMATCH",
                rule=contract_rules.rule("one_brand_shape"),
                field="brand",
                observed=request.brand,
                allowed=lot.brand,
                message=f"the request names brand {request.brand} but lot {lot.lot_id} is of "
                f"brand {lot.brand}; a warrant is of one brand",
            )
        )
    record = brand.record
    if record is None:
        found.append(
            Violation(
                code="BRAND_NOT_LISTED",
                rule=contract_rules.rule("brand_listed"),
                field="brand",
                observed=brand.brand,
                allowed="a brand listed as good delivery",
                message=f"brand {brand.brand} is not on the exchange's list of approved brands",
            )
        )
        return found
    if record.status in _STATUS_CODES:
        status = record.status.value
        found.append(
            Violation(
                code=_STATUS_CODES[record.status],
                rule=cbam.rules["brand_status"],
                field="brand",
                observed=f"{status}: {record.status_reason}" if record.status_reason else status,
                allowed=BrandStatus.LISTED.value,
                message=f"brand {record.brand} is {status}, so no metal of it can be warranted",
            )
        )
    if lot.contract not in record.contracts:
        listed_for = ", ".join(contract.value for contract in record.contracts) or "none"
        found.append(
            Violation(
                code="BRAND_NOT_LISTED_FOR_CONTRACT",
                rule=contract_rules.rule("brand_listed"),
                field="contract",
                observed=lot.contract.value,
                allowed=listed_for,
                message=f"brand {record.brand} is listed for {listed_for}, not for "
                f"{contract_rules.name}",
            )
        )
    return found


def _marked_brand_violations(lot: ArrivedLot, contract_rules: ContractRules) -> list[Violation]:
    """The brand marked on each bundle, sow or T-bar (SCR 5.1) is the lot's: a warrant is of
    one brand (SCR 3.2)."""
    marked = (
        *((f"bundles[{index}].brand", bundle.brand) for index, bundle in enumerate(lot.bundles)),
        *((f"piece_brands[{index}]", brand) for index, brand in enumerate(lot.piece_brands)),
    )
    return [
        Violation(
            code="MORE_THAN_ONE_BRAND",
            rule=contract_rules.rule("one_brand_shape"),
            field=path,
            observed=brand,
            allowed=lot.brand,
            message=f"lot {lot.lot_id} of brand {lot.brand} holds metal marked {brand}; "
            "the metal in a warrant is of one brand",
        )
        for path, brand in marked
        if brand != lot.brand
    ]


def _shape_violations(lot: ArrivedLot, contract_rules: ContractRules) -> list[Violation]:
    if lot.shape in contract_rules.shapes:
        return []
    allowed = ", ".join(shape.value for shape in contract_rules.shapes)
    return [
        Violation(
            code="SHAPE_NOT_ALLOWED",
            rule=contract_rules.rule("shape"),
            field="shape",
            observed=lot.shape.value,
            allowed=allowed,
            message=f"{contract_rules.name} is delivered as {allowed}, not {lot.shape.value}",
        )
    ]


def lot_weight_bounds(contract_rules: ContractRules) -> Bounds:
    """The lot size in kg, either more or less by the contract's tolerance, inclusive."""
    nominal_kg = contract_rules.lot_size_t * 1000
    margin_kg = nominal_kg * contract_rules.lot_tolerance_percent / 100
    return Bounds(min=nominal_kg - margin_kg, max=nominal_kg + margin_kg)


def _lot_weight_violations(lot: ArrivedLot, contract_rules: ContractRules) -> list[Violation]:
    bounds = lot_weight_bounds(contract_rules)
    if bounds.contains(lot.net_weight_kg):
        return []
    return [
        Violation(
            code="LOT_WEIGHT_OUT_OF_TOLERANCE",
            rule=contract_rules.rule("lot_size"),
            field="net_weight_kg",
            observed=f"{shown(lot.net_weight_kg)} kg",
            allowed=bounds.describe("kg"),
            message=f"a {contract_rules.name} lot is {shown(contract_rules.lot_size_t)} t, "
            f"{shown(contract_rules.lot_tolerance_percent)} % either more or less; this one "
            f"weighs {shown(lot.net_weight_kg)} kg",
        )
    ]


# One piece: weight and dimensions of the shape (SCR 1(b), SCR 6)


def _piece_violations(lot: ArrivedLot, contract_rules: ContractRules) -> list[Violation]:
    shape_rules = contract_rules.shapes.get(lot.shape)
    if shape_rules is None:
        return []
    rule = f"{contract_rules.name} {shape_rules.rule}"
    found = _piece_weight_violations(lot, shape_rules.piece_weight_kg, rule)
    found.extend(_piece_dimension_violations(lot, shape_rules, rule))
    if shape_rules.square_top_and_bottom and lot.piece_dimensions is not None:
        found.extend(_not_square_violations(lot.piece_dimensions, rule))
    return found


def _piece_weight_violations(lot: ArrivedLot, bounds: Bounds, rule: str) -> list[Violation]:
    weight = lot.piece_weight_kg
    shape = lot.shape.value
    if weight is None:
        return [
            Violation(
                code="PIECE_WEIGHT_NOT_STATED",
                rule=rule,
                field="piece_weight_kg",
                observed=None,
                allowed=bounds.describe("kg"),
                message=f"the lot does not state the weight of one {shape}",
            )
        ]
    if bounds.contains(weight):
        return []
    return [
        Violation(
            code="PIECE_WEIGHT_OUT_OF_RANGE",
            rule=rule,
            field="piece_weight_kg",
            observed=f"{shown(weight)} kg",
            allowed=bounds.describe("kg"),
            message=f"one {shape} weighs {shown(weight)} kg, outside {bounds.describe('kg')}",
        )
    ]


def _piece_dimension_violations(
    lot: ArrivedLot, shape_rules: ShapeRules, rule: str
) -> list[Violation]:
    found = []
    for dimension, bounds in shape_rules.dimensions_mm.items():
        stated = _dimension(lot.piece_dimensions, dimension)
        path = f"piece_dimensions.{dimension}"
        if stated is None:
            found.append(
                Violation(
                    code="PIECE_DIMENSION_NOT_STATED",
                    rule=rule,
                    field=path,
                    observed=None,
                    allowed=bounds.describe("mm"),
                    message=f"the lot does not state {_spoken(dimension)} of one {lot.shape.value}",
                )
            )
        elif not bounds.contains(stated):
            found.append(
                Violation(
                    code="PIECE_DIMENSION_OUT_OF_RANGE",
                    rule=rule,
                    field=path,
                    observed=f"{shown(stated)} mm",
                    allowed=bounds.describe("mm"),
                    message=f"{_spoken(dimension)} of one {lot.shape.value} is "
                    f"{shown(stated)} mm, outside {bounds.describe('mm')}",
                )
            )
    return found


def _not_square_violations(dimensions: Dimensions, rule: str) -> list[Violation]:
    found = []
    for face in ("top", "bottom"):
        length = _dimension(dimensions, f"{face}_length_mm")
        width = _dimension(dimensions, f"{face}_width_mm")
        if length is None or width is None or length == width:
            continue
        found.append(
            Violation(
                code="SMALL_SOW_NOT_SQUARE",
                rule=rule,
                field=f"piece_dimensions.{face}_width_mm",
                observed=f"{shown(width)} mm",
                allowed=f"{shown(length)} mm (the {face} length)",
                message=f"a small sow's {face} length and width must be the same; they are "
                f"{shown(length)} mm and {shown(width)} mm",
            )
        )
    return found


def _dimension(dimensions: Dimensions | None, name: str) -> Decimal | None:
    if dimensions is None:
        return None
    value: Decimal | None = getattr(dimensions, name)
    return value


def _spoken(dimension: str) -> str:
    return "the " + dimension.removesuffix("_mm").replace("_", " ")


# Bundles of ingots (SCR 3.2 / SCR 6(a); what the warrant states, SCR 3.3 / 3.4)


def _bundle_violations(lot: ArrivedLot, contract_rules: ContractRules) -> list[Violation]:
    rule = contract_rules.rule("bundles")
    if lot.shape is not Shape.INGOT:
        return _bundles_of_non_ingots(lot, rule)
    if not lot.bundles:
        return [
            Violation(
                code="BUNDLES_NOT_STATED",
                rule=rule,
                field="bundles",
                observed=None,
                allowed="the bundles of ingots making up the lot",
                message="an ingot lot must list its bundles",
            )
        ]
    found = []
    ingot_rules = contract_rules.shapes.get(Shape.INGOT)
    bundle_weight = ingot_rules.bundle_weight_kg if ingot_rules is not None else None
    if bundle_weight is not None:
        found.extend(_bundle_weight_violations(lot.bundles, bundle_weight, rule))
        if _requires_equal_bundles(bundle_weight):
            found.extend(_makeweight_violations(lot.bundles, rule))
            found.extend(_unequal_bundle_violations(lot.bundles, rule))
    found.extend(_bundle_total_violations(lot, contract_rules.rule("warrant_fields")))
    if contract_rules.one_batch_per_bundle:
        found.extend(_bundle_cast_violations(lot, contract_rules.rule("batches")))
        found.extend(_bundle_batch_violations(lot, contract_rules.rule("batches")))
    return found


def _requires_equal_bundles(bundle_weight: Bounds) -> bool:
    """The alloy contracts' SCR 6(a) sets a minimum bundle weight together with equal
    bundles and one makeweight bundle; High Grade's SCR 3.2 sets only a maximum."""
    return bundle_weight.min is not None


def _bundles_of_non_ingots(lot: ArrivedLot, rule: str) -> list[Violation]:
    if not lot.bundles:
        return []
    return [
        Violation(
            code="BUNDLES_FOR_NON_INGOT_SHAPE",
            rule=rule,
            field="bundles",
            observed=f"{len(lot.bundles)} bundles",
            allowed=f"no bundles for {lot.shape.value}",
            message=f"only ingots come in bundles; a {lot.shape.value} lot is counted in pieces",
        )
    ]


def _bundle_weight_violations(
    bundles: tuple[LotBundle, ...], bundle_weight: Bounds, rule: str
) -> list[Violation]:
    makeweight_weight = Bounds(max=bundle_weight.max)
    found = []
    for index, bundle in enumerate(bundles):
        bounds = makeweight_weight if bundle.is_makeweight else bundle_weight
        if bounds.contains(bundle.net_weight_kg):
            continue
        allowed = bounds.describe("kg") + (" (makeweight)" if bundle.is_makeweight else "")
        found.append(
            Violation(
                code="BUNDLE_WEIGHT_OUT_OF_RANGE",
                rule=rule,
                field=f"bundles[{index}].net_weight_kg",
                observed=f"{shown(bundle.net_weight_kg)} kg",
                allowed=allowed,
                message=f"bundle {bundle.bundle_id} weighs {shown(bundle.net_weight_kg)} kg, "
                f"outside {allowed}",
            )
        )
    return found


def _makeweight_violations(bundles: tuple[LotBundle, ...], rule: str) -> list[Violation]:
    makeweights = [bundle.bundle_id for bundle in bundles if bundle.is_makeweight]
    if len(makeweights) <= 1:
        return []
    return [
        Violation(
            code="MORE_THAN_ONE_MAKEWEIGHT_BUNDLE",
            rule=rule,
            field="bundles",
            observed=f"{len(makeweights)} makeweight bundles ({', '.join(makeweights)})",
            allowed="at most 1 makeweight bundle",
            message="one makeweight bundle in any one lot is permissible, not more",
        )
    ]


def _unequal_bundle_violations(bundles: tuple[LotBundle, ...], rule: str) -> list[Violation]:
    """Names the first regular bundle that differs from most of the lot's regular bundles."""
    regular = [(index, bundle) for index, bundle in enumerate(bundles) if not bundle.is_makeweight]
    usual_pieces = _most_common(bundle.pieces for _, bundle in regular)
    usual_dimensions = _most_common(
        bundle.dimensions for _, bundle in regular if bundle.dimensions is not None
    )
    for index, bundle in regular:
        other_pieces = bundle.pieces != usual_pieces
        other_dimensions = bundle.dimensions is not None and bundle.dimensions != usual_dimensions
        if not (other_pieces or other_dimensions):
            continue
        path = f"bundles[{index}]"
        if not (other_pieces and other_dimensions):
            path += ".pieces" if other_pieces else ".dimensions"
        return [
            Violation(
                code="BUNDLES_NOT_EQUAL",
                rule=rule,
                field=path,
                observed=_make_up(
                    bundle.pieces if other_pieces else None,
                    bundle.dimensions if other_dimensions else None,
                ),
                allowed=_make_up(
                    usual_pieces if other_pieces else None,
                    usual_dimensions if other_dimensions else None,
                )
                + " (as most bundles of the lot)",
                message=f"bundle {bundle.bundle_id} differs from the lot's other bundles; "
                "the bundles of a lot other than its makeweight are of equal weight and "
                "dimension",
            )
        ]
    return []


def _most_common(values: Iterable[_Value]) -> _Value | None:
    """The value found most often; of equally frequent values, the one found first. Most
    lots' bundles are all alike, which an equality check finds without hashing each value
    (a ``Dimensions`` hashes at the speed of Python)."""
    listed = list(values)
    if not listed:
        return None
    first = listed[0]
    if all(value == first for value in listed):
        return first
    return Counter(listed).most_common(1)[0][0]


def _make_up(pieces: int | None, dimensions: Dimensions | None) -> str:
    parts = []
    if pieces is not None:
        parts.append(f"{pieces} pieces")
    if dimensions is not None:
        stated = dimensions.model_dump(exclude_none=True)
        parts.append(
            ", ".join(
                f"{name.removesuffix('_mm')} {shown(value)}" for name, value in stated.items()
            )
            + " mm"
        )
    return "; ".join(parts)


def _bundle_total_violations(lot: ArrivedLot, rule: str) -> list[Violation]:
    found = []
    pieces = sum(bundle.pieces for bundle in lot.bundles)
    if pieces != lot.total_pieces:
        found.append(
            Violation(
                code="BUNDLES_DO_NOT_ADD_UP",
                rule=rule,
                field="total_pieces",
                observed=f"{lot.total_pieces} pieces",
                allowed=f"{pieces} pieces (the sum of the bundles)",
                message=f"the lot states {lot.total_pieces} pieces but its bundles hold "
                f"{pieces}; the warrant states one count",
            )
        )
    weight = sum((bundle.net_weight_kg for bundle in lot.bundles), Decimal(0))
    if weight != lot.net_weight_kg:
        found.append(
            Violation(
                code="BUNDLES_DO_NOT_ADD_UP",
                rule=rule,
                field="net_weight_kg",
                observed=f"{shown(lot.net_weight_kg)} kg",
                allowed=f"{shown(weight)} kg (the sum of the bundles)",
                message=f"the lot states {shown(lot.net_weight_kg)} kg but its bundles weigh "
                f"{shown(weight)} kg; the warrant states one weight",
            )
        )
    return found


def _bundle_cast_violations(lot: ArrivedLot, rule: str) -> list[Violation]:
    return [
        Violation(
            code="BUNDLE_CAST_NOT_IN_LOT",
            rule=rule,
            field=f"bundles[{index}].cast_references[{position}]",
            observed=cast,
            allowed=", ".join(_distinct(lot.cast_references)),
            message=f"bundle {bundle.bundle_id} is of cast {cast}, which is not among the "
            "lot's production batches",
        )
        for index, bundle in enumerate(lot.bundles)
        for position, cast in enumerate(bundle.cast_references)
        if cast not in lot.cast_references
    ]


def _bundle_batch_violations(lot: ArrivedLot, rule: str) -> list[Violation]:
    """An alloy ingot bundle holds metal of one production batch (SCR 3.3): one cast marked
    on its ingots, and at most one batch reference of the producer's."""
    found: list[Violation] = []
    for index, bundle in enumerate(lot.bundles):
        if len(bundle.cast_references) < 2 and len(bundle.production_batch_references) < 2:
            continue  # one reference of each at most: nothing to count
        stated = {
            "cast_references": _distinct(bundle.cast_references),
            "production_batch_references": _distinct(bundle.production_batch_references),
        }
        found.extend(
            Violation(
                code="BUNDLE_OF_MORE_THAN_ONE_BATCH",
                rule=rule,
                field=f"bundles[{index}].{path}",
                observed=f"{len(references)} ({', '.join(references)})",
                allowed="1 production batch per bundle",
                message=f"bundle {bundle.bundle_id} holds ingots of {len(references)} "
                "production batches; each ingot bundle is of one",
            )
            for path, references in stated.items()
            if len(references) > 1
        )
    return found


# Production batches (SCR 3.3 of the alloy contracts)


def _production_batch_violations(lot: ArrivedLot, contract_rules: ContractRules) -> list[Violation]:
    maximum = contract_rules.max_production_batches
    if maximum is None:
        return []
    batch_references = (
        *lot.production_batch_references,
        *(reference for bundle in lot.bundles for reference in bundle.production_batch_references),
    )
    counted = {
        "cast_references": _distinct(lot.cast_references),
        "production_batch_references": _distinct(batch_references),
    }
    return [
        Violation(
            code="TOO_MANY_PRODUCTION_BATCHES",
            rule=contract_rules.rule("batches"),
            field=path,
            observed=f"{len(references)} ({', '.join(references)})",
            allowed=f"<= {maximum}",
            message=f"a {contract_rules.name} lot is derived from no more than {maximum} "
            f"production batches; this one names {len(references)}",
        )
        for path, references in counted.items()
        if len(references) > maximum
    ]


def _distinct(references: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(references))


# Certificates of analysis (SCR 4.1, 4.5)


@dataclass(frozen=True)
class _CertificateFindings:
    violations: tuple[Violation, ...]
    missing: tuple[Missing, ...]
    chosen: Mapping[str, CertifiedCast]
    """The certificate each certified cast of the lot is warranted with."""
    rejected: tuple[Violation, ...] = ()
    """The rules broken by the rejected eCOAs of the casts still missing one."""


def _certificate_findings(
    marked: list[tuple[str, str]],
    brand: BrandView,
    contract_rules: ContractRules,
    rulebook: Rulebook,
) -> _CertificateFindings:
    """What the certificates of the casts ``marked`` on the lot (``_casts_of``) find."""
    violations: list[Violation] = []
    missing: list[Missing] = []
    rejected: list[Violation] = []
    chosen: dict[str, CertifiedCast] = {}
    seen: set[str] = set()
    for path, cast in marked:
        if cast in seen:
            continue
        seen.add(cast)
        certificates = brand.certificates_of(cast)
        recorded = brand.recorded_cast(cast)
        record_findings = () if recorded is None else lot_findings(recorded, certificates, rulebook)
        if record_findings:
            missing.append(_valid_ecoa_missing(cast, brand.brand, record_findings))
            rejected.extend(record_findings)
            refused = None if certificates else brand.rejected_certificate_of(cast)
            if refused is not None:
                rejected.extend(_rejected_certificate_violations(refused))
            continue
        if certificates:
            chosen[cast] = _preferred(agreeing(recorded, certificates))
            if chosen[cast].specification not in contract_rules.specifications:
                violations.append(_certificate_not_for_contract(path, chosen[cast], contract_rules))
            continue
        near_match = _near_match(cast, brand)
        if near_match is None:
            refused = brand.rejected_certificate_of(cast)
            missing.append(_ecoa_missing(cast, brand.brand, refused))
            if refused is not None:
                rejected.extend(_rejected_certificate_violations(refused))
            continue
        violations.append(
            Violation(
                code="CAST_REFERENCE_NOT_IDENTICAL",
                rule=SCR_4_5,
                field=path,
                observed=cast,
                allowed=near_match,
                message=f"cast {cast} on the metal matches no cast of brand {brand.brand} and "
                f"is likely {near_match} on the brand's records; the cast reference marked on "
                "the metal must cross-reference to identical numbers on the eCOA",
            )
        )
    return _CertificateFindings(
        tuple(violations), tuple(missing), chosen, tuple(dict.fromkeys(rejected))
    )


def _valid_ecoa_missing(cast: str, brand: str, findings: tuple[Violation, ...]) -> Missing:
    broken = ", ".join(dict.fromkeys(f"{v.code} ({v.rule})" for v in findings))
    return Missing(
        kind=MissingKind.ECOA,
        reference=cast,
        rule=SCR_4_1,
        message=f"no accepted eCOA of brand {brand} shows cast {cast} valid: its producer's "
        f"record breaks {broken}; a corrected record or an eCOA agreeing with it resolves it",
    )


def _ecoa_missing(cast: str, brand: str, refused: RejectedCertificate | None) -> Missing:
    message = f"no accepted eCOA of brand {brand} covers cast {cast}"
    if refused is not None:
        broken = ", ".join(dict.fromkeys(f"{v.code} ({v.rule})" for v in refused.violations))
        message += f"; its eCOA {refused.ecoa_id} was rejected: {broken}"
    return Missing(kind=MissingKind.ECOA, reference=cast, rule=SCR_4_1, message=message)


def _rejected_certificate_violations(refused: RejectedCertificate) -> list[Violation]:
    """The rules the cast's rejected eCOA broke, each with its observed and allowed value, its
    field prefixed with the eCOA (the same for every cast the eCOA names)."""
    return [
        replace(
            violation,
            field=f"ecoa[{refused.ecoa_id}].{violation.field}"
            if violation.field
            else f"ecoa[{refused.ecoa_id}]",
            message=f"eCOA {refused.ecoa_id} was rejected: {violation.message}",
        )
        for violation in refused.violations
    ]


def _certificate_not_for_contract(
    path: str, certificate: CertifiedCast, contract_rules: ContractRules
) -> Violation:
    return Violation(
        code="CERTIFICATE_NOT_FOR_CONTRACT",
        rule=contract_rules.rule("quality"),
        field=path,
        observed=f"{certificate.specification} (eCOA {certificate.ecoa_id})",
        allowed=", ".join(contract_rules.specifications),
        message=f"cast {certificate.cast_reference} is certified to "
        f"{certificate.specification}, which is not a {contract_rules.name} specification",
    )


def _casts_of(lot: ArrivedLot) -> list[tuple[str, str]]:
    """Every cast reference marked on the lot's metal, with where the lot states it."""
    return [
        *((f"cast_references[{index}]", cast) for index, cast in enumerate(lot.cast_references)),
        *(
            (f"bundles[{index}].cast_references[{position}]", cast)
            for index, bundle in enumerate(lot.bundles)
            for position, cast in enumerate(bundle.cast_references)
        ),
    ]


def _preferred(certificates: tuple[CertifiedCast, ...]) -> CertifiedCast:
    """An Enhanced certificate before a Basic one; then the earliest, then by id."""
    return min(
        certificates,
        key=lambda certificate: (
            certificate.kind is not ECoAKind.ENHANCED,
            certificate.created_on,
            certificate.ecoa_id,
        ),
    )


def _near_match(cast: str, brand: BrandView) -> str | None:
    """The brand's known casts (recorded or certified) a reference it does not know was most
    likely meant for: one that reads the same once case, spaces and hyphens are ignored, else
    one a slip away (a look-alike character, two adjacent characters transposed). A reference
    the brand knows is its own cast, however alike another one looks."""
    if brand.recorded_cast(cast) is not None:
        return None
    same = [ref for ref in brand.casts_read_as(normalised_cast_reference(cast)) if ref != cast]
    if same:
        return ", ".join(same)
    slips = [ref for form in near_miss_forms(cast) for ref in brand.casts_read_as(form)]
    return ", ".join(sorted(set(slips))) or None


# Produced on or after the notice date: Enhanced eCOA and CBAM form (SCR 4.2, §4.3)


@dataclass(frozen=True)
class _EmissionsFindings:
    attached: AttachedEmissions | None
    missing: tuple[Missing, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _KnownDate:
    """A production date of one of the lot's casts, as a certificate or its producer
    recorded it."""

    cast: str
    produced: date
    source: str


def _known_production_dates(
    marked: list[tuple[str, str]], brand: BrandView
) -> tuple[_KnownDate, ...]:
    """The production dates of the casts ``marked`` on the lot (``_casts_of``)."""
    found: list[_KnownDate] = []
    for cast in _distinct(cast for _, cast in marked):
        recorded = brand.recorded_cast(cast)
        if recorded is not None:
            found.append(_KnownDate(cast, recorded.production_date, "recorded batch"))
        found.extend(
            _KnownDate(cast, certificate.production_date, f"eCOA {certificate.ecoa_id}")
            for certificate in brand.certificates_of(cast)
            if certificate.production_date is not None
        )
    return tuple(found)


def _production_date_violations(lot: ArrivedLot, known: tuple[_KnownDate, ...]) -> list[Violation]:
    """A lot whose stated production date lies outside its casts' certified and recorded
    ones is not shown to be the certified metal (SCR 4.1), and its date would decide what
    SCR 4.2 requires: rejected, naming the casts' dates."""
    stated = lot.production_date
    if stated is None or not known:
        return []
    earliest = min(date_.produced for date_ in known)
    latest = max(date_.produced for date_ in known)
    if earliest <= stated <= latest:
        return []
    span = earliest.isoformat() if earliest == latest else f"{earliest} to {latest}"
    sources: dict[tuple[str, date], list[str]] = {}
    for k in known:
        sources.setdefault((k.cast, k.produced), []).append(k.source)
    listed = [f"{cast} {day} ({', '.join(by)})" for (cast, day), by in sources.items()]
    shown_dates = _listed(listed)
    return [
        Violation(
            code="LOT_PRODUCTION_DATE_NOT_CERTIFIED",
            rule="SCR 4.1, 4.2",
            field="production_date",
            observed=stated.isoformat(),
            allowed=f"{span} (the casts' certified and recorded production dates)",
            message=f"lot {lot.lot_id} states it was produced on {stated}, but its casts were "
            f"produced on {shown_dates}; the casts' dates decide what SCR 4.2 requires",
        )
    ]


def _notice_date_findings(
    lot: ArrivedLot,
    brand: BrandView,
    chosen: Mapping[str, CertifiedCast],
    known: tuple[_KnownDate, ...],
    cbam: CbamRules,
    *,
    today: date,
) -> _EmissionsFindings:
    """SCR 4.2 applies when any cast of the lot was certified or recorded as produced on or
    after the notice date (the lot's stated date only when none of its casts' dates is
    known); the form is that of the latest production year."""
    production = max((k.produced for k in known), default=lot.production_date)
    if production is None or production < cbam.notice_date:
        return _EmissionsFindings(attached=_default_emissions(cbam))
    rule = cbam.rules["enhanced_and_form"]
    enhanced_missing = tuple(
        Missing(
            kind=MissingKind.ENHANCED_ECOA,
            reference=cast,
            rule=rule,
            message=f"cast {cast} was produced on or after {cbam.notice_date.isoformat()} and "
            f"has only a Basic eCOA ({certificate.ecoa_id}); it needs an Enhanced eCOA",
        )
        for cast, certificate in chosen.items()
        if certificate.kind is ECoAKind.BASIC
        and _produced_from(cast, known, cbam.notice_date) is not False
    )
    from_form = _emissions_from_form(brand, production.year, cbam, today=today)
    return _EmissionsFindings(
        attached=from_form.attached,
        missing=(*enhanced_missing, *from_form.missing),
        notes=from_form.notes,
    )


def _produced_from(cast: str, known: tuple[_KnownDate, ...], notice: date) -> bool | None:
    """Whether the cast was produced on or after ``notice`` by its known dates; None when
    none is known (then the lot's date stands for it)."""
    dates = [k.produced for k in known if k.cast == cast]
    return max(dates) >= notice if dates else None


def form_for_production_year(
    brand: BrandView, year: int, cbam: CbamRules, *, today: date
) -> tuple[AcceptedForm, bool] | None:
    """The accepted form that covers metal produced in ``year``, and whether it is the
    previous year's: that one stands in until ``year``'s form is due (§4.3, Figure 4)."""
    form = brand.form(year)
    if form is not None:
        return form, False
    previous = brand.form(year - 1)
    if previous is not None and today <= cbam.deadline_for(year):
        return previous, True
    return None


def _emissions_from_form(
    brand: BrandView, year: int, cbam: CbamRules, *, today: date
) -> _EmissionsFindings:
    covering = form_for_production_year(brand, year, cbam, today=today)
    if covering is not None:
        form, from_previous_year = covering
        return _EmissionsFindings(
            attached=AttachedEmissions(
                figures=form.emissions,
                form_id=form.form_id,
                reporting_year=form.reporting_year,
                from_previous_year=from_previous_year,
            ),
            notes=(
                (
                    f"brand {brand.brand}'s {year - 1} form used until {year}'s is due "
                    f"({cbam.rules['previous_year']})",
                )
                if from_previous_year
                else ()
            ),
        )
    previous = brand.form(year - 1)
    reference = f"brand {brand.brand} year {year}"
    return _EmissionsFindings(
        attached=None,
        missing=(
            Missing(
                kind=MissingKind.CBAM_FORM,
                reference=reference,
                rule=cbam.rules["enhanced_and_form"],
                message=f"the lot was produced in {year} and no accepted CBAM emissions form "
                f"of {reference} exists"
                + (
                    ""
                    if previous is None
                    else f"; the {year - 1} form stood in only until "
                    f"{cbam.deadline_for(year).isoformat()}"
                ),
            ),
        ),
    )


def _default_emissions(cbam: CbamRules) -> AttachedEmissions:
    """The EU default values: metal produced before the rule, or of unknown date (SCR 4.3)."""
    return AttachedEmissions(
        figures=EmissionsFigures(
            direct=cbam.default_direct_tco2e_per_t,
            indirect=cbam.default_indirect_tco2e_per_t,
            direct_is_default=True,
            indirect_is_default=True,
        ),
        form_id=None,
        reporting_year=None,
        from_previous_year=False,
    )


# What an issued warrant was issued under


def _issue_rules(
    lot: ArrivedLot,
    contract_rules: ContractRules,
    cbam: CbamRules,
    chosen: Mapping[str, CertifiedCast],
    emissions: AttachedEmissions,
) -> tuple[str, ...]:
    """The contract's rules the lot passed, then on what basis it is warranted: an eCOA for
    each cast (SCR 4.1) of a kind its production date allows, and the emissions attached."""
    topics = ["brand_listed", "one_brand_shape", "shape", "lot_size"]
    if lot.shape is Shape.INGOT:
        topics.append("bundles")
    if contract_rules.max_production_batches is not None:
        topics.append("batches")
    topics.extend(("quality", "warrant_fields", "warning"))
    rules = [contract_rules.rule(topic) for topic in topics]
    rules.extend((cbam.rules["brand_status"], SCR_4_1))
    rules.extend(_certificate_basis(certificate, cbam) for certificate in chosen.values())
    rules.append(_emissions_basis(emissions, cbam))
    return tuple(dict.fromkeys(rules))


def _certificate_basis(certificate: CertifiedCast, cbam: CbamRules) -> str:
    """SCR 4.2 for an Enhanced eCOA of metal produced on or after the notice date, SCR 4.6
    for one of earlier metal; SCR 4.3 for a Basic eCOA of unknown production date created
    from the notice date (a warehouse's), SCR 4.4 for any other Basic eCOA."""
    produced = certificate.production_date
    if certificate.kind is ECoAKind.ENHANCED:
        after_notice = produced is not None and produced >= cbam.notice_date
        return cbam.rules["enhanced_and_form"] if after_notice else "SCR 4.6"
    if produced is None and certificate.created_on >= cbam.notice_date:
        return "SCR 4.3"
    return "SCR 4.4"


def _emissions_basis(emissions: AttachedEmissions, cbam: CbamRules) -> str:
    if emissions.form_id is None:
        return cbam.rules["default_values"]
    if emissions.from_previous_year:
        return cbam.rules["previous_year"]
    return cbam.rules["enhanced_and_form"]


# What an issued warrant states (SCR 3.3 / 3.4 (a) to (f), and the WARNING clause)


def _warrant_terms(
    lot: ArrivedLot,
    record: BrandRecord,
    contract_rules: ContractRules,
    chosen: Mapping[str, CertifiedCast],
    emissions: AttachedEmissions,
) -> WarrantTerms:
    certificates = {
        CertificateReference(issued_on=certificate.created_on, reference=certificate.ecoa_id)
        for certificate in chosen.values()
    }
    return WarrantTerms(
        contract=lot.contract,
        brand=lot.brand,
        country_of_origin=record.country_of_origin,
        shape=lot.shape,
        certificates=tuple(
            sorted(
                certificates, key=lambda certificate: (certificate.issued_on, certificate.reference)
            )
        ),
        net_weight_kg=lot.net_weight_kg,
        bundles=len(lot.bundles),
        pieces=lot.total_pieces,
        warning_clause=contract_rules.warning_clause,
        emissions=emissions,
    )
