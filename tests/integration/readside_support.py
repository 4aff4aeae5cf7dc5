"""A gateway with its read side that has decided the issued-lot scenario, for the tests of
what the parties read (the README's examples, the holders' page)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr

from consumers.group_progress import wait_until_consumed as consumed
from contracts.warrants import WarrantIssued
from gateway.readside.tables import SOURCE_TOPICS
from gateway.runtime.api_tokens import digest
from gateway.runtime.app import GatewayApp
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    all_outputs,
    publish,
    registry_settings,
    running_registry,
    wait_until_consumed,
)
from tests.unit.test_registry_custody_moves import claimed_scenario


async def readside_caught_up(topics: TestTopics, app: GatewayApp) -> None:
    """Until the read side's group has consumed every record of the topics it projects."""
    await consumed(
        topics.bootstrap_servers,
        [topics.prefix + name for name in SOURCE_TOPICS],
        app.readside_subscription().group_id,
        timeout_s=60,
    )


@contextlib.asynccontextmanager
async def scenario_served(
    topics: TestTopics,
    state_dir: Path,
    tokens: Mapping[str, str],
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[tuple[GatewayApp, WarrantIssued]]:
    """The gateway, with ``tokens`` (party -> token) known, once its read side has the
    scenario's warrant; and that warrant."""
    digests = json.dumps({party: [digest(token)] for party, token in tokens.items()})
    settings = registry_settings(topics, state_dir).model_copy(
        update={"readside": True, "api_tokens": SecretStr(digests)}
    )
    async with running_registry(settings, clock=clock) as app:
        await publish(topics, claimed_scenario())
        await wait_until_consumed(topics, app.registry_group_id)
        await readside_caught_up(topics, app)
        [issued] = [
            r.decoded.body
            for r in await all_outputs(topics)
            if isinstance(r.decoded.body, WarrantIssued)
        ]
        yield app, issued
