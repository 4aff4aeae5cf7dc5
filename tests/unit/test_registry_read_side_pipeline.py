"""What the read side is given, through the registry pipeline without Kafka: every warrant
state record names the warehouse holding the lot once the lot has arrived."""

from __future__ import annotations

from contracts.base import Contract
from contracts.envelope import decode_message
from contracts.lots import LotArrived
from contracts.warrants import WarrantState, WarrantStateChanged
from gateway.processors.step import Outcome
from tests.unit.test_registry_custody_moves import WAREHOUSE, cancel, claimed_scenario
from tests.unit.test_registry_custody_pipeline import records_of
from tests.unit.test_registry_pipeline import run_all


def published(messages: list[Contract], contract: type[Contract]) -> list[Contract]:
    """The bodies of ``contract`` the pipeline publishes for ``messages``, in order."""
    results = run_all(records_of(messages))
    assert all(result.outcome is Outcome.DECIDED for result in results)
    return [
        decode_message(output.headers, output.value).body
        for result in results
        for output in result.outputs
        if output.message_type == contract.MESSAGE_TYPE
    ]


def warehouses(states: list[Contract]) -> list[tuple[str, str | None]]:
    return [
        (state.state.value, state.warehouse_id)
        for state in states
        if isinstance(state, WarrantStateChanged)
    ]


def test_the_issued_and_cancelled_states_name_the_warehouse_the_lot_arrived_at() -> None:
    states = published([*claimed_scenario(), cancel()], WarrantStateChanged)
    assert warehouses(states) == [("issued", WAREHOUSE), ("cancelled", WAREHOUSE)]


def test_a_request_before_its_lot_pends_without_a_warehouse_and_names_it_once_issued() -> None:
    *setting, lot, request = claimed_scenario()
    states = published([*setting, request, lot], WarrantStateChanged)
    assert warehouses(states) == [("pending", None), ("issued", WAREHOUSE)]


def test_a_rejected_lot_states_the_warehouse_it_is_at() -> None:
    *setting, lot, request = claimed_scenario()
    assert isinstance(lot, LotArrived)
    short = lot.model_copy(update={"bundles": lot.bundles[:1]})  # its bundles do not add up
    [state] = published([*setting, short, request], WarrantStateChanged)
    assert isinstance(state, WarrantStateChanged)
    assert (state.state, state.warehouse_id) == (WarrantState.REJECTED, WAREHOUSE)
    assert {v.code for v in state.violations} == {"BUNDLES_DO_NOT_ADD_UP"}
