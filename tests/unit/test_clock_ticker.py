"""The clock's publisher without a broker: one tick per partition held, as the gateway's own
party, with its wall time; a producer that fails is replaced and the next tick goes out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from consumers.metrics import GatewayMetrics
from contracts.clock import ClockTicked
from contracts.envelope import decode_message
from gateway.runtime.clock import ClockTicker

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


class FakeProducer:
    def __init__(self, sent: list[dict[str, Any]], *, fails: bool = False) -> None:
        self.sent = sent
        self.fails = fails
        self.stopped = False
        self.enough = (asyncio.Event(), 0)
        """Set the event once this many records were sent."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    async def send_and_wait(self, topic: str, **record: Any) -> None:
        if self.fails:
            raise ConnectionError("the broker is away")
        self.sent.append({"topic": topic, **record})
        event, count = self.enough
        if len(self.sent) >= count:
            event.set()


async def ticked(producers: list[FakeProducer], until_sent: int) -> list[dict[str, Any]]:
    sent = producers[-1].sent
    factory = iter(producers)
    metrics = GatewayMetrics()
    ticker = ClockTicker(
        bootstrap_servers="unused",
        topic="t-registry.clock",
        party="custody-registry",
        every=timedelta(milliseconds=5),
        partitions=lambda: (1, 4),
        clock=lambda: NOW,
        metrics=metrics,
        producer_factory=lambda: next(factory),  # type: ignore[arg-type, return-value]
    )
    stop = asyncio.Event()
    for producer in producers:
        producer.enough = (stop, until_sent)
    await asyncio.wait_for(ticker.run(stop), timeout=5)
    written = metrics.registry.get_sample_value("custody_gateway_clock_ticks_written_total")
    assert written == len(sent)
    return sent


async def test_each_partition_held_gets_a_tick_from_the_gateways_party() -> None:
    sent = await ticked([FakeProducer([])], until_sent=4)
    assert [(s["topic"], s["partition"], s["key"]) for s in sent[:2]] == [
        ("t-registry.clock", 1, b"1"),
        ("t-registry.clock", 4, b"4"),
    ]
    decoded = decode_message(sent[1]["headers"], sent[1]["value"])
    assert decoded.envelope.sender_party_id == "custody-registry"
    assert decoded.body == ClockTicked.build(partition=4, ticked_at=NOW)


async def test_a_failed_producer_is_stopped_and_replaced_for_the_next_tick() -> None:
    sent: list[dict[str, Any]] = []
    broken = FakeProducer(sent, fails=True)
    assert len(await ticked([broken, FakeProducer(sent)], until_sent=2)) >= 2
    assert broken.stopped
