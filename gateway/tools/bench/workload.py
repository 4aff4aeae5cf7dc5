"""The records the scenarios send: the realistic mix of the fault workload's brand stories
(``fault_workload.story_records``: listings, casts, eCOAs, CBAM forms, lots with custody
claims, warrant requests, cancellations, duplicates and refusals, thousands of brands
interleaved), without the fault harness's own header, and the ledger's opening (three
certificates and a large certified input at the smelter, so that the custody moves are
booked)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from gateway.tools.fault_workload import (
    CASE_HEADER,
    PlannedRecord,
    ledger_opening,
    story_records,
)

SEED = 7
SMELTER_KG = 10**10
"""Enough certified input for every lot of any run to be delivered with its credits."""


@dataclass(frozen=True)
class Input:
    topic: str
    """Catalogue name (no prefix)."""
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    correlation_id: str
    """What the outputs it causes carry in ``ce_correlationid`` (a new flow: its own id)."""


def _input(planned: PlannedRecord) -> Input:
    headers = [(name, value) for name, value in planned.headers if name != CASE_HEADER]
    return Input(planned.topic, planned.key, planned.value, headers, planned.event_id)


def realistic_mix(events: int, *, first_brand: int = 1) -> list[Input]:
    return [_input(record) for record in story_records(events, SEED, first_brand=first_brand)]


def opening() -> list[Input]:
    return [_input(record) for record in ledger_opening(SEED, smelter_kg=SMELTER_KG)]


def sending_producer(bootstrap_servers: str, *, linger_ms: int = 5) -> AIOKafkaProducer:
    """The simulated parties' producer: keyed records, the default partitioner."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap_servers, linger_ms=linger_ms, acks="all")


async def send(producer: AIOKafkaProducer, prefix: str, record: Input) -> asyncio.Future[Any]:
    """Hand ``record`` to the producer (its future is returned, not awaited)."""
    future: asyncio.Future[Any] = await producer.send(
        prefix + record.topic, value=record.value, key=record.key, headers=record.headers
    )
    return future


async def write_all(producer: AIOKafkaProducer, prefix: str, records: Sequence[Input]) -> None:
    """Every record written and acknowledged."""
    await asyncio.gather(*[await send(producer, prefix, record) for record in records])
