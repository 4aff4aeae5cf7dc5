"""Creates the catalogue's topics on a broker, and checks the ones already there."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from consumers.kafka_access import Broker, client_options
from contracts.topics import TopicSpec

TOPIC_ALREADY_EXISTS = 36


class TopicSetupError(RuntimeError):
    """A catalogue topic could not be created, or exists with other settings."""


@dataclass(frozen=True)
class TopicSetupReport:
    created: tuple[str, ...]
    already_present: tuple[str, ...]


async def ensure_topics(
    broker: Broker,
    catalogue: Sequence[TopicSpec],
    prefix: str = "",
    *,
    replication_factor: int = 1,
    max_record_bytes: int | None = None,
) -> TopicSetupReport:
    """Create every catalogue topic (name prefixed) that is missing; verify the others.
    ``max_record_bytes`` raises the topics' ``max.message.bytes`` so that records of that
    size (the gateway's ``GATEWAY_MAX_RECORD_BYTES``) are accepted."""
    admin = AIOKafkaAdminClient(**client_options(broker), request_timeout_ms=30_000)
    await admin.start()
    try:
        wanted = {prefix + spec.name: spec for spec in catalogue}
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        created: list[str] = []
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name,
                        num_partitions=wanted[name].partitions,
                        replication_factor=replication_factor,
                        topic_configs=_configs(wanted[name], max_record_bytes),
                    )
                    for name in missing
                ],
                timeout_ms=30_000,
            )
            for name, code, *rest in response.topic_errors:
                if code == 0:
                    created.append(name)
                elif code != TOPIC_ALREADY_EXISTS:
                    detail = rest[0] if rest else ""
                    raise TopicSetupError(f"creating topic {name} failed: error {code} {detail}")
        await _wait_until_led(admin, created)
        present = [name for name in wanted if name not in created]
        await _verify(admin, {name: wanted[name] for name in present})
        return TopicSetupReport(created=tuple(created), already_present=tuple(present))
    finally:
        await admin.close()


BROKER_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
RECORD_BATCH_ROOM_BYTES = 1024


def _configs(spec: TopicSpec, max_record_bytes: int | None) -> dict[str, str]:
    configs = spec.broker_configs()
    if max_record_bytes is not None:
        limit = max(BROKER_DEFAULT_MAX_MESSAGE_BYTES, max_record_bytes + RECORD_BATCH_ROOM_BYTES)
        configs["max.message.bytes"] = str(limit)
    return configs


async def _wait_until_led(
    admin: AIOKafkaAdminClient, names: Sequence[str], timeout_s: float = 30.0
) -> None:
    """Wait until every partition of the new topics has a leader and in-sync replicas: a
    topic is created before the broker's metadata shows it ready, and a client using it
    meanwhile gets errors."""
    if not names:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        waiting = [
            description["topic"]
            for description in await admin.describe_topics(list(names))
            if description["error_code"] != 0
            or not description["partitions"]
            or any(
                partition["leader"] < 0 or not partition["isr"]
                for partition in description["partitions"]
            )
        ]
        if not waiting:
            return
        if loop.time() > deadline:
            raise TopicSetupError(f"topics without a leader after {timeout_s:.0f} s: {waiting}")
        await asyncio.sleep(0.1)


async def _verify(admin: AIOKafkaAdminClient, specs: dict[str, TopicSpec]) -> None:
    if not specs:
        return
    problems: list[str] = []
    for description in await admin.describe_topics(list(specs)):
        name = description["topic"]
        partitions = len(description["partitions"])
        if partitions != specs[name].partitions:
            problems.append(
                f"{name} has {partitions} partitions, the catalogue says {specs[name].partitions}"
            )
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in specs]
    )
    for response in responses:
        for _code, _message, _type, name, entries in response.resources:
            configs = {entry[0]: entry[1] for entry in entries}
            expected = specs[name].cleanup_policy.value
            if configs.get("cleanup.policy") != expected:
                problems.append(
                    f"{name} has cleanup.policy={configs.get('cleanup.policy')}, "
                    f"the catalogue says {expected}"
                )
    if problems:
        raise TopicSetupError("topics differ from the catalogue: " + "; ".join(problems))
