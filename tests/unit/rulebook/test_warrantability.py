"""Warrant decisions: every rule passes and fails on its own, at its boundaries, for each
contract; pending paths; what an issued warrant states; and properties."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from contracts.ecoa import ECoAKind
from contracts.lots import Bundle, LotArrived
from contracts.values import Dimensions, MetalContract, Shape
from contracts.warrants import RequestWarrant
from gateway.rulebook.decisions import (
    AttachedEmissions,
    CertificateReference,
    WarrantDecision,
    WarrantOutcome,
    WarrantTerms,
)
from gateway.rulebook.model import Bounds, Rulebook, load_rulebook
from gateway.rulebook.state import (
    AcceptedForm,
    BrandRecord,
    BrandState,
    BrandStatus,
    CertifiedCast,
    EmissionsFigures,
    RecordedCast,
)
from gateway.rulebook.violations import MissingKind
from gateway.rulebook.warrantability import decide_warrant, lot_weight_bounds

ALLOY = MetalContract.ALUMINIUM_ALLOY
NASAAC = MetalContract.NASAAC
HIGH_GRADE = MetalContract.HIGH_GRADE_PRIMARY
INGOT, SMALL_SOW, LARGE_SOW, T_BAR, SOW = (
    Shape.INGOT,
    Shape.SMALL_SOW,
    Shape.LARGE_SOW,
    Shape.T_BAR,
    Shape.SOW,
)

NOTICE_DATE = date(2025, 1, 1)
RULEBOOK = load_rulebook(cbam_notice_date=NOTICE_DATE)
TODAY = date(2026, 2, 1)
BRAND = "NORDAL"
CASTS = ("NRD-25-101", "NRD-25-102", "NRD-25-103", "NRD-25-104")
SIX_CASTS = (*CASTS, "NRD-25-105", "NRD-25-106")
SPECIFICATION = {ALLOY: "A380.1", NASAAC: "NA380.1", HIGH_GRADE: "P1020A"}

FORM_2025 = AcceptedForm(
    form_id="FORM-NORDAL-2025",
    reporting_year=2025,
    emissions=EmissionsFigures(
        direct=Decimal("1.62"),
        indirect=Decimal("0.41"),
        direct_is_default=False,
        indirect_is_default=False,
    ),
)

WARNING = (
    "WARNING: the buyer is advised that this metal may contain crevices and hidden recesses "
    "holding entrapped moisture. The metal should be handled and processed with this "
    "possibility in mind. Entrapped moisture may cause an explosion if the metal is "
    "introduced into a melting furnace without proper drying."
)
NASAAC_WARNING = (
    "WARNING: The buyer is advised that this metal may contain crevices and hidden recesses "
    "holding entrapped moisture. The metal should be handled and processed with this "
    "possibility in mind. Entrapped moisture may cause an explosion if the metal is "
    "introduced into a melting-furnace without proper drying."
)

D = Decimal


# Builders


def make_bundles(
    count: int,
    *,
    pieces: int,
    piece_kg: str,
    casts: tuple[str, ...] = CASTS,
    first_number: int = 1,
    makeweight: bool = False,
    dimensions: Dimensions | None = None,
) -> tuple[Bundle, ...]:
    """``count`` equal bundles, spread evenly over ``casts`` in order."""
    return tuple(
        Bundle(
            bundle_id=f"B{first_number + index:02d}",
            brand=BRAND,
            cast_references=(casts[index * len(casts) // count],),
            pieces=pieces,
            net_weight_kg=D(piece_kg) * pieces,
            dimensions=dimensions,
            is_makeweight=makeweight,
        )
        for index in range(count)
    )


def changed(bundles: tuple[Bundle, ...], index: int, **changes: Any) -> tuple[Bundle, ...]:
    replaced = bundles[index].model_copy(update=changes)
    return (*bundles[:index], replaced, *bundles[index + 1 :])


def lot(**fields: Any) -> LotArrived:
    body: dict[str, Any] = {
        "lot_id": "LOT-1",
        "warehouse_id": "WH-ROTTERDAM",
        "location": "Rotterdam shed 4",
        "brand": BRAND,
        "cast_references": CASTS,
        "production_date": date(2025, 6, 10),
        "arrived_at": datetime(2026, 1, 20, 9, 30, tzinfo=UTC),
    }
    body.update(fields)
    built: LotArrived = LotArrived.build(**body)
    return built


INGOT_DIMENSIONS = Dimensions(length_mm=D(700), width_mm=D(100), height_mm=D(60))


def ingot_lot(contract: MetalContract = ALLOY, **changes: Any) -> LotArrived:
    """Alloy / NASAAC: 20 bundles of 125 ingots of 8 kg (20 t); High Grade: 25 bundles of
    50 ingots of 20 kg (25 t)."""
    if contract is HIGH_GRADE:
        bundles, piece_kg = make_bundles(25, pieces=50, piece_kg="20"), "20"
    else:
        bundles, piece_kg = make_bundles(20, pieces=125, piece_kg="8"), "8"
    fields: dict[str, Any] = {
        "contract": contract,
        "shape": INGOT,
        "bundles": bundles,
        "total_pieces": sum(bundle.pieces for bundle in bundles),
        "net_weight_kg": sum(bundle.net_weight_kg for bundle in bundles),
        "piece_weight_kg": D(piece_kg),
        "piece_dimensions": INGOT_DIMENSIONS,
    }
    fields.update(changes)
    return lot(**fields)


SMALL_SOW_DIMENSIONS = Dimensions(
    top_length_mm=D(900),
    top_width_mm=D(900),
    bottom_length_mm=D(500),
    bottom_width_mm=D(500),
    height_mm=D(350),
)
LARGE_SOW_DIMENSIONS = Dimensions(
    top_length_mm=D(1100),
    top_width_mm=D(900),
    bottom_length_mm=D(1100),
    bottom_width_mm=D(450),
    height_mm=D(250),
)
T_BAR_DIMENSIONS = Dimensions(
    top_length_mm=D(1000),
    top_width_mm=D(800),
    bottom_length_mm=D(1000),
    bottom_width_mm=D(500),
    height_mm=D(300),
    height_to_shoulder_mm=D(100),
)
PIECE_LOTS: dict[tuple[MetalContract, Shape], tuple[int, str, Dimensions | None]] = {
    (ALLOY, SMALL_SOW): (40, "500", SMALL_SOW_DIMENSIONS),
    (ALLOY, LARGE_SOW): (32, "625", LARGE_SOW_DIMENSIONS),
    (ALLOY, T_BAR): (30, "660", T_BAR_DIMENSIONS),
    (NASAAC, SMALL_SOW): (40, "500", SMALL_SOW_DIMENSIONS),
    (NASAAC, LARGE_SOW): (32, "625", LARGE_SOW_DIMENSIONS),
    (NASAAC, T_BAR): (30, "660", T_BAR_DIMENSIONS),
    (HIGH_GRADE, SOW): (50, "500", None),
    (HIGH_GRADE, T_BAR): (50, "500", None),
}


def piece_lot(contract: MetalContract, shape: Shape, **changes: Any) -> LotArrived:
    """A lot of sows or T-bars counted in pieces, no bundles."""
    pieces, piece_kg, dimensions = PIECE_LOTS[(contract, shape)]
    fields: dict[str, Any] = {
        "contract": contract,
        "shape": shape,
        "total_pieces": pieces,
        "net_weight_kg": D(piece_kg) * pieces,
        "piece_weight_kg": D(piece_kg),
        "piece_dimensions": dimensions,
    }
    fields.update(changes)
    return lot(**fields)


def with_dimensions(base: LotArrived, **dimensions: int | str) -> LotArrived:
    stated = base.piece_dimensions or Dimensions()
    update = {name: D(value) for name, value in dimensions.items()}
    return base.model_copy(update={"piece_dimensions": stated.model_copy(update=update)})


def certify(
    casts: Iterable[str],
    ecoa_id: str,
    *,
    kind: ECoAKind = ECoAKind.ENHANCED,
    created_on: date = date(2025, 6, 15),
    contract: MetalContract = ALLOY,
    produced: date | None = date(2025, 6, 10),
) -> dict[str, tuple[CertifiedCast, ...]]:
    return {
        cast: (
            CertifiedCast(
                ecoa_id=ecoa_id,
                kind=kind,
                cast_reference=cast,
                production_date=produced,
                specification=SPECIFICATION[contract],
                created_on=created_on,
                chemistry=None,
                production_filtered=None,
            ),
        )
        for cast in casts
    }


def standard_certificates(
    contract: MetalContract = ALLOY, *, casts: tuple[str, ...] = SIX_CASTS
) -> dict[str, tuple[CertifiedCast, ...]]:
    """ECOA-NRD-1 (15 June 2025) covers the first two casts, ECOA-NRD-2 (20 June) the rest."""
    return {
        **certify(casts[:2], "ECOA-NRD-1", contract=contract),
        **certify(casts[2:], "ECOA-NRD-2", created_on=date(2025, 6, 20), contract=contract),
    }


def nordal(
    contract: MetalContract = ALLOY,
    *,
    status: BrandStatus = BrandStatus.LISTED,
    reason: str | None = None,
    contracts: tuple[MetalContract, ...] = (ALLOY, NASAAC, HIGH_GRADE),
    certified: Mapping[str, tuple[CertifiedCast, ...]] | None = None,
    forms: Mapping[int, AcceptedForm] | None = None,
    recorded: tuple[str, ...] = SIX_CASTS,
    produced: date = date(2025, 6, 10),
) -> BrandState:
    """The NORDAL brand, listed, with Enhanced eCOAs for its casts and its 2025 form; its
    casts recorded as produced on ``produced``."""
    return BrandState(
        brand=BRAND,
        record=BrandRecord(
            brand=BRAND,
            producer_id="PRODUCER-NORDAL",
            country_of_origin="Norway",
            contracts=contracts,
            status=status,
            status_reason=reason,
        ),
        casts={
            cast: RecordedCast(
                cast_reference=cast,
                production_date=produced,
                contract=contract,
                specification=SPECIFICATION[contract],
                production_filtered=True,
                chemistry=None,
            )
            for cast in recorded
        },
        certified=standard_certificates(contract) if certified is None else certified,
        forms={2025: FORM_2025} if forms is None else forms,
    )


def request(**changes: Any) -> RequestWarrant:
    body: dict[str, Any] = {
        "request_id": "REQ-1",
        "lot_id": "LOT-1",
        "brand": BRAND,
        "warehouse_id": "WH-ROTTERDAM",
        "requested_at": datetime(2026, 1, 21, 8, 0, tzinfo=UTC),
    }
    body.update(changes)
    built: RequestWarrant = RequestWarrant.build(**body)
    return built


def decide(
    the_lot: LotArrived | None,
    brand: BrandState | None = None,
    *,
    the_request: RequestWarrant | None = None,
    today: date = TODAY,
    rulebook: Rulebook = RULEBOOK,
) -> WarrantDecision:
    contract = the_lot.contract if the_lot is not None else ALLOY
    return decide_warrant(
        the_request or request(),
        the_lot,
        nordal(contract) if brand is None else brand,
        rulebook,
        today=today,
    )


def found(decision: WarrantDecision) -> set[tuple[str, str, str]]:
    return {(v.code, v.field, v.rule) for v in decision.violations}


def missing(decision: WarrantDecision) -> set[tuple[MissingKind, str, str]]:
    return {(item.kind, item.reference, item.rule) for item in decision.missing}


def the_violation(decision: WarrantDecision) -> tuple[str | None, str | None]:
    (violation,) = decision.violations
    return violation.observed, violation.allowed


ALLOY_SCR = "Aluminium Alloy SCR"
NASAAC_SCR = "NASAAC SCR"
HG_SCR = "High Grade Primary Aluminium SCR"


# Passing: every lot here is issued


ISSUED = [
    pytest.param(ingot_lot(ALLOY), id="alloy-ingots-20-bundles-of-1000kg"),
    pytest.param(ingot_lot(NASAAC), id="nasaac-ingots"),
    pytest.param(ingot_lot(HIGH_GRADE), id="high-grade-ingots"),
    *(
        pytest.param(piece_lot(contract, shape), id=f"{contract.value}-{shape.value}")
        for contract, shape in PIECE_LOTS
    ),
    # brand listed and listed for the contract
    pytest.param(ingot_lot(ALLOY), id="brand-listed-for-alloy"),
    # lot weight: 2 % either more or less, inclusive
    pytest.param(piece_lot(HIGH_GRADE, SOW, net_weight_kg=D(25500)), id="hg-lot-25500"),
    pytest.param(piece_lot(HIGH_GRADE, SOW, net_weight_kg=D(24500)), id="hg-lot-24500"),
    pytest.param(piece_lot(ALLOY, LARGE_SOW, net_weight_kg=D(20400)), id="alloy-lot-20400"),
    pytest.param(piece_lot(ALLOY, LARGE_SOW, net_weight_kg=D(19600)), id="alloy-lot-19600"),
    pytest.param(piece_lot(NASAAC, T_BAR, net_weight_kg=D(20400)), id="nasaac-lot-20400"),
    # piece weights exactly at min and max
    pytest.param(ingot_lot(ALLOY, piece_weight_kg=D(4)), id="alloy-ingot-4kg"),
    pytest.param(ingot_lot(ALLOY, piece_weight_kg=D(25)), id="alloy-ingot-25kg"),
    pytest.param(ingot_lot(NASAAC, piece_weight_kg=D("17.3")), id="nasaac-ingot-17.3kg"),
    pytest.param(ingot_lot(HIGH_GRADE, piece_weight_kg=D(9)), id="hg-ingot-9kg"),
    pytest.param(ingot_lot(HIGH_GRADE, piece_weight_kg=D(26)), id="hg-ingot-26kg"),
    pytest.param(piece_lot(HIGH_GRADE, SOW, piece_weight_kg=D(788)), id="hg-sow-788kg"),
    pytest.param(piece_lot(HIGH_GRADE, T_BAR, piece_weight_kg=D(788)), id="hg-t-bar-788kg"),
    pytest.param(piece_lot(ALLOY, SMALL_SOW, piece_weight_kg=D(408)), id="small-sow-408kg"),
    pytest.param(piece_lot(ALLOY, SMALL_SOW, piece_weight_kg=D(590)), id="small-sow-590kg"),
    pytest.param(piece_lot(ALLOY, LARGE_SOW, piece_weight_kg=D(300)), id="alloy-large-sow-300kg"),
    pytest.param(piece_lot(NASAAC, LARGE_SOW, piece_weight_kg=D(500)), id="nasaac-large-500kg"),
    pytest.param(piece_lot(NASAAC, LARGE_SOW, piece_weight_kg=D(726)), id="nasaac-large-726kg"),
    pytest.param(piece_lot(ALLOY, T_BAR, piece_weight_kg=D(408)), id="alloy-t-bar-408kg"),
    pytest.param(piece_lot(ALLOY, T_BAR, piece_weight_kg=D(726)), id="alloy-t-bar-726kg"),
    # dimensions exactly at bounds
    pytest.param(ingot_lot(ALLOY, piece_dimensions=Dimensions(length_mm=D(800))), id="ingot-800mm"),
    pytest.param(
        with_dimensions(
            piece_lot(ALLOY, SMALL_SOW),
            top_length_mm=990,
            top_width_mm=990,
            bottom_length_mm=406,
            bottom_width_mm=406,
            height_mm=432,
        ),
        id="small-sow-square-at-bounds",
    ),
    pytest.param(
        with_dimensions(piece_lot(ALLOY, LARGE_SOW), bottom_length_mm=900, height_mm=200),
        id="alloy-large-sow-bottom-900-height-200",
    ),
    pytest.param(
        with_dimensions(piece_lot(NASAAC, LARGE_SOW), bottom_width_mm=533, height_mm=216),
        id="nasaac-large-sow-bottom-width-533-height-216",
    ),
    pytest.param(
        with_dimensions(piece_lot(NASAAC, LARGE_SOW), bottom_length_mm=1015, top_width_mm=1142),
        id="nasaac-large-sow-bottom-length-1015",
    ),
    pytest.param(
        with_dimensions(piece_lot(ALLOY, T_BAR), height_to_shoulder_mm=76, height_mm=254),
        id="t-bar-shoulder-76",
    ),
    # bundles
    pytest.param(
        ingot_lot(
            ALLOY,
            bundles=(
                *make_bundles(20, pieces=125, piece_kg="8"),
                *make_bundles(1, pieces=25, piece_kg="8", first_number=21, makeweight=True),
            ),
            total_pieces=2525,
            net_weight_kg=D(20200),
        ),
        id="one-light-makeweight-bundle",
    ),
    pytest.param(
        ingot_lot(
            ALLOY,
            bundles=make_bundles(40, pieces=50, piece_kg="10"),
            total_pieces=2000,
            piece_weight_kg=D(10),
        ),
        id="bundles-of-500kg",
    ),
    pytest.param(
        ingot_lot(
            ALLOY,
            bundles=make_bundles(20, pieces=125, piece_kg="8", dimensions=INGOT_DIMENSIONS),
        ),
        id="equal-bundle-dimensions",
    ),
    pytest.param(
        ingot_lot(
            HIGH_GRADE,
            bundles=(
                *make_bundles(12, pieces=100, piece_kg="20"),
                *make_bundles(1, pieces=50, piece_kg="20", first_number=13),
            ),
            total_pieces=1250,
        ),
        id="hg-bundles-of-2000kg-no-equal-bundle-rule",
    ),
    # production batches
    pytest.param(
        ingot_lot(
            ALLOY,
            cast_references=SIX_CASTS[:5],
            bundles=make_bundles(20, pieces=125, piece_kg="8", casts=SIX_CASTS[:5]),
            production_batch_references=("PB-1", "PB-2", "PB-3", "PB-4", "PB-5"),
        ),
        id="alloy-five-batches",
    ),
    pytest.param(
        ingot_lot(
            HIGH_GRADE,
            cast_references=SIX_CASTS,
            bundles=make_bundles(25, pieces=50, piece_kg="20", casts=SIX_CASTS),
        ),
        id="hg-six-casts-no-batch-limit",
    ),
    pytest.param(
        ingot_lot(
            HIGH_GRADE,
            bundles=changed(
                make_bundles(25, pieces=50, piece_kg="20"), 0, cast_references=CASTS[:2]
            ),
        ),
        id="hg-bundle-of-two-casts-no-batch-per-bundle-rule",
    ),
    pytest.param(
        ingot_lot(
            bundles=changed(
                make_bundles(20, pieces=125, piece_kg="8"), 0, cast_references=(CASTS[0], CASTS[0])
            )
        ),
        id="alloy-bundle-stating-its-one-cast-twice",
    ),
    # the brand marked on the metal
    pytest.param(piece_lot(HIGH_GRADE, SOW, piece_brands=(BRAND,)), id="hg-sows-of-the-lots-brand"),
    pytest.param(ingot_lot(NASAAC, piece_brands=()), id="nasaac-bundles-of-the-lots-brand"),
]


@pytest.mark.parametrize("the_lot", ISSUED)
def test_a_lot_that_meets_every_rule_is_issued(the_lot: LotArrived) -> None:
    decision = decide(the_lot)

    assert decision.violations == ()
    assert decision.missing == ()
    assert decision.outcome is WarrantOutcome.ISSUED


# Failing: each case breaks exactly the rules named


def _with_casts(contract: MetalContract, casts: tuple[str, ...]) -> LotArrived:
    bundles = make_bundles(20, pieces=125, piece_kg="8", casts=casts)
    return ingot_lot(contract, cast_references=casts, bundles=bundles)


_TWENTY = make_bundles(20, pieces=125, piece_kg="8")
_HG_THIRTEEN = (
    *make_bundles(12, pieces=100, piece_kg="20"),
    *make_bundles(1, pieces=50, piece_kg="20", first_number=13),
)
_ONE_BUNDLE = make_bundles(1, pieces=1, piece_kg="625")


REJECTED: list[Any] = [
    # 1. brand
    pytest.param(
        ingot_lot(),
        BrandState(brand=BRAND),
        {("BRAND_NOT_LISTED", "brand", f"{ALLOY_SCR} 1(c)")},
        id="brand-not-listed",
    ),
    pytest.param(
        ingot_lot(NASAAC),
        BrandState(brand=BRAND, certified=standard_certificates(NASAAC), forms={2025: FORM_2025}),
        {("BRAND_NOT_LISTED", "brand", f"{NASAAC_SCR} 1(c)")},
        id="nasaac-brand-not-listed",
    ),
    pytest.param(
        ingot_lot(),
        nordal(status=BrandStatus.SUSPENDED, reason="no 2025 CBAM form"),
        {("BRAND_SUSPENDED", "brand", "§4.4")},
        id="brand-suspended",
    ),
    pytest.param(
        ingot_lot(),
        nordal(status=BrandStatus.DELISTED),
        {("BRAND_DELISTED", "brand", "§4.4")},
        id="brand-delisted",
    ),
    pytest.param(
        ingot_lot(),
        nordal(contracts=(HIGH_GRADE,)),
        {("BRAND_NOT_LISTED_FOR_CONTRACT", "contract", f"{ALLOY_SCR} 1(c)")},
        id="brand-not-listed-for-contract",
    ),
    # 2. shape
    pytest.param(
        piece_lot(HIGH_GRADE, SOW).model_copy(update={"shape": SMALL_SOW}),
        None,
        {("SHAPE_NOT_ALLOWED", "shape", f"{HG_SCR} 1(b)")},
        id="hg-small-sow",
    ),
    pytest.param(
        piece_lot(ALLOY, LARGE_SOW).model_copy(update={"shape": SOW}),
        None,
        {("SHAPE_NOT_ALLOWED", "shape", f"{ALLOY_SCR} 1(b)")},
        id="alloy-undivided-sow",
    ),
    # 3. lot weight
    *(
        pytest.param(
            piece_lot(contract, shape, net_weight_kg=D(weight)),
            None,
            {("LOT_WEIGHT_OUT_OF_TOLERANCE", "net_weight_kg", f"{name} 2, 3.1")},
            id=f"{contract.value}-lot-{weight}",
        )
        for contract, shape, name, weight in [
            (HIGH_GRADE, SOW, HG_SCR, "25510"),
            (HIGH_GRADE, SOW, HG_SCR, "24490"),
            (ALLOY, LARGE_SOW, ALLOY_SCR, "20410"),
            (ALLOY, LARGE_SOW, ALLOY_SCR, "19590"),
            (NASAAC, T_BAR, NASAAC_SCR, "20400.5"),
        ]
    ),
    # 4. piece weight
    *(
        pytest.param(
            the_lot,
            None,
            {("PIECE_WEIGHT_OUT_OF_RANGE", "piece_weight_kg", rule)},
            id=name,
        )
        for name, the_lot, rule in [
            ("alloy-ingot-3.9kg", ingot_lot(piece_weight_kg=D("3.9")), f"{ALLOY_SCR} 6(a)"),
            ("alloy-ingot-25.1kg", ingot_lot(piece_weight_kg=D("25.1")), f"{ALLOY_SCR} 6(a)"),
            (
                "nasaac-ingot-17.4kg",
                ingot_lot(NASAAC, piece_weight_kg=D("17.4")),
                f"{NASAAC_SCR} 6(a)",
            ),
            ("hg-ingot-8.9kg", ingot_lot(HIGH_GRADE, piece_weight_kg=D("8.9")), f"{HG_SCR} 1(b)"),
            ("hg-ingot-26.1kg", ingot_lot(HIGH_GRADE, piece_weight_kg=D("26.1")), f"{HG_SCR} 1(b)"),
            (
                "hg-sow-788.5kg",
                piece_lot(HIGH_GRADE, SOW, piece_weight_kg=D("788.5")),
                f"{HG_SCR} 1(b)",
            ),
            (
                "hg-t-bar-789kg",
                piece_lot(HIGH_GRADE, T_BAR, piece_weight_kg=D(789)),
                f"{HG_SCR} 1(b)",
            ),
            (
                "small-sow-407kg",
                piece_lot(ALLOY, SMALL_SOW, piece_weight_kg=D(407)),
                f"{ALLOY_SCR} 6(b)",
            ),
            (
                "small-sow-591kg",
                piece_lot(NASAAC, SMALL_SOW, piece_weight_kg=D(591)),
                f"{NASAAC_SCR} 6(b)",
            ),
            (
                "alloy-large-sow-299kg",
                piece_lot(ALLOY, LARGE_SOW, piece_weight_kg=D(299)),
                f"{ALLOY_SCR} 6(c)",
            ),
            (
                "nasaac-large-sow-450kg",
                piece_lot(NASAAC, LARGE_SOW, piece_weight_kg=D(450)),
                f"{NASAAC_SCR} 6(c)",
            ),
            (
                "nasaac-large-sow-727kg",
                piece_lot(NASAAC, LARGE_SOW, piece_weight_kg=D(727)),
                f"{NASAAC_SCR} 6(c)",
            ),
            (
                "alloy-t-bar-727kg",
                piece_lot(ALLOY, T_BAR, piece_weight_kg=D(727)),
                f"{ALLOY_SCR} 6(d)",
            ),
        ]
    ),
    pytest.param(
        ingot_lot(piece_weight_kg=None),
        None,
        {("PIECE_WEIGHT_NOT_STATED", "piece_weight_kg", f"{ALLOY_SCR} 6(a)")},
        id="piece-weight-not-stated",
    ),
    # 4. dimensions
    pytest.param(
        ingot_lot(piece_dimensions=Dimensions(length_mm=D(801))),
        None,
        {("PIECE_DIMENSION_OUT_OF_RANGE", "piece_dimensions.length_mm", f"{ALLOY_SCR} 6(a)")},
        id="ingot-801mm",
    ),
    pytest.param(
        ingot_lot(NASAAC, piece_dimensions=None),
        None,
        {("PIECE_DIMENSION_NOT_STATED", "piece_dimensions.length_mm", f"{NASAAC_SCR} 6(a)")},
        id="ingot-length-not-stated",
    ),
    pytest.param(
        with_dimensions(piece_lot(ALLOY, SMALL_SOW), top_length_mm=991, top_width_mm=991),
        None,
        {
            ("PIECE_DIMENSION_OUT_OF_RANGE", "piece_dimensions.top_length_mm", f"{ALLOY_SCR} 6(b)"),
            ("PIECE_DIMENSION_OUT_OF_RANGE", "piece_dimensions.top_width_mm", f"{ALLOY_SCR} 6(b)"),
        },
        id="small-sow-top-991mm",
    ),
    pytest.param(
        with_dimensions(piece_lot(ALLOY, SMALL_SOW), top_width_mm=880),
        None,
        {("SMALL_SOW_NOT_SQUARE", "piece_dimensions.top_width_mm", f"{ALLOY_SCR} 6(b)")},
        id="small-sow-top-not-square",
    ),
    pytest.param(
        with_dimensions(piece_lot(NASAAC, SMALL_SOW), bottom_length_mm=520),
        None,
        {("SMALL_SOW_NOT_SQUARE", "piece_dimensions.bottom_width_mm", f"{NASAAC_SCR} 6(b)")},
        id="small-sow-bottom-not-square",
    ),
    pytest.param(
        with_dimensions(piece_lot(NASAAC, LARGE_SOW), bottom_length_mm=1014),
        None,
        {
            (
                "PIECE_DIMENSION_OUT_OF_RANGE",
                "piece_dimensions.bottom_length_mm",
                f"{NASAAC_SCR} 6(c)",
            )
        },
        id="nasaac-large-sow-bottom-length-1014",
    ),
    pytest.param(
        with_dimensions(piece_lot(NASAAC, LARGE_SOW), height_mm=215),
        None,
        {("PIECE_DIMENSION_OUT_OF_RANGE", "piece_dimensions.height_mm", f"{NASAAC_SCR} 6(c)")},
        id="nasaac-large-sow-height-215",
    ),
    pytest.param(
        with_dimensions(piece_lot(ALLOY, LARGE_SOW), bottom_width_mm=533),
        None,
        {("PIECE_DIMENSION_OUT_OF_RANGE", "piece_dimensions.bottom_width_mm", f"{ALLOY_SCR} 6(c)")},
        id="alloy-large-sow-bottom-width-533",
    ),
    pytest.param(
        with_dimensions(piece_lot(ALLOY, LARGE_SOW), height_mm=199),
        None,
        {("PIECE_DIMENSION_OUT_OF_RANGE", "piece_dimensions.height_mm", f"{ALLOY_SCR} 6(c)")},
        id="alloy-large-sow-height-199",
    ),
    pytest.param(
        with_dimensions(piece_lot(ALLOY, T_BAR), height_to_shoulder_mm=75),
        None,
        {
            (
                "PIECE_DIMENSION_OUT_OF_RANGE",
                "piece_dimensions.height_to_shoulder_mm",
                f"{ALLOY_SCR} 6(d)",
            )
        },
        id="t-bar-shoulder-75",
    ),
    pytest.param(
        piece_lot(ALLOY, LARGE_SOW, piece_dimensions=Dimensions(top_length_mm=D(1100))),
        None,
        {
            ("PIECE_DIMENSION_NOT_STATED", f"piece_dimensions.{name}", f"{ALLOY_SCR} 6(c)")
            for name in ("top_width_mm", "bottom_length_mm", "bottom_width_mm", "height_mm")
        },
        id="large-sow-dimensions-not-stated",
    ),
    # 5. bundles
    pytest.param(
        ingot_lot(bundles=()),
        None,
        {("BUNDLES_NOT_STATED", "bundles", f"{ALLOY_SCR} 6(a)")},
        id="ingots-without-bundles",
    ),
    pytest.param(
        ingot_lot(
            bundles=changed(changed(_TWENTY, 3, net_weight_kg=D(1010)), 4, net_weight_kg=D(990))
        ),
        None,
        {("BUNDLE_WEIGHT_OUT_OF_RANGE", "bundles[3].net_weight_kg", f"{ALLOY_SCR} 6(a)")},
        id="bundle-1010kg",
    ),
    pytest.param(
        ingot_lot(
            bundles=(*_TWENTY, *make_bundles(1, pieces=25, piece_kg="8", first_number=21)),
            total_pieces=2525,
            net_weight_kg=D(20200),
        ),
        None,
        {
            ("BUNDLE_WEIGHT_OUT_OF_RANGE", "bundles[20].net_weight_kg", f"{ALLOY_SCR} 6(a)"),
            ("BUNDLES_NOT_EQUAL", "bundles[20].pieces", f"{ALLOY_SCR} 6(a)"),
        },
        id="light-bundle-not-marked-makeweight",
    ),
    pytest.param(
        ingot_lot(
            NASAAC,
            bundles=(
                *make_bundles(19, pieces=125, piece_kg="8"),
                *make_bundles(1, pieces=126, piece_kg="8", first_number=20, makeweight=True),
            ),
            total_pieces=2501,
            net_weight_kg=D(20008),
        ),
        None,
        {("BUNDLE_WEIGHT_OUT_OF_RANGE", "bundles[19].net_weight_kg", f"{NASAAC_SCR} 6(a)")},
        id="makeweight-over-1000kg",
    ),
    pytest.param(
        ingot_lot(
            bundles=(
                *_TWENTY,
                *make_bundles(2, pieces=12, piece_kg="8", first_number=21, makeweight=True),
            ),
            total_pieces=2524,
            net_weight_kg=D(20192),
        ),
        None,
        {("MORE_THAN_ONE_MAKEWEIGHT_BUNDLE", "bundles", f"{ALLOY_SCR} 6(a)")},
        id="two-makeweight-bundles",
    ),
    pytest.param(
        ingot_lot(bundles=changed(_TWENTY, 5, pieces=124), total_pieces=2499),
        None,
        {("BUNDLES_NOT_EQUAL", "bundles[5].pieces", f"{ALLOY_SCR} 6(a)")},
        id="bundle-with-fewer-pieces",
    ),
    pytest.param(
        ingot_lot(bundles=changed(_TWENTY, 0, pieces=124), total_pieces=2499),
        None,
        {("BUNDLES_NOT_EQUAL", "bundles[0].pieces", f"{ALLOY_SCR} 6(a)")},
        id="first-bundle-is-the-odd-one",
    ),
    pytest.param(
        ingot_lot(
            bundles=changed(
                make_bundles(20, pieces=125, piece_kg="8", dimensions=INGOT_DIMENSIONS),
                7,
                dimensions=INGOT_DIMENSIONS.model_copy(update={"width_mm": D(110)}),
            )
        ),
        None,
        {("BUNDLES_NOT_EQUAL", "bundles[7].dimensions", f"{ALLOY_SCR} 6(a)")},
        id="bundle-of-other-dimensions",
    ),
    pytest.param(
        ingot_lot(total_pieces=2499),
        None,
        {("BUNDLES_DO_NOT_ADD_UP", "total_pieces", f"{ALLOY_SCR} 3.4")},
        id="pieces-do-not-add-up",
    ),
    pytest.param(
        ingot_lot(net_weight_kg=D(20010)),
        None,
        {("BUNDLES_DO_NOT_ADD_UP", "net_weight_kg", f"{ALLOY_SCR} 3.4")},
        id="weight-does-not-add-up",
    ),
    pytest.param(
        ingot_lot(HIGH_GRADE, net_weight_kg=D(25010), total_pieces=1251),
        None,
        {
            ("BUNDLES_DO_NOT_ADD_UP", "net_weight_kg", f"{HG_SCR} 3.3"),
            ("BUNDLES_DO_NOT_ADD_UP", "total_pieces", f"{HG_SCR} 3.3"),
        },
        id="hg-bundles-do-not-add-up",
    ),
    pytest.param(
        ingot_lot(
            HIGH_GRADE,
            bundles=changed(
                changed(_HG_THIRTEEN, 0, net_weight_kg=D(2010)), 12, net_weight_kg=D(990)
            ),
            total_pieces=1250,
        ),
        None,
        {("BUNDLE_WEIGHT_OUT_OF_RANGE", "bundles[0].net_weight_kg", f"{HG_SCR} 3.2")},
        id="hg-bundle-2010kg",
    ),
    pytest.param(
        ingot_lot(bundles=changed(_TWENTY, 2, cast_references=("NRD-25-105",))),
        None,
        {("BUNDLE_CAST_NOT_IN_LOT", "bundles[2].cast_references[0]", f"{ALLOY_SCR} 3.3")},
        id="bundle-cast-not-in-lot",
    ),
    pytest.param(
        ingot_lot(NASAAC, bundles=changed(_TWENTY, 2, cast_references=("NRD-25-105",))),
        None,
        {("BUNDLE_CAST_NOT_IN_LOT", "bundles[2].cast_references[0]", f"{NASAAC_SCR} 3.3")},
        id="nasaac-bundle-cast-not-in-lot",
    ),
    pytest.param(
        piece_lot(ALLOY, LARGE_SOW, bundles=_ONE_BUNDLE),
        None,
        {("BUNDLES_FOR_NON_INGOT_SHAPE", "bundles", f"{ALLOY_SCR} 6(a)")},
        id="large-sows-in-bundles",
    ),
    pytest.param(
        piece_lot(HIGH_GRADE, SOW, bundles=_ONE_BUNDLE),
        None,
        {("BUNDLES_FOR_NON_INGOT_SHAPE", "bundles", f"{HG_SCR} 3.2")},
        id="hg-sows-in-bundles",
    ),
    # 5b. one brand in a warrant (SCR 3.2), one production batch per alloy bundle (SCR 3.3)
    pytest.param(
        ingot_lot(bundles=changed(_TWENTY, 4, brand="OTHERBRAND")),
        None,
        {("MORE_THAN_ONE_BRAND", "bundles[4].brand", f"{ALLOY_SCR} 3.2")},
        id="alloy-bundle-of-another-brand",
    ),
    pytest.param(
        ingot_lot(NASAAC, bundles=changed(_TWENTY, 0, brand="OTHERBRAND")),
        None,
        {("MORE_THAN_ONE_BRAND", "bundles[0].brand", f"{NASAAC_SCR} 3.2")},
        id="nasaac-bundle-of-another-brand",
    ),
    pytest.param(
        ingot_lot(
            HIGH_GRADE,
            bundles=changed(make_bundles(25, pieces=50, piece_kg="20"), 24, brand="OTHERBRAND"),
        ),
        None,
        {("MORE_THAN_ONE_BRAND", "bundles[24].brand", f"{HG_SCR} 3.2")},
        id="hg-bundle-of-another-brand",
    ),
    pytest.param(
        piece_lot(HIGH_GRADE, SOW, piece_brands=(BRAND, "OTHERBRAND")),
        None,
        {("MORE_THAN_ONE_BRAND", "piece_brands[1]", f"{HG_SCR} 3.2")},
        id="hg-sows-of-two-brands",
    ),
    pytest.param(
        piece_lot(ALLOY, T_BAR, piece_brands=("OTHERBRAND",)),
        None,
        {("MORE_THAN_ONE_BRAND", "piece_brands[0]", f"{ALLOY_SCR} 3.2")},
        id="alloy-t-bars-of-another-brand",
    ),
    pytest.param(
        ingot_lot(bundles=changed(_TWENTY, 2, cast_references=CASTS[:2])),
        None,
        {("BUNDLE_OF_MORE_THAN_ONE_BATCH", "bundles[2].cast_references", f"{ALLOY_SCR} 3.3")},
        id="alloy-bundle-of-two-casts",
    ),
    pytest.param(
        ingot_lot(NASAAC, bundles=changed(_TWENTY, 19, cast_references=CASTS[2:])),
        None,
        {("BUNDLE_OF_MORE_THAN_ONE_BATCH", "bundles[19].cast_references", f"{NASAAC_SCR} 3.3")},
        id="nasaac-bundle-of-two-casts",
    ),
    pytest.param(
        ingot_lot(bundles=changed(_TWENTY, 3, production_batch_references=("PB-1", "PB-2"))),
        None,
        {
            (
                "BUNDLE_OF_MORE_THAN_ONE_BATCH",
                "bundles[3].production_batch_references",
                f"{ALLOY_SCR} 3.3",
            )
        },
        id="alloy-bundle-of-two-batch-references",
    ),
    # 6. production batches
    pytest.param(
        _with_casts(ALLOY, SIX_CASTS),
        None,
        {("TOO_MANY_PRODUCTION_BATCHES", "cast_references", f"{ALLOY_SCR} 3.3")},
        id="alloy-six-casts",
    ),
    pytest.param(
        _with_casts(NASAAC, SIX_CASTS),
        None,
        {("TOO_MANY_PRODUCTION_BATCHES", "cast_references", f"{NASAAC_SCR} 3.3")},
        id="nasaac-six-casts",
    ),
    pytest.param(
        ingot_lot(production_batch_references=tuple(f"PB-{n}" for n in range(1, 7))),
        None,
        {("TOO_MANY_PRODUCTION_BATCHES", "production_batch_references", f"{ALLOY_SCR} 3.3")},
        id="six-production-batch-references",
    ),
    pytest.param(
        ingot_lot(
            bundles=tuple(
                bundle.model_copy(update={"production_batch_references": (f"PB-{index % 6}",)})
                for index, bundle in enumerate(_TWENTY)
            )
        ),
        None,
        {("TOO_MANY_PRODUCTION_BATCHES", "production_batch_references", f"{ALLOY_SCR} 3.3")},
        id="six-production-batches-on-bundles",
    ),
    # 7. cast references identical to the eCOA's (SCR 4.5)
    pytest.param(
        _with_casts(ALLOY, (*CASTS[:3], "nrd 25 104")),
        None,
        {("CAST_REFERENCE_NOT_IDENTICAL", "cast_references[3]", "SCR 4.5")},
        id="cast-reference-not-identical-to-ecoa",
    ),
    pytest.param(
        piece_lot(ALLOY, T_BAR, cast_references=("NRD-25-101", "NRD25107")),
        nordal(recorded=(*SIX_CASTS, "NRD-25-107")),
        {("CAST_REFERENCE_NOT_IDENTICAL", "cast_references[1]", "SCR 4.5")},
        id="cast-reference-not-identical-to-recorded-cast",
    ),
]


@pytest.mark.parametrize(("the_lot", "brand", "expected"), REJECTED)
def test_each_broken_rule_is_named_with_its_field_and_rule(
    the_lot: LotArrived, brand: BrandState | None, expected: set[tuple[str, str, str]]
) -> None:
    decision = decide(the_lot, brand)

    assert found(decision) == expected
    assert decision.outcome is WarrantOutcome.REJECTED
    assert decision.terms is None


def test_a_request_for_another_brand_than_the_lot_is_rejected() -> None:
    decision = decide(ingot_lot(), the_request=request(brand="OTHERBRAND"))

    assert found(decision) == {("LOT_BRAND_MISMATCH", "brand", f"{ALLOY_SCR} 3.2")}
    assert the_violation(decision) == ("OTHERBRAND", BRAND)
    assert decision.brand == "OTHERBRAND"


@pytest.mark.parametrize(
    ("the_lot", "brand", "observed", "allowed"),
    [
        pytest.param(
            piece_lot(HIGH_GRADE, SOW, net_weight_kg=D(25510)),
            None,
            "25510 kg",
            "24500-25500 kg",
            id="lot-weight",
        ),
        pytest.param(
            ingot_lot(piece_weight_kg=D("25.1")), None, "25.1 kg", "4-25 kg", id="piece-weight"
        ),
        pytest.param(
            ingot_lot(piece_dimensions=Dimensions(length_mm=D(801))),
            None,
            "801 mm",
            "<= 800 mm",
            id="ingot-length",
        ),
        pytest.param(
            with_dimensions(piece_lot(ALLOY, SMALL_SOW), top_width_mm=880),
            None,
            "880 mm",
            "900 mm (the top length)",
            id="small-sow-square",
        ),
        pytest.param(
            ingot_lot(),
            nordal(status=BrandStatus.SUSPENDED, reason="no 2025 CBAM form"),
            "suspended: no 2025 CBAM form",
            "listed",
            id="brand-suspended",
        ),
        pytest.param(
            ingot_lot(),
            nordal(contracts=(HIGH_GRADE,)),
            "aluminium_alloy",
            "high_grade_primary",
            id="brand-not-listed-for-contract",
        ),
        pytest.param(
            piece_lot(HIGH_GRADE, SOW).model_copy(update={"shape": SMALL_SOW}),
            None,
            "small_sow",
            "ingot, sow, t_bar",
            id="shape",
        ),
        pytest.param(
            ingot_lot(bundles=changed(_TWENTY, 5, pieces=124), total_pieces=2499),
            None,
            "124 pieces",
            "125 pieces (as most bundles of the lot)",
            id="bundles-not-equal",
        ),
        pytest.param(
            ingot_lot(
                bundles=changed(
                    make_bundles(20, pieces=125, piece_kg="8", dimensions=INGOT_DIMENSIONS),
                    7,
                    dimensions=INGOT_DIMENSIONS.model_copy(update={"width_mm": D(110)}),
                )
            ),
            None,
            "length 700, width 110, height 60 mm",
            "length 700, width 100, height 60 mm (as most bundles of the lot)",
            id="bundle-dimensions-not-equal",
        ),
        pytest.param(
            ingot_lot(
                bundles=(
                    *make_bundles(19, pieces=125, piece_kg="8"),
                    *make_bundles(1, pieces=126, piece_kg="8", first_number=20, makeweight=True),
                ),
                total_pieces=2501,
                net_weight_kg=D(20008),
            ),
            None,
            "1008 kg",
            "<= 1000 kg (makeweight)",
            id="makeweight-over-maximum",
        ),
        pytest.param(
            ingot_lot(net_weight_kg=D(20010)),
            None,
            "20010 kg",
            "20000 kg (the sum of the bundles)",
            id="weight-does-not-add-up",
        ),
        pytest.param(
            _with_casts(ALLOY, SIX_CASTS),
            None,
            "6 (NRD-25-101, NRD-25-102, NRD-25-103, NRD-25-104, NRD-25-105, NRD-25-106)",
            "<= 5",
            id="production-batches",
        ),
        pytest.param(
            _with_casts(ALLOY, (*CASTS[:3], "nrd 25 104")),
            None,
            "nrd 25 104",
            "NRD-25-104",
            id="cast-not-identical",
        ),
        pytest.param(
            ingot_lot(bundles=changed(_TWENTY, 4, brand="OTHERBRAND")),
            None,
            "OTHERBRAND",
            BRAND,
            id="bundle-of-another-brand",
        ),
        pytest.param(
            ingot_lot(bundles=changed(_TWENTY, 2, cast_references=CASTS[:2])),
            None,
            "2 (NRD-25-101, NRD-25-102)",
            "1 production batch per bundle",
            id="bundle-of-two-casts",
        ),
    ],
)
def test_a_violation_shows_what_was_observed_and_what_is_allowed(
    the_lot: LotArrived, brand: BrandState | None, observed: str, allowed: str
) -> None:
    assert the_violation(decide(the_lot, brand)) == (observed, allowed)


def test_a_lot_with_many_problems_lists_every_one_of_them() -> None:
    casts = SIX_CASTS
    bundles = changed(
        changed(make_bundles(20, pieces=125, piece_kg="8", casts=casts), 0, net_weight_kg=D(1100)),
        1,
        cast_references=("NRD-25-999",),
    )
    the_lot = ingot_lot(
        NASAAC,
        cast_references=casts,
        bundles=bundles,
        total_pieces=2400,
        net_weight_kg=D(21000),
        piece_weight_kg=D(18),
        piece_dimensions=None,
    )
    brand = nordal(
        NASAAC,
        status=BrandStatus.SUSPENDED,
        reason="form overdue",
        certified=standard_certificates(NASAAC, casts=casts[:5]),
    )

    decision = decide(the_lot, brand, the_request=request(brand="NORDAL-X"))

    rule = NASAAC_SCR
    assert found(decision) == {
        ("LOT_BRAND_MISMATCH", "brand", f"{rule} 3.2"),
        ("BRAND_SUSPENDED", "brand", "§4.4"),
        ("LOT_WEIGHT_OUT_OF_TOLERANCE", "net_weight_kg", f"{rule} 2, 3.1"),
        ("PIECE_WEIGHT_OUT_OF_RANGE", "piece_weight_kg", f"{rule} 6(a)"),
        ("PIECE_DIMENSION_NOT_STATED", "piece_dimensions.length_mm", f"{rule} 6(a)"),
        ("BUNDLE_WEIGHT_OUT_OF_RANGE", "bundles[0].net_weight_kg", f"{rule} 6(a)"),
        ("BUNDLES_DO_NOT_ADD_UP", "total_pieces", f"{rule} 3.4"),
        ("BUNDLES_DO_NOT_ADD_UP", "net_weight_kg", f"{rule} 3.4"),
        ("BUNDLE_CAST_NOT_IN_LOT", "bundles[1].cast_references[0]", f"{rule} 3.3"),
        ("TOO_MANY_PRODUCTION_BATCHES", "cast_references", f"{rule} 3.3"),
    }
    assert missing(decision) == {
        (MissingKind.ECOA, "NRD-25-106", "SCR 4.1"),
        (MissingKind.ECOA, "NRD-25-999", "SCR 4.1"),
    }
    assert decision.outcome is WarrantOutcome.REJECTED
    assert all(violation.message for violation in decision.violations)


# Pending: documents that may still arrive


def test_a_request_before_the_lot_arrived_waits_for_it() -> None:
    decision = decide(None)

    assert decision.outcome is WarrantOutcome.PENDING
    assert missing(decision) == {(MissingKind.LOT_ARRIVAL, "LOT-1", "SCR 4.1")}
    assert (decision.request_id, decision.lot_id, decision.brand) == ("REQ-1", "LOT-1", BRAND)


def test_a_cast_without_an_ecoa_is_named_and_the_request_waits() -> None:
    brand = nordal(certified=standard_certificates(casts=CASTS[:3]))

    decision = decide(ingot_lot(), brand)

    assert decision.outcome is WarrantOutcome.PENDING
    assert decision.violations == ()
    assert missing(decision) == {(MissingKind.ECOA, "NRD-25-104", "SCR 4.1")}
    assert "NRD-25-104" in decision.missing[0].message


def test_only_a_basic_ecoa_after_the_notice_date_waits_for_an_enhanced_one() -> None:
    certified = {
        **certify(CASTS[:2], "ECOA-NRD-1"),
        **certify(CASTS[2:], "ECOA-WH-7", kind=ECoAKind.BASIC),
    }

    decision = decide(ingot_lot(), nordal(certified=certified))

    assert decision.outcome is WarrantOutcome.PENDING
    assert missing(decision) == {
        (MissingKind.ENHANCED_ECOA, "NRD-25-103", "SCR 4.2"),
        (MissingKind.ENHANCED_ECOA, "NRD-25-104", "SCR 4.2"),
    }


def produced_in_2026() -> BrandState:
    """NORDAL with its casts certified and recorded as produced on 10 January 2026."""
    produced = date(2026, 1, 10)
    return nordal(certified=certify(SIX_CASTS, "ECOA-NRD-26", produced=produced), produced=produced)


def test_no_form_for_the_production_year_after_its_deadline_waits_for_the_form() -> None:
    the_lot = ingot_lot(production_date=date(2026, 1, 10))

    decision = decide(the_lot, produced_in_2026(), today=date(2027, 3, 16))

    assert decision.outcome is WarrantOutcome.PENDING
    assert missing(decision) == {(MissingKind.CBAM_FORM, "brand NORDAL year 2026", "SCR 4.2")}


def test_no_form_at_all_waits_for_the_production_years_form() -> None:
    decision = decide(ingot_lot(), nordal(forms={}))

    assert decision.outcome is WarrantOutcome.PENDING
    assert missing(decision) == {(MissingKind.CBAM_FORM, "brand NORDAL year 2025", "SCR 4.2")}


@pytest.mark.parametrize("today", [TODAY, date(2027, 3, 15)], ids=["before", "on-deadline"])
def test_the_previous_years_form_stands_in_until_the_production_years_is_due(
    today: date,
) -> None:
    decision = decide(ingot_lot(production_date=date(2026, 1, 10)), produced_in_2026(), today=today)

    assert decision.outcome is WarrantOutcome.ISSUED
    assert decision.notes == ("brand NORDAL's 2025 form used until 2026's is due (§4.3 Figure 4)",)
    assert decision.terms is not None
    assert decision.terms.emissions == AttachedEmissions(
        figures=FORM_2025.emissions,
        form_id="FORM-NORDAL-2025",
        reporting_year=2025,
        from_previous_year=True,
    )


DEFAULT_EMISSIONS = AttachedEmissions(
    figures=EmissionsFigures(
        direct=D("2.36"), indirect=D("8.14"), direct_is_default=True, indirect_is_default=True
    ),
    form_id=None,
    reporting_year=None,
    from_previous_year=False,
)


@pytest.mark.parametrize(
    "production_date", [date(2024, 12, 31), None], ids=["before-notice-date", "unknown"]
)
def test_metal_from_before_the_rule_or_of_unknown_date_gets_the_default_emissions(
    production_date: date | None,
) -> None:
    basic_only = certify(
        CASTS,
        "ECOA-WH-7",
        kind=ECoAKind.BASIC,
        created_on=date(2026, 1, 21),
        produced=production_date,
    )
    brand = (
        nordal(certified=basic_only, forms={}, recorded=())
        if production_date is None
        else nordal(certified=basic_only, forms={}, produced=production_date)
    )

    decision = decide(ingot_lot(production_date=production_date), brand)

    assert decision.outcome is WarrantOutcome.ISSUED
    assert decision.terms is not None
    assert decision.terms.emissions == DEFAULT_EMISSIONS
    assert decision.terms.certificates == (CertificateReference(date(2026, 1, 21), "ECOA-WH-7"),)
    assert decision.notes == ()


def test_the_notice_date_is_configuration() -> None:
    basic_only = nordal(certified=certify(CASTS, "ECOA-WH-7", kind=ECoAKind.BASIC), forms={})
    later_notice = load_rulebook(cbam_notice_date=date(2025, 7, 1))

    assert decide(ingot_lot(), basic_only).outcome is WarrantOutcome.PENDING
    issued = decide(ingot_lot(), basic_only, rulebook=later_notice)
    assert issued.outcome is WarrantOutcome.ISSUED
    assert issued.terms is not None
    assert issued.terms.emissions == DEFAULT_EMISSIONS


# Issued: what the warrant states


def test_an_issued_warrant_states_a_to_f_the_warning_and_the_emissions() -> None:
    decision = decide(ingot_lot(ALLOY))

    assert decision.outcome is WarrantOutcome.ISSUED
    assert (decision.request_id, decision.lot_id, decision.brand) == ("REQ-1", "LOT-1", BRAND)
    assert decision.terms == WarrantTerms(
        contract=ALLOY,
        brand=BRAND,
        country_of_origin="Norway",
        shape=INGOT,
        certificates=(
            CertificateReference(issued_on=date(2025, 6, 15), reference="ECOA-NRD-1"),
            CertificateReference(issued_on=date(2025, 6, 20), reference="ECOA-NRD-2"),
        ),
        net_weight_kg=D(20000),
        bundles=20,
        pieces=2500,
        warning_clause=WARNING,
        emissions=AttachedEmissions(
            figures=FORM_2025.emissions,
            form_id="FORM-NORDAL-2025",
            reporting_year=2025,
            from_previous_year=False,
        ),
    )
    assert decision.notes == ()


@pytest.mark.parametrize(
    ("the_lot", "clause"),
    [
        pytest.param(ingot_lot(HIGH_GRADE), WARNING, id="high-grade"),
        pytest.param(ingot_lot(ALLOY), WARNING, id="alloy"),
        pytest.param(ingot_lot(NASAAC), NASAAC_WARNING, id="nasaac"),
    ],
)
def test_each_contract_bears_its_own_warning_clause_verbatim(
    the_lot: LotArrived, clause: str
) -> None:
    terms = decide(the_lot).terms

    assert terms is not None
    assert terms.warning_clause == clause


def test_a_sow_warrant_states_pieces_and_no_bundles() -> None:
    terms = decide(piece_lot(NASAAC, LARGE_SOW)).terms

    assert terms is not None
    assert (terms.shape, terms.bundles, terms.pieces, terms.net_weight_kg) == (
        LARGE_SOW,
        0,
        32,
        D(20000),
    )
    assert terms.warning_clause == NASAAC_WARNING


def test_a_cast_with_several_certificates_is_warranted_with_its_enhanced_one() -> None:
    certified = standard_certificates()
    earlier_basic = certify(CASTS[:1], "ECOA-MEMBER-3", kind=ECoAKind.BASIC)["NRD-25-101"]
    certified["NRD-25-101"] = (*earlier_basic, *certified["NRD-25-101"])

    terms = decide(ingot_lot(), nordal(certified=certified)).terms

    assert terms is not None
    assert [reference.reference for reference in terms.certificates] == [
        "ECOA-NRD-1",
        "ECOA-NRD-2",
    ]


def test_certificates_are_listed_once_each_in_date_order() -> None:
    certified = {
        **certify(CASTS[:1], "ECOA-NRD-9", created_on=date(2025, 8, 1)),
        **certify(CASTS[1:], "ECOA-NRD-3", created_on=date(2025, 7, 1)),
    }

    terms = decide(ingot_lot(), nordal(certified=certified)).terms

    assert terms is not None
    assert terms.certificates == (
        CertificateReference(date(2025, 7, 1), "ECOA-NRD-3"),
        CertificateReference(date(2025, 8, 1), "ECOA-NRD-9"),
    )


# Properties


def test_the_lot_weight_bounds_are_exact_decimals() -> None:
    assert lot_weight_bounds(RULEBOOK.contracts[HIGH_GRADE]) == Bounds(min=D(24500), max=D(25500))
    assert lot_weight_bounds(RULEBOOK.contracts[NASAAC]) == Bounds(min=D(19600), max=D(20400))


PIECE_LOT_KEYS = st.sampled_from(
    [(HIGH_GRADE, SOW), (ALLOY, LARGE_SOW), (NASAAC, T_BAR), (ALLOY, SMALL_SOW)]
)


@settings(max_examples=150, deadline=None)
@given(
    contract_and_shape=PIECE_LOT_KEYS,
    weight=st.decimals(min_value=D(18000), max_value=D(27000), places=2),
)
@example(contract_and_shape=(HIGH_GRADE, SOW), weight=D("25500.00"))
@example(contract_and_shape=(HIGH_GRADE, SOW), weight=D("25500.01"))
@example(contract_and_shape=(ALLOY, LARGE_SOW), weight=D("19599.99"))
@example(contract_and_shape=(ALLOY, LARGE_SOW), weight=D("19600"))
def test_the_lot_weight_passes_exactly_within_two_percent_either_way(
    contract_and_shape: tuple[MetalContract, Shape], weight: Decimal
) -> None:
    contract, shape = contract_and_shape
    size_kg = RULEBOOK.contracts[contract].lot_size_t * 1000

    decision = decide(piece_lot(contract, shape, net_weight_kg=weight))

    flagged = "LOT_WEIGHT_OUT_OF_TOLERANCE" in {v.code for v in decision.violations}
    assert flagged is not (D("0.98") * size_kg <= weight <= D("1.02") * size_kg)


@settings(max_examples=60, deadline=None)
@given(
    contract=st.sampled_from([ALLOY, NASAAC, HIGH_GRADE]),
    weight=st.decimals(min_value=D(15000), max_value=D(30000), places=1),
    piece_weight=st.one_of(st.none(), st.decimals(min_value=D(1), max_value=D(40), places=1)),
    production_date=st.one_of(st.none(), st.dates(date(2023, 1, 1), date(2027, 12, 31))),
    today=st.dates(date(2025, 1, 1), date(2028, 12, 31)),
    certified_casts=st.integers(min_value=0, max_value=6),
)
def test_the_decision_is_deterministic(
    contract: MetalContract,
    weight: Decimal,
    piece_weight: Decimal | None,
    production_date: date | None,
    today: date,
    certified_casts: int,
) -> None:
    the_lot = ingot_lot(
        contract,
        net_weight_kg=weight,
        piece_weight_kg=piece_weight,
        production_date=production_date,
    )
    certified = standard_certificates(contract, casts=SIX_CASTS[:certified_casts])
    brand = nordal(contract, certified=certified)

    first = decide(the_lot, brand, today=today)
    second = decide(the_lot, brand, today=today)

    assert first == second
    assert (first.outcome is WarrantOutcome.ISSUED) is (first.terms is not None)


def test_a_certificate_of_another_contracts_specification_cannot_back_the_warrant() -> None:
    alloy_lot = ingot_lot()
    primary_certificates = {
        cast: tuple(replace(certificate, specification="P1020A") for certificate in certificates)
        for cast, certificates in standard_certificates().items()
    }
    decision = decide(alloy_lot, nordal(certified=primary_certificates))
    assert decision.outcome is WarrantOutcome.REJECTED
    codes = {(v.code, v.rule) for v in decision.violations}
    assert codes == {("CERTIFICATE_NOT_FOR_CONTRACT", "Aluminium Alloy SCR 1(a)")}
    assert all(v.observed and v.observed.startswith("P1020A") for v in decision.violations)
