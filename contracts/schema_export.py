"""JSON Schemas of every contract, as published files that must match the models.

``make schemas`` rewrites them; a unit test fails while they are stale.
"""

from __future__ import annotations

import json
from pathlib import Path

from contracts.base import Contract
from contracts.message_types import ALL_CONTRACTS
from contracts.parties import PartiesFile

SCHEMA_DIRECTORY = Path(__file__).parent / "schemas"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_file_name(contract: type[Contract]) -> str:
    return f"{contract.MESSAGE_TYPE}.v{contract.SCHEMA_VERSION}.json"


def _schema_of(contract: type[Contract]) -> dict[str, object]:
    schema = contract.model_json_schema(mode="validation")
    schema["properties"]["schema_version"]["const"] = contract.SCHEMA_VERSION
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = f"urn:custody-gateway:schema:{contract.MESSAGE_TYPE}:v{contract.SCHEMA_VERSION}"
    schema["x-message-type"] = contract.MESSAGE_TYPE
    schema["x-schema-version"] = contract.SCHEMA_VERSION
    return schema


PARTIES_FILE_SCHEMA = "parties-file.json"


def _parties_file_schema() -> dict[str, object]:
    schema = PartiesFile.model_json_schema(mode="validation")
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = "urn:custody-gateway:schema:parties-file"
    return schema


def _json_text(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_schemas() -> dict[str, str]:
    """File name → JSON text (sorted keys, trailing newline) of every contract's schema, and
    of the exchange's parties file."""
    rendered = {
        schema_file_name(contract): _json_text(_schema_of(contract)) for contract in ALL_CONTRACTS
    }
    rendered[PARTIES_FILE_SCHEMA] = _json_text(_parties_file_schema())
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


def stale_schemas(directory: Path) -> list[str]:
    """Names of schema files that are missing, differ from the models, or belong to none."""
    return _differing(render_schemas(), directory)


def write_schemas(directory: Path) -> list[str]:
    """Bring ``directory`` in line with the models; return the names written or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render_schemas()
    changed = _differing(rendered, directory)
    for name in changed:
        path = directory / name
        if name in rendered:
            path.write_text(rendered[name], encoding="utf-8")
        else:
            path.unlink()
    return changed
