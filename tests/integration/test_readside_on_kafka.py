"""The read side on the real broker and a real SQLite file: a warrant issued to holder H is
visible to H with its emissions and to nobody else but the CoA's producer, its warehouse and
the exchange; after the cancellation it leaves H's view; an unauthenticated call gets 401; a
read side rebuilt from the topics equals the live one."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from consumers.readside_store import SqliteReadStore
from contracts.brands import ListBrand
from contracts.warrants import WarrantIssued
from gateway.runtime.api_tokens import digest
from gateway.runtime.app import GatewayApp
from tests.conftest import TestTopics
from tests.integration.readside_support import readside_caught_up
from tests.integration.registry_support import (
    all_outputs,
    publish,
    registry_settings,
    running_registry,
    wait_until_consumed,
)
from tests.integration.test_registry_on_kafka import group_of
from tests.unit.test_registry_custody_moves import HOLDER, LOT, WAREHOUSE, cancel, claimed_scenario

pytestmark = pytest.mark.broker

OTHER_HOLDER, OTHER_WAREHOUSE, EXCHANGE = (
    "member-k-trading",
    "warehouse-antwerp-02",
    "exchange-listing-desk",
)


def token(party: str) -> str:
    return f"token-of-{party}"


def client(app: GatewayApp, party: str | None) -> httpx.AsyncClient:
    headers = {} if party is None else {"Authorization": f"Bearer {token(party)}"}
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.ops_port}", headers=headers)


@pytest.fixture
def producer_id() -> str:
    [listed] = [m for m in claimed_scenario() if isinstance(m, ListBrand)]
    return listed.producer_id


@pytest.fixture
async def served(topics: TestTopics, tmp_path: Path, producer_id: str) -> AsyncIterator[GatewayApp]:
    parties = [HOLDER, OTHER_HOLDER, WAREHOUSE, OTHER_WAREHOUSE, EXCHANGE, producer_id]
    digests = json.dumps({party: [digest(token(party))] for party in parties})
    settings = registry_settings(topics, tmp_path / "state").model_copy(
        update={"readside": True, "api_tokens": SecretStr(digests)}
    )
    async with running_registry(settings) as app:
        yield app


async def get(app: GatewayApp, party: str | None, path: str) -> httpx.Response:
    async with client(app, party) as http:
        return await http.get(path)


async def test_a_warrant_is_seen_by_its_holder_and_its_coa_by_its_parties_only(
    served: GatewayApp, topics: TestTopics, producer_id: str
) -> None:
    app = served
    await publish(topics, claimed_scenario())
    await wait_until_consumed(topics, group_of(app))
    await readside_caught_up(topics, app)
    [issued] = [
        r.decoded.body
        for r in await all_outputs(topics)
        if isinstance(r.decoded.body, WarrantIssued)
    ]
    [coa] = [c.reference for c in issued.document.certificates_of_analysis]

    answer = await get(app, HOLDER, "/v1/warrants")
    assert answer.status_code == 200, answer.text
    mine = answer.json()
    assert mine["party_id"] == HOLDER
    [warrant] = mine["warrants"]
    assert (warrant["lot_id"], warrant["status"], warrant["warehouse_id"]) == (
        LOT,
        "issued",
        WAREHOUSE,
    )
    assert warrant["net_weight_kg"] == str(issued.document.net_weight_kg)
    [certificate] = warrant["certificates"]
    assert certificate["ecoa_id"] == coa
    emissions = certificate["emissions"]
    summary = issued.document.emissions.summary
    assert emissions["direct_tco2e_per_t"] == str(summary.direct_tco2e_per_t)
    assert emissions["indirect_tco2e_per_t"] == str(summary.indirect_tco2e_per_t)
    assert emissions["direct_basis"] in ("actual", "default")
    assert (await get(app, OTHER_HOLDER, "/v1/warrants")).json()["warrants"] == []

    for party in (HOLDER, WAREHOUSE, producer_id, EXCHANGE):
        answer = await get(app, party, f"/v1/certificates/{coa}")
        assert answer.status_code == 200, party
        assert answer.json() == certificate
    refused = [
        await get(app, party, f"/v1/certificates/{coa}")
        for party in (OTHER_HOLDER, OTHER_WAREHOUSE)
    ]
    unknown = await get(app, HOLDER, "/v1/certificates/ECOA-NOBODY-KNOWS")
    assert [r.status_code for r in refused] == [404, 404] and unknown.status_code == 404
    # a refusal reads like an unknown CoA: nothing says the CoA exists
    assert refused[0].json() == {"error": f"no certificate {coa}", "status": 404}
    assert set(refused[0].headers) == set(unknown.headers)

    for party, path in [
        (None, "/v1/warrants"),
        ("nobody", "/v1/warrants"),
        (None, f"/v1/certificates/{coa}"),
    ]:
        answer = await get(app, party, path)
        assert answer.status_code == 401, (party, path)
        assert answer.headers["www-authenticate"] == "Bearer"

    # the read side's lag per partition, for whoever is on call: nothing behind now
    lag_line = re.compile(
        r'custody_gateway_readside_lag_messages\{partition="(\d+)",topic="[^"]*registry\.'
        r'warrant-state"\} (\S+)'
    )
    for _attempt in range(60):
        lags = lag_line.findall((await get(app, None, "/metrics")).text)
        if lags:
            break
        await asyncio.sleep(0.25)
    assert lags and {float(value) for _partition, value in lags} == {0.0}

    await publish(topics, [cancel()])
    await wait_until_consumed(topics, group_of(app))
    await readside_caught_up(topics, app)
    assert (await get(app, HOLDER, "/v1/warrants")).json()["warrants"] == []
    assert (await get(app, HOLDER, f"/v1/certificates/{coa}")).status_code == 404
    # the metal is back in the warehouse's custody until it is loaded out
    for party in (WAREHOUSE, producer_id):
        assert (await get(app, party, f"/v1/certificates/{coa}")).status_code == 200

    # Rebuilt from the topics alone, in a new store with a group of its own, it equals the live.
    assert app.read_store is not None
    live = await asyncio.to_thread(app.read_store.dump)
    assert live["warrants"] and live["certificates"] and live["certificate_emissions"]
    rebuilt_settings = app.settings.model_copy(
        update={
            "state_dir": app.settings.state_dir.parent / "rebuilt",
            "readside_group_id": "rebuild-1",
        }
    )
    async with running_registry(rebuilt_settings.model_copy(update={"readside": True})) as again:
        await readside_caught_up(topics, again)
        assert again.read_store is not None
        rebuilt = await asyncio.to_thread(again.read_store.dump)
    assert rebuilt == live


async def test_the_operations_endpoints_and_the_openapi_document_are_open(
    served: GatewayApp,
) -> None:
    for path in ("/health", "/metrics", "/asyncapi.json", "/openapi.json"):
        assert (await get(served, None, path)).status_code == 200, path
    ready = (await get(served, None, "/ready")).json()
    assert ready["checks"]["readside_subscribed"] is True
    paths = (await get(served, None, "/openapi.json")).json()["paths"]
    assert {"/v1/warrants", "/v1/certificates/{ecoa_id}"} <= set(paths)


def test_sqlite_store_is_a_file_that_survives_a_reopen(tmp_path: Path) -> None:
    from gateway.readside.projection import Put
    from gateway.readside.tables import BRANDS

    path = tmp_path / "readside.sqlite3"
    store = SqliteReadStore(path)
    row = {
        "brand": "B",
        "producer_id": "p",
        "country_of_origin": "NO",
        "status": "listed",
        "effective_at": "x",
        "event_id": "e1",
    }
    store.apply([Put(BRANDS, row)])
    store.close()
    again = SqliteReadStore(path)
    assert again.rows("brands") == [row]
    again.close()


async def test_a_deleted_store_is_filled_again_from_the_topics_beginning(
    topics: TestTopics, tmp_path: Path
) -> None:
    settings = registry_settings(topics, tmp_path / "state").model_copy(update={"readside": True})
    async with running_registry(settings) as app:
        await publish(topics, claimed_scenario())
        await wait_until_consumed(topics, group_of(app))
        await readside_caught_up(topics, app)
        assert app.read_store is not None
        before = await asyncio.to_thread(app.read_store.dump)
        first_group = app.readside_subscription().group_id
    assert before["warrants"]
    (tmp_path / "state" / "readside.sqlite3").unlink()
    async with running_registry(settings) as again:
        # a new copy of the tables gets a group of its own, which starts at the beginning
        assert again.readside_subscription().group_id != first_group
        await readside_caught_up(topics, again)
        assert again.read_store is not None
        assert await asyncio.to_thread(again.read_store.dump) == before
        second_group = again.readside_subscription().group_id
    async with running_registry(settings) as third:
        # the same file kept: the same group, resumed where it stopped
        assert third.readside_subscription().group_id == second_group
