"""The HTTP API over real HTTP on loopback (uvicorn): the operations endpoints, the bearer
tokens, and what a party may read of a store of projected rows (a real SQLite file)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from consumers.metrics import GatewayMetrics
from consumers.readside_store import SqliteReadStore
from gateway.readside.projection import Put
from gateway.readside.queries import ReadSide
from gateway.readside.tables import (
    BRANDS,
    CERTIFICATE_EMISSIONS,
    CERTIFICATES,
    WARRANT_CERTIFICATES,
    WARRANT_STATES,
    WARRANTS,
)
from gateway.runtime.api_tokens import ApiTokens
from gateway.runtime.http_api import HttpServer, Readiness, create_http_app
from tests.unit.cbam_report_support import CBAM_REPORT_PATHS

LOOPBACK = "127.0.0.1"
DOCUMENT = {"asyncapi": "3.0.0", "info": {"title": "Custody gateway", "version": "0.1.0"}}
HOLDER, OTHER, WAREHOUSE, PRODUCER, EXCHANGE = "holder-h", "holder-k", "wh-1", "smelter-1", "xch"
EMISSIONS = {
    "direct_tco2e_per_t": "1.6",
    "indirect_tco2e_per_t": "2.1",
    "total_tco2e_per_t": "3.7",
    "direct_is_default_value": False,
    "indirect_is_default_value": True,
    "alloying_as_primary": False,
}


@dataclass
class Probe:
    readiness: Readiness = field(
        default_factory=lambda: Readiness.of({"broker_reachable": True, "state_restored": True})
    )
    error: Exception | None = None
    delay_seconds: float = 0.0

    async def __call__(self) -> Readiness:
        await asyncio.sleep(self.delay_seconds)
        if self.error is not None:
            raise self.error
        return self.readiness


@dataclass
class Running:
    port: int
    metrics: GatewayMetrics
    probe: Probe
    store: SqliteReadStore

    def client(self, party: str | None = None) -> httpx.AsyncClient:
        headers = {} if party is None else {"Authorization": f"Bearer secret-{party}"}
        return httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{self.port}", headers=headers)

    async def get(self, path: str, party: str | None = None) -> httpx.Response:
        async with self.client(party) as http:
            return await http.get(path)


def seeded(store: SqliteReadStore, *, state: str = "issued") -> None:
    def put(table: Any, **row: object) -> Put:
        return Put(table, {**row, "event_id": f"event-{table.name}"})

    store.apply(
        [
            put(
                BRANDS,
                brand="NORDAL",
                producer_id=PRODUCER,
                country_of_origin="Norway",
                status="listed",
                effective_at="2026-01-01T00:00:00+00:00",
            ),
            put(
                CERTIFICATES,
                ecoa_id="ECOA-1",
                brand="NORDAL",
                kind="enhanced",
                decided_at="2026-02-01T00:00:00+00:00",
                cast_references='["C-1"]',
            ),
            put(
                CERTIFICATE_EMISSIONS,
                ecoa_id="ECOA-1",
                brand="NORDAL",
                form_id="F-1",
                attached_at="2026-02-01T00:00:00+00:00",
                reporting_year=2025,
                flagged_previous_year=1,
                emissions=json.dumps(EMISSIONS),
            ),
            put(
                WARRANTS,
                warrant_id="W-1",
                lot_id="LOT-1",
                brand="NORDAL",
                holder_id=HOLDER,
                issued_at="2026-02-02T00:00:00+00:00",
                cancelled_at=None,
                contract="high_grade_primary",
                shape="ingot",
                country_of_origin="Norway",
                net_weight_kg="25000",
                document="{}",
            ),
            put(WARRANT_CERTIFICATES, warrant_id="W-1", ecoa_id="ECOA-1"),
            put(
                WARRANT_STATES,
                lot_id="LOT-1",
                brand="NORDAL",
                state=state,
                warrant_id="W-1",
                holder_id=HOLDER,
                warehouse_id=WAREHOUSE,
                updated_at="2026-02-02T00:00:00+00:00",
                detail="{}",
            ),
        ]
    )


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Running]:
    metrics, probe = GatewayMetrics(), Probe()
    store = SqliteReadStore(tmp_path / "readside.sqlite3")
    seeded(store)
    parties = (HOLDER, OTHER, WAREHOUSE, PRODUCER, EXCHANGE)
    app = create_http_app(
        metrics=metrics,
        readiness=probe,
        asyncapi=lambda: DOCUMENT,
        read_side=lambda: ReadSide(store, frozenset({EXCHANGE})),
        tokens=ApiTokens.of_tokens({party: f"secret-{party}" for party in parties}),
        readiness_timeout_seconds=0.2,
    )
    server = HttpServer(app, LOOPBACK, 0)
    port = await server.start()
    try:
        yield Running(port, metrics, probe, store)
    finally:
        await server.stop()
        store.close()


async def test_start_binds_a_free_loopback_port_and_stop_releases_it(api: Running) -> None:
    app = create_http_app(
        metrics=GatewayMetrics(),
        readiness=Probe(),
        asyncapi=lambda: DOCUMENT,
        read_side=lambda: None,
        tokens=ApiTokens.none(),
    )
    server = HttpServer(app, LOOPBACK, 0)
    port = await server.start()
    assert port > 0 and server.port == port
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"http://{LOOPBACK}:{port}/health")).status_code == 200
    async with asyncio.timeout(5):
        await server.stop()
    with pytest.raises(OSError):
        await asyncio.open_connection(LOOPBACK, port)


async def test_health_is_ok(api: Running) -> None:
    answer = await api.get("/health")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


async def test_ready_answers_200_with_the_checks(api: Running) -> None:
    body = (await api.get("/ready")).json()
    assert body["ready"] is True and body["failed"] == []
    assert body["checks"] == {"broker_reachable": True, "state_restored": True}


async def test_not_ready_answers_503_naming_the_failed_check(api: Running) -> None:
    api.probe.readiness = Readiness.of(
        {"broker_reachable": True, "state_restored": False},
        {"state_restored": "partition 3: 1200 of 5000 entities restored"},
    )
    answer = await api.get("/ready")
    assert answer.status_code == 503
    body = answer.json()
    assert body["failed"] == ["state_restored"]
    assert body["detail"] == {"state_restored": "partition 3: 1200 of 5000 entities restored"}


async def test_a_store_that_fails_answers_503_and_says_nothing_of_why(api: Running) -> None:
    api.store.close()
    answer = await api.get("/v1/warrants", HOLDER)
    assert answer.status_code == 503
    assert answer.json() == {
        "error": "the read side's store did not answer; try again",
        "status": 503,
    }


async def test_a_failing_readiness_probe_answers_503_with_the_error(api: Running) -> None:
    api.probe.error = RuntimeError("admin client closed")
    answer = await api.get("/ready")
    assert answer.status_code == 503
    assert "admin client closed" in answer.json()["detail"]["readiness_probe"]


async def test_a_readiness_probe_that_hangs_answers_503(api: Running) -> None:
    api.probe.delay_seconds = 5.0
    answer = await api.get("/ready")
    assert answer.status_code == 503
    assert "did not answer" in answer.json()["detail"]["readiness_probe"]


def test_readiness_of_checks_is_ready_only_when_all_pass() -> None:
    assert Readiness.of({"a": True, "b": True}).ready
    assert not Readiness.of({"a": True, "b": False}).ready
    assert not Readiness.of({}).ready


async def test_metrics_are_served_in_the_text_format_and_count_requests(api: Running) -> None:
    api.metrics.messages_in.labels(
        topic="producer.ecoas", message_type="custody.ecoa.created"
    ).inc()
    await api.get("/v1/warrants")
    answer = await api.get("/metrics")
    assert answer.headers["content-type"] == api.metrics.content_type
    assert (
        'custody_gateway_messages_consumed_total{message_type="custody.ecoa.created",'
        'topic="producer.ecoas"} 1.0' in answer.text
    )
    assert (
        'custody_gateway_http_requests_total{route="/v1/warrants",status="401"} 1.0' in answer.text
    )


async def test_the_asyncapi_document_is_served_as_json(api: Running) -> None:
    assert (await api.get("/asyncapi.json")).json() == DOCUMENT


async def test_an_unknown_path_is_404_and_a_post_is_405(api: Running) -> None:
    missing = await api.get("/admin")
    assert missing.status_code == 404 and missing.json()["status"] == 404
    async with api.client() as http:
        posted = await http.post("/health", json={})
    assert posted.status_code == 405 and posted.headers["allow"] == "GET"


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage\r\n\r\n",
        b"\xff\xfe /health HTTP/1.1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nno colon here\r\n\r\n",
    ],
    ids=["garbage", "not-ascii", "bad-header"],
)
async def test_a_malformed_request_is_400_and_the_server_goes_on(api: Running, raw: bytes) -> None:
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection(LOOPBACK, api.port)
        writer.write(raw)
        await writer.drain()
        status_line = await reader.readline()
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 400"), status_line
    assert (await api.get("/health")).status_code == 200


async def test_a_client_that_disconnects_or_stalls_does_not_disturb_the_server(
    api: Running,
) -> None:
    stalled = await asyncio.open_connection(LOOPBACK, api.port)
    stalled[1].write(b"GET /health HTTP/1.1\r\nHost: local")
    for partial in (b"", b"GET /hea", b"GET /health HTTP/1.1\r\nHost: local"):
        _reader, writer = await asyncio.open_connection(LOOPBACK, api.port)
        writer.write(partial)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    assert (await api.get("/health")).status_code == 200
    stalled[1].close()


# ---- the parties --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/warrants", "/v1/certificates/ECOA-1"])
@pytest.mark.parametrize("party", [None, "nobody"], ids=["no-token", "unknown-token"])
async def test_an_unauthenticated_call_is_401(api: Running, path: str, party: str | None) -> None:
    answer = await api.get(path, party)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "ECOA-1" not in answer.text


async def test_a_holder_sees_its_warrant_with_the_coa_and_its_emissions(api: Running) -> None:
    body = (await api.get("/v1/warrants", HOLDER)).json()
    [warrant] = body["warrants"]
    assert (warrant["warrant_id"], warrant["warehouse_id"], warrant["net_weight_kg"]) == (
        "W-1",
        WAREHOUSE,
        "25000",
    )
    [coa] = warrant["certificates"]
    assert coa["emissions"] == {
        "form_id": "F-1",
        "reporting_year": 2025,
        "from_previous_year": True,
        "direct_tco2e_per_t": "1.6",
        "indirect_tco2e_per_t": "2.1",
        "total_tco2e_per_t": "3.7",
        "direct_basis": "actual",
        "indirect_basis": "default",
        "verified": False,
        "verifier": None,
        "level_of_assurance": None,
    }
    assert (await api.get("/v1/warrants", OTHER)).json() == {"party_id": OTHER, "warrants": []}


@pytest.mark.parametrize(
    ("party", "status"),
    [(HOLDER, 200), (WAREHOUSE, 200), (PRODUCER, 200), (EXCHANGE, 200), (OTHER, 404)],
)
async def test_a_coa_is_read_by_its_parties_only(api: Running, party: str, status: int) -> None:
    answer = await api.get("/v1/certificates/ECOA-1", party)
    assert answer.status_code == status
    unknown = await api.get("/v1/certificates/ECOA-2", party)
    assert unknown.status_code == 404
    if status == 404:
        assert answer.json() == {"error": "no certificate ECOA-1", "status": 404}


async def test_after_the_cancellation_the_holder_no_longer_reads_it(api: Running) -> None:
    seeded(api.store, state="cancelled")
    assert (await api.get("/v1/warrants", HOLDER)).json()["warrants"] == []
    assert (await api.get("/v1/certificates/ECOA-1", HOLDER)).status_code == 404
    for party in (WAREHOUSE, PRODUCER, EXCHANGE):
        assert (await api.get("/v1/certificates/ECOA-1", party)).status_code == 200


async def test_the_openapi_document_names_every_endpoint_and_its_answers(api: Running) -> None:
    document = (await api.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert set(paths) - CBAM_REPORT_PATHS == {
        "/health",
        "/ready",
        "/metrics",
        "/asyncapi.json",
        "/v1/warrants",
        "/v1/certificates/{ecoa_id}",
        "/public/disclosures",
        "/public/statistics",
    }
    certificate = paths["/v1/certificates/{ecoa_id}"]["get"]
    assert {"200", "401", "404"} <= set(certificate["responses"])
    assert certificate["security"] == [{"HTTPBearer": []}]
    assert "HeldWarrants" in document["components"]["schemas"]


# ---- what everyone may read (§4.2.3) ------------------------------------------------------


def seeded_forms(store: SqliteReadStore, brands: int, *, opted_in: set[int]) -> None:
    from gateway.readside.projection import as_json
    from gateway.readside.tables import BRAND_FORMS, FORMS

    writes = []
    for n in range(brands):
        brand = f"BRAND{n:02}"
        figures = {**EMISSIONS, "direct_tco2e_per_t": str(n), "total_tco2e_per_t": str(n + 2)}
        disclosure = {
            "producer_name": f"Smelter {n}",
            "installation_country": "NO",
            "verifier_name": "Verifier AS" if n % 2 else None,
            "level_of_assurance": "reasonable" if n % 2 else None,
        }
        writes += [
            Put(
                BRANDS,
                {
                    "brand": brand,
                    "producer_id": f"p{n}",
                    "country_of_origin": "Norway",
                    "status": "listed",
                    "effective_at": "x",
                    "event_id": f"b{n}",
                },
            ),
            Put(
                FORMS,
                {
                    "form_id": f"F-{n}",
                    "brand": brand,
                    "decided_at": "x",
                    "reporting_year": 2025,
                    "permission_to_publish": int(n in opted_in),
                    "emissions": as_json(figures),
                    "disclosure": as_json(disclosure),
                    "event_id": f"f{n}",
                },
            ),
            Put(
                BRAND_FORMS,
                {"brand": brand, "reporting_year": 2025, "form_id": f"F-{n}", "event_id": f"f{n}"},
            ),
        ]
    store.apply(writes)


async def test_public_disclosures_show_the_opted_in_brands_only_without_a_token(
    api: Running,
) -> None:
    seeded_forms(api.store, 6, opted_in={1, 4})
    answer = await api.get("/public/disclosures")
    assert answer.status_code == 200
    shown = answer.json()["disclosures"]
    assert [d["brand"] for d in shown] == ["BRAND01", "BRAND04"]
    assert shown[0]["verified"] is True and shown[0]["verifier"] == "Verifier AS"
    assert shown[1]["verified"] is False and shown[1]["direct_tco2e_per_t"] == "4"
    assert "BRAND00" not in answer.text and "NORDAL" not in answer.text


async def test_statistics_are_withheld_below_the_minimum_group_and_shown_above(
    api: Running,
) -> None:
    seeded_forms(api.store, 4, opted_in=set())
    [year] = (await api.get("/public/statistics")).json()["years"]
    assert year["distributions"] == [] and "fewer than 5" in year["withheld"]
    assert "BRAND" not in (await api.get("/public/statistics")).text
    seeded_forms(api.store, 9, opted_in=set())
    body = (await api.get("/public/statistics")).json()
    [year] = body["years"]
    direct = next(d for d in year["distributions"] if d["scope"] == "direct")
    assert (direct["brands"], direct["mean"], body["minimum_group"]) == (9, "4.000", 5)
    assert set(direct["percentiles"]) == {"p10", "p25", "p50", "p75", "p90"}
    # no published figure is one brand's own: the extremes are blends of five
    assert direct["percentiles"]["p10"] == "2.000" and direct["percentiles"]["p90"] == "6.000"


async def test_statistics_are_not_published_before_the_date(tmp_path: Path) -> None:
    from datetime import date

    store = SqliteReadStore(tmp_path / "early.sqlite3")
    seeded_forms(store, 9, opted_in=set())
    app = create_http_app(
        metrics=GatewayMetrics(),
        readiness=Probe(),
        asyncapi=lambda: DOCUMENT,
        read_side=lambda: ReadSide(store, frozenset()),
        tokens=ApiTokens.none(),
        today=lambda: date(2025, 12, 31),
    )
    server = HttpServer(app, LOOPBACK, 0)
    port = await server.start()
    try:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://{LOOPBACK}:{port}/public/statistics")
    finally:
        await server.stop()
        store.close()
    assert answer.status_code == 403
    assert "not published before 2026-01-01" in answer.json()["error"]


async def test_a_later_holder_reads_the_coa_and_nothing_of_the_holder_before(
    api: Running,
) -> None:
    seeded(api.store, state="cancelled")
    api.store.apply(
        [
            Put(
                WARRANTS,
                {
                    "warrant_id": "W-2",
                    "lot_id": "LOT-1",
                    "brand": "NORDAL",
                    "holder_id": OTHER,
                    "issued_at": "2026-05-01T00:00:00+00:00",
                    "cancelled_at": None,
                    "contract": "high_grade_primary",
                    "shape": "ingot",
                    "country_of_origin": "Norway",
                    "net_weight_kg": "25000",
                    "document": "{}",
                    "event_id": "w2",
                },
            ),
            Put(WARRANT_CERTIFICATES, {"warrant_id": "W-2", "ecoa_id": "ECOA-1", "event_id": "w2"}),
            Put(
                WARRANT_STATES,
                {
                    "lot_id": "LOT-1",
                    "brand": "NORDAL",
                    "state": "issued",
                    "warrant_id": "W-2",
                    "holder_id": OTHER,
                    "warehouse_id": WAREHOUSE,
                    "updated_at": "2026-05-01T00:00:00+00:00",
                    "detail": "{}",
                    "event_id": "s2",
                },
            ),
        ]
    )
    later = await api.get("/v1/certificates/ECOA-1", OTHER)
    assert later.status_code == 200 and HOLDER not in later.text
    mine = (await api.get("/v1/warrants", OTHER)).json()["warrants"]
    assert [w["warrant_id"] for w in mine] == ["W-2"] and HOLDER not in json.dumps(mine)
    assert (await api.get("/v1/certificates/ECOA-1", HOLDER)).status_code == 404
    assert (await api.get("/v1/warrants", HOLDER)).json()["warrants"] == []
