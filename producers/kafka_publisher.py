"""Publishes contract messages with their CloudEvents envelope to the catalogue's topics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from contracts.base import Contract
from contracts.envelope import Envelope, encode_body, envelope_headers
from contracts.topics import route
from contracts.values import PartyRole


@dataclass(frozen=True)
class Published:
    topic: str
    partition: int
    offset: int
    key: bytes


class EnvelopePublisher:
    """Sends a body on the topic the catalogue gives its type and the sender's role, keyed
    as the catalogue says."""

    def __init__(self, producer: AIOKafkaProducer, topic_prefix: str = "") -> None:
        self._producer = producer
        self._prefix = topic_prefix

    async def publish(
        self, body: Contract, envelope: Envelope, sender_role: PartyRole
    ) -> Published:
        spec = route(type(body), sender_role)
        key = spec.key_of(body)
        metadata = await self._producer.send_and_wait(
            self._prefix + spec.name,
            key=key,
            value=encode_body(body),
            headers=envelope_headers(envelope),
        )
        return Published(
            topic=metadata.topic, partition=metadata.partition, offset=metadata.offset, key=key
        )

    async def publish_all(self, messages: Iterable[tuple[Contract, Envelope, PartyRole]]) -> int:
        """Send many without waiting for each: the producer batches them, and this returns
        once every one is acknowledged (the first failure is raised). Returns how many."""
        sent = []
        for body, envelope, sender_role in messages:
            spec = route(type(body), sender_role)
            sent.append(
                await self._producer.send(
                    self._prefix + spec.name,
                    key=spec.key_of(body),
                    value=encode_body(body),
                    headers=envelope_headers(envelope),
                )
            )
        await asyncio.gather(*sent)
        return len(sent)
