"""What each processor adds to the engine's metrics after a committed batch."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

from consumers.metrics import GatewayMetrics
from consumers.state_logs import LedgerJournal
from contracts.clock import ClockTicked
from contracts.warrants import WarrantRejected
from gateway.ledger import LedgerState
from gateway.processors.ledger import LedgerProcessed
from gateway.processors.records import InputRecord
from gateway.processors.registry import RegistryProcessed
from gateway.registry.state import RegistryState

REGISTRY_DECISIONS = {
    "custody.ecoa.accepted": ("ecoa", "accepted"),
    "custody.ecoa.rejected": ("ecoa", "rejected"),
    "custody.production-batch.accepted": ("production_batch", "accepted"),
    "custody.production-batch.rejected": ("production_batch", "rejected"),
    "custody.cbam-form.accepted": ("cbam_form", "accepted"),
    "custody.cbam-form.rejected": ("cbam_form", "rejected"),
    "custody.warrant.issued": ("warrant", "issued"),
    "custody.warrant.rejected": ("warrant", "rejected"),
    "custody.warrant.pending": ("warrant", "pending"),
    "custody.warrant.cancelled": ("warrant", "cancelled"),
}
"""Output message type -> (decision, outcome) of ``custody_gateway_decisions_total``."""


class RegistryCounting:
    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def __call__(
        self, consumed: Sequence[tuple[InputRecord, RegistryProcessed]], state: RegistryState
    ) -> None:
        metrics = self._metrics
        for _record, result in consumed:
            if result.message_type == ClockTicked.MESSAGE_TYPE:
                metrics.clock_ticks.inc()
                expired = [d for d in result.decisions if isinstance(d, WarrantRejected)]
                metrics.expired_by_tick.inc(len(expired))
            for output in result.outputs:
                decision = REGISTRY_DECISIONS.get(output.message_type)
                if decision is not None:
                    metrics.child(metrics.decisions, decision[0], decision[1]).inc()
            for body in result.decisions:
                for violation in getattr(body, "violations", ()):
                    metrics.child(metrics.rule_violations, violation.code, violation.rule).inc()


class LedgerCounting:
    ACCOUNTS_EVERY_S = 10.0
    """Counting the accounts by level reads every account: at most this often."""

    def __init__(self, metrics: GatewayMetrics, journal: LedgerJournal) -> None:
        self._metrics = metrics
        self._journal = journal
        self._accounts_counted_at = -self.ACCOUNTS_EVERY_S

    def __call__(
        self, consumed: Sequence[tuple[InputRecord, LedgerProcessed]], state: LedgerState
    ) -> None:
        metrics = self._metrics
        for _record, result in consumed:
            metrics.ledger_commands.labels(
                message_type=result.message_type or "unreadable", outcome=result.outcome.value
            ).inc()
        metrics.ledger_journal_commands.set(self._journal.journaled)
        now = time.monotonic()
        if now - self._accounts_counted_at < self.ACCOUNTS_EVERY_S:
            return
        self._accounts_counted_at = now
        levels = Counter(account.level.value for account in state.balances)
        for level in ("S", "G"):
            metrics.ledger_accounts.labels(level=level).set(levels[level])
