"""Every line the gateway writes to stderr is one JSON object: its own lines, and the standard
library's records of the libraries it uses; a record repeated within the window is one line,
the next one after it saying how many were left out."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import capture_logs

from consumers.engine import _log_outcome
from gateway.processors.records import InputRecord
from gateway.processors.registry import process_record
from gateway.registry.state import RegistryState
from gateway.runtime.logging_setup import RepeatLimiter, configure_json_logging
from tests.unit.test_registry import scenario_messages
from tests.unit.test_registry_pipeline import NOW, SETTINGS, record_of


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """These tests configure the process's logging on a captured stderr: put it back after,
    so that later tests do not write to a stream closed by then."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def record(message: str, *args: object, name: str = "aiokafka.conn") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, None)


def test_a_repeated_record_passes_once_a_window_then_says_how_many_were_dropped() -> None:
    now = [0.0]
    limiter = RepeatLimiter(window_s=30, clock=lambda: now[0])
    assert limiter.filter(record("Unable connect to %s", "node-1"))
    for second in range(1, 29):
        now[0] = float(second)
        assert not limiter.filter(record("Unable connect to %s", f"node-{second}"))
    assert limiter.filter(record("another message"))
    now[0] = 31.0
    after = record("Unable connect to %s", "node-1")
    assert limiter.filter(after)
    assert getattr(after, "repeated", None) == 28


def test_library_records_and_the_gateways_lines_are_all_json(
    capfd: pytest.CaptureFixture[str],
) -> None:
    configure_json_logging(logging.INFO)
    structlog.get_logger("custody_gateway.test").info("gateway_line", partition=3)
    for _ in range(50):
        logging.getLogger("aiokafka.conn").error("Unable connect to %s", "127.0.0.1:9")
    logging.getLogger("aiokafka.consumer").warning("below the client's level at info")
    logging.getLogger("faststream").warning("a %s warning", "framework")
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("server error")
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert [line["event"] for line in lines] == [
        "gateway_line",
        "Unable connect to 127.0.0.1:9",
        "a framework warning",
        "server error",
    ]
    assert lines[1]["logger"] == "aiokafka.conn" and lines[1]["level"] == "error"
    assert "ValueError: broken" in lines[3]["exception"]
    assert all(line["timestamp"].endswith("Z") for line in lines)


def test_each_decision_is_logged_at_info_and_a_dead_letter_names_its_ce_id() -> None:
    decided_record = record_of(scenario_messages()[0], 0)
    decided = process_record(RegistryState(), decided_record, now=NOW, settings=SETTINGS)
    unreadable = InputRecord(
        "producer.ecoas",
        2,
        41,
        None,
        b"NORDAL",
        b"{not json",
        [("ce_id", b"evt-0041"), ("ce_correlationid", b"flow-7"), ("ce_type", b"x")],
    )
    letter = process_record(RegistryState(), unreadable, now=NOW, settings=SETTINGS)
    configure_json_logging(logging.DEBUG)
    logger = structlog.get_logger("test")
    with capture_logs() as logs:
        _log_outcome(logger, decided_record, decided)
        _log_outcome(logger, unreadable, letter)
        _log_outcome(logger, decided_record, decided, "debug")
    assert logs[0]["event"] == "record_decided" and logs[0]["log_level"] == "info"
    assert logs[0]["correlation_id"] and logs[0]["source"] == "exchange.brand-commands/1/0"
    assert logs[0]["outcome"] == "decided"
    assert logs[1]["event"] == "dead_letter" and logs[1]["log_level"] == "warning"
    assert (logs[1]["event_id"], logs[1]["correlation_id"]) == ("evt-0041", "flow-7")
    assert logs[1]["source"] == "producer.ecoas/2/41"
    assert logs[2]["log_level"] == "debug"


def test_a_client_error_with_an_exception_is_one_line_without_its_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    configure_json_logging(logging.INFO)
    try:
        raise ConnectionError("connection refused")
    except ConnectionError:
        logging.getLogger("aiokafka.producer.sender").exception("Unexpected error in sender")
    (line,) = [json.loads(text) for text in capfd.readouterr().err.splitlines()]
    assert line["error"] == "ConnectionError: connection refused"
    assert "exception" not in line and "Traceback" not in json.dumps(line)
