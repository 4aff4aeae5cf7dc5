"""Value types shared by several message families: identifiers, enums and small nested records.

Like the contracts themselves, these refuse what cannot be read (a malformed element symbol,
a duplicated element, a negative quantity) and leave business completeness to the rulebook.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from contracts.base import Millimetres, PercentByMass, TonnesCO2ePerTonne

_NO_EDGE_WHITESPACE = r"^\S(?:.*\S)?$"

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=_NO_EDGE_WHITESPACE)
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_NO_EDGE_WHITESPACE)]
TEXT_MAX_CHARACTERS = 4000
Text = Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX_CHARACTERS)]
Designation = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=_NO_EDGE_WHITESPACE)
]
RuleReference = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=_NO_EDGE_WHITESPACE)
]
CalendarYear = Annotated[int, Field(ge=1, le=9999)]
PieceCount = Annotated[int, Field(ge=0)]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Base64Text = Annotated[
    str,
    StringConstraints(pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"),
]

_PERIODIC_TABLE = """
    H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As
    Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd
    Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am
    Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og
"""
_ELEMENT_SYMBOLS = frozenset(_PERIODIC_TABLE.split())
_ELEMENT_SCHEMA = {"type": "string", "enum": _PERIODIC_TABLE.split()}


def _is_element_symbol(symbol: str) -> str:
    if symbol not in _ELEMENT_SYMBOLS:
        raise ValueError(f"{symbol!r} is not a chemical element symbol")
    return symbol


ElementSymbol = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z][a-z]{0,2}$"),
    AfterValidator(_is_element_symbol),
    WithJsonSchema(_ELEMENT_SCHEMA),  # what the validator accepts: the pattern and the table
]


class ValueObject(BaseModel):
    """A nested record inside a message body: immutable and strict, like the body itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class MetalContract(StrEnum):
    """The exchange's three physically settled aluminium contracts."""

    HIGH_GRADE_PRIMARY = "high_grade_primary"
    ALUMINIUM_ALLOY = "aluminium_alloy"
    NASAAC = "nasaac"


class Shape(StrEnum):
    """Shape of the metal: ``sow`` is the High Grade Primary contract's undivided "T-bars or
    sows" class; the alloy contracts tell small sows, large sows and T-bars apart."""

    INGOT = "ingot"
    SMALL_SOW = "small_sow"
    LARGE_SOW = "large_sow"
    T_BAR = "t_bar"
    SOW = "sow"


class PartyRole(StrEnum):
    """The role a party acts in when it sends or receives a message."""

    PRODUCER = "producer"
    WAREHOUSE = "warehouse"
    MEMBER = "member"
    PERMITTED_PARTY = "permitted_party"
    EXCHANGE = "exchange"
    REGISTRY = "registry"


class AccountingLevel(StrEnum):
    """Whether certified material flowed at site (S) or group (G) level (CoC notes)."""

    SITE = "S"
    GROUP = "G"


class MissingItemKind(StrEnum):
    """What a pending warrant still waits for."""

    LOT_ARRIVAL = "lot_arrival"
    ECOA = "ecoa"
    ENHANCED_ECOA = "enhanced_ecoa"
    CBAM_FORM = "cbam_form"


class ElementLevel(ValueObject):
    """The detected level of one element in a cast."""

    element: ElementSymbol = Field(
        description='Chemical symbol of the element, capitalised as in the periodic table ("Fe").'
    )
    detected_percent: PercentByMass = Field(description="Detected level of the element, % by mass.")


def _distinct_elements(levels: tuple[ElementLevel, ...]) -> tuple[ElementLevel, ...]:
    seen: set[str] = set()
    for level in levels:
        if level.element in seen:
            raise ValueError(f"element {level.element} is listed more than once")
        seen.add(level.element)
    return levels


Chemistry = Annotated[tuple[ElementLevel, ...], AfterValidator(_distinct_elements)]


class Dimensions(ValueObject):
    """Dimensions of one piece or bundle, mm. Ingots and bundles give length, width and
    height; sows and T-bars give top and bottom length and width, height and, for T-bars,
    height to shoulder. Which are required for a shape is the rulebook's matter."""

    length_mm: Millimetres | None = Field(default=None, description="Length, mm.")
    width_mm: Millimetres | None = Field(default=None, description="Width, mm.")
    height_mm: Millimetres | None = Field(default=None, description="Height, mm.")
    top_length_mm: Millimetres | None = Field(
        default=None, description="Length across the top (sows, T-bars), mm."
    )
    top_width_mm: Millimetres | None = Field(
        default=None, description="Width across the top (sows, T-bars), mm."
    )
    bottom_length_mm: Millimetres | None = Field(
        default=None, description="Length across the bottom (sows, T-bars), mm."
    )
    bottom_width_mm: Millimetres | None = Field(
        default=None, description="Width across the bottom (sows, T-bars), mm."
    )
    height_to_shoulder_mm: Millimetres | None = Field(
        default=None, description="Height to the shoulder (T-bars), mm."
    )


