"""The read side's subscriber without a broker: which records become writes, what is passed
over and counted, the parser that survives a header FastStream cannot decode, and the
subscriber's channels in FastStream's own AsyncAPI document."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord
from faststream.specification import AsyncAPI

from consumers.metrics import GatewayMetrics
from consumers.readside_store import SqliteReadStore
from consumers.readside_subscriber import (
    ReadSideSubscription,
    _raw_records,
    build_readside_broker,
    writes_of_records,
)
from contracts.brands import BrandListed
from contracts.envelope import encode_body, envelope_headers, new_envelope
from contracts.values import MetalContract
from gateway.readside.projection import Put
from gateway.readside.tables import BRANDS

LISTED = BrandListed.build(
    command_id="CMD-1",
    brand="NORDAL",
    producer_id="nordal-aluminium",
    country_of_origin="Norway",
    contracts=(MetalContract.HIGH_GRADE_PRIMARY,),
    effective_at=datetime(2026, 1, 5, tzinfo=UTC),
)


def record(value: bytes | None, headers: list[tuple[str, bytes]], offset: int = 0) -> Any:
    return ConsumerRecord(
        "registry.brand-status", 0, offset, 0, 0, b"NORDAL", value, None, 0, 0, tuple(headers)
    )


def listed_record(offset: int = 0) -> Any:
    envelope = new_envelope(
        LISTED,
        source="/registry",
        sender_party_id="custody-registry",
        time=LISTED.effective_at,
        event_id=f"event-{offset}",
    )
    return record(encode_body(LISTED), envelope_headers(envelope), offset)


def count(metrics: GatewayMetrics, outcome: str) -> float:
    return metrics.readside_records.labels("registry.brand-status", outcome)._value.get()  # type: ignore[no-any-return]


def test_a_projected_record_becomes_its_writes_and_the_rest_are_counted() -> None:
    metrics = GatewayMetrics()
    unreadable = record(b"{not json", listed_record().headers)
    no_envelope = record(encode_body(LISTED), [])
    writes = writes_of_records([listed_record(1), unreadable, no_envelope], metrics)
    [put] = writes
    assert isinstance(put, Put) and put.table is BRANDS
    assert put.row["producer_id"] == "nordal-aluminium" and put.row["event_id"] == "event-1"
    assert count(metrics, "projected") == 1 and count(metrics, "unreadable") == 2


def test_the_same_batch_twice_leaves_the_same_rows(tmp_path: Path) -> None:
    store = SqliteReadStore(tmp_path / "r.sqlite3")
    metrics = GatewayMetrics()
    batch = [listed_record(0)]
    store.apply(writes_of_records(batch, metrics))
    once = store.dump()
    store.apply(writes_of_records(batch, metrics))
    assert store.dump() == once and once["brands"][0]["status"] == "listed"


async def test_a_header_that_is_not_utf8_reaches_the_handler_with_the_raw_records() -> None:
    bad = record(b"{}", [("ce_source", b"/parties/\xffnordal")])
    seen: list[Any] = []

    async def original(records: Any) -> Any:
        seen.extend(records)

        class Parsed:
            raw_message: Any = None

        return Parsed()

    parsed = await _raw_records((listed_record(), bad), original)
    assert parsed.raw_message[1].headers == bad.headers  # what the handler decodes
    assert seen[1].headers[0][1].decode("utf-8")  # what FastStream's parser is given


def test_fast_streams_own_asyncapi_lists_the_read_sides_channels(tmp_path: Path) -> None:
    topics = ["p.registry.warrant-state", "p.registry.brand-status"]
    broker = build_readside_broker(
        ReadSideSubscription("127.0.0.1:9", topics, "group"),
        SqliteReadStore(tmp_path / "r.sqlite3"),
        GatewayMetrics(),
    )
    document = AsyncAPI(broker, schema_version="3.0.0").to_specification().to_jsonable()
    assert {channel["address"] for channel in document["channels"].values()} == set(topics)
