"""The importer's quarterly CBAM report on the real broker: the warrant issued to holder H
is in H's report of the quarter it was issued in, with totals equal to that warrant (its net
weight in tonnes, its CoA's emissions); H files version 1 and a correction, both kept, through
registry.cbam-reports; and a read side rebuilt from the topics equals the live one, the filed
versions included."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from contracts.warrants import WarrantIssued
from gateway.readside.cbam_report import Quarter
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
from tests.integration.test_readside_on_kafka import readside_caught_up
from tests.integration.test_registry_on_kafka import group_of
from tests.unit.test_registry_custody_moves import HOLDER, claimed_scenario

pytestmark = pytest.mark.broker


@dataclass
class MovableClock:
    """The wall clock, moved ahead when the test needs the quarter to have ended."""

    ahead: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@dataclass
class Served:
    app: GatewayApp
    clock: MovableClock

    async def call(self, method: str, path: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer token-of-{HOLDER}"}
        base_url = f"http://127.0.0.1:{self.app.ops_port}"
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
            return await http.request(method, path)


@pytest.fixture
async def served(topics: TestTopics, tmp_path: Path) -> AsyncIterator[Served]:
    digests = json.dumps({HOLDER: [digest(f"token-of-{HOLDER}")]})
    settings = registry_settings(topics, tmp_path / "state").model_copy(
        update={"readside": True, "api_tokens": SecretStr(digests)}
    )
    clock = MovableClock()
    async with running_registry(settings, clock=clock) as app:
        yield Served(app, clock)


async def test_the_report_totals_equal_the_warrants_received_and_versions_rebuild(
    served: Served, topics: TestTopics
) -> None:
    app = served.app
    await publish(topics, claimed_scenario())
    await wait_until_consumed(topics, group_of(app))
    await readside_caught_up(topics, app)
    [issued] = [
        r.decoded.body
        for r in await all_outputs(topics)
        if isinstance(r.decoded.body, WarrantIssued)
    ]
    at = issued.issued_at.astimezone(UTC)
    quarter = Quarter.of(at)
    path = f"/v1/reports/quarterly/{quarter.year}/{quarter.quarter}"

    answer = await served.call("GET", path)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    tonnes = Decimal(str(issued.document.net_weight_kg)) / 1000
    summary = issued.document.emissions.summary
    totals = report["totals"]
    assert totals["warrants"] == 1
    assert Decimal(totals["net_mass_t"]) == tonnes
    assert Decimal(totals["direct_tco2e"]) == tonnes * Decimal(str(summary.direct_tco2e_per_t))
    assert Decimal(totals["indirect_tco2e"]) == tonnes * Decimal(str(summary.indirect_tco2e_per_t))
    [line] = report["lines"]
    [warrant] = line["warrants"]
    assert warrant["warrant_id"] == issued.warrant_id
    assert warrant["figures_from"] == "attached"
    imports = (await served.call("GET", f"/v1/imports/{quarter.year}")).json()
    assert Decimal(imports["net_mass_t"]) == tonnes

    early = await served.call("POST", f"{path}/versions?version=1")
    assert early.status_code == 409, early.text
    served.clock.ahead = quarter.ends + timedelta(days=1) - datetime.now(UTC)
    for version in (1, 2):
        filed = await served.call("POST", f"{path}/versions?version={version}")
        assert filed.status_code in (201, 202), filed.text
        await readside_caught_up(topics, app)
    versions = (await served.call("GET", f"{path}/versions")).json()["versions"]
    assert [(v["version"], v["totals"]) for v in versions] == [(1, totals), (2, totals)]

    assert app.read_store is not None
    live = await asyncio.to_thread(app.read_store.dump)
    assert len(live["cbam_report_versions"]) == 2
    rebuilt_settings = app.settings.model_copy(
        update={
            "state_dir": app.settings.state_dir.parent / "rebuilt",
            "readside_group_id": "rebuild-reports",
        }
    )
    async with running_registry(rebuilt_settings) as again:
        await readside_caught_up(topics, again)
        assert again.read_store is not None
        rebuilt = await asyncio.to_thread(again.read_store.dump)
    assert rebuilt == live
