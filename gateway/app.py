"""Wiring: everything the gateway runs, built in one place from the settings.

Nothing connects at import or in ``create_app``; ``GatewayApp.run`` connects and runs until
asked to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from consumers.registry_worker import RegistryWorker, WorkerSettings
from contracts.asyncapi import asyncapi_document
from gateway.metrics import GatewayMetrics
from gateway.ops_http import OpsServer, Readiness
from gateway.registry_pipeline import PipelineSettings
from gateway.rulebook.model import Rulebook, load_rulebook
from gateway.settings import Settings
from gateway.state_store import SqliteStateStore

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
    clock: Callable[[], datetime]
    worker: RegistryWorker | None = None
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
        lag = asyncio.create_task(self._report_lag(worker, stop))
        log.info(
            "registry_starting",
            bootstrap=bootstrap,
            group=self.worker_settings.group_id,
            rulebook=self.rulebook.version,
        )
        try:
            await worker.run(stop)
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
        while not (self.worker and self.worker.ready):
            if task.done():
                task.result()
            if loop.time() > deadline:
                stop.set()
                raise TimeoutError(f"the registry was not ready within {timeout_s:.0f} s")
            await asyncio.sleep(0.05)
        return task

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
        worker = self.worker
        restored = worker is not None and worker.ready
        detail = {"partitions": ",".join(map(str, worker.owned_partitions))} if worker else {}
        return Readiness.of(
            {"broker_reachable": reachable, "state_restored": restored}, detail=detail
        )

    async def _report_lag(self, worker: RegistryWorker, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(LAG_REPORT_INTERVAL_S)
            with contextlib.suppress(Exception):
                await worker.report_lag()


def create_app(settings: Settings, *, clock: Callable[[], datetime] = _utc_now) -> GatewayApp:
    rulebook = load_rulebook(settings.rulebook_file, cbam_notice_date=settings.cbam_notice_date)
    prefix = settings.topic_prefix
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
            exchange_parties=frozenset(
                party.strip() for party in settings.exchange_party_ids.split(",") if party.strip()
            ),
            max_value_bytes=settings.max_message_bytes,
        ),
        clock=clock,
    )
