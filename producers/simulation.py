"""Simulated parties: what a smelter, a warehouse, a member and the exchange's listing desk send.

Each function builds one realistic message; ``demo_story`` strings them into the demo's
storyline (good lots, each kind of rejection, a pending lot resolved by a late eCOA, a
suspended brand).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from contracts.base import Contract
from contracts.brands import ListBrand, SuspendBrand
from contracts.cbam import (
    CbamEmissionsFormSubmitted,
    CbamProduct,
    EmbeddedEmissions,
    EmissionFactor,
    EmissionFactorSource,
    EmissionsBasis,
    EmissionSourceLocation,
    MonitoringMethodology,
    ReportingPeriod,
    Verifier,
)
from contracts.ecoa import ECoACreated, ECoAKind
from contracts.ledger import (
    AccountingScope,
    ClosePeriod,
    JoinCertificate,
    PeriodKind,
    RecordCertifiedInput,
    RecordCertifiedOutput,
    RegisterCertificate,
    RegisterSite,
)
from contracts.lots import Bundle, CustodyClaim, LotArrived
from contracts.production import ProductionBatchRecorded
from contracts.values import (
    AccountingLevel,
    CastAnalysis,
    Dimensions,
    ElementLevel,
    MetalContract,
    PartyRole,
    Shape,
)
from contracts.warrants import RequestWarrant
from producers.parties import DEMO_PARTIES

PRODUCER = DEMO_PARTIES[PartyRole.PRODUCER]
WAREHOUSE = DEMO_PARTIES[PartyRole.WAREHOUSE]
MEMBER = DEMO_PARTIES[PartyRole.MEMBER]
SMELTER_SITE = "NORDAL-SUNNDAL"
WARRANT_HOLDER = "northsea-metals-ldn"
ASI_ALUMINIUM = "asi_aluminium"
A380_1 = {
    "Cu": "3.0", "Si": "9.0", "Mg": "0.3", "Zn": "1.0", "Fe": "0.8",
    "Mn": "0.2", "Ni": "0.1", "Sn": "0.05", "Ti": "0.1", "Pb": "0.1",
}  # fmt: skip
INGOT = Dimensions(length_mm=Decimal(700), width_mm=Decimal(100), height_mm=Decimal(60))
BUNDLE = Dimensions(length_mm=Decimal(1100), width_mm=Decimal(1050), height_mm=Decimal(700))
CAST_DAY = date(2026, 2, 10)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _chemistry(levels: dict[str, str]) -> tuple[ElementLevel, ...]:
    return tuple(ElementLevel(element=e, detected_percent=Decimal(v)) for e, v in levels.items())


def list_brand(brand: str) -> ListBrand:
    return ListBrand.build(
        command_id=f"LIST-{brand}",
        brand=brand,
        producer_id=PRODUCER,
        country_of_origin="Norway",
        contracts=(MetalContract.ALUMINIUM_ALLOY,),
        reason="approved by the listing committee",
        effective_at=_at("2024-01-02T00:00:00"),
    )


def suspend_brand(brand: str, reason: str) -> SuspendBrand:
    return SuspendBrand.build(
        command_id=f"SUSPEND-{brand}", brand=brand, reason=reason, effective_at=_at("2026-03-01")
    )


def cast(brand: str, reference: str) -> ProductionBatchRecorded:
    return ProductionBatchRecorded.build(
        brand=brand,
        cast_reference=reference,
        production_date=CAST_DAY,
        site_id="NO-SUN-01",
        contract=MetalContract.ALUMINIUM_ALLOY,
        specification="A380.1",
        chemistry=_chemistry(A380_1),
        shape=Shape.INGOT,
        pieces=1250,
        total_net_weight_kg=Decimal(10000),
        piece_weight_kg=Decimal(8),
        piece_dimensions=INGOT,
    )


def enhanced_ecoa(
    brand: str, ecoa_id: str, casts: list[str], levels: dict[str, str] = A380_1
) -> ECoACreated:
    return ECoACreated.build(
        ecoa_id=ecoa_id,
        kind=ECoAKind.ENHANCED,
        brand=brand,
        contract=MetalContract.ALUMINIUM_ALLOY,
        specification_claimed="A380.1",
        created_by=PRODUCER,
        created_by_role=PartyRole.PRODUCER,
        created_on=date(2026, 2, 11),
        casts=tuple(
            CastAnalysis(cast_reference=c, production_date=CAST_DAY, chemistry=_chemistry(levels))
            for c in casts
        ),
        includes_english=True,
    )


def members_basic_ecoa(brand: str, ecoa_id: str, reference: str) -> ECoACreated:
    """A member's Basic eCOA for metal cast after the notice date, without its paper COA:
    rejected under SCR 4.2 and 4.7."""
    return ECoACreated.build(
        ecoa_id=ecoa_id,
        kind=ECoAKind.BASIC,
        brand=brand,
        contract=MetalContract.ALUMINIUM_ALLOY,
        specification_claimed="A380.1",
        created_by=MEMBER,
        created_by_role=PartyRole.MEMBER,
        created_on=date(2026, 2, 12),
        casts=(
            CastAnalysis(
                cast_reference=reference, production_date=CAST_DAY, chemistry=_chemistry(A380_1)
            ),
        ),
    )


def cbam_form(brand: str, year: int = 2025, **changes: object) -> CbamEmissionsFormSubmitted:
    fields: dict[str, object] = {
        "form_id": f"FORM-{brand}-{year}",
        "brand": brand,
        "reporting_year": year,
        "producer_name": "Nordal Aluminium AS",
        "installation_name": "Sunndal smelter",
        "installation_address": "Sunndalsøra, Norway",
        "installation_id": "NO-SUN-01",
        "un_locode": "NO SUN",
        "products": (
            CbamProduct(
                product_name="A380.1 alloy ingot",
                cn_code="7601",
                aggregated_goods_category="unwrought aluminium",
                scrap_t_per_t=Decimal("0.30"),
                pre_consumer_scrap_percent=Decimal(40),
                other_elements_percent=Decimal("14.8"),
            ),
        ),
        "main_emission_source": EmissionSourceLocation(
            latitude=Decimal("62.675"), longitude=Decimal("8.558")
        ),
        "reporting_period": ReportingPeriod(start=date(year, 1, 1), end=date(year, 12, 31)),
        "methodology": MonitoringMethodology.CALCULATION_BASED,
        "direct_embedded_emissions": EmbeddedEmissions(
            tco2e_per_t=Decimal("1.60"), basis=EmissionsBasis.ACTUAL
        ),
        "indirect_embedded_emissions": EmbeddedEmissions(
            tco2e_per_t=Decimal("0.40"), basis=EmissionsBasis.ACTUAL
        ),
        "emission_factor": EmissionFactor(
            tco2e_per_mwh=Decimal("0.019"), source=EmissionFactorSource.IEA
        ),
        "verifier": Verifier(
            company_name="Nordic Verification AS",
            company_address="Oslo, Norway",
            company_contact="cbam@nordic-verification.example",
            accreditation_body="Norsk Akkreditering",
        ),
        "level_of_assurance": "limited",
        "permission_to_publish": True,
    }
    return CbamEmissionsFormSubmitted.build(**{**fields, **changes})


def lot(
    brand: str,
    lot_id: str,
    casts: list[str],
    *,
    bundles: int = 20,
    makeweight: int = 0,
    claim: CustodyClaim | None = None,
) -> LotArrived:
    """An A380.1 ingot lot: ``bundles`` bundles of 125 ingots of 8 kg (1 t each), plus a
    makeweight bundle of ``makeweight`` ingots; with ``claim``, certified material."""
    full = [
        Bundle(
            bundle_id=f"{lot_id}-B{index + 1:02}",
            brand=brand,
            cast_references=(casts[index % len(casts)],),
            pieces=125,
            net_weight_kg=Decimal(1000),
            dimensions=BUNDLE,
        )
        for index in range(bundles)
    ]
    extra = (
        [
            Bundle(
                bundle_id=f"{lot_id}-MW",
                brand=brand,
                cast_references=(casts[0],),
                pieces=makeweight,
                net_weight_kg=Decimal(makeweight * 8),
                is_makeweight=True,
            )
        ]
        if makeweight
        else []
    )
    pieces = bundles * 125 + makeweight
    return LotArrived.build(
        lot_id=lot_id,
        warehouse_id=WAREHOUSE,
        location="Rotterdam shed 4",
        brand=brand,
        contract=MetalContract.ALUMINIUM_ALLOY,
        shape=Shape.INGOT,
        cast_references=tuple(dict.fromkeys(casts)),
        bundles=tuple(full + extra),
        total_pieces=pieces,
        net_weight_kg=Decimal(pieces * 8),
        piece_weight_kg=Decimal(8),
        piece_dimensions=INGOT,
        production_date=CAST_DAY,
        arrived_at=_at("2026-03-02T08:00:00"),
        custody_claim=claim,
    )


def request(
    brand: str, request_id: str, lot_id: str, *, holder: str | None = None
) -> RequestWarrant:
    return RequestWarrant.build(
        request_id=request_id,
        lot_id=lot_id,
        brand=brand,
        warehouse_id=WAREHOUSE,
        requested_at=_at("2026-03-02T09:00:00"),
        warrant_holder_id=holder,
    )


def nordal_claim(document: str) -> CustodyClaim:
    """NORDAL's smelter delivered the lot as ASI aluminium, accounted at site level."""
    return CustodyClaim(
        delivered_by=SMELTER_SITE,
        material_quality=ASI_ALUMINIUM,
        level=AccountingLevel.SITE,
        coc_document=document,
    )


