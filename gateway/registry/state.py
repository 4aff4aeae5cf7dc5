"""The registry's state and what a step returns; refusals of impossible commands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from contracts.base import Contract
from contracts.custody import CustodyMovementRecorded
from contracts.lots import LotArrived
from contracts.warrants import (
    CancelWarrant,
    RequestWarrant,
)
from gateway.rulebook.decisions import WarrantDecision
from gateway.rulebook.model import Rulebook
from gateway.rulebook.state import (
    BrandState,
)


class CommandRefused(ValueError):
    """A command that cannot be carried out in the current state (e.g. suspending a brand
    that was never listed); the text says why and names the rule."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


@dataclass(frozen=True)
class RegistryState:
    brands: Mapping[str, BrandState] = field(default_factory=dict)
    lots: Mapping[str, LotArrived] = field(default_factory=dict)
    open_requests: Mapping[str, RequestWarrant] = field(default_factory=dict)
    """Requests still pending, by lot id: decided again when what they wait for arrives."""
    warrant_decisions: Mapping[str, WarrantDecision] = field(default_factory=dict)
    """The latest decision of every lot's request, by lot id."""
    handled: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """By brand: the ids of the eCOAs, forms and commands already handled, with a digest of
    each body, so that a message delivered again changes nothing."""
    cancellations: Mapping[str, CancelWarrant] = field(default_factory=dict)
    """The cancellation of every cancelled warrant, by lot id (one warrant per lot)."""
    custody_moves: Mapping[str, CustodyMovementRecorded] = field(default_factory=dict)
    """The custody moves emitted, by posting id: each is emitted once, the issue moves on what
    the arrival moved, and a cancellation returns what the issue moved."""

    def brand(self, name: str) -> BrandState:
        return self.brands.get(name) or BrandState(brand=name)


@dataclass(frozen=True)
class Step:
    state: RegistryState
    outputs: tuple[Contract, ...]


@dataclass(frozen=True)
class Context:
    rulebook: Rulebook
    now: datetime


def with_brand(state: RegistryState, brand: BrandState) -> RegistryState:
    return replace(state, brands={**state.brands, brand.brand: brand})
