"""The published JSON Schemas are those of the models, and the samples fit them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from contracts.asyncapi import ASYNCAPI_FILE
from contracts.base import Contract, Decimal_
from contracts.message_types import MESSAGE_TYPES
from contracts.parties import PartiesFile
from contracts.schema_export import (
    SCHEMA_DIRECTORY,
    VOCABULARY_KEYWORDS,
    VOCABULARY_SCHEMA,
    ContractJsonSchema,
    render_schemas,
    schema_file_name,
    stale_schemas,
    write_schemas,
)
from producers.samples import sample_messages

RENDERED = render_schemas(sample_messages())


def _schema_of(body: Contract) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(RENDERED[schema_file_name(type(body))])
    return schema


def test_published_schemas_are_those_of_the_models() -> None:
    stale = stale_schemas(SCHEMA_DIRECTORY, sample_messages())
    assert not stale, f"JSON Schemas out of date, run `make schemas`: {', '.join(stale)}"


def test_there_is_one_schema_per_message_type_and_version() -> None:
    assert sorted(RENDERED) == sorted(
        [
            *(schema_file_name(contract) for contract in MESSAGE_TYPES.values()),
            "parties-file.json",
            VOCABULARY_SCHEMA,
        ]
    )
    for contract in MESSAGE_TYPES.values():
        schema = json.loads(RENDERED[schema_file_name(contract)])
        assert schema["x-message-type"] == contract.MESSAGE_TYPE
        assert schema["x-schema-version"] == contract.SCHEMA_VERSION
        assert schema["properties"]["schema_version"]["const"] == contract.SCHEMA_VERSION
        assert schema["title"] == contract.__name__
        assert schema["description"]
        assert len(schema["examples"]) == 1


def test_a_decimal_is_a_json_number_with_every_bound_of_its_field() -> None:
    class Bounded(BaseModel):
        closed: Annotated[Decimal_, Field(ge=-90, le=Decimal("90.5"))]
        open: Annotated[Decimal_, Field(gt=0, lt=1)]
        optional: Annotated[Decimal_, Field(ge=0)] | None = None

    properties = Bounded.model_json_schema(schema_generator=ContractJsonSchema)["properties"]
    assert properties["closed"] == {
        "type": "number",
        "minimum": -90,
        "maximum": 90.5,
        "title": "Closed",
    }
    assert properties["open"] == {
        "type": "number",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 1,
        "title": "Open",
    }
    assert properties["optional"]["anyOf"][0] == {"type": "number", "minimum": 0}


def _keywords(node: Any) -> set[str]:
    if isinstance(node, dict):
        return {key for key in node if key.startswith("x-")}.union(
            *(_keywords(value) for value in node.values())
        )
    if isinstance(node, list):
        return set().union(*(_keywords(item) for item in node))
    return set()


def test_every_keyword_of_our_own_is_in_the_vocabulary() -> None:
    used = set().union(*(_keywords(json.loads(text)) for text in RENDERED.values()))
    payloads = json.loads(ASYNCAPI_FILE.read_text(encoding="utf-8"))["components"]["schemas"]
    used |= _keywords(payloads)
    assert used == set(VOCABULARY_KEYWORDS)
    vocabulary = json.loads(RENDERED[VOCABULARY_SCHEMA])
    jsonschema.Draft202012Validator.check_schema(vocabulary)
    for text in RENDERED.values():
        jsonschema.Draft202012Validator(vocabulary).validate(json.loads(text))
    assert vocabulary["$vocabulary"]["urn:custody-gateway:vocabulary:message"] is False


def test_schema_files_are_sorted_pretty_json_ending_in_a_newline() -> None:
    for text in RENDERED.values():
        assert text.endswith("}\n")
        assert (
            text
            == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )


def test_stale_schemas_names_missing_changed_and_extra_files(tmp_path: Path) -> None:
    assert stale_schemas(tmp_path) == sorted(RENDERED)
    assert write_schemas(tmp_path) == sorted(RENDERED)
    assert stale_schemas(tmp_path) == []

    missing, changed = sorted(RENDERED)[:2]
    (tmp_path / missing).unlink()
    (tmp_path / changed).write_text("{}\n", encoding="utf-8")
    (tmp_path / "custody.lot.vanished.v1.json").write_text("{}\n", encoding="utf-8")
    expected = sorted([missing, changed, "custody.lot.vanished.v1.json"])
    assert stale_schemas(tmp_path) == expected

    assert write_schemas(tmp_path) == expected
    assert stale_schemas(tmp_path) == []
    assert not (tmp_path / "custody.lot.vanished.v1.json").exists()


@pytest.mark.parametrize("body", sample_messages(), ids=lambda body: body.MESSAGE_TYPE)
def test_a_sample_validates_against_its_schema(body: Contract) -> None:
    schema = _schema_of(body)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(body.model_dump(mode="json"))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"unexpected": 1}, "Additional properties"),
        ({"schema_version": 2}, "1 was expected"),
        ({"pieces": -1}, "less than the minimum"),
        ({"total_net_weight_kg": "7000"}, "not of type 'number'"),
    ],
)
def test_a_producer_in_another_language_can_validate_before_sending(
    change: dict[str, Any], expected: str
) -> None:
    batch = next(
        b for b in sample_messages() if b.MESSAGE_TYPE == "custody.production-batch.recorded"
    )
    schema = _schema_of(batch)
    instance = {**batch.model_dump(mode="json"), **change}
    with pytest.raises(jsonschema.ValidationError, match=expected):
        jsonschema.Draft202012Validator(schema).validate(instance)


def test_the_parties_file_schema_accepts_a_file_the_gateway_reads_and_refuses_a_bad_key() -> None:
    schema = json.loads(RENDERED["parties-file.json"])
    jsonschema.Draft202012Validator.check_schema(schema)
    good = {
        "parties": [
            {
                "id": "warehouse-antwerp-02",
                "roles": ["warehouse"],
                "signing_keys": ["JAryBPCRJZKRLZNYKhdNB3qmX1NN7H/EfQ/st9QAnuQ="],
            },
            {"id": "holder-fjord-capital", "roles": ["holder", "importer"]},
        ]
    }
    jsonschema.validate(good, schema)
    PartiesFile.model_validate(good)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"parties": [{"id": "x", "roles": ["smelter"]}]}, schema)
    with pytest.raises(ValueError, match="is 3 bytes, not the 32 of an Ed25519 public key"):
        PartiesFile.model_validate(
            {"parties": [{"id": "x", "roles": ["producer"], "signing_keys": ["AAAA"]}]}
        )
    with pytest.raises(ValueError, match="listed twice"):
        PartiesFile.model_validate(
            {"parties": [{"id": "x", "roles": ["holder"]}, {"id": "x", "roles": ["importer"]}]}
        )
