"""The registry's clock: a small publisher in the gateway process that writes, at a set
interval, one tick to each registry partition this instance holds (``registry.clock``, as the
gateway's own party). The registry reads them back as inputs (``ClockTicked``), so that what
is due is decided on time, exactly once, in its transaction.

A tick is idempotent: it decides only what is due at its time, so a tick lost (the broker
away, a partition moving) is made up by the next, and one written twice decides nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import structlog
from aiokafka import AIOKafkaProducer

from consumers.kafka_access import Broker, client_options
from consumers.metrics import GatewayMetrics
from contracts.clock import ClockTicked
from contracts.envelope import encode_body, envelope_headers, new_envelope

log = structlog.get_logger("custody_gateway.clock")

CLOCK_SOURCE = "/custody-gateway/clock"


class ClockTicker:
    def __init__(
        self,
        *,
        bootstrap_servers: Broker,
        topic: str,
        party: str,
        every: timedelta,
        partitions: Callable[[], Iterable[int]],
        clock: Callable[[], datetime],
        metrics: GatewayMetrics,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
    ) -> None:
        """``topic`` is the clock's name on the broker (prefixed); ``partitions`` says which
        registry partitions this instance holds at the moment of ticking.
        ``producer_factory`` (an unstarted producer) replaces the idempotent producer, for
        tests of the ticker's own logic."""
        self._producer_factory = producer_factory or self._idempotent_producer
        self._bootstrap_servers = bootstrap_servers
        self._topic = topic
        self._party = party
        self._every_s = every.total_seconds()
        self._partitions = partitions
        self._clock = clock
        self._metrics = metrics

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until ``stop``; a broker away is waited for (the next tick tries again)."""
        producer: AIOKafkaProducer | None = None
        try:
            while not await _stopped_within(stop, self._every_s):
                try:
                    if producer is None:
                        producer = self._producer_factory()
                        await producer.start()
                    await self._tick(producer)
                except Exception as error:  # the broker is away: the next tick makes up
                    log.warning("clock_tick_failed", error=str(error) or type(error).__name__)
                    if producer is not None:
                        await _stop_quietly(producer)
                        producer = None
        finally:
            if producer is not None:
                await _stop_quietly(producer)

    def _idempotent_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(**client_options(self._bootstrap_servers), enable_idempotence=True)

    async def _tick(self, producer: AIOKafkaProducer) -> None:
        now = self._clock()
        for partition in self._partitions():
            tick = ClockTicked.build(partition=partition, ticked_at=now)
            envelope = new_envelope(
                tick, source=CLOCK_SOURCE, sender_party_id=self._party, time=now
            )
            await producer.send_and_wait(
                self._topic,
                value=encode_body(tick),
                key=str(partition).encode(),
                partition=partition,
                headers=envelope_headers(envelope),
            )
            self._metrics.clock_ticks_written.inc()


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), timeout=5)
