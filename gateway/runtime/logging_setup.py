"""JSON logs for the service: one object a line, with the level, time and event fields."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from typing import Any

import structlog

CHATTY_LIBRARIES = ("aiokafka",)
"""Libraries that log every retry of every connection during a broker outage; above debug
level the gateway says once what changed instead (``broker_unreachable``, ...)."""


def configure_json_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")
    for library in CHATTY_LIBRARIES:
        logging.getLogger(library).setLevel(logging.WARNING if level <= logging.DEBUG else 100)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def log_loop_exceptions(loop: asyncio.AbstractEventLoop) -> None:
    """Unhandled errors of futures and callbacks as one JSON line each. Those of aiokafka's
    own futures (a producer given up during an outage leaves a few behind) go at debug level:
    the gateway has already said what happened (``broker_unreachable``, ``transaction_failed``)."""
    logger = structlog.get_logger("custody_gateway.loop")

    def handle(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        where = " ".join(repr(context.get(part, "")) for part in ("future", "task", "handle"))
        frames = traceback.extract_tb(error.__traceback__) if error is not None else []
        from_kafka_client = "aiokafka" in where or any(
            "aiokafka" in frame.filename for frame in frames
        )
        emit = logger.debug if from_kafka_client else logger.error
        emit(
            "unhandled_async_error",
            message=context.get("message"),
            error=f"{type(error).__name__}: {error}" if error is not None else None,
            origin="aiokafka" if from_kafka_client else None,
        )

    loop.set_exception_handler(handle)
