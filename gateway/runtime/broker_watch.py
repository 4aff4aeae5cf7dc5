"""Is the broker there? Checked every second; one log line and a metric per change, never
one per retry (the clients retry on their own and say nothing at info level)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from consumers.metrics import GatewayMetrics

log = structlog.get_logger("custody_gateway.broker")

CHECK_INTERVAL_S = 1.0
CONNECT_TIMEOUT_S = 1.0


class BrokerWatch:
    def __init__(self, bootstrap_servers: str, metrics: GatewayMetrics) -> None:
        self._addresses = [
            address.strip() for address in bootstrap_servers.split(",") if address.strip()
        ]
        self._metrics = metrics
        self.reachable: bool | None = None
        """The last answer (None before the first check)."""

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._record(await self.reachable_now())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=CHECK_INTERVAL_S)

    async def reachable_now(self) -> bool:
        """Whether any bootstrap address accepts a connection."""
        for address in self._addresses:
            host, _, port = address.rpartition(":")
            try:
                _reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, int(port)), timeout=CONNECT_TIMEOUT_S
                )
            except (OSError, ValueError, TimeoutError):
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        return False

    def _record(self, reachable: bool) -> None:
        self._metrics.broker_reachable.set(1 if reachable else 0)
        if reachable == self.reachable:
            return
        if reachable:
            log.info("broker_reachable", bootstrap=",".join(self._addresses))
        else:
            log.error("broker_unreachable", bootstrap=",".join(self._addresses))
        self.reachable = reachable