def certification() -> tuple[Contract, ...]:
    """Three site-level certificates, one site each (scenario 1): NORDAL's smelter, the
    Rotterdam warehouse and Northsea Metals, the member that will hold the warrants."""
    opened = date(2026, 1, 1)
    messages: list[Contract] = []
    for certificate, group, site, operator in (
        ("ASI-COC-NORDAL", "nordal-group", SMELTER_SITE, PRODUCER),
        ("ASI-COC-RTM-07", "rotterdam-07-bv", WAREHOUSE, WAREHOUSE),
        ("ASI-COC-NORTHSEA", "northsea-metals-group", WARRANT_HOLDER, MEMBER),
    ):
        messages += [
            RegisterCertificate.build(
                posting_id=f"register-{certificate}",
                certificate_id=certificate,
                holder_group_id=group,
                accounting_scope=AccountingScope.SITE_LEVEL,
                effective_on=opened,
            ),
            RegisterSite.build(
                posting_id=f"register-{site}",
                site_id=site,
                operator_party_id=operator,
                registered_on=opened,
            ),
            JoinCertificate.build(
                posting_id=f"join-{site}",
                site_id=site,
                certificate_id=certificate,
                effective_on=opened,
            ),
        ]
    return tuple(messages)


def smelter_input(posting_id: str, kg: int, on: date) -> RecordCertifiedInput:
    return RecordCertifiedInput.build(
        posting_id=posting_id,
        site_id=SMELTER_SITE,
        holder_id=SMELTER_SITE,
        material_quality=ASI_ALUMINIUM,
        quantity_kg=Decimal(kg),
        level=AccountingLevel.SITE,
        coc_document=f"COC-{posting_id}",
        occurred_on=on,
    )


