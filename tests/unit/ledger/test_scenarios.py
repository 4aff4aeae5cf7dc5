"""The CoC notes' site-level mass-balance scenarios as tables: a sequence of postings, each
with the balance updates it makes (account, delta, balance after) or the rejection it gets.

Every rule passes in one row and fails in another; each table is run step by step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest

from gateway.ledger import (
    Accepted,
    BalanceUpdate,
    Command,
    LedgerState,
    Level,
    Period,
    Rejected,
    close_period,
    post,
)
from gateway.violations import Violation
from tests.unit.ledger.builders import (
    CLOSE,
    GROUP_LEVEL,
    SITE_LEVEL,
    TAKE,
    G,
    S,
    allocated,
    arrived,
    balances_by_text,
    certificate,
    day,
    described,
    join,
    kg,
    leave,
    moved,
    received,
    scrap,
    shipped,
    site,
    sold,
    uncertified,
)


@dataclass(frozen=True)
class Books:
    """Accepted, with exactly these updates; ``balances`` checks other accounts too."""

    updates: tuple[str, ...]
    balances: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejects:
    """Rejected with this code, the message containing ``says``; nothing else changes."""

    code: str
    says: str


@dataclass(frozen=True)
class Closes:
    period: Period


Expectation = Books | Rejects | None
Row = tuple[str, Command | Closes, Expectation]


def books(*updates: str, holding: dict[str, str] | None = None) -> Books:
    return Books(updates, holding or {})


def rejects(code: str, says: str = "") -> Rejects:
    return Rejects(code, says)


def closes(period: Period) -> Closes:
    return Closes(period)


# fmt: off
SCENARIO_1: Sequence[Row] = [
    # Site-level certification: each site is its own certified entity (one site each).
    ("ALPHA's certificate, site level", certificate("1-01", "C-ALPHA", "ALPHA", SITE_LEVEL),
     books()),
    ("BETA's certificate, site level", certificate("1-02", "C-BETA", "BETA", SITE_LEVEL), books()),
    ("site ALPHA-1", site("1-03", "ALPHA-1"), books()),
    ("site BETA-1", site("1-04", "BETA-1"), books()),
    ("a site id is unique", site("1-05", "ALPHA-1"), rejects("SITE_EXISTS", "already registered")),
    ("ALPHA-1 joins C-ALPHA", join("1-06", "ALPHA-1", "C-ALPHA"), books()),
    ("BETA-1 joins C-BETA", join("1-07", "BETA-1", "C-BETA"), books()),
    ("certified input creates S credits", received("1-08", "ALPHA-1", 1000),
     books("ALPHA-1/asi_aluminium/S +1000 = 1000")),
    ("a site-level certificate takes no G posting",
     received("1-09", "ALPHA-1", 10, level=G, holder="ALPHA"),
     rejects("LEVEL_OUTSIDE_SCOPE", "takes postings at S level; this one says G")),
    ("an unknown site is rejected", received("1-10", "GAMMA-9", 10),
     rejects("UNKNOWN_SITE", "GAMMA-9 is not registered")),
    ("an unknown holder is rejected", received("1-11", "ALPHA-1", 10, holder="NOBODY"),
     rejects("UNKNOWN_HOLDER", "NOBODY is neither a registered site")),
    ("certified output consumes credits", sold("1-12", "ALPHA-1", 400),
     books("ALPHA-1/asi_aluminium/S -400 = 600")),
    ("an output that would overdraw is rejected, naming the balance", sold("1-13", "ALPHA-1", 700),
     rejects("OVERDRAW", "from ALPHA-1/asi_aluminium/S@C-ALPHA: available balance 600 kg")),
    ("BETA-1 cannot sell against ALPHA-1's credits", sold("1-14", "BETA-1", 100, holder="ALPHA-1"),
     rejects("CREDITS_ACROSS_SITES", "only with a physical transfer")),
    ("no physical transfer between two certified entities",
     shipped("1-15", "ALPHA-1", "BETA-1", 200),
     rejects("TRANSFER_ACROSS_CERTIFICATES",
             "book a certified output at ALPHA-1 and a certified input at BETA-1")),
    ("ALPHA-1 sells 200 kg to BETA-1", sold("1-16", "ALPHA-1", 200),
     books("ALPHA-1/asi_aluminium/S -200 = 400")),
    ("BETA-1 receives it with the CoC document", received("1-17", "BETA-1", 200),
     books("BETA-1/asi_aluminium/S +200 = 200")),
    ("eligible scrap counts as certified input", scrap("1-18", "BETA-1", 50),
     books("BETA-1/asi_aluminium/S +50 = 250")),
    ("non-certified input is recorded and creates no credits", uncertified("1-19", "BETA-1", 300),
     books(holding={"BETA-1/asi_aluminium/S": "250"})),
    ("so BETA-1 cannot sell 300 kg as certified", sold("1-20", "BETA-1", 300),
     rejects("OVERDRAW", "available balance 250 kg")),
    ("a posting moves a positive quantity", sold("1-21", "BETA-1", 0),
     rejects("NON_POSITIVE_QUANTITY", "not 0 kg")),
    ("the same posting again changes nothing", received("1-08", "ALPHA-1", 1000), books()),
    ("a used posting id with new content is rejected", received("1-08", "ALPHA-1", 999),
     rejects("POSTING_ID_REUSED", "already used for another CertifiedInput")),
    ("a rejected posting again gets the same rejection", sold("1-13", "ALPHA-1", 700),
     rejects("OVERDRAW", "available balance 600 kg")),
    ("March is closed", closes(Period.month(2026, 3)), None),
    ("a posting dated in a closed period is rejected", received("1-22", "ALPHA-1", 100, on=20),
     rejects("PERIOD_CLOSED", "dated 2026-03-20 falls in closed month 2026-03")),
    ("April is open", received("1-23", "ALPHA-1", 100, on=day(1, month=4)),
     books("ALPHA-1/asi_aluminium/S +100 = 500")),
]

SCENARIO_2: Sequence[Row] = [
    # Group certification; the nominated sites run their own accounts as sub-entities.
    ("NORDGROUP's certificate, site level", certificate("2-01", "C-NORD", "NORDGROUP", SITE_LEVEL),
     books()),
    ("site N1", site("2-02", "N1"), books()),
    ("site N2", site("2-03", "N2"), books()),
    ("site N3", site("2-04", "N3"), books()),
    ("N1 joins", join("2-05", "N1", "C-NORD"), books()),
    ("N2 joins", join("2-06", "N2", "C-NORD"), books()),
    ("N3 joins", join("2-07", "N3", "C-NORD"), books()),
    ("joining an unknown certificate is rejected", join("2-08", "N1", "C-NOPE"),
     rejects("UNKNOWN_CERTIFICATE", "C-NOPE is not registered")),
    ("a member cannot join a second certificate", join("2-09", "N1", "C-NORD"),
     rejects("ALREADY_MEMBER", "must leave it before joining another")),
    ("N1 receives certified input", received("2-10", "N1", 1000),
     books("N1/asi_aluminium/S +1000 = 1000")),
    ("N2 cannot sell against N1's credits", sold("2-11", "N2", 100, holder="N1"),
     rejects("CREDITS_ACROSS_SITES", "site N2 cannot book against the credits of site N1")),
    ("nor against the group's: the group keeps no account",
     sold("2-12", "N2", 100, holder="NORDGROUP"),
     rejects("WRONG_HOLDER", "S-level postings at site N2 book to N2, not NORDGROUP")),
    ("nor at G level", sold("2-13", "N2", 100, level=G, holder="NORDGROUP"),
     rejects("LEVEL_OUTSIDE_SCOPE", "this one says G")),
    ("credits move with a physical transfer: dispatched", shipped("2-14", "N1", "N2", 300),
     books("N1/asi_aluminium/S -300 = 700")),
    ("and received", arrived("2-14r", shipped("2-14", "N1", "N2", 300)),
     books("N2/asi_aluminium/S +300 = 300")),
    ("a transfer cannot overdraw the sender", shipped("2-15", "N1", "N2", 800),
     rejects("OVERDRAW", "takes 800 kg from N1/asi_aluminium/S@C-NORD: available balance 700 kg")),
    ("a transfer goes to another site", shipped("2-16", "N1", "N1", 10),
     rejects("SAME_ENDPOINTS", "not from N1 to itself")),
    ("N2 sells what it received", sold("2-17", "N2", 300), books("N2/asi_aluminium/S -300 = 0")),
    ("N3 receives certified input", received("2-18", "N3", 50, on=5),
     books("N3/asi_aluminium/S +50 = 50")),
    ("a leave before the site's last posting is rejected", leave("2-19", "N3", "C-NORD", 5, CLOSE),
     rejects("MEMBERSHIP_ORDER", "has postings dated up to 2026-03-05")),
    ("N1 is sold and takes its balance along", leave("2-20", "N1", "C-NORD", 10, TAKE),
     books(holding={"N1/asi_aluminium/S": "700"})),
    ("N1 belongs to no certificate now", sold("2-21", "N1", 100, on=11),
     rejects("SITE_NOT_CERTIFIED", "N1 belongs to no certificate on 2026-03-11")),
    ("a back-dated posting behind the leave is rejected", received("2-22", "N1", 5, on=9),
     rejects("MEMBERSHIP_ORDER", "changed membership on 2026-03-10")),
    ("N3 leaves and its balance is closed", leave("2-23", "N3", "C-NORD", 10, CLOSE),
     books("N3/asi_aluminium/S -50 = 0")),
    ("N3 cannot leave twice", leave("2-24", "N3", "C-NORD", 11, CLOSE),
     rejects("NOT_A_MEMBER", "N3 is not under certificate C-NORD")),
    ("N1 becomes its own certified entity (scenario 1)",
     certificate("2-25", "C-N1", "N1-ENTITY", SITE_LEVEL), books()),
    ("a join cannot be back-dated before the leave", join("2-26", "N1", "C-N1", on=9),
     rejects("MEMBERSHIP_ORDER", "left certificate C-NORD effective 2026-03-10")),
    ("N1 joins its own certificate, its balance moving to C-N1's accounts",
     join("2-27", "N1", "C-N1", on=10),
     books("N1/asi_aluminium/S -700 = 0", "N1/asi_aluminium/S +700 = 700")),
    ("and uses the balance it took along", sold("2-28", "N1", 100, on=12),
     books("N1/asi_aluminium/S -100 = 600")),
    ("a group-level certificate", certificate("2-29", "C-GL", "GLGROUP", GROUP_LEVEL), books()),
    ("N1 leaves, taking 600 kg", leave("2-30", "N1", "C-N1", 15, TAKE), books()),
    ("a group-level certificate cannot take over a site balance", join("2-31", "N1", "C-GL", on=15),
     rejects("CARRIED_BALANCE_NOT_ACCOUNTED", "carries 600 kg on N1/asi_aluminium/S")),
    ("N3, whose balance was closed, joins it", join("2-32", "N3", "C-GL", on=15), books()),
]

SCENARIO_3: Sequence[Row] = [
    # Group certification; the nominated sites' material is a separate quality, never back
    # to group (seed 000 lines 70-72: "Certification is at the group-level").
    ("a separate site quality is not for site-level certification",
     certificate("3-01", "C-BAD", "SUDGROUP", SITE_LEVEL, separate=True),
     rejects("SEPARATE_QUALITY_NEEDS_GROUP_LEVEL", "sits under group-level certification")),
    ("SUDGROUP's group certificate, separate site quality",
     certificate("3-02", "C-SUD", "SUDGROUP", GROUP_LEVEL, separate=True), books()),
    ("site P", site("3-03", "P"), books()),
    ("site Q", site("3-04", "Q"), books()),
    ("P joins, nominated", join("3-05", "P", "C-SUD", nominated=True), books()),
    ("Q joins, nominated", join("3-06", "Q", "C-SUD", nominated=True), books()),
    ("site U", site("3-31", "U"), books()),
    ("U joins, not nominated", join("3-32", "U", "C-SUD"), books()),
    ("U runs no site accounts", received("3-33", "U", 10),
     rejects("SITE_NOT_NOMINATED", "site U is not nominated for site-level accounting")),
    ("nor can group credits be allocated to it", allocated("3-34", "U", 10),
     rejects("SITE_NOT_NOMINATED", "only nominated sites keep S accounts")),
    ("U posts at G", received("3-35", "U", 10, level=G, holder="SUDGROUP"),
     books("SUDGROUP/asi_aluminium/G +10 = 10")),
    ("and sells at G", sold("3-36", "U", 10, level=G, holder="SUDGROUP"),
     books("SUDGROUP/asi_aluminium/G -10 = 0")),
    ("group material received at P (G)", received("3-07", "P", 1000, level=G, holder="SUDGROUP"),
     books("SUDGROUP/asi_aluminium/G +1000 = 1000")),
    ("site material received at Q (S) is the site quality", received("3-08", "Q", 100),
     books("Q/asi_aluminium/site/S +100 = 100")),
    ("a site may use group material directly (G)",
     sold("3-09", "Q", 200, level=G, holder="SUDGROUP"),
     books("SUDGROUP/asi_aluminium/G -200 = 800")),
    ("a G posting books to the group, not the site", received("3-10", "P", 10, level=G, holder="P"),
     rejects("WRONG_HOLDER", "G-level postings at site P book to SUDGROUP, not P")),
    ("group credits converted into Q's site quality", allocated("3-11", "Q", 300),
     books("SUDGROUP/asi_aluminium/G -300 = 500", "Q/asi_aluminium/site/S +300 = 400")),
    ("site quality never flows back to group",
     allocated("3-12", "Q", 100, from_level=S, to_level=G),
     rejects("SITE_MATERIAL_TO_GROUP", "never flows back to group (G) level")),
    ("site quality never appears in a G account",
     received("3-13", "P", 10, level=G, holder="SUDGROUP", quality="asi_aluminium/site"),
     rejects("SITE_MATERIAL_TO_GROUP", "asi_aluminium/site is site-level material")),
    ("an allocation only goes G -> S", allocated("3-14", "Q", 100, from_level=G, to_level=G),
     rejects("ALLOCATION_LEVELS", "not G->G")),
    ("an allocation cannot overdraw the group", allocated("3-15", "Q", 600),
     rejects("OVERDRAW", "SUDGROUP/asi_aluminium/G@C-SUD: available balance 500 kg")),
    ("an S output draws on the site quality only, never on G", sold("3-16", "Q", 450),
     rejects("OVERDRAW", "Q/asi_aluminium/site/S@C-SUD: available balance 400 kg")),
    ("Q sells site-level material", sold("3-17", "Q", 150),
     books("Q/asi_aluminium/site/S -150 = 250")),
    ("site quality moves between sites with a physical transfer", shipped("3-18", "Q", "P", 100),
     books("Q/asi_aluminium/site/S -100 = 150")),
    ("received at P", arrived("3-18r", shipped("3-18", "Q", "P", 100)),
     books("P/asi_aluminium/site/S +100 = 100")),
    ("and not by booking against another site", sold("3-19", "P", 10, holder="Q"),
     rejects("CREDITS_ACROSS_SITES", "site P cannot book against the credits of site Q")),
    ("group material moves physically, its credits stay with the group",
     shipped("3-20", "P", "Q", 500, level=G),
     books(holding={"SUDGROUP/asi_aluminium/G": "500"})),
    ("a site-level certificate", certificate("3-21", "C-TWO", "TWOGROUP", SITE_LEVEL), books()),
    ("site R", site("3-22", "R"), books()),
    ("R joins it", join("3-23", "R", "C-TWO"), books()),
    ("allocations exist in scenario 3 only", allocated("3-24", "R", 10),
     rejects("ALLOCATION_OUTSIDE_SCENARIO_3", "keeps no separate site quality")),
    ("Q leaves taking its site quality; the group keeps G", leave("3-25", "Q", "C-SUD", 10, TAKE),
     books(holding={"Q/asi_aluminium/site/S": "150", "SUDGROUP/asi_aluminium/G": "500"})),
    ("P leaves and its site quality is closed; the group keeps G",
     leave("3-26", "P", "C-SUD", 10, CLOSE),
     books("P/asi_aluminium/site/S -100 = 0", holding={"SUDGROUP/asi_aluminium/G": "500"})),
    ("Q may take its site quality into a site-level certificate", join("3-27", "Q", "C-TWO", on=10),
     books("Q/asi_aluminium/site/S -150 = 0", "Q/asi_aluminium/site/S +150 = 150")),
    ("and sell it there", sold("3-28", "Q", 50, quality="asi_aluminium/site", on=11),
     books("Q/asi_aluminium/site/S -50 = 100")),
]

GROUP_LEVEL_DEFAULT: Sequence[Row] = [
    # The default group-level mass balance, with the custody moves registry events imply.
    ("METALCO's certificate, group level", certificate("G-01", "C-METAL", "METALCO", GROUP_LEVEL),
     books()),
    ("a warehouse company's certificate", certificate("G-02", "C-WH", "WAREHOUSE-CO", GROUP_LEVEL),
     books()),
    ("site M1", site("G-03", "M1"), books()),
    ("site M2", site("G-04", "M2"), books()),
    ("site WH-1", site("G-05", "WH-1"), books()),
    ("M1 joins", join("G-06", "M1", "C-METAL"), books()),
    ("M2 joins", join("G-07", "M2", "C-METAL"), books()),
    ("WH-1 joins", join("G-08", "WH-1", "C-WH"), books()),
    ("input at M1 credits the group (G)", received("G-09", "M1", 500, level=G, holder="METALCO"),
     books("METALCO/asi_aluminium/G +500 = 500")),
    ("a site not nominated takes no S posting", received("G-10", "M1", 10),
     rejects("SITE_NOT_NOMINATED", "it posts at G level, into the group's accounts")),
    ("G postings book to the group", received("G-11", "M1", 10, level=G, holder="M1"),
     rejects("WRONG_HOLDER", "book to METALCO, not M1")),
    ("the group's credits serve every site", sold("G-12", "M2", 200, level=G, holder="METALCO"),
     books("METALCO/asi_aluminium/G -200 = 300")),
    ("a transfer moves material, not credits", shipped("G-13", "M1", "M2", 100, level=G),
     books(holding={"METALCO/asi_aluminium/G": "300"})),
    ("a lot arrives at the warehouse", moved("G-14", "METALCO", "WAREHOUSE-CO", 250),
     books("METALCO/asi_aluminium/G -250 = 50", "WAREHOUSE-CO/asi_aluminium/G +250 = 250")),
    ("a move cannot overdraw its source", moved("G-15", "WAREHOUSE-CO", "METALCO", 300),
     rejects("OVERDRAW", "WAREHOUSE-CO/asi_aluminium/G@C-WH: available balance 250 kg")),
    ("a move to an unknown holder is rejected", moved("G-16", "WAREHOUSE-CO", "NOBODY", 10),
     rejects("UNKNOWN_HOLDER", "NOBODY is neither")),
    ("inside one certificate it is a physical transfer", moved("G-17", "M1", "M2", 10),
     rejects("USE_PHYSICAL_TRANSFER", "are under certificate C-METAL")),
    ("M1 leaves taking nothing: the credits are the group's",
     leave("G-18", "M1", "C-METAL", 10, TAKE),
     books(holding={"METALCO/asi_aluminium/G": "50"})),
    ("M2 leaves with CLOSE: nothing of its own to close", leave("G-19", "M2", "C-METAL", 10, CLOSE),
     books(holding={"METALCO/asi_aluminium/G": "50"})),
    ("a late G input at M1 dated before its leave books by that day's membership",
     received("G-20", "M1", 40, level=G, holder="METALCO", on=9),
     books("METALCO/asi_aluminium/G +40 = 90")),
    ("one dated on its leaving day finds M1 under no certificate",
     received("G-21", "M1", 40, level=G, holder="METALCO", on=10),
     rejects("SITE_NOT_CERTIFIED", "M1 belongs to no certificate on 2026-03-10")),
]
# fmt: on

SCENARIO_2_NOMINATED: Sequence[Row] = [
    # Group certification; only the nominated sites run their own accounts (seed 000 line 66).
    ("NGROUP's group certificate", certificate("N-01", "C-NG", "NGROUP", GROUP_LEVEL), books()),
    ("site A", site("N-02", "A"), books()),
    ("site B", site("N-03", "B"), books()),
    ("site C", site("N-04", "C"), books()),
    ("A joins, nominated", join("N-05", "A", "C-NG", nominated=True), books()),
    ("B joins, nominated", join("N-06", "B", "C-NG", nominated=True), books()),
    ("C joins, not nominated", join("N-07", "C", "C-NG"), books()),
    (
        "a nominated site keeps its own S account",
        received("N-08", "A", 500),
        books("A/asi_aluminium/S +500 = 500"),
    ),
    (
        "and does not draw on the group's",
        sold("N-09", "A", 10, level=G, holder="NGROUP"),
        rejects("LEVEL_OUTSIDE_SCOPE", "takes postings at S level from nominated sites"),
    ),
    (
        "a site not nominated runs no S account",
        received("N-10", "C", 200),
        rejects("SITE_NOT_NOMINATED", "site C is not nominated"),
    ),
    (
        "it posts into the group's account",
        received("N-11", "C", 200, level=G, holder="NGROUP"),
        books("NGROUP/asi_aluminium/G +200 = 200"),
    ),
    (
        "credits move between nominated sites with the material",
        shipped("N-12", "A", "B", 100),
        books("A/asi_aluminium/S -100 = 400"),
    ),
    (
        "on its receipt",
        arrived("N-12r", shipped("N-12", "A", "B", 100)),
        books("B/asi_aluminium/S +100 = 100"),
    ),
    (
        "not into a site that keeps no S account",
        shipped("N-13", "A", "C", 100),
        rejects("SITE_NOT_NOMINATED", "site C is not nominated"),
    ),
    ("A leaves taking its balance", leave("N-14", "A", "C-NG", 10, TAKE), books()),
    ("a second group certificate", certificate("N-15", "C-NG2", "NGROUP2", GROUP_LEVEL), books()),
    (
        "it cannot take A's balance unless A is nominated",
        join("N-16", "A", "C-NG2", on=10),
        rejects("CARRIED_BALANCE_NOT_ACCOUNTED", "join it nominated"),
    ),
    (
        "nominated, A brings it along",
        join("N-17", "A", "C-NG2", on=10, nominated=True),
        books("A/asi_aluminium/S@C-NG -400 = 0", "A/asi_aluminium/S@C-NG2 +400 = 400"),
    ),
]

TWO_CERTIFICATES_ONE_HOLDER: Sequence[Row] = [
    # Accounts belong to a certificate: HOLDCO holds two group-level certificates, and
    # credits booked under one are never consumed under the other.
    ("HOLDCO's first certificate", certificate("H-01", "C-H1", "HOLDCO", GROUP_LEVEL), books()),
    ("HOLDCO's second certificate", certificate("H-02", "C-H2", "HOLDCO", GROUP_LEVEL), books()),
    ("site X1", site("H-03", "X1"), books()),
    ("site X2", site("H-04", "X2"), books()),
    ("X1 joins C-H1", join("H-05", "X1", "C-H1"), books()),
    ("X2 joins C-H2", join("H-06", "X2", "C-H2"), books()),
    (
        "100 kg at X1 credit C-H1's account",
        received("H-07", "X1", 100, level=G, holder="HOLDCO"),
        books("HOLDCO/asi_aluminium/G@C-H1 +100 = 100"),
    ),
    (
        "X2 cannot sell them: C-H2's account is empty",
        sold("H-08", "X2", 100, level=G, holder="HOLDCO"),
        rejects("OVERDRAW", "HOLDCO/asi_aluminium/G@C-H2: available balance 0 kg"),
    ),
    (
        "X1 can",
        sold("H-09", "X1", 60, level=G, holder="HOLDCO"),
        books(
            "HOLDCO/asi_aluminium/G@C-H1 -60 = 40", holding={"HOLDCO/asi_aluminium/G@C-H1": "40"}
        ),
    ),
    (
        "a move from HOLDCO must say which certificate's credits",
        moved("H-10", "HOLDCO", "X1", 10),
        rejects("CERTIFICATE_AMBIGUOUS", "holds G accounts under certificates C-H1, C-H2"),
    ),
]

CMR_1 = replace(shipped("D-09", "D1", "D2", 40), transport_document="CMR-1")
ONE_DOCUMENT_ONCE: Sequence[Row] = [
    # A CoC document's quantity is credited once, a transport document moves material once.
    ("C-ONE, site level", certificate("D-01", "C-ONE", "ONEGROUP", SITE_LEVEL), books()),
    ("site D1", site("D-02", "D1"), books()),
    ("site D2", site("D-03", "D2"), books()),
    ("D1 joins", join("D-04", "D1", "C-ONE"), books()),
    ("D2 joins", join("D-05", "D2", "C-ONE"), books()),
    (
        "D1 receives 100 kg with COC-7",
        replace(received("D-06", "D1", 100), coc_document="COC-7"),
        books("D1/asi_aluminium/S +100 = 100"),
    ),
    (
        "COC-7 booked again at D2 under a new id",
        replace(received("D-07", "D2", 100), coc_document="COC-7"),
        rejects("COC_DOCUMENT_CREDITED", "coc document COC-7 was booked by posting D-06"),
    ),
    (
        "another document is credited",
        replace(received("D-08", "D2", 50), coc_document="COC-8"),
        books("D2/asi_aluminium/S +50 = 50"),
    ),
    (
        "D1 ships 40 kg under CMR-1",
        CMR_1,
        books("D1/asi_aluminium/S -40 = 60"),
    ),
    (
        "in transit the 40 kg belong to neither site",
        sold("D-11", "D2", 60),
        rejects("OVERDRAW", "D2/asi_aluminium/S@C-ONE: available balance 50 kg"),
    ),
    (
        "a receipt of another quantity is refused",
        replace(arrived("D-12", CMR_1), quantity_kg=kg(45)),
        rejects("RECEIPT_MISMATCH", "says quantity kg 45, its dispatch D-09 40"),
    ),
    (
        "a receipt at another site is refused",
        replace(arrived("D-13", CMR_1), to_site="D1"),
        rejects("RECEIPT_MISMATCH", "says to site D1, its dispatch D-09 D2"),
    ),
    (
        "a receipt of a document not in transit is refused",
        replace(arrived("D-14", CMR_1), transport_document="CMR-9"),
        rejects("NOT_IN_TRANSIT", "no transfer under transport document CMR-9 is in transit"),
    ),
    ("the receipt as dispatched", arrived("D-15", CMR_1), books("D2/asi_aluminium/S +40 = 90")),
    (
        "received twice under a new id",
        arrived("D-16", CMR_1),
        rejects("TRANSFER_ALREADY_RECEIVED", "was received by posting D-15"),
    ),
    (
        "CMR-1 booked for a second transfer",
        replace(shipped("D-10", "D1", "D2", 40), transport_document="CMR-1"),
        rejects("TRANSPORT_DOCUMENT_USED", "transport document CMR-1 was booked by posting D-09"),
    ),
]

TABLES = {
    "scenario 1": SCENARIO_1,
    "scenario 2": SCENARIO_2,
    "scenario 2, nominated sites": SCENARIO_2_NOMINATED,
    "scenario 3": SCENARIO_3,
    "group level": GROUP_LEVEL_DEFAULT,
    "two certificates, one holder": TWO_CERTIFICATES_ONE_HOLDER,
    "one document once": ONE_DOCUMENT_ONCE,
}
STEPS = [
    pytest.param(table, index, id=f"{name}: {table[index][0]}")
    for name, table in TABLES.items()
    for index in range(len(table))
]


def apply(state: LedgerState, step: Command | Closes) -> LedgerState:
    if isinstance(step, Closes):
        return close_period(state, step.period)[0]
    return post(state, step).state


@pytest.mark.parametrize(("table", "index"), STEPS)
def test_step(table: Sequence[Row], index: int) -> None:
    state = LedgerState()
    for _, earlier, _ in table[:index]:
        state = apply(state, earlier)
    _, step, expected = table[index]
    if isinstance(step, Closes):
        after = close_period(state, step.period)[0]
        assert {after.closed_through(c) for c in after.certificates} == {step.period.end}
        return
    outcome = post(state, step)
    if isinstance(expected, Rejects):
        assert isinstance(outcome, Rejected), outcome
        assert outcome.codes == (expected.code,)
        assert expected.says in outcome.reasons[0].message
        assert outcome.state.balances == state.balances
        assert outcome.state.applied == state.applied
    else:
        assert isinstance(expected, Books)
        assert isinstance(outcome, Accepted), outcome
        certificate = any("@" in update for update in expected.updates)
        shown = tuple(described(entry, certificate=certificate) for entry in outcome.entries)
        assert shown == expected.updates
        after = balances_by_text(outcome.state)
        for text, balance in expected.balances.items():
            assert after[text] == kg(balance), text


@pytest.mark.parametrize("table", TABLES.values(), ids=TABLES.keys())
def test_every_update_says_s_or_g_and_no_balance_goes_negative(table: Sequence[Row]) -> None:
    state, updates = LedgerState(), list[BalanceUpdate]()
    for _, step, _ in table:
        if isinstance(step, Closes):
            state = apply(state, step)
            continue
        outcome = post(state, step)
        state = outcome.state
        if isinstance(outcome, Accepted):
            updates.extend(outcome.entries)
        assert all(balance >= 0 for balance in state.balances.values())
    assert updates
    for update in updates:
        assert update.level in (Level.SITE, Level.GROUP)
        assert update.account.holder_text.endswith("/" + update.level.value)


def test_a_rejected_posting_leaves_balances_registry_and_journal_as_they_were() -> None:
    state = LedgerState()
    for _, step, _ in SCENARIO_2[:10]:
        state = apply(state, step)
    outcome = post(state, sold("X-1", "N2", 100, holder="N1"))
    assert isinstance(outcome, Rejected)
    assert replace(outcome.state, rejections=state.rejections) == state
    assert "X-1" in outcome.state.rejections


def test_every_rejection_names_the_rule_it_applied() -> None:
    reasons: list[Violation] = []
    for table in TABLES.values():
        state = LedgerState()
        for _, step, _ in table:
            if isinstance(step, Closes):
                state = apply(state, step)
                continue
            outcome = post(state, step)
            state = outcome.state
            if isinstance(outcome, Rejected):
                reasons.extend(outcome.reasons)
    assert reasons
    for reason in reasons:
        assert reason.rule.startswith(("CoC", "ledger:")), reason
        assert reason.field and reason.message


def test_membership_follows_the_effective_dates() -> None:
    state = LedgerState()
    for _, step, _ in SCENARIO_2:
        state = apply(state, step)

    def certificate_of_n1(on: int) -> str | None:
        certificate = state.certificate_on("N1", day(on))
        return certificate.certificate_id if certificate else None

    assert [certificate_of_n1(on) for on in (1, 9, 10, 14, 15)] == [
        "C-NORD",
        "C-NORD",
        "C-N1",
        "C-N1",
        None,
    ]
    assert state.sites["N3"].certificate_id == "C-GL"
