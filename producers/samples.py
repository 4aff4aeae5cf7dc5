"""One valid, realistic message of every type: the NORDAL brand's A380.1 alloy in 2026.

NORDAL casts two A380.1 batches in March 2026, certifies them with an Enhanced eCOA, has
reported its 2025 emissions, and a warehouse in Rotterdam takes a 20 t lot of them and
places it on warrant. The lot arrives with NORDAL's chain-of-custody claim (ASI Aluminium,
site level) and the warrant is issued to a trading member, whose account receives the credits.
Deterministic: fixed dates, no clock, no randomness.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from contracts.base import Contract
from contracts.brands import (
    BrandDelisted,
    BrandListed,
    BrandReinstated,
    BrandSuspended,
    DelistBrand,
    ListBrand,
    ReinstateBrand,
    SuspendBrand,
)
from contracts.cbam import (
    CarbonPricePaid,
    CbamEmissionsFormSubmitted,
    CbamFormAccepted,
    CbamFormRejected,
    CbamProduct,
    EmbeddedEmissions,
    EmissionFactor,
    EmissionFactorSource,
    EmissionsAttached,
    EmissionsBasis,
    EmissionSourceLocation,
    MonitoringMethodology,
    ReportingPeriod,
    Verifier,
)
from contracts.cbam_report import (
    REGISTRY_FIELDS_FILLED,
    REGISTRY_FIELDS_NOT_KNOWN,
    CbamReportFiled,
    QuarterlyCbamReport,
    ReportedCarbonPrice,
    ReportedWarrant,
    ReportLine,
    ReportTotals,
)
from contracts.clock import ClockTicked
from contracts.custody import (
    CertifiedAccount,
    CustodyBalanceUpdated,
    CustodyMovementRecorded,
    CustodyMoveReason,
)
from contracts.dead_letter import (
    DeadLetterError,
    DeadLetterReason,
    DeadLetterRecorded,
    SourceRecord,
    kept_bytes,
    original_header,
)
from contracts.ecoa import ECoAAccepted, ECoACreated, ECoAKind, ECoARejected
from contracts.ledger import (
    AccountingScope,
    AccountStatement,
    AllocateToSiteLevel,
    ClosePeriod,
    JoinCertificate,
    LeaveCertificate,
    LeavingBalanceRule,
    LedgerPeriodClosed,
    LedgerPostingAccepted,
    LedgerPostingRejected,
    PeriodKind,
    RecordCertifiedInput,
    RecordCertifiedOutput,
    RecordEligibleScrapInput,
    RecordNonCertifiedInput,
    RecordPhysicalTransfer,
    RecordTransferReceipt,
    RegisterCertificate,
    RegisterSite,
)
from contracts.lots import Bundle, CustodyClaim, LotArrived
from contracts.production import (
    ProductionBatchAccepted,
    ProductionBatchRecorded,
    ProductionBatchRejected,
)
from contracts.values import (
    AccountingLevel,
    CastAnalysis,
    Dimensions,
    ElementLevel,
    EmissionsSummary,
    MetalContract,
    MissingItem,
    MissingItemKind,
    PartyRole,
    RuleViolation,
    Shape,
)
from contracts.warrants import (
    CancelWarrant,
    CertificateOfAnalysisReference,
    RequestWarrant,
    WarrantCancelled,
    WarrantDocument,
    WarrantEmissions,
    WarrantIssued,
    WarrantPending,
    WarrantRejected,
    WarrantState,
    WarrantStateChanged,
)

BRAND = "NORDAL"
PRODUCER_ID = "nordal-aluminium-as"
SITE_ID = "NO-NORDAL-SUNNDAL-01"
WAREHOUSE_ID = "wh-rotterdam-07"
WARRANT_HOLDER_ID = "northsea-metals-trading"
LOT_ID = "LOT-RTM-2026-000418"
ECOA_ID = "ECOA-NORDAL-2026-0412"
FORM_ID = "CBAM-NORDAL-2025"
RULEBOOK_VERSION = "2026.1"
CASTS = ("NA26-0412", "NA26-0413")
INGOT_WEIGHT_KG = Decimal("8.00")
INGOTS_PER_BUNDLE = 120
MAKEWEIGHT_INGOTS = 100

ALLOY_WARNING_CLAUSE = (
    "WARNING: the buyer is advised that this metal may contain crevices and hidden recesses "
    "holding entrapped moisture. The metal should be handled and processed with this "
    "possibility in mind. Entrapped moisture may cause an explosion if the metal is "
    "introduced into a melting furnace without proper drying."
)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _a380_1_chemistry(copper: str, silicon: str, iron: str) -> tuple[ElementLevel, ...]:
    levels = {
        "Cu": copper,
        "Si": silicon,
        "Mg": "0.25",
        "Zn": "0.90",
        "Fe": iron,
        "Mn": "0.22",
        "Ni": "0.05",
        "Sn": "0.03",
        "Ti": "0.06",
        "Pb": "0.04",
    }
    alloyed = sum(Decimal(value) for value in levels.values())
    levels["Al"] = str(Decimal("100") - alloyed)
    return tuple(
        ElementLevel(element=element, detected_percent=Decimal(value))
        for element, value in levels.items()
    )


CHEMISTRY = {
    CASTS[0]: _a380_1_chemistry(copper="3.10", silicon="8.90", iron="0.78"),
    CASTS[1]: _a380_1_chemistry(copper="3.05", silicon="9.20", iron="0.81"),
}
PRODUCED_ON = {CASTS[0]: date(2026, 3, 2), CASTS[1]: date(2026, 3, 3)}
INGOT = Dimensions(length_mm=Decimal("700"), width_mm=Decimal("110"), height_mm=Decimal("45"))
BUNDLE = Dimensions(length_mm=Decimal("720"), width_mm=Decimal("720"), height_mm=Decimal("640"))
EMISSIONS_2025 = EmissionsSummary(
    direct_tco2e_per_t=Decimal("1.10"),
    indirect_tco2e_per_t=Decimal("0.85"),
    total_tco2e_per_t=Decimal("1.95"),
    direct_is_default_value=False,
    indirect_is_default_value=False,
)


def _production() -> list[Contract]:
    return [
        ProductionBatchRecorded.build(
            brand=BRAND,
            cast_reference=CASTS[0],
            production_date=PRODUCED_ON[CASTS[0]],
            site_id=SITE_ID,
            contract=MetalContract.ALUMINIUM_ALLOY,
            specification="A380.1",
            chemistry=CHEMISTRY[CASTS[0]],
            shape=Shape.INGOT,
            pieces=1200,
            total_net_weight_kg=INGOT_WEIGHT_KG * 1200,
            piece_weight_kg=INGOT_WEIGHT_KG,
            piece_dimensions=INGOT,
        ),
        ProductionBatchAccepted.build(
            brand=BRAND,
            cast_reference=CASTS[0],
            specification="A380.1",
            rules_applied=("Aluminium Alloy SCR 1(a)(i)",),
            rulebook_version=RULEBOOK_VERSION,
            decided_at=_at(date(2026, 3, 3), 18, 0),
        ),
        ProductionBatchRejected.build(
            brand=BRAND,
            cast_reference=CASTS[1],
            violations=(
                RuleViolation(
                    code="ELEMENT_OUT_OF_SPECIFICATION",
                    rule="Aluminium Alloy SCR 1(a)(i)",
                    field="chemistry.Cu",
                    observed="4 %",
                    allowed="2-3.5 % (A380.1)",
                    message="Cu at 4 % is outside A380.1's 2-3.5 %",
                ),
            ),
            rulebook_version=RULEBOOK_VERSION,
            decided_at=_at(date(2026, 3, 3), 18, 5),
        ),
    ]


def _ecoa() -> list[Contract]:
    decided_at = _at(date(2026, 3, 4), 8, 15)
    return [
        ECoACreated.build(
            ecoa_id=ECOA_ID,
            kind=ECoAKind.ENHANCED,
            brand=BRAND,
            contract=MetalContract.ALUMINIUM_ALLOY,
            specification_claimed="A380.1",
            created_by=PRODUCER_ID,
            created_by_role=PartyRole.PRODUCER,
            created_on=date(2026, 3, 4),
            casts=tuple(
                CastAnalysis(
                    cast_reference=cast,
                    production_date=PRODUCED_ON[cast],
                    chemistry=CHEMISTRY[cast],
                )
                for cast in CASTS
            ),
            includes_english=True,
        ),
        ECoAAccepted.build(
            ecoa_id=ECOA_ID,
            brand=BRAND,
            kind=ECoAKind.ENHANCED,
            cast_references=CASTS,
            rulebook_version=RULEBOOK_VERSION,
            decided_at=decided_at,
        ),
        ECoARejected.build(
            ecoa_id="ECOA-WH-RTM-2026-0031",
            brand=BRAND,
            violations=(
                RuleViolation(
                    code="ECOA_NOT_ENHANCED",
                    rule="SCR 4.2",
                    field="kind",
                    observed="basic",
                    allowed="enhanced",
                    message="Metal produced on or after the CBAM notice date needs an "
                    "Enhanced eCOA from its producer.",
                ),
            ),
            rulebook_version=RULEBOOK_VERSION,
            decided_at=decided_at,
        ),
    ]


def _cbam() -> list[Contract]:
    decided_at = _at(date(2026, 3, 9), 14, 30)
    form = _cbam_form()
    verifier = form.verifier
    assert verifier is not None
    return [
        form,
        CbamFormAccepted.build(
            form_id=FORM_ID,
            brand=BRAND,
            reporting_year=2025,
            emissions=EMISSIONS_2025,
            producer_name=form.producer_name,
            installation_id=form.installation_id,
            installation_name=form.installation_name,
            installation_country="NO",
            cn_codes=("7601",),
            verifier_name=verifier.company_name,
            accreditation_body=verifier.accreditation_body,
            level_of_assurance=form.level_of_assurance,
            carbon_prices_paid=form.carbon_prices_paid,
            permission_to_publish=True,
            reporting_period=form.reporting_period,
            rulebook_version=RULEBOOK_VERSION,
            decided_at=decided_at,
        ),
        CbamFormRejected.build(
            form_id="CBAM-NORDAL-2025-draft",
            brand=BRAND,
            reporting_year=2025,
            violations=(
                RuleViolation(
                    code="CBAM_FIELD_MISSING",
                    rule="Appendix II",
                    field="verifier.accreditation_body",
                    observed=None,
                    allowed="name of the verifier's accreditation body",
                    message="The verifier's accreditation body is a mandatory field.",
                ),
            ),
            rulebook_version=RULEBOOK_VERSION,
            decided_at=_at(date(2026, 3, 6), 10),
        ),
        EmissionsAttached.build(
            ecoa_id=ECOA_ID,
            brand=BRAND,
            reporting_year=2025,
            form_id=FORM_ID,
            emissions=EMISSIONS_2025,
            flagged_previous_year=True,
            attached_at=decided_at,
        ),
    ]


def _cbam_form() -> CbamEmissionsFormSubmitted:
    return CbamEmissionsFormSubmitted.build(
        form_id=FORM_ID,
        brand=BRAND,
        reporting_year=2025,
        producer_name="Nordal Aluminium AS",
        installation_name="Nordal Sunndal remelt and casthouse",
        installation_address="Industriveien 12, 6600 Sunndalsøra, Norway",
        installation_id=SITE_ID,
        un_locode="NO SUN",
        products=(
            CbamProduct(
                product_name="A380.1 foundry alloy ingot",
                cn_code="7601",
                aggregated_goods_category="unwrought aluminium",
                scrap_t_per_t=Decimal("0.78"),
                pre_consumer_scrap_percent=Decimal("35"),
                other_elements_percent=Decimal("14.33"),
            ),
        ),
        main_emission_source=EmissionSourceLocation(
            address="Casthouse melting furnaces, Industriveien 12, Sunndalsøra",
            latitude=Decimal("62.6751"),
            longitude=Decimal("8.5631"),
        ),
        reporting_period=ReportingPeriod(start=date(2025, 1, 1), end=date(2025, 12, 31)),
        methodology=MonitoringMethodology.CALCULATION_BASED,
        direct_embedded_emissions=EmbeddedEmissions(
            tco2e_per_t=Decimal("1.10"), basis=EmissionsBasis.ACTUAL
        ),
        indirect_embedded_emissions=EmbeddedEmissions(
            tco2e_per_t=Decimal("0.85"), basis=EmissionsBasis.ACTUAL
        ),
        emission_factor=EmissionFactor(
            tco2e_per_mwh=Decimal("0.019"), source=EmissionFactorSource.IEA
        ),
        carbon_prices_paid=(
            CarbonPricePaid(
                paid_at="Nordal Sunndal remelt and casthouse",
                instrument="EU ETS (EEA)",
                amount_per_tco2e=Decimal("72.40"),
                currency="EUR",
            ),
        ),
        verifier=Verifier(
            company_name="Fjordcert Verification AS",
            company_address="Havnegata 3, 7010 Trondheim, Norway",
            company_contact="Ingrid Solberg, verification@fjordcert.example",
            accreditation_body="Norsk akkreditering",
        ),
        level_of_assurance="limited",
        permission_to_publish=True,
        calculation_notes="Alloying elements above 5 % counted as primary unwrought "
        "aluminium; scrap inputs carry zero embedded emissions.",
    )


def _brands() -> list[Contract]:
    listed_at = _at(date(2026, 1, 5), 9)
    suspended_at = _at(date(2026, 3, 16), 0)
    reinstated_at = _at(date(2026, 3, 20), 12)
    delisted_at = _at(date(2026, 9, 1), 0)
    suspend_reason = "No CBAM emissions reporting form for 2025 by 15 March 2026 (§4.4)."
    reinstate_reason = "The 2025 CBAM emissions reporting form was accepted."
    delist_reason = "Producer ceased production at the listed installation."
    return [
        ListBrand.build(
            command_id="listing-2026-0007",
            brand=BRAND,
            producer_id=PRODUCER_ID,
            country_of_origin="Norway",
            contracts=(MetalContract.ALUMINIUM_ALLOY,),
            reason="Listing application approved by the exchange.",
            effective_at=listed_at,
        ),
        SuspendBrand.build(
            command_id="listing-2026-0031",
            brand=BRAND,
            reason=suspend_reason,
            effective_at=suspended_at,
        ),
        ReinstateBrand.build(
            command_id="listing-2026-0034",
            brand=BRAND,
            reason=reinstate_reason,
            effective_at=reinstated_at,
        ),
        DelistBrand.build(
            command_id="listing-2026-0052",
            brand=BRAND,
            reason=delist_reason,
            notice_period_days=92,
            effective_at=delisted_at,
        ),
        BrandListed.build(
            command_id="listing-2026-0007",
            brand=BRAND,
            producer_id=PRODUCER_ID,
            country_of_origin="Norway",
            contracts=(MetalContract.ALUMINIUM_ALLOY,),
            effective_at=listed_at,
        ),
        BrandSuspended.build(
            command_id="listing-2026-0031",
            brand=BRAND,
            reason=suspend_reason,
            effective_at=suspended_at,
        ),
        BrandReinstated.build(
            command_id="listing-2026-0034",
            brand=BRAND,
            reason=reinstate_reason,
            effective_at=reinstated_at,
        ),
        BrandDelisted.build(
            command_id="listing-2026-0052",
            brand=BRAND,
            reason=delist_reason,
            notice_period_days=92,
            effective_at=delisted_at,
        ),
    ]


def _bundles() -> tuple[Bundle, ...]:
    full = tuple(
        Bundle(
            bundle_id=f"B{number:02d}",
            brand=BRAND,
            cast_references=(CASTS[0] if number <= 10 else CASTS[1],),
            pieces=INGOTS_PER_BUNDLE,
            net_weight_kg=INGOT_WEIGHT_KG * INGOTS_PER_BUNDLE,
            gross_weight_kg=INGOT_WEIGHT_KG * INGOTS_PER_BUNDLE + Decimal("1.5"),
            dimensions=BUNDLE,
        )
        for number in range(1, 21)
    )
    makeweight = Bundle(
        bundle_id="B21",
        brand=BRAND,
        cast_references=(CASTS[1],),
        pieces=MAKEWEIGHT_INGOTS,
        net_weight_kg=INGOT_WEIGHT_KG * MAKEWEIGHT_INGOTS,
        gross_weight_kg=INGOT_WEIGHT_KG * MAKEWEIGHT_INGOTS + Decimal("1.5"),
        is_makeweight=True,
    )
    return (*full, makeweight)


def _lots() -> list[Contract]:
    bundles = _bundles()
    return [
        LotArrived.build(
            lot_id=LOT_ID,
            warehouse_id=WAREHOUSE_ID,
            location="Rotterdam, Waalhaven shed 4",
            brand=BRAND,
            contract=MetalContract.ALUMINIUM_ALLOY,
            shape=Shape.INGOT,
            cast_references=CASTS,
            bundles=bundles,
            total_pieces=sum(bundle.pieces for bundle in bundles),
            net_weight_kg=sum(bundle.net_weight_kg for bundle in bundles),
            piece_weight_kg=INGOT_WEIGHT_KG,
            piece_dimensions=INGOT,
            production_date=PRODUCED_ON[CASTS[0]],
            arrived_at=_at(date(2026, 3, 18), 7, 40),
            custody_claim=CustodyClaim(
                delivered_by=SITE_ID,
                material_quality="asi_aluminium",
                level=AccountingLevel.SITE,
                coc_document="COC-NORDAL-2026-0318",
            ),
        )
    ]


def _warrants() -> list[Contract]:
    requested_at = _at(date(2026, 3, 19), 9)
    decided_at = _at(date(2026, 3, 19), 9, 1)
    warrant_id = "W-AA-2026-104233"
    request_id = "REQ-RTM-2026-0981"
    return [
        RequestWarrant.build(
            request_id=request_id,
            lot_id=LOT_ID,
            brand=BRAND,
            warehouse_id=WAREHOUSE_ID,
            requested_at=requested_at,
            warrant_holder_id=WARRANT_HOLDER_ID,
        ),
        WarrantIssued.build(
            warrant_id=warrant_id,
            lot_id=LOT_ID,
            request_id=request_id,
            document=WarrantDocument(
                contract=MetalContract.ALUMINIUM_ALLOY,
                brand=BRAND,
                country_of_origin="Norway",
                shape=Shape.INGOT,
                certificates_of_analysis=(
                    CertificateOfAnalysisReference(issued_on=date(2026, 3, 4), reference=ECOA_ID),
                ),
                net_weight_kg=Decimal("20000.00"),
                bundles=21,
                pieces=2500,
                warning_clause=ALLOY_WARNING_CLAUSE,
                emissions=WarrantEmissions(
                    form_id=FORM_ID,
                    reporting_year=2025,
                    from_previous_year=True,
                    summary=EMISSIONS_2025,
                ),
            ),
            issued_at=decided_at,
            rulebook_version=RULEBOOK_VERSION,
            warrant_holder_id=WARRANT_HOLDER_ID,
        ),
        WarrantRejected.build(
            request_id="REQ-RTM-2026-0975",
            lot_id="LOT-RTM-2026-000411",
            brand=BRAND,
            violations=(
                RuleViolation(
                    code="CAST_REFERENCE_MISMATCH",
                    rule="SCR 4.5",
                    field="cast_references[1]",
                    observed="NA26-0431",
                    allowed="a cast reference on an eCOA of brand NORDAL",
                    message="The cast reference on the metal matches no eCOA of the brand.",
                ),
            ),
            rulebook_version=RULEBOOK_VERSION,
            decided_at=decided_at,
        ),
        WarrantPending.build(
            request_id="REQ-RTM-2026-0979",
            lot_id="LOT-RTM-2026-000415",
            brand=BRAND,
            missing=(
                MissingItem(
                    kind=MissingItemKind.ENHANCED_ECOA,
                    reference="NA26-0420",
                    rule="SCR 4.2",
                    message="cast NA26-0420 needs an Enhanced eCOA by its producer",
                ),
                MissingItem(
                    kind=MissingItemKind.CBAM_FORM,
                    reference="brand NORDAL year 2025",
                    rule="SCR 4.2",
                    message="brand NORDAL's CBAM form for 2025 has not been accepted yet",
                ),
            ),
            rulebook_version=RULEBOOK_VERSION,
            decided_at=decided_at,
        ),
        CancelWarrant.build(
            cancellation_id="CXL-RTM-2026-0112",
            warrant_id="W-AA-2026-103870",
            lot_id="LOT-RTM-2026-000377",
            brand=BRAND,
            warehouse_id=WAREHOUSE_ID,
            reason="Metal delivered out of the warehouse against the cancelled warrant.",
            requested_at=_at(date(2026, 3, 19), 16),
        ),
        WarrantCancelled.build(
            warrant_id="W-AA-2026-103870",
            lot_id="LOT-RTM-2026-000377",
            brand=BRAND,
            reason="Metal delivered out of the warehouse against the cancelled warrant.",
            cancelled_at=_at(date(2026, 3, 19), 16, 5),
        ),
        WarrantStateChanged.build(
            lot_id=LOT_ID,
            brand=BRAND,
            warrant_id=warrant_id,
            request_id=request_id,
            state=WarrantState.ISSUED,
            warehouse_id=WAREHOUSE_ID,
            updated_at=decided_at,
        ),
    ]


def _ledger_setup() -> list[Contract]:
    opened = date(2026, 1, 1)
    return [
        RegisterCertificate.build(
            posting_id="CERT-NORDAL-GROUP/register",
            certificate_id="ASI-COC-NORDAL-2026",
            holder_group_id="nordal-group",
            accounting_scope=AccountingScope.SITE_LEVEL,
            separate_site_quality=False,
            effective_on=opened,
        ),
        RegisterSite.build(
            posting_id=f"{SITE_ID}/register",
            site_id=SITE_ID,
            name="Nordal Sunndal smelter",
            operator_party_id=PRODUCER_ID,
            registered_on=opened,
        ),
        JoinCertificate.build(
            posting_id=f"{SITE_ID}/join",
            site_id=SITE_ID,
            certificate_id="ASI-COC-NORDAL-2026",
            effective_on=opened,
            reason="Smelter certified with the group from the start of 2026.",
        ),
        LeaveCertificate.build(
            posting_id="NO-NORDAL-MOSJOEN-02/leave",
            site_id="NO-NORDAL-MOSJOEN-02",
            certificate_id="ASI-COC-NORDAL-2026",
            effective_on=date(2026, 7, 1),
            balance_rule=LeavingBalanceRule.TAKE_WITH_SITE,
            reason="Sold to Helgeland Metals AS.",
        ),
        ClosePeriod.build(
            posting_id="close/2026-02",
            period_kind=PeriodKind.MONTH,
            period_start=date(2026, 2, 1),
            certificate_id="ASI-COC-NORDAL-2026",
        ),
    ]


def _ledger_material() -> list[Contract]:
    received = date(2026, 3, 2)
    return [
        RecordCertifiedInput.build(
            posting_id="NORDAL-IN-2026-0311",
            site_id=SITE_ID,
            holder_id=SITE_ID,
            material_quality="asi_aluminium",
            quantity_kg=Decimal("168250.00"),
            level=AccountingLevel.SITE,
            coc_document="COC-ALUNORTE-2026-0288",
            occurred_on=received,
        ),
        RecordEligibleScrapInput.build(
            posting_id="NORDAL-SCRAP-2026-0042",
            site_id=SITE_ID,
            holder_id=SITE_ID,
            material_quality="asi_aluminium",
            quantity_kg=Decimal("2400.00"),
            level=AccountingLevel.SITE,
            scrap_declaration="ESD-HYDRO-2026-0019",
            occurred_on=received,
        ),
        RecordNonCertifiedInput.build(
            posting_id="NORDAL-IN-2026-0312",
            site_id=SITE_ID,
            material_quality="aluminium_scrap",
            quantity_kg=Decimal("5100.00"),
            document="DN-2026-55102",
            occurred_on=received,
        ),
        RecordCertifiedOutput.build(
            posting_id="NORDAL-OUT-2026-0907",
            site_id=SITE_ID,
            holder_id=SITE_ID,
            material_quality="asi_aluminium",
            quantity_kg=Decimal("22000.00"),
            level=AccountingLevel.SITE,
            claim_document="INV-NORDAL-2026-0907",
            occurred_on=date(2026, 3, 9),
        ),
        RecordPhysicalTransfer.build(
            posting_id="NORDAL-TR-2026-0031",
            from_site=SITE_ID,
            to_site="NO-NORDAL-MOSJOEN-02",
            material_quality="asi_aluminium",
            quantity_kg=Decimal("12500.00"),
            level=AccountingLevel.SITE,
            transport_document="CMR-2026-11873",
            occurred_on=date(2026, 3, 10),
        ),
        RecordTransferReceipt.build(
            posting_id="MOSJOEN-RC-2026-0031",
            transport_document="CMR-2026-11873",
            from_site=SITE_ID,
            to_site="NO-NORDAL-MOSJOEN-02",
            material_quality="asi_aluminium",
            quantity_kg=Decimal("12500.00"),
            level=AccountingLevel.SITE,
            occurred_on=date(2026, 3, 11),
        ),
        AllocateToSiteLevel.build(
            posting_id="NORDAL-AL-2026-0004",
            site_id=SITE_ID,
            material_quality="asi_aluminium",
            quantity_kg=Decimal("4000.00"),
            from_level=AccountingLevel.GROUP,
            to_level=AccountingLevel.SITE,
            document="ALLOC-2026-0004",
            occurred_on=date(2026, 3, 11),
        ),
    ]


def _ledger_decisions() -> list[Contract]:
    account = CertifiedAccount(
        holder_id=SITE_ID,
        material_quality="asi_aluminium",
        level=AccountingLevel.SITE,
        certificate_id="ASI-COC-NORDAL-2026",
    )
    decided_at = _at(date(2026, 3, 18), 7, 40)
    return [
        CustodyMovementRecorded.build(
            posting_id=f"lot-arrival.{LOT_ID}",
            reason=CustodyMoveReason.LOT_ARRIVAL,
            from_holder_id=SITE_ID,
            to_holder_id=WAREHOUSE_ID,
            lot_id=LOT_ID,
            quantity_kg=Decimal("20000.00"),
            material_quality="asi_aluminium",
            level=AccountingLevel.SITE,
            coc_document="COC-NORDAL-2026-0318",
            occurred_on=date(2026, 3, 18),
        ),
        LedgerPostingAccepted.build(
            posting_id=f"lot-arrival.{LOT_ID}",
            command_type=CustodyMovementRecorded.MESSAGE_TYPE,
            accounts=(
                account,
                CertifiedAccount(
                    holder_id=WAREHOUSE_ID,
                    material_quality="asi_aluminium",
                    level=AccountingLevel.SITE,
                    certificate_id="COC-WAREHOUSE",
                ),
            ),
            decided_at=decided_at,
        ),
        LedgerPostingRejected.build(
            posting_id="NORDAL-OUT-2026-0912",
            command_type=RecordCertifiedOutput.MESSAGE_TYPE,
            violations=(
                RuleViolation(
                    code="OVERDRAW",
                    rule="CoC mass balance: no negative balance",
                    field="quantity_kg",
                    observed="200000",
                    allowed="at most 148250",
                    message="RecordCertifiedOutput NORDAL-OUT-2026-0912 takes 200000 kg from "
                    f"{SITE_ID}/asi_aluminium/S@ASI-COC-NORDAL-2026: available balance 148250 kg",
                ),
            ),
            decided_at=decided_at,
        ),
        LedgerPeriodClosed.build(
            posting_id="close/2026-02",
            period_kind=PeriodKind.MONTH,
            period_start=date(2026, 2, 1),
            period_end=date(2026, 2, 28),
            certificate_id="ASI-COC-NORDAL-2026",
            statements=(
                AccountStatement(
                    account=account,
                    opening_kg=Decimal("120000.00"),
                    in_kg=Decimal("70000.00"),
                    out_kg=Decimal("21750.00"),
                    closing_kg=Decimal("168250.00"),
                ),
            ),
            decided_at=decided_at,
        ),
        CustodyBalanceUpdated.build(
            account=account,
            posting_id=f"lot-arrival.{LOT_ID}",
            delta_kg=Decimal("-20000.00"),
            balance_kg=Decimal("148250.00"),
            occurred_on=date(2026, 3, 18),
            recorded_at=decided_at,
        ),
    ]


def _dead_letters() -> list[Contract]:
    truncated_body = b'{"lot_id": "LOT-RTM-2026-000419", "brand": "NORD'
    return [
        DeadLetterRecorded.build(
            original_value=kept_bytes(truncated_body, 32),
            original_key=kept_bytes(b"LOT-RTM-2026-000419", 4096),
            original_headers=(
                original_header("ce_type", b"custody.lot.arrived", 1024),
                original_header("trace", None, 1024),
            ),
            original_header_count=2,
            error=DeadLetterError(
                kind=DeadLetterReason.UNDECODABLE,
                message="value is not valid JSON: EOF while parsing a string at column 49",
                field=None,
            ),
            source=SourceRecord(
                topic="custody.warehouse.lots.v1",
                partition=3,
                offset=120877,
                timestamp_ms=1773819600000,
            ),
            dead_lettered_at=_at(date(2026, 3, 18), 7, 41),
        )
    ]


def _clock() -> list[Contract]:
    return [ClockTicked.build(partition=3, ticked_at=_at(date(2026, 3, 18), 7, 42))]


def _cbam_report() -> list[Contract]:
    """The holder's report of 2026 Q1: one warrant of 24 t with its form's figures."""
    warrant = ReportedWarrant(
        warrant_id="W-RTM-2026-000418",
        issued_at="2026-03-12T09:30:00+00:00",
        cancelled_at=None,
        net_mass_t="24",
        direct_tco2e_per_t="1.6",
        indirect_tco2e_per_t="2.1",
        direct_tco2e="38.4",
        indirect_tco2e="50.4",
        direct_basis="actual",
        indirect_basis="default",
        verified=True,
        figures_from="attached",
        form_id=FORM_ID,
        verifier="Nordic Verification AS",
        level_of_assurance="reasonable",
    )
    line = ReportLine(
        item_number=1,
        cn_code="7601",
        country_of_origin="NO",
        net_mass_t="24",
        direct_tco2e="38.4",
        indirect_tco2e="50.4",
        priced_tco2e="38.4",
        direct_default_mass_t="0",
        direct_actual_verified_mass_t="24",
        direct_actual_unverified_mass_t="0",
        carbon_prices_paid=[
            ReportedCarbonPrice(
                instrument="carbon tax",
                amount_per_tco2e="12.5",
                currency="EUR",
                paid_at="Anode plant",
                net_mass_t="24",
            )
        ],
        warrants=[warrant],
    )
    report = QuarterlyCbamReport(
        importer_id=WARRANT_HOLDER_ID,
        year=2026,
        quarter=1,
        reporting_period="2026Q1",
        period_starts="2026-01-01T00:00:00+00:00",
        period_ends="2026-04-01T00:00:00+00:00",
        due_by="2026-05-01T00:00:00+00:00",
        corrections_until="2026-07-01T00:00:00+00:00",
        cbam_period="definitive",
        priced_emissions=["direct"],
        default_values_version="cbam-defaults-2026.1",
        lines=[line],
        totals=ReportTotals(
            warrants=1,
            net_mass_t="24",
            direct_tco2e="38.4",
            indirect_tco2e="50.4",
            total_tco2e="88.8",
            priced_tco2e="38.4",
        ),
        registry_fields_filled=list(REGISTRY_FIELDS_FILLED),
        registry_fields_not_known=list(REGISTRY_FIELDS_NOT_KNOWN),
    )
    return [
        CbamReportFiled.build(
            filing_id="FILING-2026Q1-0001",
            importer_id=WARRANT_HOLDER_ID,
            year=2026,
            quarter=1,
            version=1,
            late=False,
            filed_at=_at(date(2026, 4, 20), 11),
            report=report,
        )
    ]


def sample_messages() -> list[Contract]:
    """One valid message of every registered type, the same on every call."""
    return [
        *_production(),
        *_ecoa(),
        *_cbam(),
        *_brands(),
        *_lots(),
        *_warrants(),
        *_ledger_setup(),
        *_ledger_material(),
        *_ledger_decisions(),
        *_dead_letters(),
        *_clock(),
        *_cbam_report(),
    ]
