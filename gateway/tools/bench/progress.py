"""How far a consumer group has got, asked cheaply and often: one persistent admin client
(committed offsets) and one persistent consumer (end offsets), not a new client per question
(the old harness's cost, which capped the pipe it measured)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


class GroupProgress:
    def __init__(self, bootstrap_servers: str) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        # read_committed: the end of a transactional topic is its last stable offset.
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        self._partitions: dict[str, list[TopicPartition]] = {}

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()

    async def close(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        names = list(topics)
        unknown = [name for name in names if name not in self._partitions]
        if unknown:
            for description in await self._admin.describe_topics(unknown):
                self._partitions[description["topic"]] = [
                    TopicPartition(description["topic"], partition["partition"])
                    for partition in description["partitions"]
                ]
        return [partition for name in names for partition in self._partitions[name]]

    async def ends(self, topics: Iterable[str]) -> dict[TopicPartition, int]:
        """The end offset of every partition of ``topics``."""
        partitions = await self.partitions(topics)
        offsets: dict[TopicPartition, int] = await self._consumer.end_offsets(partitions)
        return offsets

    async def committed(self, group_id: str) -> dict[TopicPartition, int]:
        answer = await self._admin.list_consumer_group_offsets(group_id)
        return {partition: meta.offset for partition, meta in answer.items() if meta.offset >= 0}

    async def consumed(self, group_id: str, targets: Mapping[TopicPartition, int]) -> int:
        """How many records of ``targets`` (partition -> end offset) the group has committed.
        A record counts as consumed when the group's committed offset is past it."""
        committed = await self.committed(group_id)
        return sum(min(committed.get(partition, 0), end) for partition, end in targets.items())

    async def lag(self, group_id: str, topics: Iterable[str]) -> int:
        """Records on ``topics`` the group has not committed yet."""
        ends = await self.ends(topics)
        committed = await self.committed(group_id)
        return sum(max(end - committed.get(partition, 0), 0) for partition, end in ends.items())


def total(targets: Mapping[TopicPartition, int]) -> int:
    return sum(targets.values())
