"""`gateway serve` as its own process: the read side and the parties' API without the
registry, beside a registry that decides; it serves the holder's warrant and stops cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import httpx
import pytest

from gateway.runtime.api_tokens import digest
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    free_port,
    publish,
    registry_settings,
    running_registry,
    start_registry,
    wait_ready,
    wait_until_consumed,
)
from tests.unit.test_registry_custody_moves import HOLDER, LOT, claimed_scenario

pytestmark = pytest.mark.broker


async def test_gateway_serve_alone_serves_what_the_registry_decided(
    topics: TestTopics, tmp_path: Path
) -> None:
    async with running_registry(registry_settings(topics, tmp_path / "registry")) as app:
        await publish(topics, claimed_scenario())
        await wait_until_consumed(topics, app.registry_group_id)
    port, log = free_port(), tmp_path / "serve.log"
    tokens = json.dumps({HOLDER: [digest("serve-token")]})
    served = start_registry(
        topics,
        tmp_path / "serve",
        port,
        log,
        {"GATEWAY_API_TOKENS": tokens, "GATEWAY_READSIDE": "true"},
        command="serve",
    )
    try:
        await wait_ready(port, served)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            ready = (await http.get("/ready")).json()
            assert set(ready["checks"]) == {"broker_reachable", "readside_subscribed"}
            for _attempt in range(100):
                answer = await http.get(
                    "/v1/warrants", headers={"Authorization": "Bearer serve-token"}
                )
                if answer.json()["warrants"]:
                    break
                await asyncio.sleep(0.2)
        assert [w["lot_id"] for w in answer.json()["warrants"]] == [LOT]
    finally:
        served.send_signal(signal.SIGTERM)
        assert served.wait(timeout=30) == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "serve-token" not in text and digest("serve-token") not in text, "a secret in the log"
