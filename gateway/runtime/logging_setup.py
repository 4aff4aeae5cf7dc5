"""JSON logs for the service: one object a line, with the level, time and event fields."""

from __future__ import annotations

import logging
import sys

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
