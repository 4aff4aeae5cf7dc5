"""The gateway's HTTP API: the operations endpoints and the parties' read side, served as
ASGI (FastAPI under uvicorn, in the gateway's own event loop).

FastAPI, because the response bodies are pydantic models already (``contracts.api``) and it
publishes the OpenAPI document from them (``/openapi.json``), which a test checks; uvicorn,
because it runs as a task beside the engines (``HttpServer.start`` binds, ``stop`` closes).

- ``/health``, ``/ready``, ``/metrics``, ``/asyncapi.json`` and ``/openapi.json`` are open:
  they say nothing about any party's metal; so are ``/public/...``, what the exchange shows
  everyone (the opted-in brands' disclosures, the aggregate statistics). ``/ready`` answers
  503 naming the checks failed.
- Every ``/v1/...`` endpoint needs ``Authorization: Bearer <token>``; the token names one
  party (``gateway.runtime.api_tokens``). Without one, or with one not known: 401. Nothing a
  party may not read is acknowledged: a CoA it may not see is 404, like one that does not exist.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations,
# which name aliases local to create_http_app.
import asyncio
import contextlib
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

import structlog
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from consumers.metrics import GatewayMetrics
from consumers.readside_store import ReadStoreError
from contracts.api import (
    AggregateStatistics,
    CertificateView,
    HeldWarrants,
    Problem,
    PublicDisclosures,
)
from contracts.cbam_report import (
    CbamReportFiled,
    FiledReportVersion,
    FiledReportVersions,
    ImportsOfYear,
    QuarterlyCbamReport,
)
from gateway.readside.cbam_report import FilingRefused, Quarter, filing_of
from gateway.readside.default_values import DefaultValuesError
from gateway.readside.disclosures import NotYetPublished
from gateway.readside.pages import ReportLink, holdings_page, sign_in_page
from gateway.readside.queries import ReadSide
from gateway.readside.report_formats import report_csv, report_xml
from gateway.runtime.api_tokens import ApiTokens

log = structlog.get_logger("custody_gateway.http")

API_VERSION = "1"
SESSION_COOKIE = "custody_session"
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True)
class Readiness:
    """Whether the gateway can serve, and the result of each check behind that answer."""

    ready: bool
    checks: Mapping[str, bool]
    detail: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, checks: Mapping[str, bool], detail: Mapping[str, str] | None = None) -> "Readiness":
        """Ready when there is at least one check and every check passes."""
        return cls(
            ready=bool(checks) and all(checks.values()),
            checks=dict(checks),
            detail=dict(detail or {}),
        )

    @property
    def failed(self) -> list[str]:
        return sorted(name for name, passed in self.checks.items() if not passed)


ReadinessProbe = Callable[[], Awaitable[Readiness]]
AsyncApiSource = Callable[[], Mapping[str, object]]


def _problem(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        Problem(error=message, status=status).model_dump(), status_code=status, headers=headers
    )


def create_http_app(
    *,
    metrics: GatewayMetrics,
    readiness: ReadinessProbe,
    asyncapi: AsyncApiSource,
    read_side: Callable[[], ReadSide | None],
    tokens: ApiTokens,
    today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    readiness_timeout_seconds: float = 5.0,
    report_filing: "ReportFiling | None" = None,
) -> FastAPI:
    """The ASGI application. ``read_side`` answers None while the read side is not running
    (the /v1 endpoints then answer 503)."""
    app = FastAPI(
        title="Custody gateway",
        version=API_VERSION,
        description="What the parties of the aluminium chain of custody may read of the "
        "registry's decisions: their warrants, the CoAs they may see and the emissions "
        "attached. Every /v1 call needs a bearer token naming the calling party.",
        docs_url=None,
        redoc_url=None,
    )
    bearer = HTTPBearer(auto_error=False, description="A party's API token.")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _problem(error.status_code, str(error.detail), error.headers)

    @app.exception_handler(ReadStoreError)
    async def _store_failed(_request: Request, error: ReadStoreError) -> JSONResponse:
        log.warning("readside_store_failed", error=str(error))
        return _problem(503, "the read side's store did not answer; try again")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _problem(400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.middleware("http")
    async def _count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.http_requests.labels(path, str(response.status_code)).inc()
        return response

    def caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str:
        """The party the bearer token names; in a browser, the token of the page's session
        cookie (so that the page's download links work)."""
        presented = (
            credentials.credentials
            if credentials is not None
            else request.cookies.get(SESSION_COOKIE)
        )
        party = None if presented is None else tokens.party_of(presented)
        if party is None:
            raise HTTPException(
                401,
                "a bearer token naming a party is required"
                if presented is None
                else "the token is not known",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return party

    def serving() -> ReadSide:
        found = read_side()
        if found is None:
            raise HTTPException(503, "the read side is not running in this process")
        return found

    Party = Annotated[str, Depends(caller)]
    Reads = Annotated[ReadSide, Depends(serving)]
    unauthorised: dict[int | str, dict[str, Any]] = {401: {"model": Problem}}

    @app.get("/health", tags=["operations"], summary="The process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        tags=["operations"],
        summary="Whether it can serve: each check and those that failed (503 when one did)",
    )
    async def ready() -> JSONResponse:
        try:
            async with asyncio.timeout(readiness_timeout_seconds):
                answer = await readiness()
        except TimeoutError:
            problem = f"the readiness probe did not answer within {readiness_timeout_seconds} s"
            answer = Readiness(ready=False, checks={}, detail={"readiness_probe": problem})
        except Exception as error:
            log.exception("readiness_probe_failed")
            problem = f"the readiness probe failed: {type(error).__name__}: {error}"
            answer = Readiness(ready=False, checks={}, detail={"readiness_probe": problem})
        payload = {
            "status": "ready" if answer.ready else "not ready",
            "ready": answer.ready,
            "checks": dict(answer.checks),
            "failed": answer.failed,
            "detail": dict(answer.detail),
        }
        return JSONResponse(payload, status_code=200 if answer.ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics, text format")
    async def metrics_page() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/asyncapi.json", tags=["operations"], summary="The AsyncAPI 3.0 document")
    async def asyncapi_page() -> JSONResponse:
        return JSONResponse(dict(asyncapi()))

    @app.get(
        "/v1/warrants",
        tags=["holders"],
        summary="My warrants: those the calling party holds now, with their CoAs' emissions",
        responses=unauthorised,
    )
    def my_warrants(party: Party, reads: Reads) -> HeldWarrants:
        return reads.held_warrants(party)

    @app.get(
        "/v1/certificates/{ecoa_id}",
        tags=["holders"],
        summary="One CoA with its emissions, to its holder, producer, warehouse or the "
        "exchange (404 to anyone else)",
        responses={**unauthorised, 404: {"model": Problem}},
    )
    def certificate(ecoa_id: str, party: Party, reads: Reads) -> CertificateView:
        found = reads.certificate(party, ecoa_id)
        if found is None:
            raise HTTPException(404, f"no certificate {ecoa_id}")
        return found

    @app.get(
        "/public/disclosures",
        tags=["public"],
        summary="The emissions of the brands whose producer opted in to show them (§4.2.3)",
    )
    def public_disclosures(reads: Reads) -> PublicDisclosures:
        return reads.public_disclosures()

    @app.get(
        "/public/statistics",
        tags=["public"],
        summary="The distribution of reported intensities across listed brands (§4.2.3): "
        "never before the configured date, never over fewer brands than the minimum group",
        responses={403: {"model": Problem}},
    )
    def aggregate_statistics(reads: Reads) -> AggregateStatistics:
        try:
            return reads.aggregate_statistics(today())
        except NotYetPublished as refused:
            raise HTTPException(403, str(refused)) from None

    # -- the holders' and importers' web page ---------------------------------------------
    @app.get("/app", include_in_schema=False)
    def sign_in(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token is not None and tokens.party_of(token) is not None:
            return RedirectResponse("/app/holdings", status_code=303)
        return HTMLResponse(sign_in_page())

    @app.post("/app/session", include_in_schema=False)
    async def open_session(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        if not token or tokens.party_of(token) is None:
            return HTMLResponse(sign_in_page("That token is not known."), status_code=401)
        answer = RedirectResponse("/app/holdings", status_code=303)
        answer.set_cookie(
            SESSION_COOKIE, token, httponly=True, samesite="strict", max_age=SESSION_SECONDS
        )
        return answer

    @app.post("/app/logout", include_in_schema=False)
    def close_session() -> Response:
        answer = RedirectResponse("/app", status_code=303)
        answer.delete_cookie(SESSION_COOKIE)
        return answer

    @app.get("/app/holdings", include_in_schema=False)
    def holdings(request: Request, reads: Reads) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        party = None if token is None else tokens.party_of(token)
        if party is None:
            return RedirectResponse("/app", status_code=303)
        held = reads.held_warrants(party)
        page = holdings_page(
            held,
            reports=report_links(today(), [w.issued_at for w in held.warrants]),
            generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
        return HTMLResponse(page)

    _cbam_report_routes(app, caller, serving, unauthorised, report_filing)
    return app


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReportFiling:
    """How the API files a version of an importer's report: it publishes the contract
    (``custody.cbam-report.filed`` on ``registry.cbam-reports``) and the read side projects it
    into ``cbam_report_versions``, so the versions are rebuilt from the topic like the rest.
    The answer waits up to ``projection_wait_seconds`` for the projection (201), and says 202
    when the version is published but not yet readable."""

    publish: Callable[[CbamReportFiled], Awaitable[None]]
    clock: Callable[[], datetime] = _utc_now
    projection_wait_seconds: float = 5.0


def _report_of(reads: ReadSide, importer_id: str, quarter: Quarter) -> QuarterlyCbamReport:
    """The report, or 422 when no CBAM period or default value covers the quarter's goods."""
    try:
        return reads.quarterly_cbam_report(importer_id, quarter)
    except DefaultValuesError as error:
        raise HTTPException(422, str(error)) from error


def _rendered(report: QuarterlyCbamReport, report_format: str) -> Any:
    if report_format == "csv":
        return Response(report_csv(report), media_type="text/csv; charset=utf-8")
    if report_format == "xml":
        return Response(report_xml(report), media_type="application/xml")
    return report


def _cbam_report_routes(
    app: FastAPI,
    caller: Callable[..., str],
    serving: Callable[[], ReadSide],
    unauthorised: dict[int | str, dict[str, Any]],
    filing: ReportFiling | None,
) -> None:
    """The importer's quarterly CBAM report, its filed versions and its yearly import mass:
    the caller's own only."""
    Party = Annotated[str, Depends(caller)]
    Reads = Annotated[ReadSide, Depends(serving)]
    Year = Annotated[int, Path(ge=2023, le=9999, description="Calendar year.")]
    QuarterNumber = Annotated[int, Path(ge=1, le=4, description="1 to 4.")]
    Format = Annotated[Literal["json", "csv", "xml"], Query(alias="format")]
    rendered: dict[int | str, dict[str, Any]] = {
        200: {"content": {"text/csv": {}, "application/xml": {}}},
    }
    one_filing_at_a_time = asyncio.Lock()

    @app.get(
        "/v1/reports/quarterly/{year}/{quarter}",
        tags=["importers"],
        summary="My quarterly CBAM report: the warrants issued to me in the quarter, per CN "
        "code and country of origin (format=json, csv or xml)",
        response_model=QuarterlyCbamReport,
        responses={**unauthorised, **rendered, 422: {"model": Problem}},
    )
    def quarterly_report(
        year: Year,
        quarter: QuarterNumber,
        party: Party,
        reads: Reads,
        report_format: Format = "json",
    ) -> Any:
        return _rendered(_report_of(reads, party, Quarter(year, quarter)), report_format)

    @app.post(
        "/v1/reports/quarterly/{year}/{quarter}/versions",
        tags=["importers"],
        summary="File my report of the quarter as it stands now, as version `version` (1, "
        "then n + 1 for a correction of n); 409 naming the rule when refused",
        status_code=201,
        response_model=FiledReportVersion,
        responses={
            **unauthorised,
            202: {"model": FiledReportVersion},
            409: {"model": Problem},
            503: {"model": Problem},
        },
    )
    async def file_report(
        year: Year,
        quarter: QuarterNumber,
        version: Annotated[int, Query(ge=1, description="The version filed.")],
        party: Party,
        reads: Reads,
    ) -> Any:
        if filing is None:
            raise HTTPException(503, "filing is not available in this process")
        period = Quarter(year, quarter)
        async with one_filing_at_a_time:
            now = filing.clock()
            filed = await asyncio.to_thread(reads.filed_report_versions, party, period)
            decision = filing_of(period, now, [v.version for v in filed.versions], version)
            if isinstance(decision, FilingRefused):
                raise HTTPException(409, decision.rule)
            report = await asyncio.to_thread(_report_of, reads, party, period)
            body = CbamReportFiled.build(
                filing_id=str(uuid.uuid4()),
                importer_id=party,
                year=year,
                quarter=quarter,
                version=version,
                late=decision.late,
                filed_at=now,
                report=report,
            )
            try:
                await filing.publish(body)
            except Exception as error:
                log.exception("report_filing_not_published", importer=party, version=version)
                raise HTTPException(
                    503, f"the report could not be published: {type(error).__name__}: {error}"
                ) from error
            projected = await _projected(reads, party, period, version, filing)
        answer = FiledReportVersion(
            importer_id=party,
            year=year,
            quarter=quarter,
            version=version,
            filed_at=now.isoformat(),
            late=decision.late,
            totals=report.totals,
        )
        if projected:
            return answer
        return JSONResponse(answer.model_dump(), status_code=202)

    @app.get(
        "/v1/reports/quarterly/{year}/{quarter}/versions",
        tags=["importers"],
        summary="The versions of my report of the quarter I have filed, with their totals",
        responses=unauthorised,
    )
    def filed_versions(
        year: Year, quarter: QuarterNumber, party: Party, reads: Reads
    ) -> FiledReportVersions:
        return reads.filed_report_versions(party, Quarter(year, quarter))

    @app.get(
        "/v1/reports/quarterly/{year}/{quarter}/versions/{version}",
        tags=["importers"],
        summary="One version of my report of the quarter as filed (format=json, csv or xml)",
        response_model=QuarterlyCbamReport,
        responses={**unauthorised, **rendered, 404: {"model": Problem}},
    )
    def filed_version(
        year: Year,
        quarter: QuarterNumber,
        version: Annotated[int, Path(ge=1)],
        party: Party,
        reads: Reads,
        report_format: Format = "json",
    ) -> Any:
        found = reads.filed_report(party, Quarter(year, quarter), version)
        if found is None:
            raise HTTPException(404, f"no version {version} of the report of {year}Q{quarter}")
        return _rendered(found, report_format)

    @app.get(
        "/v1/imports/{year}",
        tags=["importers"],
        summary="My CBAM goods of a calendar year: cumulative net mass against the 50 t exemption",
        responses=unauthorised,
    )
    def imports_of_year(year: Year, party: Party, reads: Reads) -> ImportsOfYear:
        return reads.imports_of_year(party, year)


async def _projected(
    reads: ReadSide, importer_id: str, quarter: Quarter, version: int, filing: ReportFiling
) -> bool:
    """Whether the read side shows ``version`` within the filing's wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + filing.projection_wait_seconds
    while True:
        filed = await asyncio.to_thread(reads.filed_report_versions, importer_id, quarter)
        if any(v.version == version for v in filed.versions):
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.05)


def report_links(today: date, received: list[str]) -> list[ReportLink]:
    """The report of each quarter the party received metal in (``received``: ISO times) and
    of the last closed quarter, newest first, in each format."""
    quarters = {Quarter.of(today), *(Quarter.of(datetime.fromisoformat(m)) for m in received)}
    links = []
    for year, number in sorted(((q.year, q.quarter) for q in quarters), reverse=True):
        for form in ("xml", "csv", "json"):
            links.append(
                ReportLink(
                    f"{year} Q{number}, {form.upper()}",
                    f"/v1/reports/quarterly/{year}/{number}?format={form}",
                )
            )
    return links


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the gateway handles SIGTERM and SIGINT itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """uvicorn serving the API on a socket bound at ``start`` (port 0: any free port)."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port: int | None = None

    async def start(self) -> int:
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        sock.listen(128)
        sock.setblocking(False)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_keep_alive=5,
            timeout_graceful_shutdown=2,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self.port

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = None
