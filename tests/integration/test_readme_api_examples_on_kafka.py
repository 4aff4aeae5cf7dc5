"""The README's API examples, run as written with curl against a gateway that has decided the
issued-lot scenario; and its kcat one-liner against the same broker."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.readside.cbam_report import Quarter
from gateway.runtime.app import GatewayApp
from tests.conftest import TestTopics
from tests.integration.readside_support import scenario_served
from tests.integration.test_cbam_report_on_kafka import MovableClock
from tests.readme_commands import readme_command
from tests.unit.test_registry_custody_moves import HOLDER

pytestmark = pytest.mark.broker

README = Path(__file__).resolve().parents[2] / "README.md"
TOKENS = {HOLDER: "holder-token-1", "member-k-trading": "other-token-1"}


def readme_block(marker: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = text.split(f"<!-- {marker} -->", 1)[1].split(f"<!-- /{marker} -->", 1)[0]
    return [line for line in block.splitlines() if line.startswith("curl ")]


@pytest.fixture
async def decided(topics: TestTopics, tmp_path: Path) -> AsyncIterator[tuple[GatewayApp, str]]:
    async with scenario_served(topics, tmp_path / "state", TOKENS) as (app, issued):
        yield app, issued.document.certificates_of_analysis[0].reference


async def run(line: str, environment: dict[str, str]) -> str:
    """Run ``line`` in bash from the repository's root, off the event loop (the gateway
    answers on it)."""
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", line],
        cwd=README.parent,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, (line, done.stderr)
    return done.stdout


async def test_every_api_example_in_the_readme_answers_as_it_says(
    decided: tuple[GatewayApp, str],
) -> None:
    app, ecoa = decided
    lines = readme_block("api-examples")
    assert len(lines) >= 7
    environment = {
        "GATEWAY": f"http://127.0.0.1:{app.ops_port}",
        "HOLDER_TOKEN": TOKENS[HOLDER],
        "OTHER_TOKEN": TOKENS["member-k-trading"],
        "ECOA": ecoa,
    }
    answers = {}
    for line in lines:
        output = await run(line, environment)
        expected = re.search(r"#\s*(\d{3})\s*$", line)
        if expected:
            assert output.strip() == expected.group(1), line
        else:
            answers[line] = json.loads(output)
    warrants, certificate, disclosures, statistics, openapi = answers.values()
    assert [w["certificates"][0]["ecoa_id"] for w in warrants["warrants"]] == [ecoa]
    assert certificate["ecoa_id"] == ecoa and certificate["emissions"] is not None
    assert "disclosures" in disclosures and "years" in statistics
    assert {"/v1/warrants", "/public/statistics"} <= set(openapi["paths"])


@pytest.mark.skipif(
    shutil.which("kcat") is None, reason="kcat is not installed (apt-get install kcat)"
)
async def test_the_kcat_one_liner_prints_the_holders_warrant_state(
    decided: tuple[GatewayApp, str], topics: TestTopics
) -> None:
    line = readme_command("kcat").replace("localhost:9092", topics.bootstrap_servers)
    line = line.replace("-t registry.warrant-state", f"-t {topics.prefix}registry.warrant-state")
    [state] = [json.loads(text) for text in (await run(line, {})).splitlines()]
    assert (state["warrant_holder_id"], state["state"]) == (HOLDER, "issued")


@pytest.fixture
async def quarter_ended(
    topics: TestTopics, tmp_path: Path
) -> AsyncIterator[tuple[GatewayApp, dict[str, str]]]:
    """The scenario decided; then the gateway's clock moved past the end of the quarter its
    warrant was issued in, so that the report may be filed."""
    clock = MovableClock()
    async with scenario_served(topics, tmp_path / "state", TOKENS, clock) as (app, issued):
        moment = issued.issued_at.astimezone(UTC)
        quarter = Quarter.of(moment)
        clock.ahead = quarter.ends + timedelta(days=1) - datetime.now(UTC)
        yield app, {"YEAR": str(quarter.year), "QUARTER": str(quarter.quarter)}


@pytest.mark.skipif(shutil.which("xmllint") is None, reason="xmllint is not installed")
async def test_every_report_example_in_the_readme_answers_as_it_says(
    quarter_ended: tuple[GatewayApp, dict[str, str]],
) -> None:
    app, quarter = quarter_ended
    lines = readme_block("report-examples")
    assert len(lines) >= 8
    environment = {
        "GATEWAY": f"http://127.0.0.1:{app.ops_port}",
        "HOLDER_TOKEN": TOKENS[HOLDER],
        **quarter,
    }
    for line in lines:
        output = await run(line, environment)
        expected = re.search(r"#\s*(\d{3})\s*$", line)
        if expected:
            assert output.strip() == expected.group(1), line
        elif "xmllint" in line:
            assert output == "", line  # valid against the XSD: run() checked the exit code
        elif "format=csv" in line:
            assert output.splitlines()[0].startswith("reporting_period,"), line
        elif "format=xml" in line:
            assert output.startswith("<?xml"), line
        else:
            answer = json.loads(output)
            if "POST" in line:
                assert answer["version"] == 1, answer
            if "/v1/imports/" in line:
                assert answer["net_mass_t"] == "20" and answer["exceeded"] is False
