"""/metrics of a gateway on the real broker: a consumer-lag sample for every partition each
engine (registry, ledger) is assigned, exported at assignment before any record and 0 once
caught up, and the other series the alerts and the dashboard read (ops/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

import gateway.runtime.app as app_module
from consumers.group_progress import wait_until_consumed as consumed
from contracts.dead_letter import DeadLetterReason
from gateway.runtime.app import GatewayApp
from gateway.topology import Processor, spec_of
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    http_get,
    publish,
    registry_settings,
    running_registry,
    wait_until_consumed,
)
from tests.unit.test_registry import scenario_messages

pytestmark = pytest.mark.broker

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def _scrape(app: GatewayApp) -> Samples:
    assert app.ops_port is not None
    status, text = await http_get(app.ops_port, "/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _lags(samples: Samples) -> dict[tuple[str, str, int], float]:
    return {
        (labels["processor"], labels["topic"], int(labels["partition"])): value
        for (name, frozen), value in samples.items()
        if name == "custody_gateway_consumer_lag_messages"
        for labels in [dict(frozen)]
    }


def _assigned(app: GatewayApp, prefix: str) -> set[tuple[str, str, int]]:
    """(processor, catalogue topic, partition) of every input partition the engines hold."""
    held = set()
    for engine in (app.registry, app.ledger):
        assert engine is not None and engine._consumer is not None
        for partition in engine._consumer.assignment():
            held.add((engine.name, partition.topic.removeprefix(prefix), partition.partition))
    return held


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_metrics_export_the_lag_of_every_assigned_partition_and_the_alerted_series(
    topics: TestTopics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No periodic report during the test: what is there before any record is what the
    # assignment exported.
    monkeypatch.setattr(app_module, "LAG_REPORT_INTERVAL_S", 3600.0)
    async with running_registry(registry_settings(topics, tmp_path / "state")) as app:
        ready_status, _ = await http_get(app.ops_port or 0, "/ready")
        assert ready_status == 200
        assigned = _assigned(app, topics.prefix)
        processors = {processor for processor, _, _ in assigned}
        assert processors == {"registry", "ledger"}
        for processor in (Processor.REGISTRY, Processor.LEDGER):
            topics_held = {topic for name, topic, _ in assigned if name == processor.value}
            assert topics_held == set(spec_of(processor).input_topics)
        assert app.registry is not None and app.ledger is not None
        for engine in (app.registry, app.ledger):
            if engine._lag_report is not None:
                await engine._lag_report
        at_assignment = await _scrape(app)
        assert _lags(at_assignment) == dict.fromkeys(assigned, 0)
        assert _value(at_assignment, "custody_gateway_ready") == 1
        assert _value(at_assignment, "custody_gateway_broker_reachable") == 1

        await publish(topics, scenario_messages())
        producer = AIOKafkaProducer(bootstrap_servers=topics.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(
                topics.prefix + "producer.ecoas", key=b"NORDAL", value=b"\x00 not an envelope"
            )
        finally:
            await producer.stop()
        await wait_until_consumed(topics, app.registry_group_id)
        ledger_inputs = [topics.prefix + name for name in spec_of(Processor.LEDGER).input_topics]
        await consumed(topics.bootstrap_servers, ledger_inputs, app.ledger_group_id, timeout_s=60)
        await app.report_metrics()
        caught_up = await _scrape(app)

    assert _lags(caught_up) == dict.fromkeys(assigned, 0)
    committed = _value(
        caught_up, "custody_gateway_transactions_total", processor="registry", result="committed"
    )
    assert committed is not None and committed > 0
    for processor in ("registry", "ledger"):
        for result in ("aborted", "failed"):
            assert (
                _value(
                    caught_up,
                    "custody_gateway_transactions_total",
                    processor=processor,
                    result=result,
                )
                == 0
            )
    decided = _value(
        caught_up, "custody_gateway_record_to_commit_seconds_count", processor="registry"
    )
    assert decided is not None and decided >= len(scenario_messages())
    letters = {
        dict(labels)["reason"]: value
        for (name, labels), value in caught_up.items()
        if name == "custody_gateway_dead_letters_total"
        and dict(labels)["source_topic"] == "producer.ecoas"
    }
    assert sum(letters.values()) == 1
    assert set(letters) <= {reason.value for reason in DeadLetterReason}
    assert _value(caught_up, "custody_gateway_ready") == 1
    assert _value(caught_up, "custody_gateway_broker_reachable") == 1
