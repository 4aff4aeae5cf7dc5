"""Wiring: everything the gateway runs, built in one place from the settings.

Nothing connects at import or in ``create_app``; ``GatewayApp.run`` connects and runs until
asked to stop. Both processors run on the one exactly-once engine (``consumers.engine``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from faststream.kafka import KafkaBroker

from consumers.counting import LedgerCounting, RegistryCounting
from consumers.engine import EngineSettings, ExactlyOnceEngine, ProcessorRun
from consumers.metrics import GatewayMetrics
from consumers.readside_store import PostgresReadStore, ReadStore, SqliteReadStore
from consumers.readside_subscriber import (
    ReadSideSubscription,
    build_readside_broker,
    report_readside_lag,
)
from consumers.state_logs import LedgerJournal, RegistryChangelog
from consumers.state_store import SqliteStateStore
from contracts.asyncapi import asyncapi_document
from contracts.parties import Role, load_parties
from contracts.signatures import SigningKey
from contracts.topics import TOPICS_BY_NAME
from gateway.ledger import LedgerState
from gateway.processors import ledger as ledger_processor
from gateway.processors import registry as registry_processor
from gateway.processors.ledger import LedgerSettings
from gateway.processors.registry import PipelineSettings
from gateway.processors.signed_senders import SigningKeys, signing_keys_of
from gateway.readside.disclosures import StatisticsPolicy
from gateway.readside.queries import ReadSide
from gateway.readside.tables import SOURCE_TOPICS
from gateway.registry.state import RegistryState
from gateway.rulebook.model import FormDeadline, Rulebook, load_rulebook
from gateway.runtime.api_tokens import ApiTokens
from gateway.runtime.broker_watch import BrokerWatch
from gateway.runtime.clock import ClockTicker
from gateway.runtime.http_api import HttpServer, Readiness, ReportFiling, create_http_app
from gateway.runtime.report_filing import ReportPublisher
from gateway.runtime.settings import Settings
from gateway.topology import (
    LEDGER_INPUT,
    LEDGER_SNAPSHOTS,
    REGISTRY_CLOCK,
    Processor,
    asyncapi_channels,
    spec_of,
)
from producers.samples import sample_messages

log = structlog.get_logger("custody_gateway.app")

LAG_REPORT_INTERVAL_S = 5.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class GatewayApp:
    settings: Settings
    rulebook: Rulebook
    metrics: GatewayMetrics
    registry_engine: EngineSettings
    ledger_engine: EngineSettings
    pipeline: PipelineSettings
    ledger_settings: LedgerSettings
    clock: Callable[[], datetime]
    registry: ExactlyOnceEngine[RegistryState] | None = None
    ledger: ExactlyOnceEngine[LedgerState] | None = None
    tokens: ApiTokens = field(default_factory=ApiTokens.none)
    ops_port: int | None = None
    broker: BrokerWatch | None = field(default=None)
    read_store: ReadStore | None = None
    read_side: ReadSide | None = None
    readside_running: bool = False

    @property
    def registry_group_id(self) -> str:
        return self.registry_engine.group_id

    @property
    def ledger_group_id(self) -> str:
        return self.ledger_engine.group_id

    async def run(self, stop: asyncio.Event, *, engines: bool = True) -> None:
        """Run until ``stop``: the registry and the ledger (unless ``engines`` is False, as
        in ``gateway serve``), the read side when the settings ask for it, and the HTTP API."""
        bootstrap = self.settings.kafka_bootstrap_servers
        if not bootstrap:
            raise RuntimeError("KAFKA_BOOTSTRAP_SERVERS is not set: the registry needs a broker")
        store = SqliteStateStore(self.settings.state_dir / "registry.sqlite3") if engines else None
        if store is not None:
            self.registry = ExactlyOnceEngine(
                self._registry_run(store), self.registry_engine, self.metrics, self.clock
            )
            self.ledger = ExactlyOnceEngine(
                self._ledger_run(), self.ledger_engine, self.metrics, self.clock
            )
        self.broker = BrokerWatch(bootstrap, self.metrics)
        document = asyncapi_document(
            host=bootstrap.split(",")[0],
            topic_prefix=self.settings.topic_prefix,
            processors=asyncapi_channels(),
            samples=sample_messages(),
        )
        readside_broker = None
        report_publisher: ReportPublisher | None = None
        if self.settings.readside or not engines:
            self.read_store = open_read_store(self.settings)
            self.read_side = ReadSide(
                self.read_store,
                frozenset(self.pipeline.exchange_parties),
                StatisticsPolicy(
                    published_from=self.settings.statistics_published_from,
                    minimum_group=self.settings.statistics_minimum_group,
                ),
            )
            readside_broker = build_readside_broker(
                self.readside_subscription(), self.read_store, self.metrics
            )
            report_publisher = ReportPublisher(
                self.settings.kafka_access(),
                topic_prefix=self.settings.topic_prefix,
                party=self.pipeline.registry_party,
            )
        http = HttpServer(
            create_http_app(
                metrics=self.metrics,
                readiness=self._readiness,
                asyncapi=lambda: document,
                read_side=lambda: self.read_side if self.readside_running else None,
                tokens=self.tokens,
                today=lambda: self.clock().date(),
                report_filing=None
                if report_publisher is None
                else ReportFiling(publish=report_publisher.publish, clock=self.clock),
            ),
            self.settings.ops_host,
            self.settings.ops_port,
        )
        self.ops_port = await http.start()
        background = [
            asyncio.create_task(self._report_lag(stop, readside_broker)),
            asyncio.create_task(self.broker.watch(stop)),
        ]
        if engines and self.settings.clock_tick_every:
            background.append(asyncio.create_task(self._clock_ticker(bootstrap).run(stop)))
        log.info(
            "gateway_starting",
            bootstrap=bootstrap,
            registry_group=self.registry_engine.group_id if engines else None,
            ledger_group=self.ledger_engine.group_id if engines else None,
            readside_group=self.readside_subscription().group_id if readside_broker else None,
            instance_id=self.registry_engine.instance_id,
            rulebook=self.rulebook.version,
        )
        try:
            if readside_broker is not None:
                await readside_broker.start()
                if report_publisher is not None:
                    await report_publisher.start()
                self.readside_running = True
            if self.registry is not None and self.ledger is not None:
                await _run_together(self.registry.run(stop), self.ledger.run(stop), stop=stop)
            else:
                await stop.wait()
        finally:
            self.readside_running = False
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if report_publisher is not None:
                await report_publisher.stop()
            if readside_broker is not None:
                await readside_broker.stop()
            await http.stop()
            if store is not None:
                store.close()
            if self.read_store is not None:
                self.read_store.close()
            log.info("gateway_stopped")

    def readside_subscription(self) -> ReadSideSubscription:
        """The read side's subscription. Its group carries the store's generation: a new
        store (a SQLite file deleted, another database) starts from the topics' beginning."""
        settings = self.settings
        if self.read_store is None:
            raise RuntimeError("the read side's store is not open")
        group = settings.readside_group_id
        if group is None:
            shared = settings.readside_database_url is not None
            suffix = "" if shared else f"-{self.registry_engine.instance_id}"
            group = f"custody-readside{suffix}"
        group = f"{group}-{self.read_store.generation}"
        return ReadSideSubscription(
            bootstrap_servers=settings.kafka_access(),
            topics=[settings.topic_prefix + topic for topic in SOURCE_TOPICS],
            group_id=settings.topic_prefix + group,
            max_value_bytes=settings.max_message_bytes,
        )

    def _clock_ticker(self, bootstrap: str) -> ClockTicker:
        """Ticks for the registry partitions this instance holds, as the registry's party."""
        return ClockTicker(
            bootstrap_servers=self.settings.kafka_access(bootstrap),
            topic=self.settings.topic_prefix + REGISTRY_CLOCK,
            party=self.pipeline.registry_party,
            every=self.settings.clock_tick_every,
            partitions=lambda: self.registry.owned_partitions if self.registry else (),
            clock=self.clock,
            metrics=self.metrics,
        )

    def _registry_run(self, store: SqliteStateStore) -> ProcessorRun[RegistryState]:
        spec = spec_of(Processor.REGISTRY)
        pipeline = self.pipeline
        return ProcessorRun(
            name=spec.processor.value,
            input_topics=spec.input_topics,
            step=lambda state, record, now: registry_processor.process_record(
                state, record, now=now, settings=pipeline
            ),
            set_aside=functools.partial(registry_processor.set_aside, settings=pipeline),
            state_log=RegistryChangelog(
                spec.state_log,
                store,
                self.metrics,
                cache_entries=self.settings.state_cache_entries,
            ),
            count=RegistryCounting(self.metrics),
        )

    def _ledger_run(self) -> ProcessorRun[LedgerState]:
        spec = spec_of(Processor.LEDGER)
        settings = self.ledger_settings
        journal = LedgerJournal(
            spec.state_log,
            LEDGER_SNAPSHOTS,
            snapshot_every=self.settings.ledger_snapshot_every,
            chunk_bytes=min(512 * 1024, self.settings.max_record_bytes // 2),
        )
        return ProcessorRun(
            name=spec.processor.value,
            input_topics=spec.input_topics,
            step=lambda state, record, now: ledger_processor.process_ledger_record(
                state, record, now=now, settings=settings
            ),
            set_aside=functools.partial(ledger_processor.set_aside, settings=settings),
            state_log=journal,
            count=LedgerCounting(self.metrics, journal),
        )

    async def start(
        self, stop: asyncio.Event, *, engines: bool = True, timeout_s: float = 120
    ) -> asyncio.Task[None]:
        """Run in the background until ``stop`` (see ``run``); return once every partition is
        restored and the read side subscribed. A failure while starting is raised here."""
        task = asyncio.create_task(self.run(stop, engines=engines))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.ready:
            if task.done():
                task.result()
            if loop.time() > deadline:
                stop.set()
                raise TimeoutError(f"the gateway was not ready within {timeout_s:.0f} s")
            await asyncio.sleep(0.05)
        return task

    @property
    def ready(self) -> bool:
        """The registry's partitions and the ledger's journal restored (and the read side
        subscribed, where it runs)."""
        if self.read_store is not None and not self.readside_running:
            return False
        if self.registry is None and self.ledger is None:
            return self.readside_running
        return bool(self.registry and self.registry.ready and self.ledger and self.ledger.ready)

    async def _readiness(self) -> Readiness:
        """Ready when the broker answered the watch's last check (once a second), every
        partition this instance holds is restored and the read side (where it runs) is
        subscribed."""
        registry, ledger, broker = self.registry, self.ledger, self.broker
        detail: dict[str, str] = {}
        checks = {"broker_reachable": bool(broker and broker.reachable)}
        if registry is not None:
            detail["partitions"] = ",".join(map(str, registry.owned_partitions))
            checks["state_restored"] = registry.ready
        if ledger is not None:
            detail["ledger"] = "held" if ledger.owned_partitions else "held by another instance"
            checks["ledger_restored"] = ledger.ready
        if self.read_store is not None:
            checks["readside_subscribed"] = self.readside_running
        readiness = Readiness.of(checks, detail=detail)
        self.metrics.ready.set(1 if readiness.ready else 0)
        return readiness

    async def _report_lag(self, stop: asyncio.Event, readside: KafkaBroker | None) -> None:
        """Every ``LAG_REPORT_INTERVAL_S``: the lags and ``custody_gateway_ready``."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=LAG_REPORT_INTERVAL_S)
            if not stop.is_set():
                await self.report_metrics(readside)

    async def report_metrics(self, readside: KafkaBroker | None = None) -> None:
        """The gauges sampled rather than counted: readiness, the engines' consumer lag and
        the read side's (never raises: a broker that does not answer leaves them as they
        are)."""
        await self._readiness()
        for engine in (self.registry, self.ledger):
            if engine is not None:
                with contextlib.suppress(Exception):
                    await engine.report_lag()
        if readside is not None and self.readside_running:
            with contextlib.suppress(Exception):
                await report_readside_lag(readside, self.metrics)


async def _run_together(*engines: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Run the engines until ``stop``; if one fails, stop the others and raise its error."""
    tasks = [asyncio.create_task(engine) for engine in engines]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def default_instance_id(settings: Settings) -> str:
    """A name that stays the same when this instance restarts: host and state directory."""
    where = str(settings.state_dir.resolve())
    return f"{socket.gethostname()}-{hashlib.sha256(where.encode()).hexdigest()[:10]}"


