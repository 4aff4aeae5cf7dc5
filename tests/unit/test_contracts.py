"""The wire contracts read what they should, refuse what they cannot read, and describe it."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, Field, ValidationError
from pydantic.fields import FieldInfo

import contracts.base
from contracts.base import Contract, JsonObject, Millimetres, SchemaVersionError, upcast
from contracts.cbam import (
    CbamEmissionsFormSubmitted,
    CbamProduct,
    EmbeddedEmissions,
    EmissionFactor,
    Verifier,
)
from contracts.lots import LotArrived
from contracts.message_types import MESSAGE_TYPES, UnknownMessageType, contract_for
from contracts.production import ProductionBatchRecorded
from contracts.values import ElementLevel, Identifier
from producers.samples import sample_messages

SAMPLES = sample_messages()
UNIT_WORDS = (
    "kg",
    "mm",
    "% by mass",
    "t CO2e per t",
    "t scrap per t",
    "t CO2e per MWh",
    "degrees",
    "currency",
)


def _sample_of(contract: type[Contract]) -> Contract:
    return next(body for body in SAMPLES if type(body) is contract)


def _error_locations(error: ValidationError) -> list[tuple[int | str, ...]]:
    return [tuple(detail["loc"]) for detail in error.errors()]


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _models_in(argument)


def _mentions_decimal(annotation: Any) -> bool:
    if annotation is Decimal:
        return True
    return any(_mentions_decimal(argument) for argument in typing.get_args(annotation))


def _every_model() -> list[type[BaseModel]]:
    seen: dict[type[BaseModel], None] = {}
    pending: list[type[BaseModel]] = list(MESSAGE_TYPES.values())
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen[model] = None
        for field in model.model_fields.values():
            pending.extend(_models_in(field.annotation))
    return list(seen)


def _every_field() -> list[tuple[str, FieldInfo]]:
    return [
        (f"{model.__name__}.{name}", field)
        for model in _every_model()
        for name, field in model.model_fields.items()
    ]


def _contract_subclasses(root: type[Contract]) -> Iterator[type[Contract]]:
    for subclass in root.__subclasses__():
        yield subclass
        yield from _contract_subclasses(subclass)


# --- every family ----------------------------------------------------------------------------


def test_there_is_a_sample_of_every_message_type() -> None:
    assert sorted(body.MESSAGE_TYPE for body in SAMPLES) == sorted(MESSAGE_TYPES)


def test_samples_are_the_same_on_every_call() -> None:
    assert sample_messages() == SAMPLES


@pytest.mark.parametrize("body", SAMPLES, ids=lambda body: body.MESSAGE_TYPE)
def test_a_body_survives_its_json_round_trip(body: Contract) -> None:
    again = type(body).model_validate_json(body.model_dump_json())
    assert again == body


@pytest.mark.parametrize("body", SAMPLES, ids=lambda body: body.MESSAGE_TYPE)
def test_an_unknown_field_is_refused_by_name(body: Contract) -> None:
    raw = body.model_dump(mode="json") | {"surplus_remark": "hello"}
    with pytest.raises(ValidationError) as refused:
        type(body).model_validate(raw)
    assert _error_locations(refused.value) == [("surplus_remark",)]
    assert refused.value.errors()[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize("body", SAMPLES, ids=lambda body: body.MESSAGE_TYPE)
def test_a_body_is_frozen(body: Contract) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        body.schema_version = 2  # type: ignore[misc]


@pytest.mark.parametrize("body", SAMPLES, ids=lambda body: body.MESSAGE_TYPE)
def test_a_body_of_another_schema_version_is_refused(body: Contract) -> None:
    raw = body.model_dump(mode="json") | {"schema_version": body.SCHEMA_VERSION + 1}
    with pytest.raises(ValidationError) as refused:
        type(body).model_validate(raw)
    assert _error_locations(refused.value) == [("schema_version",)]


def test_message_types_cover_every_contract_of_the_package() -> None:
    declared = {
        subclass
        for subclass in _contract_subclasses(Contract)
        if subclass.__module__.startswith("contracts.")
    }
    assert declared == set(MESSAGE_TYPES.values())


@pytest.mark.parametrize("message_type", sorted(MESSAGE_TYPES))
def test_message_types_are_named_family_then_event_or_command(message_type: str) -> None:
    contract = contract_for(message_type)
    assert message_type == contract.MESSAGE_TYPE
    prefix, family, name = message_type.split(".")
    assert prefix == "custody"
    assert family and name
    assert message_type == message_type.lower()


def test_an_unknown_message_type_is_a_key_error_naming_it() -> None:
    with pytest.raises(UnknownMessageType, match=r"custody\.lot\.vanished") as raised:
        contract_for("custody.lot.vanished")
    assert isinstance(raised.value, KeyError)


# --- descriptions and units ------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", [pytest.param(field, id=where) for where, field in _every_field()]
)
def test_every_field_is_described(field: FieldInfo) -> None:
    assert field.description


def test_every_quantity_field_names_its_unit() -> None:
    quantities = [
        (where, field) for where, field in _every_field() if _mentions_decimal(field.annotation)
    ]
    assert len(quantities) > 20
    unnamed = [
        where
        for where, field in quantities
        if not any(unit in (field.description or "") for unit in UNIT_WORDS)
    ]
    assert unnamed == []


def test_nested_records_are_strict_and_frozen() -> None:
    for model in _every_model():
        assert model.model_config.get("extra") == "forbid", model.__name__
        assert model.model_config.get("frozen") is True, model.__name__


# --- what cannot be read ---------------------------------------------------------------------


def test_an_unknown_field_in_a_nested_record_is_refused_by_path() -> None:
    raw = _sample_of(LotArrived).model_dump(mode="json")
    raw["bundles"][2]["colour"] = "silver"
    with pytest.raises(ValidationError) as refused:
        LotArrived.model_validate(raw)
    assert _error_locations(refused.value) == [("bundles", 2, "colour")]


def test_a_negative_weight_is_refused_by_path() -> None:
    raw = _sample_of(LotArrived).model_dump(mode="json")
    raw["bundles"][4]["net_weight_kg"] = -960
    with pytest.raises(ValidationError) as refused:
        LotArrived.model_validate(raw)
    assert ("bundles", 4, "net_weight_kg") in _error_locations(refused.value)


def test_a_wrong_type_is_refused_by_path() -> None:
    raw = _sample_of(ProductionBatchRecorded).model_dump(mode="json") | {"pieces": "many"}
    with pytest.raises(ValidationError) as refused:
        ProductionBatchRecorded.model_validate(raw)
    assert _error_locations(refused.value) == [("pieces",)]


@pytest.mark.parametrize("symbol", ["fe", "FE", "Xx", "Iron", ""])
def test_an_element_is_a_chemical_symbol(symbol: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ElementLevel(element=symbol, detected_percent=Decimal("0.5"))
    assert _error_locations(refused.value) == [("element",)]


def test_an_element_listed_twice_in_a_chemistry_is_refused() -> None:
    raw = _sample_of(ProductionBatchRecorded).model_dump(mode="json")
    raw["chemistry"].append({"element": "Fe", "detected_percent": 0.5})
    with pytest.raises(ValidationError, match="element Fe is listed more than once") as refused:
        ProductionBatchRecorded.model_validate(raw)
    assert _error_locations(refused.value) == [("chemistry",)]


def test_a_percentage_above_a_hundred_is_refused() -> None:
    with pytest.raises(ValidationError):
        ElementLevel(element="Al", detected_percent=Decimal("100.01"))


@pytest.mark.parametrize("reference", ["", " NA26-0412", "NA26-0412 ", "NA26\n0412"])
def test_an_identifier_is_non_empty_without_edge_whitespace(reference: str) -> None:
    raw = _sample_of(ProductionBatchRecorded).model_dump(mode="json")
    with pytest.raises(ValidationError) as refused:
        ProductionBatchRecorded.model_validate(raw | {"cast_reference": reference})
    assert _error_locations(refused.value) == [("cast_reference",)]


def test_a_naive_timestamp_is_refused() -> None:
    raw = _sample_of(LotArrived).model_dump(mode="json") | {"arrived_at": "2026-03-18T07:40:00"}
    with pytest.raises(ValidationError) as refused:
        LotArrived.model_validate(raw)
    assert _error_locations(refused.value) == [("arrived_at",)]


def test_an_unknown_production_date_is_said_explicitly() -> None:
    raw = _sample_of(LotArrived).model_dump(mode="json")
    assert LotArrived.model_validate(raw | {"production_date": None}).production_date is None
    del raw["production_date"]
    with pytest.raises(ValidationError) as refused:
        LotArrived.model_validate(raw)
    assert _error_locations(refused.value) == [("production_date",)]


# --- what the rulebook decides, not the contract ---------------------------------------------


def test_a_cbam_form_with_only_its_keys_is_readable() -> None:
    form = CbamEmissionsFormSubmitted.build(form_id="F-1", brand="NORDAL", reporting_year=2025)
    assert form.producer_name is None
    assert form.verifier is None
    assert form.products == ()


def test_a_cbam_form_without_its_keys_is_unreadable() -> None:
    with pytest.raises(ValidationError) as refused:
        CbamEmissionsFormSubmitted.model_validate({"schema_version": 1, "brand": "NORDAL"})
    assert set(_error_locations(refused.value)) == {("form_id",), ("reporting_year",)}


APPENDIX_II_FIELDS = (
    "producer_name",
    "installation_name",
    "installation_address",
    "installation_id",
    "un_locode",
    "products",
    "main_emission_source",
    "reporting_period",
    "methodology",
    "direct_embedded_emissions",
    "indirect_embedded_emissions",
    "emission_factor",
    "carbon_prices_paid",
    "verifier",
    "level_of_assurance",
    "permission_to_publish",
    "calculation_notes",
    "scope_3_tco2e_per_t",
)


@pytest.mark.parametrize("name", APPENDIX_II_FIELDS)
def test_appendix_ii_fields_may_be_absent_and_say_whose_job_that_is(name: str) -> None:
    field = CbamEmissionsFormSubmitted.model_fields[name]
    assert not field.is_required()
    assert "Appendix II" in (field.description or "")


@pytest.mark.parametrize("model", [CbamProduct, Verifier, EmbeddedEmissions, EmissionFactor])
def test_appendix_ii_sub_fields_may_be_absent(model: type[BaseModel]) -> None:
    assert model.model_validate({}) == model()


# --- decimals --------------------------------------------------------------------------------


def test_a_decimal_read_from_json_is_exact() -> None:
    level = ElementLevel.model_validate_json('{"element": "Fe", "detected_percent": 1.80}')
    assert isinstance(level.detected_percent, Decimal)
    assert level.detected_percent == Decimal("1.80")
    assert level.detected_percent.as_integer_ratio() == (9, 5)


def test_decimals_add_up_exactly_after_a_round_trip() -> None:
    body = _sample_of(LotArrived)
    again = LotArrived.model_validate_json(body.model_dump_json())
    assert sum(bundle.net_weight_kg for bundle in again.bundles) == again.net_weight_kg
    assert again.net_weight_kg == Decimal("20000")


def test_a_decimal_is_written_as_a_json_number() -> None:
    assert ElementLevel(element="Fe", detected_percent=Decimal("0.80")).model_dump_json() == (
        '{"element":"Fe","detected_percent":0.8}'
    )


# --- schema versions and upcasting -----------------------------------------------------------


def _add_site_to_v1(body: JsonObject) -> JsonObject:
    return {**body, "site_id": "unknown-site"}


class GaugeRead(Contract):
    """A test-only family at its second version: version 1 had no site."""

    MESSAGE_TYPE: ClassVar[str] = "custody.test-gauge.read"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPCASTERS: ClassVar[dict[int, contracts.base.Upcaster]] = {1: _add_site_to_v1}

    gauge_id: Identifier = Field(description="Gauge read.")
    site_id: Identifier = Field(description="Site of the gauge.")
    reading_mm: Millimetres = Field(description="Reading, mm.")


class GaugeReadWithAGap(GaugeRead):
    """Version 3 whose 2 → 3 upcaster is missing."""

    SCHEMA_VERSION: ClassVar[int] = 3


V1_BODY: JsonObject = {"schema_version": 1, "gauge_id": "G-7", "reading_mm": "12.5"}


def test_an_older_body_is_upcast_to_the_current_version() -> None:
    body = GaugeRead.model_validate(upcast(GaugeRead, V1_BODY))
    assert body == GaugeRead.build(
        gauge_id="G-7", site_id="unknown-site", reading_mm=Decimal("12.5")
    )
    assert V1_BODY == {"schema_version": 1, "gauge_id": "G-7", "reading_mm": "12.5"}


def test_a_body_without_a_version_is_version_one() -> None:
    unversioned = {key: value for key, value in V1_BODY.items() if key != "schema_version"}
    assert upcast(GaugeRead, unversioned) == upcast(GaugeRead, V1_BODY)


def test_a_current_body_passes_through_unchanged() -> None:
    body = _sample_of(LotArrived).model_dump(mode="json")
    assert upcast(LotArrived, body) == body


def test_a_newer_version_is_refused_naming_schema_version() -> None:
    with pytest.raises(SchemaVersionError, match=r"schema_version.*newer"):
        upcast(GaugeRead, {**V1_BODY, "schema_version": 3})


def test_a_gap_in_the_upcasters_is_refused_naming_schema_version() -> None:
    with pytest.raises(SchemaVersionError, match=r"schema_version.*no upcaster.*version 2"):
        upcast(GaugeReadWithAGap, V1_BODY)


@pytest.mark.parametrize("version", [0, -1, "1", 1.0, True, None])
def test_a_malformed_version_is_refused_naming_schema_version(version: object) -> None:
    with pytest.raises(SchemaVersionError, match="schema_version"):
        upcast(GaugeRead, {**V1_BODY, "schema_version": version})


def test_cbam_values_the_rulebook_judges_are_readable_so_the_sender_gets_a_decision() -> None:
    form = CbamEmissionsFormSubmitted.model_validate(
        {
            "schema_version": 1,
            "form_id": "F-2",
            "brand": "NORDAL",
            "reporting_year": 2025,
            "un_locode": "Sunndal",
            "level_of_assurance": "moderate",
            "products": [
                {"cn_code": "7604", "pre_consumer_scrap_percent": 140, "scrap_t_per_t": -1}
            ],
        }
    )
    assert form.un_locode == "Sunndal"
    assert form.level_of_assurance == "moderate"
    assert form.products[0].cn_code == "7604"
    assert form.products[0].pre_consumer_scrap_percent == Decimal("140")
    assert form.products[0].scrap_t_per_t == Decimal("-1")