class CastAnalysis(ValueObject):
    """One production cast and its chemistry, as an eCOA certifies it (SCR 4.5)."""

    cast_reference: Identifier = Field(
        description="Production cast reference as marked on the metal; must match exactly."
    )
    production_date: date | None = Field(
        description="Date the cast was produced; null when it cannot be identified (SCR 4.3)."
    )
    chemistry: Chemistry = Field(
        description="Detected level of each element, % by mass; each element at most once."
    )
    production_filtered: bool | None = Field(
        default=None,
        description="Whether the cast's metal was filtered in production (required for "
        "NA380.1, NASAAC SCR 1(a)); null when not stated.",
    )


class PaperCoaReference(ValueObject):
    """The paper certificate of analysis a Basic eCOA was made from (SCR 4.4, 4.7)."""

    reference: Identifier = Field(description="Reference number printed on the paper COA.")
    issued_on: date | None = Field(
        default=None,
        description="Date printed on the paper COA; required by the rulebook (SCR 4.7).",
    )
    issuer: Name | None = Field(
        default=None,
        description="Who issued the paper COA (usually the producer); required by the "
        "rulebook (SCR 4.7).",
    )
    document_sha256: Sha256Hex | None = Field(
        default=None,
        description="SHA-256 digest, lower-case hex, of the uploaded paper COA document; "
        "a Basic eCOA without an uploaded document is rejected by the rulebook (SCR 4.7).",
    )


class RuleViolation(ValueObject):
    """One reason a decision went against the sender, naming the rule applied."""

    code: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")] = Field(
        description='Stable machine-readable code, upper snake case ("ECOA_NOT_ENHANCED").'
    )
    rule: RuleReference = Field(
        description='The rule as the source numbers it ("SCR 4.2", "§4.4", "CoC").'
    )
    field: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description='Path of the offending field in the message ("casts[0].chemistry").'
    )
    observed: Text | None = Field(
        default=None, description="The value found, as text; null when the field was absent."
    )
    allowed: Text | None = Field(
        default=None, description="What the rule allows, as text; null when not expressible."
    )
    message: Text = Field(description="Explanation for a person, in English.")


class MissingItem(ValueObject):
    """Something a decision waits for before it can be made."""

    kind: MissingItemKind = Field(description="What kind of document is missing.")
    reference: Name = Field(
        description='What it is missing for: a cast reference, or "brand NORDAL year 2025".'
    )
    rule: RuleReference = Field(description='The rule that requires it ("SCR 4.2").')
    message: Text = Field(description="What is awaited, for a person, in English.")


class EmissionsSummary(ValueObject):
    """Embedded emissions of a brand's goods for one reporting year, t CO2e per t of goods."""

    direct_tco2e_per_t: TonnesCO2ePerTonne = Field(
        description="Direct (scope 1) embedded emissions, t CO2e per t of goods."
    )
    indirect_tco2e_per_t: TonnesCO2ePerTonne = Field(
        description="Indirect (scope 2, electricity) embedded emissions, t CO2e per t of goods."
    )
    total_tco2e_per_t: TonnesCO2ePerTonne = Field(
        description="Direct plus indirect embedded emissions, t CO2e per t of goods."
    )
    direct_is_default_value: bool = Field(
        description="True when the direct figure is the EU default value, not the producer's."
    )
    indirect_is_default_value: bool = Field(
        description="True when the indirect figure is the EU default value, not the producer's."
    )
    alloying_as_primary: bool = Field(
        default=False,
        description="True when alloying elements above 5 % were counted as primary unwrought "
        "aluminium (§6.4).",
    )


class CustodyAccount(ValueObject):
    """One mass-balance account: a holder's credits of one material quality at one level."""

    holder_id: Identifier = Field(
        description="Unique id of the certified entity or site that holds the credits."
    )
    material_quality: Identifier = Field(
        description='Material quality accounted ("asi_aluminium"); site-level material of '
        "scenario 3 is a quality of its own."
    )
    level: AccountingLevel = Field(description="Site (S) or group (G) level accounting.")
