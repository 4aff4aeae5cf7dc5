"""Publishes the importers' filed CBAM report versions (``custody.cbam-report.filed``) on
``registry.cbam-reports``, as the registry's party: the HTTP API's filing endpoint calls
``publish``; the read side projects the topic into ``cbam_report_versions``."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaProducer

from consumers.kafka_access import Broker, client_options
from contracts.cbam_report import CbamReportFiled
from contracts.envelope import new_envelope
from contracts.values import PartyRole
from producers.kafka_publisher import EnvelopePublisher

REPORT_SOURCE = "custody-gateway/http-api"


class ReportPublisher:
    """An idempotent producer, started with the read side and stopped with it."""

    def __init__(self, bootstrap_servers: Broker, *, topic_prefix: str, party: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topic_prefix = topic_prefix
        self._party = party
        self._producer: AIOKafkaProducer | None = None
        self._publisher: EnvelopePublisher | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            **client_options(self._bootstrap_servers), enable_idempotence=True, acks="all"
        )
        await producer.start()
        self._producer = producer
        self._publisher = EnvelopePublisher(producer, self._topic_prefix)

    async def publish(self, body: CbamReportFiled) -> None:
        if self._publisher is None:
            raise RuntimeError("the report publisher is not running")
        envelope = new_envelope(
            body,
            source=REPORT_SOURCE,
            sender_party_id=self._party,
            time=body.filed_at,
            subject=body.importer_id,
            event_id=body.filing_id,
        )
        await self._publisher.publish(body, envelope, PartyRole.REGISTRY)

    async def stop(self) -> None:
        producer, self._producer, self._publisher = self._producer, None, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=5)
