"""The read side's subscriber: one FastStream batch subscriber over every topic the read side
projects, reading committed records only, writing each batch to the read store in one
transaction, then committing the batch's offsets.

Delivery is at least once, and that is enough: each write is an idempotent upsert (see
``gateway.readside.projection``), and a partition replayed from its last committed offset
ends with the same rows.

- ``read_committed``: the registry and the ledger write in transactions. A read_uncommitted
  reader would project decisions of transactions that were aborted (a registry killed
  between a send and its commit), which the registry then decides again: the read side would
  show a warrant that was never issued.
- A record the read side cannot decode (a contract it does not know) is counted and passed
  over with a log line naming its topic, partition and offset: it is the registry's own
  output, so a failure here is a version drift, and one record must not stop the partition.
- A store that refuses a batch (the database down) raises after a pause: FastStream seeks
  back and the batch is delivered again, until the store takes it.
- FastStream's parser decodes every header as strict UTF-8 and drops the whole batch when one
  is not; the parser here passes the record's own headers to the envelope decoder instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from consumers.kafka_access import Broker, faststream_options
from consumers.metrics import GatewayMetrics
from consumers.readside_store import ReadStore
from contracts.envelope import MessageDecodeError, decode_message
from gateway.readside.projection import PROJECTED_TYPES, Write, writes_of

log = structlog.get_logger("custody_gateway.readside")

STORE_RETRY_PAUSE_S = 1.0


@dataclass(frozen=True)
class ReadSideSubscription:
    bootstrap_servers: Broker
    topics: Sequence[str]
    """Full topic names (with the prefix)."""
    group_id: str
    max_records: int = 500
    max_value_bytes: int | None = None


def writes_of_records(
    records: Sequence[ConsumerRecord[bytes, bytes]],
    metrics: GatewayMetrics,
    *,
    max_value_bytes: int | None = None,
) -> list[Write]:
    """The writes a batch of records implies, in record order."""
    writes: list[Write] = []
    for record in records:
        try:
            decoded = decode_message(record.headers, record.value, max_value_bytes=max_value_bytes)
        except MessageDecodeError as error:
            metrics.readside_records.labels(record.topic, "unreadable").inc()
            log.warning(
                "readside_record_unreadable",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error=str(error),
            )
            continue
        if decoded.envelope.type not in PROJECTED_TYPES:
            metrics.readside_records.labels(record.topic, "passed_over").inc()
            continue
        writes.extend(writes_of(decoded.envelope.id, decoded.body))
        metrics.readside_records.labels(record.topic, "projected").inc()
    return writes


async def _raw_records(message: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's batch parser, given headers it can decode, with the raw records kept."""
    records = tuple(message)
    safe = tuple(_with_text_headers(record) for record in records)
    parsed = await original(safe)
    parsed.raw_message = records
    return parsed


def _with_text_headers(record: ConsumerRecord[bytes, bytes]) -> ConsumerRecord[bytes, bytes]:
    try:
        for _name, value in record.headers:
            value.decode("utf-8")
    except (UnicodeDecodeError, AttributeError):
        pass
    else:
        return record
    headers = tuple(
        (name, value.decode("utf-8", "replace").encode()) for name, value in record.headers
    )
    return ConsumerRecord(
        record.topic,
        record.partition,
        record.offset,
        record.timestamp,
        record.timestamp_type,
        record.key,
        record.value,
        record.checksum,
        record.serialized_key_size,
        record.serialized_value_size,
        headers,
    )


async def _no_body(message: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """The handler reads the raw records; FastStream need not decode the bodies."""
    return None


def build_readside_broker(
    subscription: ReadSideSubscription, store: ReadStore, metrics: GatewayMetrics
) -> KafkaBroker:
    """A FastStream broker with one batch subscriber per topic. Nothing connects until
    ``broker.start()``."""
    broker = KafkaBroker(**faststream_options(subscription.bootstrap_servers), logger=None)

    async def project(_body: Any, message: KafkaMessage) -> None:
        records = message.raw_message
        writes = writes_of_records(records, metrics, max_value_bytes=subscription.max_value_bytes)
        try:
            written = await asyncio.to_thread(store.apply, writes)
        except Exception as error:
            metrics.readside_store_failures.inc()
            log.error("readside_store_refused", error=str(error), records=len(records))
            await asyncio.sleep(STORE_RETRY_PAUSE_S)
            raise
        metrics.readside_writes.inc(written)

    broker.subscriber(
        *subscription.topics,
        batch=True,
        max_records=subscription.max_records,
        batch_timeout_ms=100,
        group_id=subscription.group_id,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        parser=_raw_records,
        decoder=_no_body,
        title="readside",
        description="The read side projects the registry's and the ledger's committed "
        "outputs into its store (one consumer for every topic it reads).",
    )(project)
    return broker


async def report_readside_lag(broker: KafkaBroker, metrics: GatewayMetrics) -> int:
    """Set the read side's lag gauge from its consumer: the high watermark it last fetched
    minus its position, for each partition it holds; return the total."""
    total = 0
    for subscriber in broker.subscribers:
        consumer = getattr(subscriber, "consumer", None)
        if consumer is None:
            continue
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            if highwater is None:
                continue
            behind = max(highwater - await consumer.position(partition), 0)
            metrics.readside_lag.labels(partition.topic, str(partition.partition)).set(behind)
            total += behind
    return total
