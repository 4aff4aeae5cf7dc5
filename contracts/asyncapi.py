"""The AsyncAPI 3.0 document of the gateway, generated from the topic catalogue and the contracts.

One channel per catalogue topic; one message per contract, whose payload is the contract's
published JSON Schema (``contracts/schemas/``, its ``$defs`` moved to ``components.schemas``)
and whose headers are the CloudEvents binary-mode attributes; a ``send`` operation per topic
for the roles that write it, and a ``receive`` operation per topic the registry ingests.

``make schemas`` writes ``contracts/asyncapi.json``; a unit test fails while it is stale.
"""

from __future__ import annotations

import importlib.metadata
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.base import Contract
from contracts.envelope import (
    HEADER_CAUSATION_ID,
    HEADER_CONTENT_TYPE,
    HEADER_CORRELATION_ID,
    HEADER_ID,
    HEADER_SENDER_PARTY,
    HEADER_SOURCE,
    HEADER_SPEC_VERSION,
    HEADER_SUBJECT,
    HEADER_TIME,
    HEADER_TYPE,
    JSON_CONTENT_TYPE,
    REQUIRED_HEADERS,
    SPEC_VERSION,
    Envelope,
    envelope_headers,
    new_envelope,
)
from contracts.message_types import ALL_CONTRACTS
from contracts.schema_export import render_schemas, schema_file_name
from contracts.signatures import HEADER_SIGNATURE, HEADER_SIGNED_BY
from contracts.topics import CATALOGUE, TopicSpec

JsonObject = dict[str, Any]

ASYNCAPI_VERSION = "3.0.0"
ASYNCAPI_FILE = Path(__file__).parent / "asyncapi.json"
DEFAULT_TITLE = "Custody gateway"
DEFAULT_HOST = "localhost:9092"
SERVER_NAME = "kafka"
KAFKA_BINDING_VERSION = "0.5.0"

_SCHEMAS_POINTER = "#/components/schemas/"
_MESSAGES_POINTER = "#/components/messages/"
_LOCAL_DEFS_POINTER = "#/$defs/"

_DESCRIPTION = (
    "The message-driven integration gateway of the aluminium chain of custody. Producers, "
    "warehouses, members and the exchange publish to their ingest topics; the registry checks "
    "every message against the exchange's rulebook and publishes its decisions and the "
    "current state on the registry topics. Every record is one message in CloudEvents 1.0 "
    "binary mode: the value is the JSON body (UTF-8) and the event attributes are the ce_* "
    "record headers. Every body carries schema_version."
)

# The Envelope field each header carries, so the header schemas share its descriptions.
_ENVELOPE_FIELD_OF_HEADER: dict[str, str] = {
    HEADER_ID: "id",
    HEADER_SOURCE: "source",
    HEADER_TYPE: "type",
    HEADER_SPEC_VERSION: "specversion",
    HEADER_TIME: "time",
    HEADER_SUBJECT: "subject",
    HEADER_CORRELATION_ID: "correlation_id",
    HEADER_CAUSATION_ID: "causation_id",
    HEADER_SENDER_PARTY: "sender_party_id",
    HEADER_CONTENT_TYPE: "content_type",
}
_HEADER_NOTES: dict[str, str] = {
    HEADER_CORRELATION_ID: "When absent, the ce_id.",
    HEADER_CONTENT_TYPE: f"{JSON_CONTENT_TYPE}, parameters such as charset allowed.",
}
_KEPT_HEADER_KEYWORDS = ("type", "minLength", "maxLength", "format")


@dataclass(frozen=True)
class ProcessorChannels:
    """One processor of the gateway: the topics it receives from and sends to."""

    name: str
    receives: tuple[str, ...]
    sends: tuple[str, ...]
    reads_how: str = (
        "consumes this topic exactly once and decides every message by the exchange's rules"
    )
    """How it reads, for the receive operations' descriptions."""
    operation: str = "receive"
    """The suffix of its receive operations' ids: ``<topic>.<operation>``."""


def default_version() -> str:
    """The version of the installed gateway package, used as the document's version."""
    return importlib.metadata.version("custody-gateway")


