"""What every processor's step is: one consumed record and the state before it in, the state
after it and the records to publish out. Pure: the engine (``consumers.engine``) folds a step
over a batch and commits the outcomes in one transaction.

Every record ends as exactly one outcome: decided (or booked, or rejected) with its outputs,
already handled (a redelivery: nothing), or a dead letter setting it aside with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from contracts.base import Contract
from contracts.dead_letter import DeadLetterReason
from gateway.processors.records import InputRecord, OutputRecord
from gateway.violations import Violation

StateT = TypeVar("StateT")


class Outcome(StrEnum):
    DECIDED = "decided"
    """The registry decided the record (its decisions are the outputs)."""
    BOOKED = "booked"
    """The ledger booked the command."""
    REJECTED = "rejected"
    """The ledger refused the command, naming every rule it breaks."""
    ALREADY_HANDLED = "already_handled"
    """The same input again: nothing changes, nothing is published."""
    DEAD_LETTER = "dead_letter"
    """Set aside unread or refused, with the reason."""
    FORWARDED = "forwarded"
    """Passed on to the partition that decides it (the ledger's partitions)."""


@dataclass(frozen=True)
class Processed(Generic[StateT]):
    """One record's outcome: the state after it and the records to publish."""

    state: StateT
    outputs: tuple[OutputRecord, ...]
    outcome: Outcome
    message_type: str | None
    decisions: tuple[Contract, ...] = ()
    """The decision bodies behind ``outputs`` (for counting)."""
    violations: tuple[Violation, ...] = ()
    dead_letter_reason: DeadLetterReason | None = None
    correlation_id: str | None = None
    """The input's correlation id (None when its envelope could not be read)."""
    event_id: str | None = None
    changed_state: bool = False
    """The record changed the state."""
    journal: tuple[tuple[bytes, bytes], ...] = ()
    """What a journaled state log appends for this record (key, value): the facts of what it
    changed."""


Step = Callable[[StateT, InputRecord, datetime], Processed[StateT]]
"""A processor's step: state before, the record, the decision time -> its outcome."""

SetAside = Callable[[StateT, InputRecord, DeadLetterReason, str, datetime], Processed[StateT]]
"""How a processor sets a record aside when the engine cannot use the step's outcome (the step
raised, or an output is too large): the dead letter, and the state unchanged."""
