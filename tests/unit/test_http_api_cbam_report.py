"""The importer's quarterly CBAM report and its yearly import mass through the HTTP API
(uvicorn on loopback) over a real SQLite read store: the caller's own report only, in JSON,
CSV and XML, with totals equal to the warrants issued to it in the quarter."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from consumers.metrics import GatewayMetrics
from consumers.readside_store import SqliteReadStore
from contracts.cbam_report import XML_NAMESPACE, CbamReportFiled
from gateway.readside.cbam_report import Quarter
from gateway.readside.projection import Put, writes_of
from gateway.readside.queries import ReadSide
from gateway.readside.tables import (
    CERTIFICATE_EMISSIONS,
    FORMS,
    WARRANT_CERTIFICATES,
    WARRANTS,
)
from gateway.runtime.api_tokens import ApiTokens
from gateway.runtime.http_api import HttpServer, Readiness, ReportFiling, create_http_app
from tests.unit.cbam_report_support import CBAM_REPORT_PATHS, SUMMARY, schema_errors

LOOPBACK = "127.0.0.1"
IMPORTER, OTHER = "importer-1", "importer-2"
DISCLOSURE = {
    "installation_country": "NO",
    "cn_codes": ["7601"],
    "verifier_name": "Verifier AS",
    "level_of_assurance": "reasonable",
    "carbon_prices_paid": [],
}
WARRANTS_IN_Q1 = 1200


def _put(table: Any, **row: object) -> Put:
    return Put(table, {**row, "event_id": f"event-{table.name}"})


def _warrant(number: int, holder: str, issued_at: str, *, attached: bool) -> list[Put]:
    warrant_id, ecoa_id = f"W-{holder}-{number:05}", f"ECOA-{holder}-{number:05}"
    puts = [
        _put(
            WARRANTS,
            warrant_id=warrant_id,
            lot_id=f"LOT-{warrant_id}",
            brand="NORDAL",
            holder_id=holder,
            issued_at=issued_at,
            cancelled_at="2026-03-30T00:00:00+00:00" if number % 7 == 0 else None,
            contract="high_grade_primary",
            shape="ingot",
            country_of_origin="Norway",
            net_weight_kg=f"{24000 + number % 500}.5",
            document=json.dumps({"emissions": {"form_id": "F-1", "summary": SUMMARY}}),
        ),
        _put(WARRANT_CERTIFICATES, warrant_id=warrant_id, ecoa_id=ecoa_id),
    ]
    if attached:
        puts.append(
            _put(
                CERTIFICATE_EMISSIONS,
                ecoa_id=ecoa_id,
                brand="NORDAL",
                form_id="F-1",
                attached_at=issued_at,
                reporting_year=2026,
                flagged_previous_year=0,
                emissions=json.dumps(SUMMARY),
            )
        )
    return puts


def seeded(store: SqliteReadStore, warrants_in_q1: int = WARRANTS_IN_Q1) -> None:
    puts = [
        _put(
            FORMS,
            form_id="F-1",
            brand="NORDAL",
            decided_at="2026-01-10T00:00:00+00:00",
            reporting_year=2026,
            permission_to_publish=0,
            emissions=json.dumps(SUMMARY),
            disclosure=json.dumps(DISCLOSURE),
        )
    ]
    for number in range(warrants_in_q1):
        day = 1 + number % 28
        month = 1 + number % 3
        issued = f"2026-{month:02}-{day:02}T08:00:00+00:00"
        puts += _warrant(number, IMPORTER, issued, attached=number % 3 != 0)
    puts += _warrant(90000, IMPORTER, "2026-04-01T00:00:00+00:00", attached=True)
    puts += _warrant(1, OTHER, "2026-02-01T00:00:00+00:00", attached=True)
    store.apply(puts)


@dataclass
class Filings:
    """The filing side of the API: what it published, and the clock it reads. ``projecting``
    False stands for a read side that has not caught up yet."""

    store: SqliteReadStore
    now: datetime = datetime(2026, 4, 15, tzinfo=UTC)
    projecting: bool = True
    published: int = 0

    async def publish(self, body: CbamReportFiled) -> None:
        self.published += 1
        if self.projecting:
            self.store.apply(writes_of(f"filed-{self.published}", body))


@dataclass
class Running:
    base_url: str
    store: SqliteReadStore
    filings: Filings


async def _serve(store: SqliteReadStore, filing: ReportFiling | None) -> HttpServer:
    async def ready() -> Readiness:
        return Readiness.of({"store": True})

    app = create_http_app(
        metrics=GatewayMetrics(),
        readiness=ready,
        asyncapi=lambda: {},
        read_side=lambda: ReadSide(store, frozenset()),
        tokens=ApiTokens.of_tokens({p: f"secret-{p}" for p in (IMPORTER, OTHER)}),
        report_filing=filing,
    )
    server = HttpServer(app, LOOPBACK, 0)
    await server.start()
    return server


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Running]:
    store = SqliteReadStore(tmp_path / "readside.sqlite3")
    seeded(store)
    filings = Filings(store)
    filing = ReportFiling(
        publish=filings.publish, clock=lambda: filings.now, projection_wait_seconds=0.2
    )
    server = await _serve(store, filing)
    try:
        yield Running(f"http://{LOOPBACK}:{server.port}", store, filings)
    finally:
        await server.stop()
        store.close()


@pytest.fixture
def base_url(api: Running) -> str:
    return api.base_url


async def _get(base_url: str, path: str, party: str | None = IMPORTER) -> httpx.Response:
    return await _call("GET", base_url, path, party)


async def _post(base_url: str, path: str, party: str | None = IMPORTER) -> httpx.Response:
    return await _call("POST", base_url, path, party)


async def _call(method: str, base_url: str, path: str, party: str | None) -> httpx.Response:
    headers = {} if party is None else {"Authorization": f"Bearer secret-{party}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
        return await http.request(method, path)


def _expected_q1(warrants_in_q1: int = WARRANTS_IN_Q1) -> dict[str, Decimal]:
    mass = direct = indirect = Decimal(0)
    for number in range(warrants_in_q1):
        tonnes = Decimal(f"{24000 + number % 500}.5") / 1000
        per_t = (
            (Decimal("1.6"), Decimal("2.1"))
            if number % 3
            else (Decimal("2.36") * Decimal("1.10"), Decimal("8.14") * Decimal("1.10"))
        )
        mass += tonnes
        direct += tonnes * per_t[0]
        indirect += tonnes * per_t[1]
    return {"net_mass_t": mass, "direct_tco2e": direct, "indirect_tco2e": indirect}


async def test_the_report_needs_a_token(base_url: str) -> None:
    answer = await _get(base_url, "/v1/reports/quarterly/2026/1", party=None)
    assert answer.status_code == 401
    assert (await _get(base_url, "/v1/imports/2026", party=None)).status_code == 401


async def test_the_json_report_totals_equal_the_warrants_received_in_the_quarter(
    base_url: str,
) -> None:
    answer = await _get(base_url, "/v1/reports/quarterly/2026/1")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    totals = report["totals"]
    assert totals["warrants"] == WARRANTS_IN_Q1
    for name, value in _expected_q1().items():
        assert Decimal(totals[name]) == value, name
    assert Decimal(totals["priced_tco2e"]) == Decimal(totals["direct_tco2e"])
    lines = {(line["cn_code"], line["country_of_origin"]): line for line in report["lines"]}
    assert sorted(lines) == [("7601", "NO"), ("7601", "Norway")]
    assert {w["figures_from"] for w in lines[("7601", "Norway")]["warrants"]} == {"default_table"}
    verified = lines[("7601", "NO")]["warrants"][0]
    assert verified["verified"] and verified["direct_basis"] == "actual"
    assert any(w["cancelled_at"] for w in lines[("7601", "NO")]["warrants"])
    assert report["due_by"] == "2026-05-01T00:00:00+00:00"
    assert report["corrections_until"] == "2026-07-01T00:00:00+00:00"


async def test_an_importer_sees_its_own_report_only(base_url: str) -> None:
    report = (await _get(base_url, "/v1/reports/quarterly/2026/1", party=OTHER)).json()
    assert report["importer_id"] == OTHER and report["totals"]["warrants"] == 1
    ids = [w["warrant_id"] for line in report["lines"] for w in line["warrants"]]
    assert ids == ["W-importer-2-00001"]
    later = (await _get(base_url, "/v1/reports/quarterly/2026/2")).json()
    assert later["totals"]["warrants"] == 1


async def test_the_csv_report_has_a_row_per_cn_code_and_country(base_url: str) -> None:
    answer = await _get(base_url, "/v1/reports/quarterly/2026/1?format=csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 2
    assert sum(Decimal(r["net_mass_t"]) for r in rows) == _expected_q1()["net_mass_t"]


async def test_the_xml_report_is_valid_against_its_schema(base_url: str) -> None:
    answer = await _get(base_url, "/v1/reports/quarterly/2026/1?format=xml")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/xml"
    root = ElementTree.fromstring(answer.content)
    ns = {"q": XML_NAMESPACE}
    assert root.findtext("q:Totals/q:Warrants", namespaces=ns) == str(WARRANTS_IN_Q1)
    assert schema_errors(answer.content) is None


async def test_a_quarter_before_cbam_is_422_saying_why(base_url: str) -> None:
    answer = await _get(base_url, "/v1/reports/quarterly/2023/2")
    assert answer.status_code == 422
    assert "no default-value period covers 2023-04-01" in answer.json()["error"]


async def test_a_quarter_or_format_not_known_is_400(base_url: str) -> None:
    assert (await _get(base_url, "/v1/reports/quarterly/2026/5")).status_code == 400
    assert (await _get(base_url, "/v1/reports/quarterly/2026/1?format=pdf")).status_code == 400


async def test_the_imports_of_a_year_against_the_50_t_threshold(base_url: str) -> None:
    mine = (await _get(base_url, "/v1/imports/2026")).json()
    assert mine["warrants"] == WARRANTS_IN_Q1 + 1 and mine["exceeded"] is True
    assert mine["threshold_t"] == "50"
    other = (await _get(base_url, "/v1/imports/2026", party=OTHER)).json()
    assert other["exceeded"] is False and Decimal(other["net_mass_t"]) == Decimal("24.0015")


async def test_the_openapi_document_names_the_report_endpoints(base_url: str) -> None:
    paths = (await _get(base_url, "/openapi.json", party=None)).json()["paths"]
    assert set(paths) >= CBAM_REPORT_PATHS
    for path in CBAM_REPORT_PATHS:
        answers = paths[path]["get"]["responses"]
        assert {"200", "401"} <= set(answers)
    content = paths["/v1/reports/quarterly/{year}/{quarter}"]["get"]["responses"]["200"]
    assert {"application/json", "text/csv", "application/xml"} <= set(content["content"])


# -- filing versions -----------------------------------------------------------------------
FILE_Q1 = "/v1/reports/quarterly/2026/1/versions"


async def test_a_filing_before_the_quarter_ends_is_refused_naming_the_rule(api: Running) -> None:
    api.filings.now = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
    answer = await _post(api.base_url, f"{FILE_Q1}?version=1")
    assert answer.status_code == 409
    assert "once the quarter has ended" in answer.json()["error"]
    assert api.filings.published == 0


async def test_a_correction_is_a_new_version_and_both_are_kept(api: Running) -> None:
    first = await _post(api.base_url, f"{FILE_Q1}?version=1")
    assert first.status_code == 201, first.text
    assert first.json()["late"] is False
    assert first.json()["totals"]["warrants"] == WARRANTS_IN_Q1
    again = await _post(api.base_url, f"{FILE_Q1}?version=1")
    assert again.status_code == 409 and "the next version of 2026Q1 is 2" in again.json()["error"]
    skipped = await _post(api.base_url, f"{FILE_Q1}?version=3")
    assert skipped.status_code == 409
    api.store.apply(_warrant(5000, IMPORTER, "2026-03-15T00:00:00+00:00", attached=True))
    api.filings.now = datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    second = await _post(api.base_url, f"{FILE_Q1}?version=2")
    assert second.status_code == 201, second.text
    versions = (await _get(api.base_url, FILE_Q1)).json()["versions"]
    assert [(v["version"], v["totals"]["warrants"]) for v in versions] == [
        (1, WARRANTS_IN_Q1),
        (2, WARRANTS_IN_Q1 + 1),
    ]
    kept = (await _get(api.base_url, f"{FILE_Q1}/1")).json()
    assert kept["totals"] == versions[0]["totals"]
    xml = await _get(api.base_url, f"{FILE_Q1}/2?format=xml")
    assert xml.status_code == 200 and schema_errors(xml.content) is None
    assert (await _get(api.base_url, f"{FILE_Q1}/3")).status_code == 404
    assert (await _get(api.base_url, FILE_Q1, party=OTHER)).json()["versions"] == []
    api.filings.now = datetime(2026, 7, 1, tzinfo=UTC)
    closed = await _post(api.base_url, f"{FILE_Q1}?version=3")
    assert closed.status_code == 409 and "correction window closed" in closed.json()["error"]


async def test_a_first_filing_after_the_due_date_is_late(api: Running) -> None:
    api.filings.now = datetime(2026, 5, 2, tzinfo=UTC)
    answer = await _post(api.base_url, f"{FILE_Q1}?version=1")
    assert answer.status_code == 201 and answer.json()["late"] is True


async def test_a_filing_not_yet_projected_is_accepted_202(api: Running) -> None:
    api.filings.projecting = False
    answer = await _post(api.base_url, f"{FILE_Q1}?version=1")
    assert answer.status_code == 202 and api.filings.published == 1


async def test_filing_needs_a_token_and_a_process_that_files(tmp_path: Path) -> None:
    store = SqliteReadStore(tmp_path / "readside.sqlite3")
    server = await _serve(store, None)
    base_url = f"http://{LOOPBACK}:{server.port}"
    try:
        assert (await _post(base_url, f"{FILE_Q1}?version=1", party=None)).status_code == 401
        assert (await _post(base_url, f"{FILE_Q1}?version=1")).status_code == 503
    finally:
        await server.stop()
        store.close()


def test_ten_thousand_warrants_in_a_quarter_from_a_sqlite_store(tmp_path: Path) -> None:
    store = SqliteReadStore(tmp_path / "readside.sqlite3")
    try:
        seeded(store, 10_000)
        report = ReadSide(store, frozenset()).quarterly_cbam_report(IMPORTER, Quarter(2026, 1))
    finally:
        store.close()
    assert report.totals.warrants == 10_000
    for name, value in _expected_q1(10_000).items():
        assert Decimal(getattr(report.totals, name)) == value, name