def asyncapi_document(
    title: str = DEFAULT_TITLE,
    version: str | None = None,
    *,
    host: str = DEFAULT_HOST,
    topic_prefix: str = "",
    processors: Sequence[ProcessorChannels] = (),
    samples: Sequence[Contract] = (),
) -> JsonObject:
    """The AsyncAPI 3.0.0 document of every catalogue topic and contract.

    ``processors`` (the gateway's topology) give the receive operations: one per topic a
    processor reads. ``samples`` (a body of each type) give the messages' examples.

    ``version`` defaults to the gateway package's version; ``host`` is the Kafka bootstrap
    server; ``topic_prefix`` is prepended to each channel's address (channel ids stay the
    catalogue names).
    """
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": version if version is not None else default_version(),
            "description": _DESCRIPTION,
        },
        "defaultContentType": JSON_CONTENT_TYPE,
        "servers": {
            SERVER_NAME: {
                "host": host,
                "protocol": "kafka",
                "description": "Apache Kafka bootstrap server. On the exchange's secured "
                "broker: SASL SCRAM-SHA-512 (optionally over TLS), one principal per party "
                "(User:<party id>), ACLs from the topic catalogue's writer and subscriber "
                "roles.",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            }
        },
        "channels": {spec.name: _channel(spec, topic_prefix) for spec in CATALOGUE},
        "operations": _operations(CATALOGUE, processors),
        "components": {
            "schemas": _component_schemas(ALL_CONTRACTS, samples),
            "messages": _messages(ALL_CONTRACTS, samples),
            "securitySchemes": {
                "scram": {
                    "type": "scramSha512",
                    "description": "SASL SCRAM-SHA-512; no authentication on an open "
                    "development broker.",
                }
            },
        },
    }


def render_asyncapi(
    processors: Sequence[ProcessorChannels] = (), samples: Sequence[Contract] = ()
) -> str:
    """The default document as JSON text (sorted keys, trailing newline), as committed."""
    document = asyncapi_document(processors=processors, samples=samples)
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_asyncapi(
    path: Path = ASYNCAPI_FILE,
    processors: Sequence[ProcessorChannels] = (),
    samples: Sequence[Contract] = (),
) -> list[str]:
    """``[path.name]`` when the file is missing or differs from the generated document."""
    published = path.read_text(encoding="utf-8") if path.is_file() else None
    return [] if published == render_asyncapi(processors, samples) else [path.name]


def write_asyncapi(
    path: Path = ASYNCAPI_FILE,
    processors: Sequence[ProcessorChannels] = (),
    samples: Sequence[Contract] = (),
) -> list[str]:
    """Bring the file in line with the code; return ``[path.name]`` if it was written."""
    stale = stale_asyncapi(path, processors, samples)
    if stale:
        path.write_text(render_asyncapi(processors, samples), encoding="utf-8")
    return stale