def configured_rulebook(settings: Settings) -> Rulebook:
    """The rulebook file with the dates the settings set (by Notice), and the pending limit
    they set, in place of its own."""
    deadline = settings.cbam_form_deadline
    rulebook = load_rulebook(
        settings.rulebook_file,
        cbam_notice_date=settings.cbam_notice_date,
        form_deadline=None if deadline is None else FormDeadline.parse(deadline),
        first_form_deadline=settings.cbam_first_form_deadline,
        verification_start=settings.cbam_verification_start,
    )
    limit = settings.warrant_pending_limit
    if limit is None:
        return rulebook
    return rulebook.model_copy(update={"pending_limit": limit})


def open_read_store(settings: Settings) -> ReadStore:
    """The read side's store the settings name: PostgreSQL when a URL is set, else SQLite."""
    url = settings.readside_database_url
    if url is not None:
        return PostgresReadStore(url.get_secret_value(), schema=settings.readside_schema)
    return SqliteReadStore(settings.state_dir / "readside.sqlite3")


@dataclass(frozen=True)
class SenderProof:
    """With a parties file: the keys the parties' records must be signed with, the gateway's
    own key, and the exchange's listing parties (the file's exchange role)."""

    keys: SigningKeys
    signer: SigningKey
    exchange_parties: frozenset[str]


