"""eCOA acceptance, SCR 4.1-4.7: a passing and a failing case for every rule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from contracts.ecoa import ECoACreated, ECoAKind
from contracts.values import (
    CastAnalysis,
    ElementLevel,
    MetalContract,
    PaperCoaReference,
    PartyRole,
)
from gateway.rulebook.ecoa import decide_ecoa
from gateway.rulebook.model import load_rulebook
from gateway.rulebook.state import (
    BrandRecord,
    BrandState,
    BrandStatus,
    CertifiedCast,
    RecordedCast,
)

RULEBOOK = load_rulebook()  # notice date 2025-01-01
PRODUCER = "smelter-nordal"
# fmt: off
A380_CHEMISTRY = {
    "Cu": "3.0", "Si": "9.0", "Mg": "0.3", "Zn": "1.0", "Fe": "0.8",
    "Mn": "0.2", "Ni": "0.1", "Sn": "0.05", "Ti": "0.1", "Pb": "0.1",
}
NA380_CHEMISTRY = {
    "Cu": "3.2", "Si": "9.0", "Fe": "0.9", "Mg": "0.05", "Zn": "1.0", "Mn": "0.2",
    "Ni": "0.1", "Sn": "0.05", "Pb": "0.05", "Ti": "0.05", "Cr": "0.05",
}
# fmt: on
P1020A_CHEMISTRY = {"Si": "0.05", "Fe": "0.12", "Zn": "0.01", "Ga": "0.01", "V": "0.01"}


def chemistry(levels: dict[str, str]) -> tuple[ElementLevel, ...]:
    return tuple(ElementLevel(element=e, detected_percent=Decimal(v)) for e, v in levels.items())


def cast(
    reference: str = "C26-0001",
    produced: date | None = date(2026, 2, 10),
    levels: dict[str, str] = A380_CHEMISTRY,
    filtered: bool | None = None,
) -> CastAnalysis:
    return CastAnalysis(
        cast_reference=reference,
        production_date=produced,
        chemistry=chemistry(levels),
        production_filtered=filtered,
    )


PAPER = PaperCoaReference(
    reference="PCOA-2019-117",
    issued_on=date(2019, 5, 2),
    issuer="Nordal Smelter AS",
    document_sha256="ab" * 32,
)


def enhanced(**changes: Any) -> ECoACreated:
    fields: dict[str, Any] = {
        "ecoa_id": "ECOA-1",
        "kind": ECoAKind.ENHANCED,
        "brand": "NORDAL",
        "contract": MetalContract.ALUMINIUM_ALLOY,
        "specification_claimed": "A380.1",
        "created_by": PRODUCER,
        "created_by_role": PartyRole.PRODUCER,
        "created_on": date(2026, 2, 11),
        "casts": (cast(),),
        "paper_coa": None,
        "lot_id": None,
        "includes_english": True,
    }
    return ECoACreated.build(**{**fields, **changes})


def basic(**changes: Any) -> ECoACreated:
    defaults: dict[str, Any] = {
        "kind": ECoAKind.BASIC,
        "created_by": "member-northsea",
        "created_by_role": PartyRole.MEMBER,
        "casts": (cast(produced=date(2019, 4, 30)),),
        "paper_coa": PAPER,
    }
    return enhanced(**{**defaults, **changes})


def brand(**changes: Any) -> BrandState:
    record = BrandRecord(
        brand="NORDAL",
        producer_id=PRODUCER,
        country_of_origin="Norway",
        contracts=(MetalContract.ALUMINIUM_ALLOY, MetalContract.NASAAC),
        status=BrandStatus.LISTED,
    )
    return BrandState(**{"brand": "NORDAL", "record": record, **changes})


def certified(reference: str, kind: ECoAKind) -> dict[str, tuple[CertifiedCast, ...]]:
    return {
        reference: (
            CertifiedCast(
                ecoa_id="ECOA-0",
                kind=kind,
                cast_reference=reference,
                production_date=date(2019, 4, 30),
                specification="A380.1",
                created_on=date(2019, 5, 2),
                chemistry=None,
                production_filtered=None,
            ),
        )
    }


RECORDED = {
    "C26-0001": RecordedCast(
        cast_reference="C26-0001",
        production_date=date(2026, 2, 10),
        contract=MetalContract.ALUMINIUM_ALLOY,
        specification="A380.1",
        production_filtered=None,
        chemistry=None,
    )
}

# fmt: off
CASES: list[tuple[str, ECoACreated, BrandState, dict[str, tuple[str, str]]]] = [
    # (case, eCOA, brand state, {code: (rule, field)})
    ("enhanced by the producer after the notice date", enhanced(), brand(), {}),
    ("basic by a member for pre-notice metal", basic(), brand(), {}),
    ("basic by the producer for pre-notice metal", basic(created_by=PRODUCER,
        created_by_role=PartyRole.PRODUCER), brand(), {}),
    ("basic by a warehouse for its lot of unknown date (SCR 4.3)",
     basic(created_by="wh-7", created_by_role=PartyRole.WAREHOUSE, lot_id="LOT-9",
           casts=(cast(produced=None),)), brand(), {}),
    ("basic of unknown date before the notice date, by a member",
     basic(created_on=date(2024, 6, 1), casts=(cast(produced=None),)), brand(), {}),
    ("NASAAC with filtered production", enhanced(contract=MetalContract.NASAAC,
        specification_claimed="NA380.1", casts=(cast(levels=NA380_CHEMISTRY, filtered=True),)),
     brand(), {}),
    ("recorded cast, identical reference and date", enhanced(), brand(casts=RECORDED), {}),
    # -- failures ---------------------------------------------------------------------------
    ("brand not listed", enhanced(), BrandState(brand="NORDAL"),
     {"BRAND_NOT_LISTED": ("Aluminium Alloy SCR 1(c)", "brand"),
      "ENHANCED_NOT_BY_PRODUCER": ("SCR 4.6", "created_by")}),
    ("brand not listed for the contract", enhanced(contract=MetalContract.HIGH_GRADE_PRIMARY,
        specification_claimed="P1020A", casts=(cast(levels=P1020A_CHEMISTRY),)), brand(),
     {"BRAND_NOT_LISTED_FOR_CONTRACT": ("High Grade Primary Aluminium SCR 1(c)", "contract")}),
    ("specification of another contract", enhanced(specification_claimed="NA380.1"), brand(),
     {"SPECIFICATION_NOT_OF_CONTRACT": ("Aluminium Alloy SCR 1(a)", "specification_claimed")}),
    ("specification without configured limits", enhanced(specification_claimed="LME 226"),
     brand(), {"SPECIFICATION_NOT_CONFIGURED": ("SCR 1(a)(ii)", "casts[0].chemistry")}),
    ("chemistry outside the specification", enhanced(casts=(cast(levels={**A380_CHEMISTRY,
        "Cu": "3.6"}),)), brand(),
     {"ELEMENT_OUT_OF_SPECIFICATION": ("Aluminium Alloy SCR 1(a)(i)", "casts[0].chemistry.Cu")}),
    ("an element of the specification not shown", enhanced(casts=(cast(levels={
        k: v for k, v in A380_CHEMISTRY.items() if k != "Pb"}),)), brand(),
     {"ELEMENT_NOT_REPORTED": ("SCR 4.5", "casts[0].chemistry.Pb")}),
    ("NASAAC without filtration", enhanced(contract=MetalContract.NASAAC,
        specification_claimed="NA380.1", casts=(cast(levels=NA380_CHEMISTRY),)), brand(),
     {"PRODUCTION_NOT_FILTERED": ("NASAAC SCR 1(a)", "casts[0].production_filtered")}),
    ("the same cast twice", enhanced(casts=(cast(), cast())), brand(),
     {"DUPLICATE_CAST_REFERENCE": ("SCR 4.5", "casts[1].cast_reference")}),
    ("a cast reference that is nearly the recorded one", enhanced(casts=(
        cast(reference="c26 0001"),)), brand(casts=RECORDED),
     {"CAST_REFERENCE_NOT_IDENTICAL": ("SCR 4.5", "casts[0].cast_reference")}),
    ("another production date than recorded", enhanced(casts=(
        cast(produced=date(2026, 2, 9)),)), brand(casts=RECORDED),
     {"CAST_PRODUCTION_DATE_MISMATCH": ("SCR 4.5", "casts[0].production_date")}),
    ("enhanced by a warehouse", enhanced(created_by="wh-7",
        created_by_role=PartyRole.WAREHOUSE), brand(),
     {"ENHANCED_NOT_BY_PRODUCER": ("SCR 4.6", "created_by")}),
    ("enhanced by another brand's producer", enhanced(created_by="smelter-other"), brand(),
     {"ENHANCED_NOT_BY_PRODUCER": ("SCR 4.6", "created_by")}),
    ("basic by the producer for post-notice metal", basic(created_by=PRODUCER,
        created_by_role=PartyRole.PRODUCER, casts=(cast(),)), brand(),
     {"PRODUCER_ECOA_MUST_BE_ENHANCED": ("SCR 4.6", "kind")}),
    ("basic by a member for post-notice metal", basic(casts=(cast(),)), brand(),
     {"BASIC_FOR_METAL_PRODUCED_AFTER_NOTICE": ("SCR 4.2", "casts[0].production_date")}),
    ("basic by the exchange", basic(created_by="exchange", created_by_role=PartyRole.EXCHANGE),
     brand(), {"BASIC_CREATOR_NOT_PERMITTED": ("SCR 4.4", "created_by_role")}),
    ("basic by another producer", basic(created_by="smelter-other",
        created_by_role=PartyRole.PRODUCER), brand(),
     {"BASIC_CREATOR_NOT_PERMITTED": ("SCR 4.4(c)", "created_by")}),
    ("basic where the producer made an enhanced one", basic(casts=(cast(reference="C19-7",
        produced=date(2019, 4, 30)),)), brand(certified=certified("C19-7", ECoAKind.ENHANCED)),
     {"BASIC_WHERE_ENHANCED_EXISTS": ("SCR 4.4", "casts[0].cast_reference")}),
    ("unknown production date after the notice date, by a member", basic(
        casts=(cast(produced=None),)), brand(),
     {"UNKNOWN_PRODUCTION_DATE_NOT_BY_WAREHOUSE": ("SCR 4.3", "casts[0].production_date")}),
    ("unknown production date, warehouse without the lot", basic(created_by="wh-7",
        created_by_role=PartyRole.WAREHOUSE, casts=(cast(produced=None),)), brand(),
     {"UNKNOWN_PRODUCTION_DATE_NOT_BY_WAREHOUSE": ("SCR 4.3", "casts[0].production_date")}),
    ("unknown production date, the lot already has an eCOA", basic(created_by="wh-7",
        created_by_role=PartyRole.WAREHOUSE, lot_id="LOT-9", casts=(cast(reference="C19-7",
        produced=None),)), brand(certified=certified("C19-7", ECoAKind.BASIC)),
     {"BASIC_WHERE_ECOA_EXISTS": ("SCR 4.3", "casts[0].cast_reference")}),
    ("basic without the paper COA", basic(paper_coa=None), brand(),
     {"PAPER_COA_MISSING": ("SCR 4.7(a)", "paper_coa")}),
    ("basic with an incomplete paper COA", basic(paper_coa=PaperCoaReference(
        reference="PCOA-1")), brand(),
     {"PAPER_COA_INCOMPLETE": ("SCR 4.7(a)", "paper_coa.issued_on")}),
    ("documentation without English", enhanced(includes_english=False), brand(),
     {"DOCUMENTATION_NOT_IN_ENGLISH": ("Aluminium Alloy SCR 5.9", "includes_english")}),
    ("pre-2010 grade claimed today", enhanced(contract=MetalContract.HIGH_GRADE_PRIMARY,
        specification_claimed="HG-PRE-2010", casts=(cast(levels=P1020A_CHEMISTRY),)),
     brand(record=BrandRecord("NORDAL", PRODUCER, "Norway",
           (MetalContract.HIGH_GRADE_PRIMARY,), BrandStatus.LISTED)),
     {"SPECIFICATION_NO_LONGER_APPLIES": ("High Grade Primary Aluminium SCR 1(a)(iii)",
                                          "specification_claimed")}),
]
# fmt: on


@pytest.mark.parametrize(("case", "ecoa", "state", "expected"), CASES, ids=[c[0] for c in CASES])
def test_ecoa_rule(
    case: str, ecoa: ECoACreated, state: BrandState, expected: dict[str, tuple[str, str]]
) -> None:
    decision = decide_ecoa(ecoa, state, RULEBOOK)
    found = {v.code: (v.rule, v.field) for v in decision.violations}
    assert set(found) == set(expected), case
    for code, (rule, field) in expected.items():
        assert found[code][0] == rule, code
        if code != "PAPER_COA_INCOMPLETE":
            assert found[code][1] == field, code
    assert decision.accepted == (not expected)
    assert bool(decision.certified) == (not expected)


def test_an_incomplete_paper_coa_names_every_missing_field() -> None:
    decision = decide_ecoa(basic(paper_coa=PaperCoaReference(reference="P-1")), brand(), RULEBOOK)
    assert [v.field for v in decision.violations] == [
        "paper_coa.issued_on",
        "paper_coa.issuer",
        "paper_coa.document_sha256",
    ]


def test_every_failed_rule_is_listed_not_only_the_first() -> None:
    messy = basic(
        created_by="exchange",
        created_by_role=PartyRole.EXCHANGE,
        casts=(cast(levels={**A380_CHEMISTRY, "Si": "12"}), cast()),
        paper_coa=None,
        includes_english=False,
    )
    codes = [v.code for v in decide_ecoa(messy, brand(), RULEBOOK).violations]
    assert sorted(codes) == sorted(
        [
            "DUPLICATE_CAST_REFERENCE",
            "BASIC_CREATOR_NOT_PERMITTED",
            "BASIC_FOR_METAL_PRODUCED_AFTER_NOTICE",
            "BASIC_FOR_METAL_PRODUCED_AFTER_NOTICE",
            "PAPER_COA_MISSING",
            "DOCUMENTATION_NOT_IN_ENGLISH",
            "ELEMENT_OUT_OF_SPECIFICATION",
        ]
    )


def test_the_notice_date_is_configuration() -> None:
    later = load_rulebook(cbam_notice_date=date(2027, 1, 1))
    member_basic_2026 = basic(casts=(cast(),))
    assert not decide_ecoa(member_basic_2026, brand(), RULEBOOK).accepted
    assert decide_ecoa(member_basic_2026, brand(), later).accepted


def test_an_accepted_ecoa_certifies_its_casts() -> None:
    decision = decide_ecoa(enhanced(casts=(cast("A"), cast("B"))), brand(), RULEBOOK)
    assert [(c.cast_reference, c.kind, c.ecoa_id) for c in decision.certified] == [
        ("A", ECoAKind.ENHANCED, "ECOA-1"),
        ("B", ECoAKind.ENHANCED, "ECOA-1"),
    ]


def test_the_same_inputs_give_the_same_decision() -> None:
    assert decide_ecoa(basic(paper_coa=None), brand(), RULEBOOK) == decide_ecoa(
        basic(paper_coa=None), brand(), RULEBOOK
    )
