"""What the read side is given, through the registry pipeline without Kafka: every warrant
state record names the warehouse holding the lot once the lot has arrived, and a form's
acceptance carries the form's particulars importers and holders are shown."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from contracts.base import Contract
from contracts.cbam import CarbonPricePaid, CbamEmissionsFormSubmitted, CbamFormAccepted
from contracts.envelope import decode_message
from contracts.lots import LotArrived
from contracts.warrants import WarrantState, WarrantStateChanged
from gateway.processors.registry import PipelineSettings, process_record
from gateway.processors.step import Outcome
from gateway.registry.state import RegistryState
from gateway.rulebook.model import load_rulebook
from tests.unit.test_registry_custody_moves import WAREHOUSE, cancel, claimed_scenario
from tests.unit.test_registry_custody_pipeline import records_of
from tests.unit.test_registry_pipeline import NOW, SETTINGS


def published(
    messages: list[Contract], contract: type[Contract], settings: PipelineSettings = SETTINGS
) -> list[Contract]:
    """The bodies of ``contract`` the pipeline publishes for ``messages``, in order."""
    state, results = RegistryState(), []
    for record in records_of(messages):
        result = process_record(state, record, now=NOW, settings=settings)
        state = result.state
        results.append(result)
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


# ---- the form accepted ----------------------------------------------------------------------


def scenario_form() -> tuple[list[Contract], CbamEmissionsFormSubmitted]:
    """The scenario up to its brand's form, and the form."""
    messages = claimed_scenario()
    [at] = [i for i, m in enumerate(messages) if isinstance(m, CbamEmissionsFormSubmitted)]
    form = messages[at]
    assert isinstance(form, CbamEmissionsFormSubmitted)
    return messages[:at], form


def test_an_accepted_form_carries_the_particulars_it_states() -> None:
    before, form = scenario_form()
    [accepted] = published([*before, form], CbamFormAccepted)
    assert isinstance(accepted, CbamFormAccepted) and form.verifier is not None
    assert (accepted.producer_name, accepted.installation_id, accepted.installation_name) == (
        "Nordal Aluminium AS",
        "NO-SUN-01",
        "Sunndal smelter",
    )
    assert (accepted.installation_country, accepted.cn_codes) == ("NO", ("7601",))
    assert (accepted.verifier_name, accepted.accreditation_body) == (
        "Nordic Verification AS",
        "Norsk Akkreditering",
    )
    assert accepted.level_of_assurance == "limited"
    assert accepted.carbon_prices_paid == ()
    assert accepted.permission_to_publish is True
    assert accepted.reporting_period == form.reporting_period
    assert accepted.reporting_period is not None
    assert accepted.reporting_period.start == date(2025, 1, 1)


def test_an_unverified_form_not_for_publication_is_accepted_without_a_verification() -> None:
    """Before verification is required a form may leave it out; a form that gives no
    permission to publish (null) is not published (§4.2.3 is opt-in)."""
    before, form = scenario_form()
    [product] = form.products
    price = CarbonPricePaid(
        paid_at="Sunndal anode plant", amount_per_tco2e=Decimal("70.10"), currency="EUR"
    )
    unverified = form.model_copy(
        update={
            "verifier": None,
            "level_of_assurance": None,
            "permission_to_publish": None,
            "un_locode": "NOSUN",
            "products": (product, product.model_copy(update={"cn_code": "76012000"}), product),
            "carbon_prices_paid": (price,),
        }
    )
    later = replace(SETTINGS, rulebook=load_rulebook(verification_start=date(2027, 1, 1)))
    [accepted] = published([*before, unverified], CbamFormAccepted, later)
    assert isinstance(accepted, CbamFormAccepted)
    assert (accepted.verifier_name, accepted.accreditation_body) == (None, None)
    assert accepted.level_of_assurance is None
    assert accepted.permission_to_publish is False
    assert accepted.installation_country == "NO"
    assert accepted.cn_codes == ("7601", "76012000")  # each once, in the products' order
    assert accepted.carbon_prices_paid == (price,)
