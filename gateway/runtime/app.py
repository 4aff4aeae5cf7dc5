"""Wiring: everything the gateway runs, built in one place from the settings.

Nothing connects at import or in ``create_app``; ``GatewayApp.run`` connects and runs until
asked to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from consumers.ledger_worker import LedgerWorker, LedgerWorkerSettings
from consumers.metrics import GatewayMetrics
from consumers.registry_worker import RegistryWorker, WorkerSettings
from consumers.state_store import SqliteStateStore
from contracts.asyncapi import asyncapi_document
from gateway.processors.ledger import LedgerSettings
from gateway.processors.registry import PipelineSettings
from gateway.rulebook.model import Rulebook, load_rulebook
from gateway.runtime.ops_http import OpsServer, Readiness
from gateway.runtime.settings import Settings

log = structlog.get_logger("custody_gateway.app")

LAG_REPORT_INTERVAL_S = 5.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class GatewayApp:
    settings: Settings
    rulebook: Rulebook
    metrics: GatewayMetrics
    worker_settings: WorkerSettings
    pipeline: PipelineSettings
    ledger_worker_settings: LedgerWorkerSettings
    ledger_settings: LedgerSettings
    clock: Callable[[], datetime]
    worker: RegistryWorker | None = None
    ledger: LedgerWorker | None = None
    ops_port: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        bootstrap = self.settings.kafka_bootstrap_servers
        if not bootstrap:
            raise RuntimeError("KAFKA_BOOTSTRAP_SERVERS is not set: the registry needs a broker")
        store = SqliteStateStore(self.settings.state_dir / "registry.sqlite3")
        worker = RegistryWorker(
            self.worker_settings, self.pipeline, store, self.metrics, self.clock
        )
        self.worker = worker
        ledger = LedgerWorker(
            self.ledger_worker_settings, self.ledger_settings, self.metrics, self.clock
        )
        self.ledger = ledger
        document = asyncapi_document(
            host=bootstrap.split(",")[0], topic_prefix=self.settings.topic_prefix
        )
        ops = OpsServer(
            self.settings.ops_host,
            self.settings.ops_port,
            metrics=self.metrics,
            readiness=self._readiness,
            asyncapi=lambda: document,
        )
        self.ops_port = await ops.start()
        lag = asyncio.create_task(self._report_lag(stop))
        log.info(
            "registry_starting",
            bootstrap=bootstrap,
            group=self.worker_settings.group_id,
            ledger_group=self.ledger_worker_settings.group_id,
            rulebook=self.rulebook.version,
        )
        try:
            await _run_together(worker.run(stop), ledger.run(stop), stop=stop)
        finally:
            lag.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag
            await ops.stop()
            store.close()
            log.info("registry_stopped")

    async def start(self, stop: asyncio.Event, *, timeout_s: float = 120) -> asyncio.Task[None]:
        """Run in the background until ``stop``; return once every partition is restored.
        A failure while starting is raised here."""
        task = asyncio.create_task(self.run(stop))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.ready:
            if task.done():
                task.result()
            if loop.time() > deadline:
                stop.set()
                raise TimeoutError(f"the registry was not ready within {timeout_s:.0f} s")
            await asyncio.sleep(0.05)
        return task

    @property
    def ready(self) -> bool:
        """The registry's partitions and the ledger's journal restored."""
        return bool(self.worker and self.worker.ready and self.ledger and self.ledger.ready)

    async def _readiness(self) -> Readiness:
        """Ready when the broker answers and every partition this instance holds is restored."""
        bootstrap = (self.settings.kafka_bootstrap_servers or "").split(",")[0]
        host, _, port = bootstrap.rpartition(":")
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port)), timeout=2
            )
            writer.close()
            reachable = True
        except (OSError, ValueError, TimeoutError):
            reachable = False
        worker, ledger = self.worker, self.ledger
        detail = {"partitions": ",".join(map(str, worker.owned_partitions))} if worker else {}
        if ledger is not None:
            detail["ledger"] = "held" if ledger.holds_the_ledger else "held by another instance"
        return Readiness.of(
            {
                "broker_reachable": reachable,
                "state_restored": bool(worker and worker.ready),
                "ledger_restored": bool(ledger and ledger.ready),
            },
            detail=detail,
        )

    async def _report_lag(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(LAG_REPORT_INTERVAL_S)
            for worker in (self.worker, self.ledger):
                if worker is not None:
                    with contextlib.suppress(Exception):
                        await worker.report_lag()


async def _run_together(*workers: Coroutine[None, None, None], stop: asyncio.Event) -> None:
    """Run the workers until ``stop``; if one fails, stop the others and raise its error."""
    tasks = [asyncio.create_task(worker) for worker in workers]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = _utc_now) -> GatewayApp:
    rulebook = load_rulebook(settings.rulebook_file, cbam_notice_date=settings.cbam_notice_date)
    prefix = settings.topic_prefix
    exchange_parties = frozenset(
        party.strip() for party in settings.exchange_party_ids.split(",") if party.strip()
    )
    return GatewayApp(
        settings=settings,
        rulebook=rulebook,
        metrics=GatewayMetrics(),
        worker_settings=WorkerSettings(
            bootstrap_servers=settings.kafka_bootstrap_servers or "",
            topic_prefix=prefix,
            group_id=f"{prefix}{settings.registry_group_id}",
            transactional_id_prefix=f"{prefix}{settings.registry_group_id}",
        ),
        pipeline=PipelineSettings(
            rulebook=rulebook,
            registry_party=settings.registry_party_id,
            exchange_parties=exchange_parties,
            max_value_bytes=settings.max_message_bytes,
        ),
        ledger_worker_settings=LedgerWorkerSettings(
            bootstrap_servers=settings.kafka_bootstrap_servers or "",
            topic_prefix=prefix,
            group_id=f"{prefix}{settings.ledger_group_id}",
            transactional_id=f"{prefix}{settings.ledger_group_id}",
        ),
        ledger_settings=LedgerSettings(
            registry_party=settings.registry_party_id,
            exchange_parties=exchange_parties,
            max_value_bytes=settings.max_message_bytes,
        ),
        clock=clock,
    )
