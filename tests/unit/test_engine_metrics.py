"""What the engine and the broker watch put on the metrics that the alerts and the dashboard
read (ops/): transactions by processor and result, dead letters by reason, the time from a
record's timestamp to its commit, the consumer lag per held partition (set at assignment,
removed when a partition goes) and whether the broker answers. Without a broker: the fakes of
tests/unit/test_engine.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import ConsumerRecord, TopicPartition

from consumers.batches import report_lag
from consumers.engine import _Rebalance
from consumers.metrics import GatewayMetrics
from contracts.dead_letter import DeadLetterReason
from gateway.runtime.broker_watch import BrokerWatch
from tests.unit.test_engine import TOPIC, FakeConsumer, _records, _rig


def _sample(metrics: GatewayMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def _transactions(metrics: GatewayMetrics, result: str) -> float | None:
    return _sample(
        metrics, "custody_gateway_transactions_total", processor="registry", result=result
    )


class LagConsumer(FakeConsumer):
    """The offsets report_lag asks for: end (last stable), committed and first offsets."""

    def __init__(
        self,
        partitions: Iterable[TopicPartition],
        ends: dict[TopicPartition, int],
        committed: dict[TopicPartition, int],
        beginnings: dict[TopicPartition, int] | None = None,
    ) -> None:
        super().__init__(list(partitions))
        self.ends, self.committed_offsets = ends, committed
        self.beginnings = beginnings or {}

    def reassign(self, partitions: Iterable[TopicPartition]) -> None:
        self._assigned = set(partitions)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {partition: self.ends[partition] for partition in partitions}

    async def committed(self, partition: TopicPartition) -> int | None:
        return self.committed_offsets.get(partition)

    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return {partition: self.beginnings.get(partition, 0) for partition in partitions}

    def pause(self, *partitions: TopicPartition) -> None:
        pass

    def resume(self, *partitions: TopicPartition) -> None:
        pass


def _lag(metrics: GatewayMetrics, processor: str, topic: str, partition: int) -> float | None:
    return _sample(
        metrics,
        "custody_gateway_consumer_lag_messages",
        processor=processor,
        topic=topic,
        partition=str(partition),
    )


async def test_a_commit_counts_the_transaction_and_each_record_s_time_since_its_timestamp() -> None:
    rig = await _rig()
    two_seconds_ago = int(time.time() * 1000) - 2000
    records = [
        ConsumerRecord(TOPIC, 0, i, two_seconds_ago, 0, b"k", b"v", None, 0, 0, [])
        for i in range(3)
    ]
    await rig.engine._process(0, records)
    assert _transactions(rig.metrics, "committed") == 1
    assert _transactions(rig.metrics, "aborted") == 0
    name = "custody_gateway_record_to_commit_seconds"
    assert _sample(rig.metrics, f"{name}_count", processor="registry") == 3
    assert _sample(rig.metrics, f"{name}_bucket", processor="registry", le="1.0") == 0
    assert _sample(rig.metrics, f"{name}_bucket", processor="registry", le="2.5") == 3
    assert _sample(rig.metrics, f"{name}_count", processor="ledger") == 0


async def test_a_refused_transaction_is_aborted_and_its_record_a_dead_letter_by_reason() -> None:
    rig = await _rig(refuse_values_with=b"bad")
    await rig.engine._process(0, _records(b"a", b"bad", b"c"))
    aborted = _transactions(rig.metrics, "aborted")
    assert aborted is not None and aborted >= 1
    assert _transactions(rig.metrics, "failed") == 0
    dead = _sample(
        rig.metrics,
        "custody_gateway_dead_letters_total",
        source_topic=TOPIC,
        reason="processing_error",
    )
    assert dead == 1


async def test_every_dead_letter_reason_is_exported_at_zero_before_the_first() -> None:
    """So that ``increase`` sees a reason's first burst (ops/prometheus/alerts.yml)."""
    rig = await _rig()
    for reason in DeadLetterReason:
        dead = _sample(
            rig.metrics,
            "custody_gateway_dead_letters_total",
            source_topic=TOPIC,
            reason=reason.value,
        )
        assert dead == 0, reason


async def test_a_transaction_the_broker_never_ended_counts_as_failed() -> None:
    rig = await _rig()
    rig.producer.fail_next_commits = 1
    await rig.engine._process(0, _records(b"a", b"b"))
    assert _transactions(rig.metrics, "failed") == 1
    assert _transactions(rig.metrics, "aborted") == 0
    assert _transactions(rig.metrics, "committed") == 0


async def test_the_lag_is_per_held_partition_zero_when_caught_up_and_goes_with_it() -> None:
    metrics = GatewayMetrics()
    p0, p1, p2 = (TopicPartition("dev.producer.ecoas", n) for n in range(3))
    consumer = LagConsumer(
        [p0, p1, p2],
        ends={p0: 10, p1: 7, p2: 30},
        committed={p0: 10, p1: 2},
        beginnings={p2: 25},  # never committed: counted from its first offset
    )
    await report_lag(consumer, metrics, "dev.", "registry")  # type: ignore[arg-type]
    assert _lag(metrics, "registry", "producer.ecoas", 0) == 0
    assert _lag(metrics, "registry", "producer.ecoas", 1) == 5
    assert _lag(metrics, "registry", "producer.ecoas", 2) == 5
    consumer.reassign([p0])
    await report_lag(consumer, metrics, "dev.", "registry")  # type: ignore[arg-type]
    assert _lag(metrics, "registry", "producer.ecoas", 0) == 0
    assert _lag(metrics, "registry", "producer.ecoas", 1) is None
    assert _lag(metrics, "registry", "producer.ecoas", 2) is None
    metrics.set_lag("ledger", {("producer.ecoas", 1): 3})
    consumer.reassign([])
    await report_lag(consumer, metrics, "dev.", "registry")  # type: ignore[arg-type]
    assert _lag(metrics, "registry", "producer.ecoas", 0) is None
    assert _lag(metrics, "ledger", "producer.ecoas", 1) == 3  # another processor's own


async def test_the_lag_is_exported_when_partitions_are_assigned_before_any_batch() -> None:
    rig = await _rig()
    partition = TopicPartition(TOPIC, 0)
    consumer = LagConsumer([partition], ends={partition: 4}, committed={partition: 4})
    rig.engine._consumer = consumer  # type: ignore[assignment]
    await _Rebalance(rig.engine).on_partitions_assigned([partition])
    assert rig.engine._lag_report is not None
    await asyncio.wait_for(rig.engine._lag_report, timeout=5)
    assert _lag(rig.metrics, "registry", TOPIC, 0) == 0


def test_the_broker_watch_sets_the_reachable_gauge_on_every_check() -> None:
    metrics = GatewayMetrics()
    watch = BrokerWatch("127.0.0.1:1", metrics)
    watch._record(False)
    assert _sample(metrics, "custody_gateway_broker_reachable") == 0
    watch._record(True)
    assert _sample(metrics, "custody_gateway_broker_reachable") == 1
    watch._record(False)
    assert _sample(metrics, "custody_gateway_broker_reachable") == 0
