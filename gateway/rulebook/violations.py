"""What a pending decision waits for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MissingKind(StrEnum):
    LOT_ARRIVAL = "lot_arrival"
    ECOA = "ecoa"
    ENHANCED_ECOA = "enhanced_ecoa"
    CBAM_FORM = "cbam_form"


@dataclass(frozen=True)
class Missing:
    """Something a pending decision waits for; it resolves when that message arrives."""

    kind: MissingKind
    reference: str
    rule: str
    message: str
