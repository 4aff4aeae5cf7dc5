"""The topics of one measurement: the catalogue and the pipes' two output topics under a
prefix of its own, created before and deleted after (the broker is shared by the runs)."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import CATALOGUE, TopicSpec
from gateway.runtime.topic_admin import ensure_topics
from gateway.tools.bench.contestants import BARE_OUTPUT, TRANSACTIONAL_OUTPUT
from gateway.tools.bench.framework import BenchContext

PIPE_OUTPUTS = tuple(
    TopicSpec(name=name, purpose="benchmark pipe output", message_types=(), key="", writer_roles=())
    for name in (BARE_OUTPUT, TRANSACTIONAL_OUTPUT)
)


async def create(context: BenchContext, prefix: str) -> None:
    await ensure_topics(
        context.bootstrap_servers,
        (*CATALOGUE, *PIPE_OUTPUTS),
        prefix,
        max_record_bytes=context.settings.max_record_bytes,
    )


async def delete(context: BenchContext, prefix: str) -> None:
    """Best effort: a topic left behind costs only disk."""
    admin = AIOKafkaAdminClient(bootstrap_servers=context.bootstrap_servers)
    with contextlib.suppress(Exception):
        await admin.start()
        try:
            names = [name for name in await admin.list_topics() if name.startswith(prefix)]
            if names:
                await admin.delete_topics(names, timeout_ms=30_000)
        finally:
            await admin.close()
