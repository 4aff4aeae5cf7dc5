"""The gateway's Prometheus metrics, on a registry of their own.

Names follow Prometheus conventions: base units (seconds, bytes), ``_total`` on counters.
Each ``GatewayMetrics`` owns its ``CollectorRegistry`` (never the process-wide default), so
nothing is registered at import and two instances, for instance in tests, share nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_Labelled = Counter | Gauge | Histogram

# From half a millisecond (a decision over warm state) to five seconds (a slow commit).
PROCESSING_BUCKETS_SECONDS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)

# The decisions the registry takes and the outcomes each can have; exported at zero from
# the start so that rates and alerts see a series before its first event.
DECISION_OUTCOMES: Final[Mapping[str, tuple[str, ...]]] = {
    "ecoa": ("accepted", "rejected"),
    "production_batch": ("accepted", "rejected"),
    "cbam_form": ("accepted", "rejected"),
    "warrant": ("issued", "rejected", "pending", "cancelled"),
}
# committed; aborted: the broker refused the content and the transaction was aborted (the
# batch is then cut in halves); failed: it did not commit for another reason (the broker
# gone, a fenced or timed-out producer), the producer is dropped and the next one aborts it.
TRANSACTION_RESULTS: Final = ("committed", "aborted", "failed")
PROCESSORS: Final = ("registry", "ledger")

# From the input record's timestamp to the commit of its decision: milliseconds when caught
# up, minutes behind a backlog or after an outage.
RECORD_TO_COMMIT_BUCKETS_SECONDS: Final = (
    *(bound for bound in PROCESSING_BUCKETS_SECONDS if bound >= 0.005),
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
)


class GatewayMetrics:
    """Every metric the gateway exports, and their text exposition."""

    # The classic text format: what generate_latest writes, and what every Prometheus reads.
    content_type: Final = CONTENT_TYPE_PLAIN_0_0_4

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.messages_in = Counter(
            "custody_gateway_messages_consumed_total",
            "Records consumed, by topic and message type.",
            ["topic", "message_type"],
            registry=registry,
        )
        self.messages_out = Counter(
            "custody_gateway_messages_produced_total",
            "Records produced, by topic and message type.",
            ["topic", "message_type"],
            registry=registry,
        )
        self.decisions = Counter(
            "custody_gateway_decisions_total",
            "Registry decisions, by decision (ecoa, cbam_form, warrant) and outcome.",
            ["decision", "outcome"],
            registry=registry,
        )
        self.rule_violations = Counter(
            "custody_gateway_rule_violations_total",
            "Rule violations named in decisions, by violation code and rulebook rule.",
            ["code", "rule"],
            registry=registry,
        )
        self.clock_ticks_written = Counter(
            "custody_gateway_clock_ticks_written_total",
            "Ticks this instance wrote to the registry's clock (one per partition it holds).",
            registry=registry,
        )
        self.clock_ticks = Counter(
            "custody_gateway_clock_ticks_total",
            "Ticks of the registry's clock the registry decided.",
            registry=registry,
        )
        self.expired_by_tick = Counter(
            "custody_gateway_requests_expired_by_tick_total",
            "Warrant requests the clock's ticks rejected as expired.",
            registry=registry,
        )
        self.readside_records = Counter(
            "custody_gateway_readside_records_total",
            "Records the read side consumed, by topic and outcome (projected, passed_over, "
            "unreadable).",
            ["topic", "outcome"],
            registry=registry,
        )
        self.readside_lag = Gauge(
            "custody_gateway_readside_lag_messages",
            "Records the read side has not projected yet: high watermark minus its position, "
            "per partition it holds.",
            ["topic", "partition"],
            registry=registry,
        )
        self.readside_writes = Counter(
            "custody_gateway_readside_writes_total",
            "Rows the read side wrote to its store.",
            registry=registry,
        )
        self.readside_store_failures = Counter(
            "custody_gateway_readside_store_failures_total",
            "Batches the read side's store refused (retried from the same offsets).",
            registry=registry,
        )
        self.http_requests = Counter(
            "custody_gateway_http_requests_total",
            "Requests to the HTTP API, by route and status.",
            ["route", "status"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "custody_gateway_dead_letters_total",
            "Records set aside on the dead-letter topic, by source topic and reason.",
            ["source_topic", "reason"],
            registry=registry,
        )
        self.processing_seconds = Histogram(
            "custody_gateway_processing_duration_seconds",
            "Time from the worker taking a record's batch to its transaction being committed "
            "(the step and the transaction; the time waiting to be fetched is not in it).",
            ["message_type"],
            buckets=PROCESSING_BUCKETS_SECONDS,
            registry=registry,
        )
        self.record_to_commit_seconds = Histogram(
            "custody_gateway_record_to_commit_seconds",
            "Time from an input record's timestamp (set by its producer, so the producer's "
            "clock) to the commit of the transaction carrying its decision, by processor.",
            ["processor"],
            buckets=RECORD_TO_COMMIT_BUCKETS_SECONDS,
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "custody_gateway_consumer_lag_messages",
            "Records not yet consumed: end offset (last stable) minus the group's committed "
            "offset, per processor and input partition this instance holds; 0 when caught up.",
            ["processor", "topic", "partition"],
            registry=registry,
        )
        self.state_store_bytes = Gauge(
            "custody_gateway_state_store_size_bytes",
            "Size of the registry's local state store.",
            registry=registry,
        )
        self.transactions = Counter(
            "custody_gateway_transactions_total",
            "Kafka transactions, by processor and result (committed; aborted: the broker "
            "refused the content; failed: broker gone, fenced or timed out).",
            ["processor", "result"],
            registry=registry,
        )
        self.restored_entities = Gauge(
            "custody_gateway_restored_entities",
            "Entities restored into the state store from the changelog, by partition.",
            ["partition"],
            registry=registry,
        )
        self.ledger_commands = Counter(
            "custody_gateway_ledger_commands_total",
            "Ledger commands by message type and outcome (booked, rejected, already_handled, "
            "dead_letter).",
            ["message_type", "outcome"],
            registry=registry,
        )
        self.ledger_accounts = Gauge(
            "custody_gateway_ledger_accounts",
            "Mass-balance accounts the ledger keeps, by level (S or G).",
            ["level"],
            registry=registry,
        )
        self.ledger_journal_commands = Gauge(
            "custody_gateway_ledger_journal_commands",
            "Commands on the ledger's journal (its system of record), restored or booked.",
            registry=registry,
        )
        self.step_defects = Counter(
            "custody_gateway_step_defects_total",
            "Records whose step raised (a defect in the gateway's code), set aside as dead "
            "letters, by processor.",
            ["processor"],
            registry=registry,
        )
        self.broker_reachable = Gauge(
            "custody_gateway_broker_reachable",
            "1 while the Kafka broker answers, 0 during an outage.",
            registry=registry,
        )
        self.ready = Gauge(
            "custody_gateway_ready",
            "1 while /ready would answer 200, 0 otherwise (evaluated every 5 s and on each "
            "/ready).",
            registry=registry,
        )
        self._lag_series: dict[str, set[tuple[str, str]]] = {}
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        for processor in ("registry", "ledger"):
            self.step_defects.labels(processor=processor)
        for decision, outcomes in DECISION_OUTCOMES.items():
            for outcome in outcomes:
                self.decisions.labels(decision=decision, outcome=outcome)
        for processor in PROCESSORS:
            self.record_to_commit_seconds.labels(processor=processor)
            for result in TRANSACTION_RESULTS:
                self.transactions.labels(processor=processor, result=result)

    def set_lag(self, processor: str, lags: Mapping[tuple[str, int], int]) -> None:
        """The lag of every (topic, partition) ``processor`` holds now; the series of
        partitions it no longer holds are removed (another instance reports them)."""
        now = {(topic, str(number)) for topic, number in lags}
        for topic, partition in self._lag_series.get(processor, set()) - now:
            self.consumer_lag.remove(processor, topic, partition)
        for (topic, number), lag in lags.items():
            self.consumer_lag.labels(processor, topic, str(number)).set(max(lag, 0))
        self._lag_series[processor] = now

    def expect_dead_letters_from(self, topics: Iterable[str], reasons: Iterable[str]) -> None:
        """Export every (source topic, reason) series at zero before the first dead letter:
        Prometheus' ``increase`` sees no rise in a series that starts at its first value, so
        a reason's first burst would otherwise slip past the dead-letter alert."""
        for topic in topics:
            for reason in reasons:
                self.dead_letters.labels(source_topic=topic, reason=reason)

    def child(self, metric: _Labelled, *values: str) -> Any:
        """``metric.labels(*values)``, kept: the same series is asked for on every record."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def render(self) -> bytes:
        """Every metric in the Prometheus text exposition format."""
        return generate_latest(self.registry)
