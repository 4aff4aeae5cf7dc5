"""JSON logs for the service: one object a line on stderr, with the level, time and event
fields, the gateway's own lines and the libraries' (aiokafka, FastStream, uvicorn) alike.

A library that repeats itself (a client retrying a broker that is away logs the same line
many times a second) is cut to one line per message per ``REPEAT_WINDOW_S``; the next line
after the window says how many were left out (``repeated``)."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import structlog

CHATTY_LIBRARIES = ("aiokafka",)
"""Libraries that log every retry of every connection during a broker outage; above debug
level only their errors are shown (rate-limited), and the gateway says once what changed
(``broker_unreachable``, ...)."""

REPEAT_WINDOW_S = 30.0


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record (a test's capture, or
    the process's own), never to a stream closed since."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class RepeatLimiter(logging.Filter):
    """Lets the first record of each (logger, level, message template) through, drops the
    same one again within ``window_s``, and marks the first one after the window with how
    many it dropped."""

    def __init__(
        self, window_s: float = REPEAT_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._window_s = window_s
        self._clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        with self._lock:
            first, dropped = self._seen.get(key, (None, 0))
            if first is not None and now - first < self._window_s:
                self._seen[key] = (first, dropped + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > 10_000:  # templates are few; never let the table grow
                self._seen.clear()
        if dropped:
            record.repeated = dropped
        return True


def _library_fields(
    _logger: Any, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """A standard library record's logger name and, when it was rate-limited, the count."""
    record = event.get("_record")
    if isinstance(record, logging.LogRecord):
        event["logger"] = record.name
        repeated = getattr(record, "repeated", None)
        if repeated:
            event["repeated"] = repeated
        if record.name.split(".")[0] in CHATTY_LIBRARIES and record.exc_info:
            # the client's own retries: what went wrong, in one line, not its traceback
            error = record.exc_info[1]
            event["error"] = f"{type(error).__name__}: {error}"
            event.pop("exc_info", None)
            record.exc_info = None
    return event


def _libraries_with_own_handlers() -> list[logging.Logger]:
    loggers = logging.root.manager.loggerDict.values()
    return [logger for logger in loggers if isinstance(logger, logging.Logger) and logger.handlers]


def configure_json_logging(level: int = logging.INFO) -> None:
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = _StandardError()
    handler.addFilter(RepeatLimiter())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _library_fields],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    for own in _libraries_with_own_handlers():
        # FastStream (and uvicorn, when it configures itself) print through their own
        # handlers: theirs go, and their records come to the JSON one
        for old in list(own.handlers):
            own.removeHandler(old)
        own.propagate = True
    root.setLevel(logging.WARNING)
    for library in CHATTY_LIBRARIES:
        logging.getLogger(library).setLevel(
            logging.WARNING if level <= logging.DEBUG else logging.ERROR
        )
    structlog.configure(
        processors=[
            *shared,
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
