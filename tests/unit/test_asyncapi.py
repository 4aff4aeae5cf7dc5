"""The AsyncAPI document describes every topic and contract, and the committed copy is fresh."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from contracts.asyncapi import (
    ASYNCAPI_FILE,
    asyncapi_document,
    render_asyncapi,
    stale_asyncapi,
    write_asyncapi,
)
from contracts.base import Contract
from contracts.envelope import REQUIRED_HEADERS, decode_body, envelope_from_headers
from contracts.schema_export import render_schemas, schema_file_name
from contracts.topics import CATALOGUE, TopicSpec
from gateway.readside.tables import SOURCE_TOPICS as READ_SIDE_TOPICS
from gateway.topology import asyncapi_channels, readers_of
from producers.samples import sample_messages

DOCUMENT = asyncapi_document(processors=asyncapi_channels())
PUBLISHED_SCHEMAS = render_schemas()
CATALOGUE_CONTRACTS = sorted(
    {contract for spec in CATALOGUE for contract in spec.message_types},
    key=lambda contract: contract.__name__,
)


def _resolve(root: Any, reference: str) -> Any:
    assert reference.startswith("#/"), f"{reference} points outside the document"
    node = root
    for token in reference[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and key in node, f"{reference} does not resolve"
        node = node[key]
    return node


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str):
            yield reference
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _inline(node: Any, resolve: Callable[[str], Any]) -> Any:
    """``node`` with every ``$ref`` replaced by what it points at (siblings kept)."""
    if isinstance(node, dict):
        inlined = {key: _inline(value, resolve) for key, value in node.items() if key != "$ref"}
        if "$ref" in node:
            return {**_inline(resolve(node["$ref"]), resolve), **inlined}
        return inlined
    if isinstance(node, list):
        return [_inline(item, resolve) for item in node]
    return node


def _message(contract: type[Contract]) -> dict[str, Any]:
    message: dict[str, Any] = DOCUMENT["components"]["messages"][contract.__name__]
    return message


def _payload_schema(contract: type[Contract]) -> dict[str, Any]:
    payload = _inline(_message(contract)["payload"], lambda ref: _resolve(DOCUMENT, ref))
    assert isinstance(payload, dict)
    return payload


def _published_schema(contract: type[Contract]) -> dict[str, Any]:
    schema = json.loads(PUBLISHED_SCHEMAS[schema_file_name(contract)])
    inlined = _inline(schema, lambda ref: _resolve(schema, ref))
    assert isinstance(inlined, dict)
    return inlined


def test_it_is_an_asyncapi_3_document_with_a_kafka_server() -> None:
    assert DOCUMENT["asyncapi"] == "3.0.0"
    assert DOCUMENT["info"]["title"] == "Custody gateway"
    assert DOCUMENT["info"]["version"]
    server = DOCUMENT["servers"]["kafka"]
    assert (server["host"], server["protocol"]) == ("localhost:9092", "kafka")
    assert server["description"].startswith("Apache Kafka bootstrap server.")
    assert server["security"] == [{"$ref": "#/components/securitySchemes/scram"}]
    assert DOCUMENT["components"]["securitySchemes"]["scram"]["type"] == "scramSha512"
    other = asyncapi_document("Staging gateway", "9.9.9", host="broker.internal:9093")
    assert other["info"]["title"] == "Staging gateway"
    assert other["info"]["version"] == "9.9.9"
    assert other["servers"]["kafka"]["host"] == "broker.internal:9093"


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda spec: spec.name)
def test_each_topic_is_a_channel_with_its_key_partitions_policy_and_writers(
    spec: TopicSpec,
) -> None:
    channel = DOCUMENT["channels"][spec.name]
    assert channel["address"] == spec.name
    assert channel["description"] == spec.purpose
    assert channel["x-key"] == spec.key
    assert channel["x-partitions"] == spec.partitions
    assert channel["x-cleanup-policy"] == spec.cleanup_policy.value
    assert channel["x-writer-roles"] == [role.value for role in spec.writer_roles]
    assert channel["bindings"]["kafka"]["partitions"] == spec.partitions
    carried = {_resolve(DOCUMENT, ref["$ref"])["name"] for ref in channel["messages"].values()}
    assert carried == {contract.__name__ for contract in spec.message_types}


def test_there_is_one_channel_per_topic_and_nothing_else() -> None:
    assert len(DOCUMENT["channels"]) == len(CATALOGUE)
    assert {channel["address"] for channel in DOCUMENT["channels"].values()} == {
        spec.name for spec in CATALOGUE
    }


def test_a_topic_prefix_changes_addresses_not_channel_ids() -> None:
    prefixed = asyncapi_document(topic_prefix="t-42.")
    assert set(prefixed["channels"]) == set(DOCUMENT["channels"])
    assert {channel["address"] for channel in prefixed["channels"].values()} == {
        f"t-42.{spec.name}" for spec in CATALOGUE
    }


@pytest.mark.parametrize("contract", CATALOGUE_CONTRACTS, ids=lambda contract: contract.__name__)
def test_each_message_type_has_its_json_schema_as_payload(contract: type[Contract]) -> None:
    message = _message(contract)
    assert message["name"] == contract.__name__
    assert message["contentType"] == "application/json"
    assert message["summary"] == (contract.__doc__ or "").strip().splitlines()[0]
    assert message["x-message-type"] == contract.MESSAGE_TYPE

    payload = _payload_schema(contract)
    published = _published_schema(contract)
    jsonschema.Draft202012Validator.check_schema(payload)
    assert payload.pop("x-schema-id") == published.pop("$id")
    for keyword in ("$schema", "$defs"):
        published.pop(keyword, None)
    assert payload == published


@pytest.mark.parametrize("contract", CATALOGUE_CONTRACTS, ids=lambda contract: contract.__name__)
def test_each_message_has_an_example_of_its_headers_and_payload(contract: type[Contract]) -> None:
    document = asyncapi_document(processors=asyncapi_channels(), samples=sample_messages())
    message = document["components"]["messages"][contract.__name__]
    (example,) = message["examples"]
    resolve = lambda ref: _resolve(document, ref)  # noqa: E731
    payload_schema = _inline(message["payload"], resolve)
    jsonschema.Draft202012Validator(payload_schema).validate(example["payload"])
    jsonschema.Draft202012Validator(message["headers"]).validate(example["headers"])
    assert decode_body(contract.MESSAGE_TYPE, example["payload"]).MESSAGE_TYPE == (
        contract.MESSAGE_TYPE
    )
    headers = [(name, value.encode()) for name, value in example["headers"].items()]
    assert envelope_from_headers(headers).type == contract.MESSAGE_TYPE


@pytest.mark.parametrize("contract", CATALOGUE_CONTRACTS, ids=lambda contract: contract.__name__)
def test_each_message_has_the_cloudevents_headers(contract: type[Contract]) -> None:
    headers = _message(contract)["headers"]
    jsonschema.Draft202012Validator.check_schema(headers)
    assert set(headers["properties"]) == {
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_specversion",
        "ce_time",
        "ce_subject",
        "ce_correlationid",
        "ce_causationid",
        "ce_partyid",
        "content-type",
        "ce_signedby",
        "ce_signature",
    }
    assert "ce_signedby" not in headers["required"], "unsigned on an open broker"
    assert headers["properties"]["ce_type"]["const"] == contract.MESSAGE_TYPE
    assert headers["properties"]["ce_specversion"]["const"] == "1.0"
    assert headers["required"] == list(REQUIRED_HEADERS)

    validator = jsonschema.Draft202012Validator(headers)
    good = {
        "ce_id": "0b0f7f8e",
        "ce_source": "/parties/smelter-nordal/mes",
        "ce_type": contract.MESSAGE_TYPE,
        "ce_specversion": "1.0",
        "ce_time": "2026-02-14T18:05:00Z",
        "ce_partyid": "smelter-nordal",
        "content-type": "application/json",
    }
    validator.validate(good)
    assert not validator.is_valid({**good, "ce_type": "custody.lot.vanished"})
    assert not validator.is_valid({key: v for key, v in good.items() if key != "ce_partyid"})


def test_every_reference_resolves_inside_the_document() -> None:
    references = set(_references(DOCUMENT))
    assert references
    for reference in references:
        _resolve(DOCUMENT, reference)


def test_writers_send_and_each_processor_receives_its_input_topics() -> None:
    operations = DOCUMENT["operations"]
    sends = {
        _resolve(DOCUMENT, op["channel"]["$ref"])["address"]
        for op in operations.values()
        if op["action"] == "send"
    }
    receives = {
        _resolve(DOCUMENT, op["channel"]["$ref"])["address"]
        for op in operations.values()
        if op["action"] == "receive"
    }
    assert sends == {spec.name for spec in CATALOGUE}
    assert receives == {
        spec.name
        for spec in CATALOGUE
        if readers_of(spec.name) or spec.name in READ_SIDE_TOPICS or spec.subscriber_roles
    }
    assert "producer.production-batches" in receives
    assert "registry.ledger-journal" not in receives


def test_the_parties_may_subscribe_to_the_warrant_state_read_committed() -> None:
    operations = DOCUMENT["operations"]
    subscribe = operations["registry.warrant-state.subscribe"]
    assert subscribe["action"] == "receive"
    assert {"holder", "importer", "warehouse"} <= set(subscribe["x-subscriber-roles"])
    assert subscribe["x-isolation-level"] == "read_committed"
    assert "read_committed" in subscribe["description"]
    # topics carrying one party's emissions are the exchange's; parties use the HTTP API
    assert operations["registry.warrant-decisions.subscribe"]["x-subscriber-roles"] == ["exchange"]
    assert "registry.producer.ecoas.subscribe" not in operations


def test_the_read_side_projects_the_registry_and_ledger_outputs() -> None:
    operations = DOCUMENT["operations"]
    projected = {name.removesuffix(".project") for name in operations if name.endswith(".project")}
    assert projected == set(READ_SIDE_TOPICS)
    assert "registry.custody-balances" in projected
    assert "at least once" in operations["registry.warrant-state.project"]["description"]
    assert all(
        op["description"].startswith(f"Action {op['action']}:") for op in operations.values()
    )


def test_the_ledger_not_the_registry_receives_ledger_commands() -> None:
    receive = DOCUMENT["operations"]["ledger.commands.receive"]
    assert receive["title"] == "The ledger reads ledger.commands"
    registry_reads = [
        op["title"]
        for op in DOCUMENT["operations"].values()
        if op["title"].startswith("The registry")
    ]
    assert "The registry reads ledger.commands" not in registry_reads
    assert "The registry reads producer.ecoas" in registry_reads


def test_operation_messages_are_messages_of_their_channel() -> None:
    for name, operation in DOCUMENT["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(f"{channel_ref}/messages/"), name


def test_the_rendering_is_deterministic_sorted_json() -> None:
    text = render_asyncapi(asyncapi_channels())
    assert text == render_asyncapi(asyncapi_channels())
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_committed_asyncapi_document_is_fresh() -> None:
    assert not stale_asyncapi(ASYNCAPI_FILE, asyncapi_channels(), sample_messages()), (
        f"{ASYNCAPI_FILE.name} is out of date with the contracts and topics: run `make schemas`"
    )


def test_stale_asyncapi_and_write_asyncapi(tmp_path: Path) -> None:
    path = tmp_path / "asyncapi.json"
    assert stale_asyncapi(path) == ["asyncapi.json"]
    assert write_asyncapi(path) == ["asyncapi.json"]
    assert stale_asyncapi(path) == []
    assert write_asyncapi(path) == []
    path.write_text("{}\n", encoding="utf-8")
    assert stale_asyncapi(path) == ["asyncapi.json"]
