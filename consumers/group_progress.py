"""How far a consumer group has got: wait until it has consumed everything sent so far."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient

from consumers.kafka_access import Broker, client_options
from consumers.record_reader import end_offsets


async def wait_until_consumed(
    bootstrap_servers: Broker, topics: Iterable[str], group_id: str, *, timeout_s: float = 60
) -> None:
    """Until the group's committed offsets reach the end of every partition of ``topics``.
    For the registry, whose offsets commit in the same transaction as its outputs, that
    also means every output of those inputs is committed."""
    names = list(topics)
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers))
    await admin.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while True:
            ends = await end_offsets(bootstrap_servers, names)
            committed = await admin.list_consumer_group_offsets(group_id)
            behind = sorted(
                f"{partition.topic}/{partition.partition}"
                for partition, end in ends.items()
                if end > 0
                and (committed.get(partition) is None or committed[partition].offset < end)
            )
            if not behind:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"group {group_id} has not consumed {', '.join(behind)}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