def _channel(spec: TopicSpec, topic_prefix: str) -> JsonObject:
    return {
        "address": f"{topic_prefix}{spec.name}",
        "description": spec.purpose,
        "messages": {
            contract.__name__: {"$ref": f"{_MESSAGES_POINTER}{contract.__name__}"}
            for contract in spec.message_types
        },
        "bindings": {
            "kafka": {
                "partitions": spec.partitions,
                "topicConfiguration": {"cleanup.policy": [spec.cleanup_policy.value]},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-key": spec.key,
        "x-partitions": spec.partitions,
        "x-cleanup-policy": spec.cleanup_policy.value,
        "x-writer-roles": [role.value for role in spec.writer_roles],
    }


def _operations(
    catalogue: Iterable[TopicSpec], processors: Sequence[ProcessorChannels]
) -> JsonObject:
    operations: JsonObject = {}
    for spec in catalogue:
        operations[f"{spec.name}.send"] = _send_operation(spec)
        for processor in processors:
            if spec.name in processor.receives:
                operations[f"{spec.name}.{processor.operation}"] = _receive_operation(
                    spec, processor
                )
        if spec.subscriber_roles:
            operations[f"{spec.name}.subscribe"] = _subscribe_operation(spec)
    return operations


def _operation_messages(spec: TopicSpec) -> list[JsonObject]:
    return [
        {"$ref": f"#/channels/{spec.name}/messages/{contract.__name__}"}
        for contract in spec.message_types
    ]


def _send_operation(spec: TopicSpec) -> JsonObject:
    writers = ", ".join(role.value for role in spec.writer_roles)
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{spec.name}"},
        "title": f"Publish to {spec.name}",
        "summary": f"Written by {writers}: {spec.purpose}.",
        "description": (
            f"Action send: parties in the role(s) {writers} publish to this topic, "
            f"each record keyed by the body's {_keys(spec)}."
        ),
        "messages": _operation_messages(spec),
        "x-writer-roles": [role.value for role in spec.writer_roles],
    }


def _receive_operation(spec: TopicSpec, processor: ProcessorChannels) -> JsonObject:
    reader = processor.name
    return {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{spec.name}"},
        "title": f"The {reader} reads {spec.name}",
        "summary": f"Read by the {reader}: {spec.purpose}.",
        "description": f"Action receive: the {reader} {processor.reads_how}.",
        "messages": _operation_messages(spec),
    }


READ_COMMITTED_REQUIRED = (
    "Subscribe with isolation.level=read_committed: the registry writes in transactions, and a "
    "read_uncommitted consumer also sees records of transactions that were aborted (a registry "
    "instance stopped between its send and its commit), which the registry then decides again."
)


def _subscribe_operation(spec: TopicSpec) -> JsonObject:
    roles = ", ".join(role.value for role in spec.subscriber_roles)
    return {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{spec.name}"},
        "title": f"Subscribe to {spec.name}",
        "summary": f"Read by {roles}: {spec.purpose}.",
        "description": f"Action receive: parties in the role(s) {roles} may subscribe. "
        + READ_COMMITTED_REQUIRED,
        "messages": _operation_messages(spec),
        "bindings": {"kafka": {"bindingVersion": "0.5.0"}},
        "x-subscriber-roles": [role.value for role in spec.subscriber_roles],
        "x-isolation-level": "read_committed",
    }


def _messages(contracts: Iterable[type[Contract]], samples: Sequence[Contract]) -> JsonObject:
    envelope_fields: JsonObject = Envelope.model_json_schema()["properties"]
    sample_of = {type(sample): sample for sample in samples}
    messages = {}
    for contract in contracts:
        message = _message(contract, envelope_fields)
        sample = sample_of.get(contract)
        if sample is not None:
            message["examples"] = [_example(sample)]
        messages[contract.__name__] = message
    return messages


def _example(body: Contract) -> JsonObject:
    """An AsyncAPI message example: ``body`` with the headers of a new flow sent by a party of
    the first role that writes it."""
    spec = next(spec for spec in CATALOGUE if type(body) in spec.message_types)
    party = "example-" + spec.writer_roles[0].value.replace("_", "-")
    envelope = new_envelope(
        body,
        source=f"/parties/{party}",
        sender_party_id=party,
        time=datetime(2026, 3, 4, 8, 0, tzinfo=UTC),
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:example:{body.MESSAGE_TYPE}")),
    )
    return {
        "name": f"{type(body).__name__}Example",
        "summary": f"A {body.MESSAGE_TYPE} message on {spec.name}.",
        "headers": {name: value.decode() for name, value in envelope_headers(envelope)},
        "payload": body.model_dump(mode="json"),
    }


def _message(contract: type[Contract], envelope_fields: JsonObject) -> JsonObject:
    return {
        "name": contract.__name__,
        "title": f"{contract.MESSAGE_TYPE} v{contract.SCHEMA_VERSION}",
        "summary": _first_docstring_line(contract),
        "contentType": JSON_CONTENT_TYPE,
        "payload": {"$ref": f"{_SCHEMAS_POINTER}{contract.__name__}"},
        "headers": _headers_schema(contract, envelope_fields),
        "correlationId": {
            "description": "Id shared by every message of one flow.",
            "location": f"$message.header#/{HEADER_CORRELATION_ID}",
        },
        "x-message-type": contract.MESSAGE_TYPE,
        "x-schema-version": contract.SCHEMA_VERSION,
    }


def _first_docstring_line(contract: type[Contract]) -> str:
    docstring = contract.__dict__.get("__doc__")
    if not isinstance(docstring, str) or not docstring.strip():
        raise ValueError(f"{contract.__name__} has no docstring to summarise it")
    return docstring.strip().splitlines()[0].strip()


def _headers_schema(contract: type[Contract], envelope_fields: JsonObject) -> JsonObject:
    properties: JsonObject = {}
    for header, field_name in _ENVELOPE_FIELD_OF_HEADER.items():
        properties[header] = _header_schema(header, envelope_fields[field_name])
    properties[HEADER_TYPE]["const"] = contract.MESSAGE_TYPE
    properties[HEADER_SPEC_VERSION]["const"] = SPEC_VERSION
    return {
        "type": "object",
        "description": (
            "CloudEvents 1.0 attributes in Kafka binary mode, one record header each, "
            "values in UTF-8."
        ),
        "properties": {**properties, **_SIGNATURE_HEADERS},
        "required": list(REQUIRED_HEADERS),
    }


_SIGNATURE_HEADERS: JsonObject = {
    HEADER_SIGNED_BY: {
        "type": "string",
        "description": "The party whose Ed25519 key signed the record. Required of every "
        "party's record where the exchange runs with a parties file; ce_partyid must name "
        "the same party.",
    },
    HEADER_SIGNATURE: {
        "type": "string",
        "contentEncoding": "base64",
        "description": "Base64 of the Ed25519 signature over the catalogue topic name, the "
        "key, every ce_ header and content-type (sorted by name) and the value, each "
        "length-prefixed (contracts/signatures.py defines the bytes).",
    },
}


def _header_schema(header: str, field_schema: JsonObject) -> JsonObject:
    string_schema = next(
        (branch for branch in field_schema.get("anyOf", []) if branch.get("type") == "string"),
        field_schema,
    )
    schema: JsonObject = {
        keyword: string_schema[keyword]
        for keyword in _KEPT_HEADER_KEYWORDS
        if keyword in string_schema
    }
    if header in REQUIRED_HEADERS:
        schema["minLength"] = max(schema.get("minLength", 0), 1)
    notes = _HEADER_NOTES.get(header)
    description = field_schema["description"]
    schema["description"] = f"{description} {notes}" if notes else description
    return schema


def _component_schemas(
    contracts: Iterable[type[Contract]], samples: Sequence[Contract]
) -> JsonObject:
    """Each contract's published schema by class name, with its ``$defs`` beside it."""
    published = render_schemas(samples)
    components: JsonObject = {}
    for contract in contracts:
        schema: JsonObject = json.loads(published[schema_file_name(contract)])
        definitions: JsonObject = schema.pop("$defs", {})
        del schema["$schema"]  # the document's schema format is AsyncAPI's (JSON Schema based)
        # An $id would make each "#/components/..." reference resolve inside the contract's
        # own schema; it is kept as an extension to link the payload to the published file.
        schema["x-schema-id"] = schema.pop("$id")
        schema.pop("examples", None)  # each message has its example, with headers
        entries = {contract.__name__: schema, **definitions}
        for name, entry in entries.items():
            _add_component(components, name, _point_refs_at_components(entry), contract)
    return components


def _add_component(
    components: JsonObject, name: str, schema: JsonObject, contract: type[Contract]
) -> None:
    existing = components.setdefault(name, schema)
    if existing != schema:
        raise ValueError(
            f"two different schemas are named {name!r} (the second from {contract.__name__}); "
            "rename one of the types"
        )


def _point_refs_at_components(node: Any) -> Any:
    if isinstance(node, dict):
        rewritten = {key: _point_refs_at_components(value) for key, value in node.items()}
        reference = node.get("$ref")
        if isinstance(reference, str):
            if not reference.startswith(_LOCAL_DEFS_POINTER):
                raise ValueError(f"unexpected $ref {reference!r} in a contract's schema")
            rewritten["$ref"] = _SCHEMAS_POINTER + reference.removeprefix(_LOCAL_DEFS_POINTER)
        return rewritten
    if isinstance(node, list):
        return [_point_refs_at_components(item) for item in node]
    return node


def _keys(spec: TopicSpec) -> str:
    if not spec.key_fields:
        return f"`{spec.key}`"
    by_field: dict[str, list[str]] = {}
    for message_type in spec.message_types:
        by_field.setdefault(spec.key_field(message_type), []).append(message_type.MESSAGE_TYPE)
    return "; ".join(f"`{key}` ({', '.join(types)})" for key, types in by_field.items())
