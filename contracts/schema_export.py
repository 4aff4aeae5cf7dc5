"""JSON Schemas of every contract, as published files that must match the models.

``make schemas`` rewrites them; a unit test fails while they are stale.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from contracts.base import Contract
from contracts.message_types import ALL_CONTRACTS
from contracts.parties import PartiesFile

SCHEMA_DIRECTORY = Path(__file__).parent / "schemas"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
VOCABULARY_SCHEMA = "custody-gateway-vocabulary.json"
VOCABULARY_ID = "urn:custody-gateway:vocabulary:message"
VOCABULARY_KEYWORDS = {
    "x-message-type": {"type": "string", "description": "The message type (ce_type)."},
    "x-schema-version": {
        "type": "integer",
        "minimum": 1,
        "description": "The message family's schema version the schema describes.",
    },
    "x-schema-id": {
        "type": "string",
        "description": "AsyncAPI only: the $id of the published schema a payload is.",
    },
}
"""The keywords of our own the schemas carry: annotations, which assert nothing."""

_DECIMAL_BOUNDS = {
    "ge": "minimum",
    "gt": "exclusiveMinimum",
    "le": "maximum",
    "lt": "exclusiveMaximum",
    "multiple_of": "multipleOf",
}


class ContractJsonSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, but a decimal is a JSON number with its bounds, as on the wire
    (pydantic's own would also offer a string)."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        number: JsonSchemaValue = {"type": "number"}
        for bound, keyword in _DECIMAL_BOUNDS.items():
            value = schema.get(bound)
            if value is not None:
                number[keyword] = _json_number(Decimal(str(value)))
        return number


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def schema_file_name(contract: type[Contract]) -> str:
    return f"{contract.MESSAGE_TYPE}.v{contract.SCHEMA_VERSION}.json"


def _schema_of(contract: type[Contract], sample: Contract | None) -> dict[str, object]:
    schema = contract.model_json_schema(mode="validation", schema_generator=ContractJsonSchema)
    schema["properties"]["schema_version"]["const"] = contract.SCHEMA_VERSION
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = f"urn:custody-gateway:schema:{contract.MESSAGE_TYPE}:v{contract.SCHEMA_VERSION}"
    schema["x-message-type"] = contract.MESSAGE_TYPE
    schema["x-schema-version"] = contract.SCHEMA_VERSION
    if sample is not None:
        schema["examples"] = [sample.model_dump(mode="json")]
    return schema


def vocabulary_schema() -> dict[str, object]:
    """The meta-schema of our schemas: JSON Schema 2020-12 and the keywords of our own, as an
    optional vocabulary (a validator that does not know it may ignore them)."""
    standard = "https://json-schema.org/draft/2020-12/vocab/"
    vocabularies = ["core", "applicator", "unevaluated", "validation"]
    vocabularies += ["meta-data", "format-annotation", "content"]
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": "urn:custody-gateway:schema:meta",
        "$vocabulary": {
            **{standard + name: True for name in vocabularies},
            VOCABULARY_ID: False,
        },
        "$dynamicAnchor": "meta",
        "title": "Custody gateway message schema",
        "description": "JSON Schema 2020-12 with the keywords of the custody gateway's "
        "vocabulary (annotations only).",
        "allOf": [{"$ref": JSON_SCHEMA_DIALECT}],
        "properties": VOCABULARY_KEYWORDS,
    }


PARTIES_FILE_SCHEMA = "parties-file.json"


def _parties_file_schema() -> dict[str, object]:
    schema = PartiesFile.model_json_schema(mode="validation", schema_generator=ContractJsonSchema)
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = "urn:custody-gateway:schema:parties-file"
    return schema


def _json_text(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_schemas(samples: Sequence[Contract] = ()) -> dict[str, str]:
    """File name → JSON text (sorted keys, trailing newline) of every contract's schema (a
    sample of its type, if given, as its example), of the exchange's parties file and of the
    vocabulary's meta-schema."""
    sample_of = {type(sample): sample for sample in samples}
    rendered = {
        schema_file_name(contract): _json_text(_schema_of(contract, sample_of.get(contract)))
        for contract in ALL_CONTRACTS
    }
    rendered[PARTIES_FILE_SCHEMA] = _json_text(_parties_file_schema())
    rendered[VOCABULARY_SCHEMA] = _json_text(vocabulary_schema())
    return rendered


def _published(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in directory.glob("*.json")}


def _differing(rendered: dict[str, str], directory: Path) -> list[str]:
    published = _published(directory) if directory.is_dir() else {}
    return sorted(
        name
        for name in rendered.keys() | published.keys()
        if rendered.get(name) != published.get(name)
    )


def stale_schemas(directory: Path, samples: Sequence[Contract] = ()) -> list[str]:
    """Names of schema files that are missing, differ from the models, or belong to none."""
    return _differing(render_schemas(samples), directory)


def write_schemas(directory: Path, samples: Sequence[Contract] = ()) -> list[str]:
    """Bring ``directory`` in line with the models; return the names written or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render_schemas(samples)
    changed = _differing(rendered, directory)
    for name in changed:
        path = directory / name
        if name in rendered:
            path.write_text(rendered[name], encoding="utf-8")
        else:
            path.unlink()
    return changed
