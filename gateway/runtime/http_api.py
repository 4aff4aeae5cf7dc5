"""The gateway's HTTP API: the operations endpoints and the parties' read side, served as
ASGI (FastAPI under uvicorn, in the gateway's own event loop).

FastAPI, because the response bodies are pydantic models already (``contracts.api``) and it
publishes the OpenAPI document from them (``/openapi.json``), which a test checks; uvicorn,
because it runs as a task beside the engines (``HttpServer.start`` binds, ``stop`` closes).

- ``/health``, ``/ready``, ``/metrics``, ``/asyncapi.json`` and ``/openapi.json`` are open:
  they say nothing about any party's metal. ``/ready`` answers 503 naming the checks failed.
- Every ``/v1/...`` endpoint needs ``Authorization: Bearer <token>``; the token names one
  party (``gateway.runtime.api_tokens``). Without one, or with one not known: 401. Nothing a
  party may not read is acknowledged: a CoA it may not see is 404, like one that does not exist.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations,
# which name aliases local to create_http_app.
import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from consumers.metrics import GatewayMetrics
from consumers.readside_store import ReadStoreError
from contracts.api import CertificateView, HeldWarrants, Problem
from gateway.readside.queries import ReadSide
from gateway.runtime.api_tokens import ApiTokens

log = structlog.get_logger("custody_gateway.http")

API_VERSION = "1"


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
    readiness_timeout_seconds: float = 5.0,
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
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str:
        party = None if credentials is None else tokens.party_of(credentials.credentials)
        if party is None:
            raise HTTPException(
                401,
                "a bearer token naming a party is required"
                if credentials is None
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

    return app


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
