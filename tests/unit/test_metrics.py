"""The gateway's metrics: conventional names, their own registry, a readable exposition."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from consumers.counting import RegistryCounting
from consumers.metrics import PROCESSING_BUCKETS_SECONDS, GatewayMetrics
from gateway.processors.registry import process_record
from gateway.registry.state import RegistryState
from gateway.rulebook.model import load_rulebook
from tests.unit.test_scenarios_through_the_pipeline import pipeline_settings, records_of


def _samples(metrics: GatewayMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.render().decode("utf-8")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(metrics: GatewayMetrics, name: str, **labels: str) -> float | None:
    return _samples(metrics).get((name, frozenset(labels.items())))


def _use_every_metric(metrics: GatewayMetrics) -> None:
    metrics.messages_in.labels(topic="producer.ecoas", message_type="custody.ecoa.created").inc()
    metrics.messages_out.labels(
        topic="registry.ecoa-decisions", message_type="custody.ecoa.accepted"
    ).inc(2)
    metrics.decisions.labels(decision="warrant", outcome="issued").inc()
    metrics.rule_violations.labels(
        code="LOT_WEIGHT_OUT_OF_TOLERANCE", rule="Aluminium Alloy SCR 2, 3.1"
    ).inc()
    metrics.dead_letters.labels(source_topic="producer.ecoas", reason="schema_violation").inc()
    metrics.processing_seconds.labels(message_type="custody.lot.arrived").observe(0.003)
    metrics.consumer_lag.labels(processor="registry", topic="producer.ecoas", partition="3").set(42)
    metrics.state_store_bytes.set(1_048_576)
    metrics.transactions.labels(processor="registry", result="committed").inc()
    metrics.restored_entities.labels(partition="3").set(17)


EXPECTED_AFTER_USE: list[tuple[str, dict[str, str], float]] = [
    (
        "custody_gateway_messages_consumed_total",
        {"topic": "producer.ecoas", "message_type": "custody.ecoa.created"},
        1,
    ),
    (
        "custody_gateway_messages_produced_total",
        {"topic": "registry.ecoa-decisions", "message_type": "custody.ecoa.accepted"},
        2,
    ),
    ("custody_gateway_decisions_total", {"decision": "warrant", "outcome": "issued"}, 1),
    (
        "custody_gateway_rule_violations_total",
        {"code": "LOT_WEIGHT_OUT_OF_TOLERANCE", "rule": "Aluminium Alloy SCR 2, 3.1"},
        1,
    ),
    (
        "custody_gateway_dead_letters_total",
        {"source_topic": "producer.ecoas", "reason": "schema_violation"},
        1,
    ),
    (
        "custody_gateway_processing_duration_seconds_count",
        {"message_type": "custody.lot.arrived"},
        1,
    ),
    (
        "custody_gateway_processing_duration_seconds_sum",
        {"message_type": "custody.lot.arrived"},
        0.003,
    ),
    (
        "custody_gateway_consumer_lag_messages",
        {"processor": "registry", "topic": "producer.ecoas", "partition": "3"},
        42,
    ),
    ("custody_gateway_state_store_size_bytes", {}, 1_048_576),
    ("custody_gateway_transactions_total", {"processor": "registry", "result": "committed"}, 1),
    ("custody_gateway_restored_entities", {"partition": "3"}, 17),
]


def test_every_metric_is_exported_under_its_conventional_name() -> None:
    metrics = GatewayMetrics()
    _use_every_metric(metrics)
    for name, labels, expected in EXPECTED_AFTER_USE:
        assert _value(metrics, name, **labels) == expected, (name, labels)


def test_processing_histogram_buckets_span_half_a_millisecond_to_five_seconds() -> None:
    metrics = GatewayMetrics()
    metrics.processing_seconds.labels(message_type="custody.lot.arrived").observe(0.003)
    name = "custody_gateway_processing_duration_seconds_bucket"
    buckets = {
        dict(labels)["le"]: value
        for (sample_name, labels), value in _samples(metrics).items()
        if sample_name == name
    }
    assert min(PROCESSING_BUCKETS_SECONDS) == 0.0005
    assert max(PROCESSING_BUCKETS_SECONDS) == 5.0
    assert set(buckets) == {str(bound) for bound in PROCESSING_BUCKETS_SECONDS} | {"+Inf"}
    assert buckets["0.0025"] == 0
    assert buckets["0.005"] == 1
    assert buckets["+Inf"] == 1


def test_known_decisions_and_transaction_results_are_exported_at_zero() -> None:
    metrics = GatewayMetrics()
    assert (
        _value(metrics, "custody_gateway_decisions_total", decision="warrant", outcome="pending")
        == 0
    )
    assert (
        _value(metrics, "custody_gateway_decisions_total", decision="ecoa", outcome="rejected") == 0
    )
    for processor in ("registry", "ledger"):
        for result in ("committed", "aborted", "failed"):
            assert (
                _value(
                    metrics,
                    "custody_gateway_transactions_total",
                    processor=processor,
                    result=result,
                )
                == 0
            )


def test_the_exposition_is_the_prometheus_text_format() -> None:
    metrics = GatewayMetrics()
    _use_every_metric(metrics)
    text = metrics.render().decode("utf-8")
    assert metrics.content_type.startswith("text/plain; version=0.0.4")
    assert "# TYPE custody_gateway_messages_consumed_total counter" in text
    assert "# TYPE custody_gateway_processing_duration_seconds histogram" in text
    assert "# TYPE custody_gateway_consumer_lag_messages gauge" in text
    assert "custody_gateway_state_store_size_bytes 1.048576e+06" in text


def test_two_instances_share_no_values_and_leave_the_default_registry_alone() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.transactions.labels(processor="ledger", result="committed").inc(5)
    first.state_store_bytes.set(10)

    committed = {"processor": "ledger", "result": "committed"}
    assert _value(first, "custody_gateway_transactions_total", **committed) == 5
    assert _value(second, "custody_gateway_transactions_total", **committed) == 0
    assert _value(second, "custody_gateway_state_store_size_bytes") == 0
    assert first.registry is not second.registry
    assert REGISTRY.get_sample_value("custody_gateway_transactions_total", committed) is None


def test_a_kept_series_is_the_one_labels_gives() -> None:
    metrics = GatewayMetrics()
    kept = metrics.child(metrics.messages_in, "producer.ecoas", "custody.ecoa.created")
    assert kept is metrics.child(metrics.messages_in, "producer.ecoas", "custody.ecoa.created")
    kept.inc(2)
    assert (
        metrics.messages_in.labels(
            topic="producer.ecoas", message_type="custody.ecoa.created"
        )._value.get()
        == 2
    )


def test_the_registry_counts_the_ticks_it_decided_and_the_requests_they_expired() -> None:
    metrics = GatewayMetrics()
    settings = pipeline_settings(load_rulebook())
    state, consumed = RegistryState(), []
    for record, at in records_of("quiet_brand_expired_by_the_clock.jsonl"):
        result = process_record(state, record, now=at, settings=settings)
        state = result.state
        consumed.append((record, result))
    RegistryCounting(metrics)(consumed, state)
    assert _value(metrics, "custody_gateway_clock_ticks_total") == 4
    assert _value(metrics, "custody_gateway_requests_expired_by_tick_total") == 1
    assert _value(metrics, "custody_gateway_clock_ticks_written_total") == 0
