"""Publishes contract messages with their CloudEvents envelope to the catalogue's topics,
signed by the sending party's key when it is given one (see ``contracts.signatures``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from contracts.base import Contract
from contracts.envelope import Envelope, encode_body, envelope_headers
from contracts.signatures import SigningKey
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
    as the catalogue says. With ``signing_keys`` (party id to its key), a message is signed
    by the key of its envelope's sender party; a sender without a key here sends unsigned
    (a secured registry sets such a record aside)."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic_prefix: str = "",
        *,
        signing_keys: Mapping[str, SigningKey] | None = None,
    ) -> None:
        self._producer = producer
        self._prefix = topic_prefix
        self._signing_keys = dict(signing_keys or {})

    def record_of(
        self, body: Contract, envelope: Envelope, sender_role: PartyRole
    ) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
        """The topic (prefixed), key, value and headers ``body`` is sent with."""
        spec = route(type(body), sender_role)
        key = spec.key_of(body)
        value = encode_body(body)
        headers = envelope_headers(envelope)
        signer = self._signing_keys.get(envelope.sender_party_id)
        if signer is not None:
            headers = signer.signed_headers(spec.name, key, headers, value)
        return self._prefix + spec.name, key, value, headers

    async def publish(
        self, body: Contract, envelope: Envelope, sender_role: PartyRole
    ) -> Published:
        topic, key, value, headers = self.record_of(body, envelope, sender_role)
        metadata = await self._producer.send_and_wait(topic, key=key, value=value, headers=headers)
        return Published(
            topic=metadata.topic, partition=metadata.partition, offset=metadata.offset, key=key
        )

    async def publish_all(self, messages: Iterable[tuple[Contract, Envelope, PartyRole]]) -> int:
        """Send many without waiting for each: the producer batches them, and this returns
        once every one is acknowledged (the first failure is raised). Returns how many."""
        sent = []
        for body, envelope, sender_role in messages:
            topic, key, value, headers = self.record_of(body, envelope, sender_role)
            sent.append(await self._producer.send(topic, key=key, value=value, headers=headers))
        await asyncio.gather(*sent)
        return len(sent)
