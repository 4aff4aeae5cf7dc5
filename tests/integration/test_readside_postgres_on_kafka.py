"""Two instances, one PostgreSQL read side, on the real broker: the registry with its read side
and a second instance serving only (``gateway serve``) share the database and the read side's
consumer group (the default for PostgreSQL), so each projects some of the partitions (the
registry's output for several brands spreads over them). Both
answer a holder's ``/v1/warrants`` alike, before and after the cancellation, and the shared
database, restarted before the cancellation, holds the rows a SQLite read side rebuilt from
the topics holds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from contracts.warrants import WarrantIssued
from gateway.runtime.api_tokens import digest
from gateway.runtime.app import GatewayApp
from gateway.runtime.settings import Settings
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    all_outputs,
    publish,
    registry_settings,
    running_registry,
    scenario_for_brand,
    wait_until_consumed,
)
from tests.integration.test_readside_on_kafka import get, readside_caught_up, token
from tests.integration.test_registry_on_kafka import group_of
from tests.postgres_support import PostgresServer
from tests.unit.test_registry_custody_moves import HOLDER, LOT, cancel, claimed_scenario

pytestmark = [pytest.mark.broker, pytest.mark.postgres]


@pytest.fixture
def shared_settings(
    topics: TestTopics, tmp_path: Path, postgres_server: PostgresServer
) -> Iterator[Settings]:
    schema = f"readside_{uuid.uuid4().hex[:10]}"
    digests = json.dumps({HOLDER: [digest(token(HOLDER))]})
    yield registry_settings(topics, tmp_path / "registry").model_copy(
        update={
            "readside": True,
            "readside_database_url": SecretStr(postgres_server.dsn),
            "readside_schema": schema,
            "api_tokens": SecretStr(digests),
        }
    )
    with psycopg.connect(postgres_server.dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@contextlib.asynccontextmanager
async def two_instances(settings: Settings) -> AsyncIterator[tuple[GatewayApp, GatewayApp]]:
    serving = settings.model_copy(update={"state_dir": settings.state_dir.parent / "serving"})
    async with (
        running_registry(settings) as registry,
        running_registry(serving, engines=False) as server,
    ):
        yield registry, server


async def holders_view(
    apps: tuple[GatewayApp, ...], *, server_restarted: bool = False
) -> list[dict[str, Any]]:
    """What each instance shows the holder. After the database restarted, an instance whose
    connection has not been used since answers 503 once, and reconnects."""
    views = []
    for app in apps:
        answer = await get(app, HOLDER, "/v1/warrants")
        if server_restarted and answer.status_code == 503:
            answer = await get(app, HOLDER, "/v1/warrants")
        assert answer.status_code == 200, answer.text
        views.append(answer.json())
    return views


async def test_two_instances_on_one_database_serve_alike_and_equal_a_rebuild(
    shared_settings: Settings, topics: TestTopics, postgres_server: PostgresServer
) -> None:
    async with two_instances(shared_settings) as (registry, server):
        group = registry.readside_subscription().group_id
        assert server.readside_subscription().group_id == group
        # other brands' lots too, so that the records spread over the partitions of both
        others = [message for number in range(1, 7) for message in scenario_for_brand(number)]
        await publish(topics, [*claimed_scenario(), *others])
        await wait_until_consumed(topics, group_of(registry))
        await readside_caught_up(topics, registry)
        [issued] = [
            r.decoded.body
            for r in await all_outputs(topics)
            if isinstance(r.decoded.body, WarrantIssued) and r.decoded.body.lot_id == LOT
        ]
        seen_by_registry, seen_by_server = await holders_view((registry, server))
        assert seen_by_registry == seen_by_server
        [warrant] = seen_by_server["warrants"]
        assert (warrant["warrant_id"], warrant["lot_id"]) == (issued.warrant_id, LOT)

        # The database restarts under both: the next batch is refused, delivered again, taken.
        postgres_server.restart()
        more = [message for number in range(7, 13) for message in scenario_for_brand(number)]
        await publish(topics, [cancel(), *more])
        await wait_until_consumed(topics, group_of(registry))
        await readside_caught_up(topics, registry)
        after = await holders_view((registry, server), server_restarted=True)
        assert [view["warrants"] for view in after] == [[], []]
        assert server.read_store is not None
        shared = await asyncio.to_thread(server.read_store.dump)
        apps = (registry, server)
        written = [app.metrics.readside_writes._value.get() for app in apps]
        assert all(written), f"one instance projected nothing: writes {written}"
        refused = sum(app.metrics.readside_store_failures._value.get() for app in apps)
        assert refused >= 1, "no batch met the restarted database"
    assert shared["warrants"] and shared["certificates"] and shared["certificate_emissions"]

    rebuild = shared_settings.model_copy(
        update={
            "state_dir": shared_settings.state_dir.parent / "rebuilt",
            "readside_database_url": None,
            "readside_group_id": "rebuild-into-sqlite",
        }
    )
    async with running_registry(rebuild, engines=False) as rebuilt:
        await readside_caught_up(topics, rebuilt)
        assert rebuilt.read_store is not None
        assert await asyncio.to_thread(rebuilt.read_store.dump) == shared
