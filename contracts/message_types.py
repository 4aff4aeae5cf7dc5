"""Every message family by its CloudEvents ``ce_type``."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

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
    CbamEmissionsFormSubmitted,
    CbamFormAccepted,
    CbamFormRejected,
    EmissionsAttached,
)
from contracts.cbam_report import CbamReportFiled
from contracts.clock import ClockTicked
from contracts.custody import CustodyBalanceUpdated, CustodyMovementRecorded
from contracts.dead_letter import DeadLetterRecorded
from contracts.ecoa import ECoAAccepted, ECoACreated, ECoARejected
from contracts.ledger import LEDGER_COMMANDS, LEDGER_DECISIONS
from contracts.lots import LotArrived
from contracts.production import (
    ProductionBatchAccepted,
    ProductionBatchRecorded,
    ProductionBatchRejected,
)
from contracts.warrants import (
    CancelWarrant,
    RequestWarrant,
    WarrantCancelled,
    WarrantIssued,
    WarrantPending,
    WarrantRejected,
    WarrantStateChanged,
)

ALL_CONTRACTS: tuple[type[Contract], ...] = (
    ProductionBatchRecorded,
    ProductionBatchAccepted,
    ProductionBatchRejected,
    ECoACreated,
    ECoAAccepted,
    ECoARejected,
    CbamEmissionsFormSubmitted,
    CbamFormAccepted,
    CbamFormRejected,
    EmissionsAttached,
    CbamReportFiled,
    ListBrand,
    SuspendBrand,
    ReinstateBrand,
    DelistBrand,
    BrandListed,
    BrandSuspended,
    BrandReinstated,
    BrandDelisted,
    LotArrived,
    RequestWarrant,
    CancelWarrant,
    WarrantIssued,
    WarrantRejected,
    WarrantPending,
    WarrantCancelled,
    WarrantStateChanged,
    *LEDGER_COMMANDS,
    CustodyMovementRecorded,
    *LEDGER_DECISIONS,
    CustodyBalanceUpdated,
    DeadLetterRecorded,
    ClockTicked,
)


def _by_message_type(contracts: tuple[type[Contract], ...]) -> Mapping[str, type[Contract]]:
    by_type: dict[str, type[Contract]] = {}
    for contract in contracts:
        taken_by = by_type.setdefault(contract.MESSAGE_TYPE, contract)
        if taken_by is not contract:
            raise ValueError(
                f"{contract.__name__} and {taken_by.__name__} share the message type "
                f"{contract.MESSAGE_TYPE!r}"
            )
    return MappingProxyType(by_type)


MESSAGE_TYPES = _by_message_type(ALL_CONTRACTS)


class UnknownMessageType(KeyError):
    """No contract is registered for a ``ce_type``."""

    def __init__(self, message_type: str) -> None:
        super().__init__(message_type)
        self.message_type = message_type

    def __str__(self) -> str:
        return f"unknown message type {self.message_type!r}"


def contract_for(message_type: str) -> type[Contract]:
    """The contract of a ``ce_type``; ``UnknownMessageType`` when there is none."""
    try:
        return MESSAGE_TYPES[message_type]
    except KeyError:
        raise UnknownMessageType(message_type) from None
