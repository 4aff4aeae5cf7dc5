"""What everyone may read (§4.2.3), on the real broker and store: the disclosures list only the
brands whose producer gave permission to publish; the statistics over six listed brands show
a distribution that names no brand, and none before the configured date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from contracts.base import Contract
from contracts.cbam import CbamEmissionsFormSubmitted
from tests.conftest import TestTopics
from tests.integration.readside_support import readside_caught_up
from tests.integration.registry_support import (
    publish,
    registry_settings,
    running_registry,
    scenario_for_brand,
    wait_until_consumed,
)

pytestmark = pytest.mark.broker

BRANDS, OPTED_IN = 6, {1, 4}


def brand_scenario(number: int) -> list[Contract]:
    """BRANDnn's scenario; its form states a direct figure of its own and gives permission to
    publish for the opted-in brands only."""
    messages = []
    for message in scenario_for_brand(number):
        if isinstance(message, CbamEmissionsFormSubmitted):
            direct = message.direct_embedded_emissions
            assert direct is not None and direct.tco2e_per_t is not None
            figure = direct.tco2e_per_t + Decimal(number) / 10
            message = message.model_copy(
                update={
                    "permission_to_publish": number in OPTED_IN,
                    "direct_embedded_emissions": direct.model_copy(update={"tco2e_per_t": figure}),
                }
            )
        messages.append(message)
    return messages


async def test_disclosures_and_statistics_follow_the_producers_permission(
    topics: TestTopics, tmp_path: Path
) -> None:
    settings = registry_settings(topics, tmp_path / "state").model_copy(update={"readside": True})
    async with running_registry(settings) as app:
        for number in range(1, BRANDS + 1):
            await publish(topics, brand_scenario(number))
        await wait_until_consumed(topics, app.registry_group_id)
        await readside_caught_up(topics, app)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.ops_port}") as http:
            disclosures = (await http.get("/public/disclosures")).json()["disclosures"]
            statistics = await http.get("/public/statistics")
    assert sorted(d["brand"] for d in disclosures) == ["BRAND01", "BRAND04"]
    assert all(d["verified"] for d in disclosures)
    assert statistics.status_code == 200
    [year] = statistics.json()["years"]
    direct = next(d for d in year["distributions"] if d["scope"] == "direct")
    assert direct["brands"] == BRANDS and year["withheld"] is None
    figures = {d["brand"]: Decimal(d["direct_tco2e_per_t"]) for d in disclosures}
    assert Decimal(direct["percentiles"]["p50"]) not in figures.values()
    assert "BRAND0" not in statistics.text

    # the same topics read by a read side whose exchange publishes from 2099 only
    later = settings.model_copy(
        update={
            "state_dir": tmp_path / "serve",
            "readside_group_id": "serve-later",
            "statistics_published_from": date(2099, 1, 1),
        }
    )
    async with running_registry(later, engines=False) as serve:
        await readside_caught_up(topics, serve)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{serve.ops_port}") as http:
            refused = await http.get("/public/statistics")
            assert len((await http.get("/public/disclosures")).json()["disclosures"]) == 2
    assert refused.status_code == 403 and "2099-01-01" in refused.json()["error"]