def sender_proof(settings: Settings) -> SenderProof | None:
    """What proves a sender, from the parties file and the gateway's key (None without a
    parties file: the sender is the ``ce_partyid`` header, as on an open broker)."""
    if settings.parties_file is None:
        return None
    parties = load_parties(settings.parties_file)
    if settings.signing_key_file is None:
        raise ValueError(
            "GATEWAY_PARTIES_FILE is set but GATEWAY_SIGNING_KEY_FILE is not: the gateway signs "
            "its custody moves on ledger.commands, a topic parties write too "
            "(`gateway key custody-registry` makes a key)"
        )
    signer = SigningKey.from_file(settings.registry_party_id, settings.signing_key_file)
    keys = signing_keys_of(parties, **{signer.party_id: (signer.public_key_bytes,)})
    exchange = frozenset(party.id for party in parties.with_roles(Role.EXCHANGE))
    return SenderProof(keys, signer, exchange)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = _utc_now) -> GatewayApp:
    rulebook = configured_rulebook(settings)
    prefix = settings.topic_prefix
    proof = sender_proof(settings)
    exchange_parties = settings.exchange_parties if proof is None else proof.exchange_parties
    instance_id = settings.instance_id or default_instance_id(settings)
    access = settings.kafka_access()

    def engine(group: str) -> EngineSettings:
        return EngineSettings(
            bootstrap_servers=access,
            topic_prefix=prefix,
            group_id=f"{prefix}{group}",
            transactional_id_prefix=f"{prefix}{group}",
            instance_id=instance_id,
            max_record_bytes=settings.max_record_bytes,
            session_timeout_ms=settings.session_timeout_ms,
            retry_backoff_ms=settings.producer_retry_backoff_ms,
            decision_log_level=settings.decision_log_level,
        )

    return GatewayApp(
        settings=settings,
        rulebook=rulebook,
        metrics=GatewayMetrics(),
        registry_engine=engine(settings.registry_group_id),
        ledger_engine=engine(settings.ledger_group_id),
        pipeline=PipelineSettings(
            rulebook=rulebook,
            registry_party=settings.registry_party_id,
            exchange_parties=exchange_parties,
            max_value_bytes=settings.max_message_bytes,
            signing_keys=None if proof is None else proof.keys,
            signer=None if proof is None else proof.signer,
        ),
        ledger_settings=LedgerSettings(
            registry_party=settings.registry_party_id,
            exchange_parties=exchange_parties,
            max_value_bytes=settings.max_message_bytes,
            partitions=settings.ledger_partitions or TOPICS_BY_NAME[LEDGER_INPUT].partitions,
            signing_keys=None if proof is None else proof.keys,
        ),
        clock=clock,
        tokens=ApiTokens.load(
            file=settings.api_tokens_file,
            text=None if settings.api_tokens is None else settings.api_tokens.get_secret_value(),
        ),
    )
