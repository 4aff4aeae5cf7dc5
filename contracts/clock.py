"""The registry's clock: ticks the gateway writes to itself, so that time reaches the registry
as records (a request pending past its limit expires although its brand sends nothing more).

A tick is an input like any other: decided in the same step and transaction, its effects in
the state changelog, replayed identically. Only the gateway's own party writes the clock.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.base import Contract


class ClockTicked(Contract):
    """It is now ``ticked_at`` for the registry's partition ``partition``: what is due by then
    is decided; a tick repeated, or older than one already handled, decides nothing new."""

    MESSAGE_TYPE: ClassVar[str] = "custody.clock.ticked"
    SCHEMA_VERSION: ClassVar[int] = 1

    partition: int = Field(ge=0, description="The registry partition the tick is for.")
    ticked_at: AwareDatetime = Field(description="The gateway's wall time when it ticked.")