def smelter_sale(posting_id: str, kg: int, on: date) -> RecordCertifiedOutput:
    return RecordCertifiedOutput.build(
        posting_id=posting_id,
        site_id=SMELTER_SITE,
        holder_id=SMELTER_SITE,
        material_quality=ASI_ALUMINIUM,
        quantity_kg=Decimal(kg),
        level=AccountingLevel.SITE,
        claim_document=f"INV-{posting_id}",
        occurred_on=on,
    )


@dataclass(frozen=True)
class Act:
    """One step of the story: what happens, and the messages the parties send for it
    (``sent_by`` a given party, or each by its usual sender)."""

    title: str
    messages: tuple[Contract, ...]
    sent_by: str | None = None


def demo_story() -> list[Act]:
    nordal, alumo = "NORDAL", "ALUMO"
    six = [f"C26-06{n:02}" for n in range(1, 7)]
    return [
        Act(
            "the exchange lists brands NORDAL and ALUMO",
            (list_brand(nordal), list_brand(alumo)),
        ),
        Act(
            "the exchange records chain-of-custody certificates (site level): NORDAL's "
            "smelter, the Rotterdam warehouse and Northsea Metals",
            certification(),
        ),
        Act(
            "NORDAL's smelter books 80 t of certified aluminium received in February (S)",
            (smelter_input("NORDAL-IN-0220", 80_000, date(2026, 2, 20)),),
            sent_by=PRODUCER,
        ),
        Act(
            "NORDAL's smelter records casts, certifies them and uploads its 2025 CBAM form",
            (
                cast(nordal, "C26-0101"),
                cast(nordal, "C26-0102"),
                enhanced_ecoa(nordal, "ECOA-NORDAL-01", ["C26-0101", "C26-0102", *six]),
                cbam_form(nordal),
            ),
        ),
        Act(
            "a good 20 t certified lot arrives in Rotterdam and is put on warrant for "
            "Northsea Metals",
            (
                lot(
                    nordal,
                    "LOT-RTM-0001",
                    ["C26-0101", "C26-0102"],
                    claim=nordal_claim("COC-NORDAL-0001"),
                ),
                request(nordal, "REQ-0001", "LOT-RTM-0001", holder=WARRANT_HOLDER),
            ),
        ),
        Act(
            "a 20.5 t lot of six production batches is offered",
            (
                lot(
                    nordal,
                    "LOT-RTM-0002",
                    six,
                    makeweight=63,
                    claim=nordal_claim("COC-NORDAL-0002"),
                ),
                request(nordal, "REQ-0002", "LOT-RTM-0002", holder=WARRANT_HOLDER),
            ),
        ),
        Act(
            "a lot whose cast has no eCOA yet waits, until the producer's late eCOA arrives",
            (
                lot(nordal, "LOT-RTM-0003", ["C26-0301"], claim=nordal_claim("COC-NORDAL-0003")),
                request(nordal, "REQ-0003", "LOT-RTM-0003", holder=WARRANT_HOLDER),
                enhanced_ecoa(nordal, "ECOA-NORDAL-03", ["C26-0301"]),
            ),
        ),
        Act(
            "a member's Basic eCOA for new metal, and a CBAM form with errors",
            (
                members_basic_ecoa(nordal, "ECOA-MEMBER-09", "C26-0901"),
                cbam_form(
                    alumo,
                    form_id="FORM-ALUMO-2025-DRAFT",
                    un_locode="Sunndal",
                    level_of_assurance="moderate",
                    verifier=None,
                ),
            ),
        ),
        Act(
            "ALUMO is suspended for its missing form; its lot is refused",
            (
                suspend_brand(alumo, "no CBAM emissions form for 2025"),
                enhanced_ecoa(alumo, "ECOA-ALUMO-01", ["A26-0001"]),
                lot(alumo, "LOT-RTM-0004", ["A26-0001"]),
                request(alumo, "REQ-0004", "LOT-RTM-0004"),
            ),
        ),
        Act(
            "NORDAL's smelter tries to sell 25 t more as certified than its balance holds",
            (smelter_sale("NORDAL-OUT-0305", 25_000, date(2026, 3, 5)),),
            sent_by=PRODUCER,
        ),
        Act(
            "the exchange closes February: a statement per account",
            (
                ClosePeriod.build(
                    posting_id="close-2026-02",
                    period_kind=PeriodKind.MONTH,
                    period_start=date(2026, 2, 1),
                ),
            ),
        ),
    ]
