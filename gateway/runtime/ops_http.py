"""A small HTTP/1.1 server for operations: /health, /ready, /metrics and /asyncapi.json.

Built on asyncio streams, without a web framework: one request per connection, answered
and closed. ``/ready`` answers 503 naming the checks that failed, so whoever is on call
sees which one (``broker_reachable``, ``state_restored``...). Nothing binds until
``OpsServer.start``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

from consumers.metrics import GatewayMetrics

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
MAX_LINE_BYTES = 8 * 1024
MAX_HEADER_LINES = 100
LINGER_SECONDS = 1.0
LINGER_MAX_BYTES = 64 * 1024

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HTTP_VERSION = re.compile(r"HTTP/1\.[01]")


@dataclass(frozen=True)
class Readiness:
    """Whether the gateway can serve, and the result of each check behind that answer."""

    ready: bool
    checks: Mapping[str, bool]
    detail: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, checks: Mapping[str, bool], detail: Mapping[str, str] | None = None) -> Readiness:
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


class _BadRequest(Exception):
    """The request cannot be read as HTTP/1.x."""


class _ClientGone(Exception):
    """The client closed the connection before sending a request."""


@dataclass(frozen=True)
class _Request:
    method: str
    path: str


@dataclass(frozen=True)
class _Response:
    status: HTTPStatus
    body: bytes
    content_type: str
    extra_headers: tuple[tuple[str, str], ...] = ()


def _json_response(
    status: HTTPStatus, payload: Mapping[str, object], *extra_headers: tuple[str, str]
) -> _Response:
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
    return _Response(status, body, JSON_CONTENT_TYPE, extra_headers)


def _error(status: HTTPStatus, message: str, *extra_headers: tuple[str, str]) -> _Response:
    return _json_response(status, {"error": message, "status": status.value}, *extra_headers)


class OpsServer:
    """The operations endpoints of one gateway process."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        metrics: GatewayMetrics,
        readiness: ReadinessProbe,
        asyncapi: AsyncApiSource,
        request_timeout_seconds: float = 5.0,
        readiness_timeout_seconds: float = 5.0,
    ) -> None:
        self._host = host
        self._port = port
        self._metrics = metrics
        self._readiness = readiness
        self._asyncapi = asyncapi
        self._request_timeout = request_timeout_seconds
        self._readiness_timeout = readiness_timeout_seconds
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[object]] = set()
        self._routes: Mapping[str, Callable[[], Awaitable[_Response]]] = {
            "/health": self._health,
            "/ready": self._ready,
            "/metrics": self._metrics_page,
            "/asyncapi.json": self._asyncapi_page,
        }

    async def start(self) -> int:
        """Listen; return the bound port (a free one when the port given was 0)."""
        if self._server is not None:
            raise RuntimeError("the ops server is already started")
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=MAX_LINE_BYTES
        )
        return self.port

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the ops server is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        """Stop listening and end the connections still open."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        connections = list(self._connections)
        for connection in connections:
            connection.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            response = await self._response_to(reader)
            if response is not None:
                await _send(writer, response)
                await _linger(reader, writer)
        except ConnectionError:
            pass  # the client went away; there is no one left to answer
        except asyncio.CancelledError:
            # Stopping ends open connections. Ending the handler here, rather than raising,
            # keeps asyncio's stream callback from printing the cancellation as an error.
            writer.close()
            return
        finally:
            if task is not None:
                self._connections.discard(task)
        writer.close()
        with suppress(ConnectionError, asyncio.CancelledError):
            await writer.wait_closed()

    async def _response_to(self, reader: asyncio.StreamReader) -> _Response | None:
        try:
            async with asyncio.timeout(self._request_timeout):
                request = await _read_request(reader)
        except _ClientGone:
            return None
        except _BadRequest as error:
            return _error(HTTPStatus.BAD_REQUEST, str(error))
        except TimeoutError:
            return _error(HTTPStatus.REQUEST_TIMEOUT, "the request was not received in time")
        route = self._routes.get(request.path)
        if route is None:
            return _error(HTTPStatus.NOT_FOUND, f"no such path: {request.path}")
        if request.method != "GET":
            return _error(
                HTTPStatus.METHOD_NOT_ALLOWED, f"{request.method} is not allowed", ("Allow", "GET")
            )
        try:
            return await route()
        except Exception:
            logger.exception("ops endpoint %s failed", request.path)
            return _error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{request.path} failed")

    async def _health(self) -> _Response:
        return _json_response(HTTPStatus.OK, {"status": "ok"})

    async def _ready(self) -> _Response:
        readiness = await self._probe_readiness()
        payload = {
            "status": "ready" if readiness.ready else "not ready",
            "ready": readiness.ready,
            "checks": dict(readiness.checks),
            "failed": readiness.failed,
            "detail": dict(readiness.detail),
        }
        status = HTTPStatus.OK if readiness.ready else HTTPStatus.SERVICE_UNAVAILABLE
        return _json_response(status, payload)

    async def _probe_readiness(self) -> Readiness:
        try:
            async with asyncio.timeout(self._readiness_timeout):
                return await self._readiness()
        except TimeoutError:
            problem = f"the readiness probe did not answer within {self._readiness_timeout} s"
        except Exception as error:
            logger.exception("the readiness probe failed")
            problem = f"the readiness probe failed: {type(error).__name__}: {error}"
        return Readiness(ready=False, checks={}, detail={"readiness_probe": problem})

    async def _metrics_page(self) -> _Response:
        return _Response(HTTPStatus.OK, self._metrics.render(), self._metrics.content_type)

    async def _asyncapi_page(self) -> _Response:
        return _json_response(HTTPStatus.OK, self._asyncapi())


async def _read_request(reader: asyncio.StreamReader) -> _Request:
    request_line = await _read_line(reader)
    if not request_line:
        raise _ClientGone
    method, path = _parse_request_line(request_line)
    for _ in range(MAX_HEADER_LINES):
        line = await _read_line(reader)
        if not line.strip():
            return _Request(method=method, path=path)
        name, separator, _value = line.partition(":")
        if not separator or not _TOKEN.fullmatch(name):
            raise _BadRequest(f"malformed header line: {line.strip()[:100]!r}")
    raise _BadRequest(f"more than {MAX_HEADER_LINES} header lines")


async def _read_line(reader: asyncio.StreamReader) -> str:
    try:
        line = await reader.readline()
    except ValueError:  # longer than the stream's limit
        raise _BadRequest(
            f"a request line or header is longer than {MAX_LINE_BYTES} bytes"
        ) from None
    try:
        return line.decode("ascii")
    except UnicodeDecodeError:
        raise _BadRequest("the request head is not ASCII") from None


def _parse_request_line(line: str) -> tuple[str, str]:
    parts = line.rstrip("\r\n").split(" ")
    if len(parts) != 3:
        raise _BadRequest(f"malformed request line: {line.strip()[:100]!r}")
    method, target, version = parts
    if not _TOKEN.fullmatch(method) or not _HTTP_VERSION.fullmatch(version) or not target:
        raise _BadRequest(f"malformed request line: {line.strip()[:100]!r}")
    path = urlsplit(target).path
    if not path.startswith("/"):
        raise _BadRequest(f"malformed request target: {target[:100]!r}")
    return method, path


async def _send(writer: asyncio.StreamWriter, response: _Response) -> None:
    status = response.status
    headers = [
        ("Content-Type", response.content_type),
        ("Content-Length", str(len(response.body))),
        ("Connection", "close"),
        ("Cache-Control", "no-store"),
        *response.extra_headers,
    ]
    head = f"HTTP/1.1 {status.value} {status.phrase}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers
    )
    writer.write(head.encode("latin-1") + b"\r\n" + response.body)
    await writer.drain()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then read what the client still sends (an unread body, the rest of an
    overlong line) until it closes: closing with unread input would reset the connection,
    and the client could lose the answer."""
    if writer.can_write_eof():
        writer.write_eof()
    with suppress(TimeoutError):
        async with asyncio.timeout(LINGER_SECONDS):
            discarded = 0
            while discarded < LINGER_MAX_BYTES:
                chunk = await reader.read(MAX_LINE_BYTES)
                if not chunk:
                    return
                discarded += len(chunk)
