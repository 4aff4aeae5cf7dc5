"""The ops endpoints over real HTTP on loopback: health, readiness, metrics, AsyncAPI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from consumers.metrics import GatewayMetrics
from gateway.runtime.ops_http import OpsServer, Readiness

LOOPBACK = "127.0.0.1"
DOCUMENT = {"asyncapi": "3.0.0", "info": {"title": "Custody gateway", "version": "0.1.0"}}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json"
        return json.loads(self.body)


@dataclass
class Probe:
    """A readiness probe the test sets."""

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


@pytest.fixture
async def ops() -> AsyncIterator[Running]:
    metrics, probe = GatewayMetrics(), Probe()
    server = OpsServer(
        LOOPBACK,
        0,
        metrics=metrics,
        readiness=probe,
        asyncapi=lambda: DOCUMENT,
        request_timeout_seconds=0.5,
        readiness_timeout_seconds=0.2,
    )
    port = await server.start()
    try:
        yield Running(port, metrics, probe)
    finally:
        await server.stop()


async def exchange(port: int, raw: bytes) -> Answer:
    """Send ``raw`` bytes, read the answer until the server closes the connection."""
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        try:
            writer.write(raw)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status, _reason = status_line.split(" ", 2)
    assert version == "HTTP/1.1"
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    return Answer(int(status), headers, body)


async def get(port: int, path: str) -> Answer:
    return await exchange(port, f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())


async def test_start_binds_a_free_loopback_port_and_stop_releases_it() -> None:
    server = OpsServer(
        LOOPBACK, 0, metrics=GatewayMetrics(), readiness=Probe(), asyncapi=lambda: DOCUMENT
    )
    port = await server.start()
    try:
        assert port > 0
        assert server.port == port
        assert (await get(port, "/health")).status == 200
        _reader, silent = await asyncio.open_connection(LOOPBACK, port)
    finally:
        async with asyncio.timeout(2):
            await server.stop()
    silent.close()
    with pytest.raises(OSError):
        await asyncio.open_connection(LOOPBACK, port)


async def test_health_is_ok(ops: Running) -> None:
    answer = await get(ops.port, "/health")
    assert answer.status == 200
    assert answer.json() == {"status": "ok"}


async def test_ready_answers_200_with_the_checks(ops: Running) -> None:
    answer = await get(ops.port, "/ready")
    assert answer.status == 200
    body = answer.json()
    assert body["ready"] is True
    assert body["checks"] == {"broker_reachable": True, "state_restored": True}
    assert body["failed"] == []


async def test_not_ready_answers_503_naming_the_failed_check(ops: Running) -> None:
    ops.probe.readiness = Readiness.of(
        {"broker_reachable": True, "state_restored": False},
        {"state_restored": "partition 3: 1200 of 5000 entities restored"},
    )
    answer = await get(ops.port, "/ready")
    assert answer.status == 503
    body = answer.json()
    assert body["ready"] is False
    assert body["failed"] == ["state_restored"]
    assert body["checks"] == {"broker_reachable": True, "state_restored": False}
    assert body["detail"] == {"state_restored": "partition 3: 1200 of 5000 entities restored"}


async def test_a_failing_readiness_probe_answers_503_with_the_error(ops: Running) -> None:
    ops.probe.error = RuntimeError("admin client closed")
    answer = await get(ops.port, "/ready")
    assert answer.status == 503
    assert "admin client closed" in answer.json()["detail"]["readiness_probe"]


async def test_a_readiness_probe_that_hangs_answers_503(ops: Running) -> None:
    ops.probe.delay_seconds = 5.0
    answer = await get(ops.port, "/ready")
    assert answer.status == 503
    assert "did not answer" in answer.json()["detail"]["readiness_probe"]


def test_readiness_of_checks_is_ready_only_when_all_pass() -> None:
    assert Readiness.of({"a": True, "b": True}).ready
    assert not Readiness.of({"a": True, "b": False}).ready
    assert not Readiness.of({}).ready


async def test_metrics_are_served_in_the_text_format(ops: Running) -> None:
    ops.metrics.messages_in.labels(
        topic="producer.ecoas", message_type="custody.ecoa.created"
    ).inc()
    answer = await get(ops.port, "/metrics")
    assert answer.status == 200
    assert answer.headers["content-type"] == ops.metrics.content_type
    text = answer.body.decode("utf-8")
    assert (
        'custody_gateway_messages_consumed_total{message_type="custody.ecoa.created",'
        'topic="producer.ecoas"} 1.0' in text
    )


async def test_the_asyncapi_document_is_served_as_json(ops: Running) -> None:
    answer = await get(ops.port, "/asyncapi.json")
    assert answer.status == 200
    assert answer.json() == DOCUMENT


async def test_a_query_string_does_not_change_the_route(ops: Running) -> None:
    assert (await get(ops.port, "/health?verbose=1")).status == 200


async def test_an_unknown_path_is_404(ops: Running) -> None:
    answer = await get(ops.port, "/admin")
    assert answer.status == 404
    assert answer.json()["status"] == 404


async def test_a_post_is_405(ops: Running) -> None:
    answer = await exchange(
        ops.port,
        b"POST /health HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}",
    )
    assert answer.status == 405
    assert answer.headers["allow"] == "GET"


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage\r\n\r\n",
        b"GET /health\r\n\r\n",
        b"GET /health HTTP/9.9\r\n\r\n",
        b"GET health HTTP/1.1\r\n\r\n",
        b"\xff\xfe /health HTTP/1.1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n",
    ],
    ids=["garbage", "no-version", "bad-version", "bad-target", "not-ascii", "bad-header", "long"],
)
async def test_a_malformed_request_is_400(ops: Running, raw: bytes) -> None:
    answer = await exchange(ops.port, raw)
    assert answer.status == 400
    assert answer.json()["error"]


async def test_a_client_that_disconnects_does_not_disturb_the_server(ops: Running) -> None:
    for partial in (b"", b"GET /hea", b"GET /health HTTP/1.1\r\nHost: local"):
        _reader, writer = await asyncio.open_connection(LOOPBACK, ops.port)
        writer.write(partial)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    assert (await get(ops.port, "/health")).status == 200


async def test_a_request_that_never_ends_times_out_with_408(ops: Running) -> None:
    answer = await exchange(ops.port, b"GET /health HTTP/1.1\r\nHost: local")
    assert answer.status == 408
