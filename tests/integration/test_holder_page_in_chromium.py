"""The holders' web page in a real headless Chromium (Debian's, driven by playwright-core):
signed in with the holder's token it shows the seeded scenario's warrant with its CoA's
emissions, the chart of the metal held and the report links; another holder's page shows
none of it. The run leaves a screenshot in `.run/screenshots/`."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contracts.warrants import WarrantIssued
from gateway.runtime.app import GatewayApp
from tests.conftest import TestTopics
from tests.integration.readside_support import scenario_served
from tests.unit.test_registry_custody_moves import HOLDER, LOT

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "browser" / "holder_page.mjs"
SCREENSHOTS = ROOT / ".run" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
TOKENS = {HOLDER: "holder-page-token", "member-k-trading": "other-page-token"}


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (apt-get install chromium)"
    if not (ROOT / "tests" / "browser" / "node_modules" / "playwright-core").exists():
        return "playwright-core is not installed (npm ci --prefix tests/browser; make install)"
    return None


pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(_missing() is not None, reason=str(_missing())),
]


@pytest.fixture
async def decided(
    topics: TestTopics, tmp_path: Path
) -> AsyncIterator[tuple[GatewayApp, WarrantIssued]]:
    async with scenario_served(topics, tmp_path / "state", TOKENS) as served:
        yield served


async def in_chromium(app: GatewayApp, token: str, screenshot: Path) -> dict[str, Any]:
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        f"http://127.0.0.1:{app.ops_port}",
        token,
        str(screenshot),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()[-2000:]
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def test_the_holder_page_renders_the_scenario_in_chromium(
    decided: tuple[GatewayApp, WarrantIssued],
) -> None:
    app, issued = decided
    screenshot = SCREENSHOTS / "holder_page.png"
    seen = await in_chromium(app, TOKENS[HOLDER], screenshot)
    assert seen["party"] == HOLDER
    [row] = seen["rows"]
    document = issued.document
    [coa] = document.certificates_of_analysis
    assert row[0] == issued.warrant_id and row[4] == coa.reference
    assert row[1] == f"{document.brand} ({document.country_of_origin})"
    summary = document.emissions.summary
    assert row[5].startswith(str(summary.direct_tco2e_per_t))
    assert row[6].startswith(str(summary.indirect_tco2e_per_t))
    [bar] = seen["bars"]
    assert bar["brand"] == document.brand and "t CO2e" in bar["text"]
    assert {link["href"].split("format=")[1] for link in seen["reports"]} == {"xml", "csv", "json"}
    assert seen["download"] is not None and seen["download"]["status"] == 200
    assert seen["download"]["type"].startswith("application/xml")
    assert screenshot.stat().st_size > 10_000, "the screenshot is an image of the page"
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot of the holder page: {screenshot}")


async def test_another_holder_sees_none_of_it(decided: tuple[GatewayApp, WarrantIssued]) -> None:
    app, issued = decided
    seen = await in_chromium(app, TOKENS["member-k-trading"], SCREENSHOTS / "other_holder.png")
    assert seen["party"] == "member-k-trading"
    assert seen["rows"] == [] and seen["bars"] == []
    assert LOT not in json.dumps(seen) and issued.warrant_id not in json.dumps(seen)
