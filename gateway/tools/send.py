"""``gateway send FILE``: publish message bodies as one party and report the registry's decision
on each.

FILE is JSON Lines as ``gateway check`` reads them (``{"type", "body", "envelope"}``, blank and
``#`` lines skipped; a line's ``envelope.time`` is its ``ce_time``, else now; an
``envelope.partyid`` must be the ``--as`` party; ticks are the gateway's own and cannot be
sent), or, when its name ends in ``.csv``, casts (``custody.production-batch.recorded``): a
header row naming the fields (``brand``, ``cast_reference``, ``batch_reference``,
``production_date``, ``site_id``, ``contract``, ``specification``, ``production_filtered``,
``shape``, ``pieces``, ``total_net_weight_kg``, ``piece_weight_kg``), the piece's dimensions
as ``piece_dimensions.length_mm`` and so on, and every other column an element's symbol
(``Cu``, ``Si``, ...) holding its detected level, % by mass. An empty cell is an absent
value (an element not stated). Every line is read before anything is sent: a line that
cannot be read is named with its field (its column in a CSV) and nothing is sent, unless
``--skip-invalid``, which sends the others.

Each body goes out as the ``--as`` party, in the role its type's topic is written by (an
eCOA's ``created_by_role``), with a new CloudEvents envelope, signed with ``--signing-key``
when given, through the broker access of the settings (``KAFKA_BOOTSTRAP_SERVERS``,
``GATEWAY_KAFKA_*``; ``--username`` and ``--password-file`` override the principal and
password, for a party on a secured broker). Then it reads the registry's output topics,
read_committed, from where they ended before sending, until every record has its decision
or ``--timeout`` runs out: an output whose ``ce_causationid`` is the record's ``ce_id``, or
a dead letter naming the record's topic, partition and offset.

Output is JSON Lines on stdout, one per record sent, in the file's order: ``{"line",
"ce_id", "outcome", ...}``, outcome ``accepted`` (with the decision's ``type``),
``rejected`` (with its ``violations``: code, rule, field, message), ``dead_letter`` (with
``reason``, ``field``, ``message``) or ``undecided``; and ``{"line", "error"}`` for a line
skipped by ``--skip-invalid``. Progress and the summary go to stderr. Exit status: 0 when
every record was accepted; 1 when any was rejected, dead-lettered, undecided or skipped;
2 on a user's mistake (no such file, a line that cannot be read, bad options), with
nothing sent; 3 when the broker could not be reached or a send failed.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from consumers.kafka_access import KafkaAccess
from consumers.record_reader import partitions_of
from contracts.base import Contract
from contracts.clock import ClockTicked
from contracts.dead_letter import DeadLetterRecorded
from contracts.envelope import (
    HEADER_CAUSATION_ID,
    MessageDecodeError,
    decode_body,
    decode_message,
    new_envelope,
)
from contracts.production import ProductionBatchRecorded
from contracts.signatures import SigningKey
from contracts.topics import TOPICS_BY_NAME, ReaderRole
from contracts.values import Dimensions, PartyRole
from gateway.tools.check import read_line
from gateway.topology import DEAD_LETTERS, REGISTRY_OUTPUTS
from producers.kafka_publisher import EnvelopePublisher
from producers.parties import sender_role_of

SOURCE = "/gateway/send"
CAST_TYPE = ProductionBatchRecorded.MESSAGE_TYPE
DIMENSION_PREFIX = "piece_dimensions."
_NUMBER_FIELDS = frozenset({"pieces", "total_net_weight_kg", "piece_weight_kg"})
_CAST_FIELDS = tuple(
    name for name in ProductionBatchRecorded.model_fields if name not in {"schema_version"}
)
_SCALAR_COLUMNS = tuple(n for n in _CAST_FIELDS if n not in {"chemistry", "piece_dimensions"})
_DIMENSION_COLUMNS = tuple(DIMENSION_PREFIX + name for name in Dimensions.model_fields)


@dataclass(frozen=True)
class LineError:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Outgoing:
    line: int
    body: Contract
    time: datetime


@dataclass(frozen=True)
class ReadFile:
    messages: list[Outgoing]
    errors: list[LineError]


def read_json_lines(source: Iterable[str], party: str, now: datetime) -> ReadFile:
    """Every message of a JSON Lines file, or what is wrong with its lines."""
    messages: list[Outgoing] = []
    errors: list[LineError] = []
    for number, text in enumerate(source, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            body, at, sender = read_line(text, default_time=now)
        except MessageDecodeError as error:
            errors.append(LineError(number, error.field, error.message))
            continue
        if isinstance(body, ClockTicked):
            errors.append(LineError(number, "tick", "ticks are the gateway's own"))
            continue
        if sender is not None and sender != party:
            message = f"the line is sent by {sender}, not by --as {party}"
            errors.append(LineError(number, "envelope.partyid", message))
            continue
        messages.append(Outgoing(number, body, at))
    return ReadFile(messages, errors)


def read_casts_csv(source: Iterable[str], now: datetime) -> ReadFile:
    """Every cast of a CSV file (a header row, then a cast a row), or what is wrong with
    its rows; a row's line is its line in the file, a field its column's name."""
    rows = csv.reader(source)
    header = next(rows, None)
    if header is None:
        return ReadFile([], [LineError(1, None, "the file is empty: no header row")])
    header = [name.strip() for name in header]
    problem = _header_problem(header)
    if problem is not None:
        return ReadFile([], [problem])
    messages: list[Outgoing] = []
    errors: list[LineError] = []
    for row in rows:
        number = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            message = f"the row has {len(row)} cells, the header {len(header)}"
            errors.append(LineError(number, None, message))
            continue
        try:
            messages.append(Outgoing(number, _cast_of(header, row), now))
        except _CellError as error:
            errors.append(LineError(number, f"column {error.column}", error.message))
    return ReadFile(messages, errors)


class _CellError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def _header_problem(header: Sequence[str]) -> LineError | None:
    seen: set[str] = set()
    for name in header:
        if not name:
            return LineError(1, None, "a column has no name")
        if name in seen:
            return LineError(1, f"column {name}", "the column is named twice")
        seen.add(name)
        if name.startswith(DIMENSION_PREFIX) and name not in _DIMENSION_COLUMNS:
            known = ", ".join(_DIMENSION_COLUMNS)
            return LineError(1, f"column {name}", f"not a dimension (known: {known})")
    if "brand" not in seen or "cast_reference" not in seen:
        return LineError(1, None, "the header must name at least brand and cast_reference")
    return None


def _cast_of(header: Sequence[str], row: Sequence[str]) -> ProductionBatchRecorded:
    body: dict[str, Any] = {}
    dimensions: dict[str, Any] = {}
    chemistry: list[dict[str, Any]] = []
    element_columns: list[str] = []
    for column, raw in zip(header, row, strict=True):
        cell = raw.strip()
        if not cell:
            continue
        if column.startswith(DIMENSION_PREFIX):
            dimensions[column.removeprefix(DIMENSION_PREFIX)] = _number(column, cell)
        elif column in _NUMBER_FIELDS:
            body[column] = _number(column, cell, integer=column == "pieces")
        elif column == "production_filtered":
            body[column] = _boolean(column, cell)
        elif column in _SCALAR_COLUMNS:
            body[column] = cell
        else:
            chemistry.append({"element": column, "detected_percent": _number(column, cell)})
            element_columns.append(column)
    body["chemistry"] = chemistry
    if dimensions:
        body["piece_dimensions"] = dimensions
    try:
        decoded = decode_body(CAST_TYPE, body)
    except MessageDecodeError as error:
        raise _CellError(_column_of(error.field, element_columns), error.message) from None
    assert isinstance(decoded, ProductionBatchRecorded)
    return decoded


def _column_of(path: str | None, element_columns: Sequence[str]) -> str:
    """The column a body's field path came from: ``chemistry[2].detected_percent`` from the
    third element column."""
    if path is None:
        return "?"
    found = re.match(r"^chemistry\[(\d+)\]", path)
    if found is not None and int(found.group(1)) < len(element_columns):
        return element_columns[int(found.group(1))]
    if path.startswith(DIMENSION_PREFIX):
        return path.split(".", 2)[0] + "." + path.split(".", 2)[1]
    return path


def _number(column: str, cell: str, *, integer: bool = False) -> int | Decimal:
    try:
        value = Decimal(cell)
    except InvalidOperation:
        raise _CellError(column, f"{cell!r} is not a number") from None
    if not value.is_finite():
        raise _CellError(column, f"{cell!r} is not a number")
    if integer:
        if value != value.to_integral_value():
            raise _CellError(column, f"{cell!r} is not a whole number")
        return int(value)
    return value


def _boolean(column: str, cell: str) -> bool:
    lowered = cell.lower()
    if lowered in {"true", "yes", "1"}:
        return True
    if lowered in {"false", "no", "0"}:
        return False
    raise _CellError(column, f"{cell!r} is not true or false")


def write_casts_csv(casts: Sequence[ProductionBatchRecorded], sink: TextIO) -> None:
    """``casts`` in the CSV format ``read_casts_csv`` reads: every field's column, the
    dimensions', then one column per element any cast states."""
    elements = list(dict.fromkeys(level.element for c in casts for level in c.chemistry))
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow([*_SCALAR_COLUMNS, *_DIMENSION_COLUMNS, *elements])
    for cast in casts:
        body = cast.model_dump(mode="json")
        levels = {level.element: str(level.detected_percent) for level in cast.chemistry}
        dimensions = cast.piece_dimensions.model_dump(mode="json")
        writer.writerow(
            [
                *(_cell(body[name]) for name in _SCALAR_COLUMNS),
                *(_cell(dimensions[c.removeprefix(DIMENSION_PREFIX)]) for c in _DIMENSION_COLUMNS),
                *(levels.get(element, "") for element in elements),
            ]
        )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_file(path: Path, party: str, now: datetime) -> ReadFile:
    """The messages of ``path``: CSV casts when it ends in ``.csv``, else JSON Lines."""
    with path.open(encoding="utf-8", newline="") as source:
        if path.suffix.lower() == ".csv":
            return read_casts_csv(source, now)
        return read_json_lines(source, party, now)


@dataclass
class Sent:
    line: int
    ce_id: str
    topic: str
    message_type: str = ""
    partition: int = -1
    offset: int = -1
    outcome: dict[str, Any] | None = None
    extra: list[str] = field(default_factory=list)


class Progress:
    """``\\r`` updates of a count out of a total and the rate, at most five a second."""

    def __init__(self, what: str, total: int, sink: TextIO, *, enabled: bool) -> None:
        self._what, self._total, self._sink, self._enabled = what, total, sink, enabled
        self._count = 0
        self._started = time.monotonic()
        self._shown = 0.0
        self._shown_count = -1

    def advance(self, count: int = 1) -> None:
        self._count += count
        now = time.monotonic()
        if self._enabled and (now - self._shown >= 0.2 or self._count >= self._total):
            self._shown = now
            self._show(now)

    def _show(self, now: float) -> None:
        self._shown_count = self._count
        rate = self._count / max(now - self._started, 1e-6)
        width = 30
        filled = width * self._count // max(self._total, 1)
        bar = "#" * filled + "." * (width - filled)
        self._sink.write(f"\r{self._what} [{bar}] {self._count}/{self._total} ({rate:,.0f}/s)")
        self._sink.flush()

    def done(self) -> None:
        if self._enabled and self._total:
            if self._shown_count != self._count:
                self._show(time.monotonic())
            self._sink.write("\n")
            self._sink.flush()


class SendFailed(RuntimeError):
    """The broker could not be reached or did not take a record."""


@dataclass(frozen=True)
class SendReport:
    sent: list[Sent]
    counts: dict[str, int]


async def send_messages(
    messages: Sequence[Outgoing],
    *,
    access: KafkaAccess,
    party: str,
    topic_prefix: str = "",
    signing_key: SigningKey | None = None,
    timeout_s: float = 60.0,
    progress: TextIO | None = None,
) -> SendReport:
    """Send every message as ``party`` and wait up to ``timeout_s`` for the decisions."""
    readable = readable_outputs({sender_role_of(m.body) for m in messages}, access.secured)
    outputs = [topic_prefix + name for name in readable]
    unread = [name for name in REGISTRY_OUTPUTS if name not in readable]
    if unread and messages:
        (progress or sys.stderr).write(
            f"gateway send: {party} may not read {', '.join(unread)} on this secured broker: "
            "records decided there stay undecided here\n"
        )
    dead_letters = topic_prefix + DEAD_LETTERS
    show = progress is not None
    sink = progress or sys.stderr
    try:
        consumer = AIOKafkaConsumer(
            **access.client_options(),
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
    except Exception as error:
        raise SendFailed(f"could not reach the broker: {error}") from None
    try:
        partitions = await partitions_of(access, outputs)
        if not partitions:
            raise SendFailed(f"the registry's output topics are not there ({outputs[0]}, ...)")
        start = await consumer.end_offsets(partitions)
        sent = await _publish(messages, access, party, topic_prefix, signing_key, show, sink)
        await _await_decisions(consumer, start, sent, dead_letters, timeout_s, show, sink)
    finally:
        await consumer.stop()
    counts = dict.fromkeys(("accepted", "rejected", "dead_letter", "undecided"), 0)
    for record in sent:
        outcome = record.outcome["outcome"] if record.outcome else "undecided"
        counts[outcome] += 1
    return SendReport(sent, counts)


def readable_outputs(roles: Set[PartyRole], secured: bool) -> tuple[str, ...]:
    """The registry's output topics a sender in ``roles`` reads: on a secured broker only
    those its roles subscribe to (the ACLs refuse the others), else all of them."""
    if not secured:
        return tuple(REGISTRY_OUTPUTS)
    readers = {ReaderRole(role.value) for role in roles if role.value in set(ReaderRole)}
    return tuple(
        name
        for name in REGISTRY_OUTPUTS
        if name in TOPICS_BY_NAME and readers & set(TOPICS_BY_NAME[name].subscriber_roles)
    )


async def _publish(
    messages: Sequence[Outgoing],
    access: KafkaAccess,
    party: str,
    topic_prefix: str,
    signing_key: SigningKey | None,
    show: bool,
    sink: TextIO,
) -> list[Sent]:
    producer = AIOKafkaProducer(**access.client_options(), enable_idempotence=True, linger_ms=5)
    try:
        await producer.start()
    except Exception as error:
        raise SendFailed(f"could not reach the broker: {error}") from None
    keys = {party: signing_key} if signing_key is not None else {}
    publisher = EnvelopePublisher(producer, topic_prefix, signing_keys=keys)
    progress = Progress("sending", len(messages), sink, enabled=show)
    sent: list[Sent] = []
    pending = []
    try:
        for message in messages:
            envelope = new_envelope(
                message.body, source=SOURCE, sender_party_id=party, time=message.time
            )
            topic, key, value, headers = publisher.record_of(
                message.body, envelope, sender_role_of(message.body)
            )
            record = Sent(message.line, envelope.id, topic, message.body.MESSAGE_TYPE)
            future = await producer.send(topic, key=key, value=value, headers=headers)
            future.add_done_callback(lambda _: progress.advance())
            sent.append(record)
            pending.append(future)
        try:
            results = await asyncio.gather(*pending)
        except Exception as error:
            raise SendFailed(f"a record was not taken by the broker: {error}") from None
    finally:
        await producer.stop()
    progress.done()
    for record, metadata in zip(sent, results, strict=True):
        record.partition, record.offset = metadata.partition, metadata.offset
    return sent


async def _await_decisions(
    consumer: AIOKafkaConsumer,
    start: Mapping[TopicPartition, int],
    sent: list[Sent],
    dead_letters: str,
    timeout_s: float,
    show: bool,
    sink: TextIO,
) -> None:
    by_id = {record.ce_id: record for record in sent}
    # a letter names its source as the catalogue does, without the deployment's prefix
    prefix = dead_letters.removesuffix(DEAD_LETTERS)
    by_place = {(r.topic.removeprefix(prefix), r.partition, r.offset): r for r in sent}
    waiting = len(sent)
    progress = Progress("decided", len(sent), sink, enabled=show)
    consumer.assign(list(start))
    for partition, offset in start.items():
        consumer.seek(partition, offset)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while waiting and loop.time() < deadline:
        batches = await consumer.getmany(timeout_ms=200)
        for batch in batches.values():
            for record in batch:
                target = _target_of(record, by_id, by_place, dead_letters)
                if target is None:
                    continue
                if target.outcome is not None:
                    answered = _outcome_of(record, dead_letters)
                    if _answers(target, answered) and not _answers(target, target.outcome):
                        target.extra.append(target.outcome.get("type", "?"))
                        target.outcome = answered
                    else:
                        target.extra.append(answered.get("type", "?"))
                    continue
                target.outcome = _outcome_of(record, dead_letters)
                waiting -= 1
                progress.advance()
    progress.done()


def _answers(sent: Sent, outcome: dict[str, Any]) -> bool:
    """Whether ``outcome`` is the decision on the record itself (a cast's, not the decisions
    on the brand's open requests it caused): its type names the same thing."""
    return str(outcome.get("type", "")).rpartition(".")[0] == sent.message_type.rpartition(".")[0]


def _target_of(
    record: Any,
    by_id: Mapping[str, Sent],
    by_place: Mapping[tuple[str, int, int], Sent],
    dead_letters: str,
) -> Sent | None:
    if record.topic == dead_letters:
        try:
            letter = decode_message(list(record.headers), record.value).body
        except MessageDecodeError:
            return None
        if isinstance(letter, DeadLetterRecorded):
            source = letter.source
            found = by_place.get((source.topic, source.partition, source.offset))
            if found is not None:
                return found
    for name, value in record.headers:
        if name == HEADER_CAUSATION_ID and value is not None:
            return by_id.get(value.decode("utf-8", "replace"))
    return None


def _type_of(headers: Iterable[tuple[str, bytes | None]]) -> str:
    for name, value in headers:
        if name == "ce_type" and value is not None:
            return value.decode("utf-8", "replace")
    return "?"


def _outcome_of(record: Any, dead_letters: str) -> dict[str, Any]:
    try:
        body = decode_message(list(record.headers), record.value).body
    except MessageDecodeError as error:
        return {"outcome": "accepted", "type": _type_of(record.headers), "note": str(error)}
    if isinstance(body, DeadLetterRecorded):
        return {
            "outcome": "dead_letter",
            "reason": str(body.error.kind),
            "field": body.error.field,
            "message": body.error.message,
        }
    violations = getattr(body, "violations", None)
    if violations:
        return {
            "outcome": "rejected",
            "type": body.MESSAGE_TYPE,
            "violations": [
                {"code": v.code, "rule": v.rule, "field": v.field, "message": v.message}
                for v in violations
            ],
        }
    return {"outcome": "accepted", "type": body.MESSAGE_TYPE}


def result_lines(report: SendReport, timeout_s: float) -> Iterable[str]:
    """Each record's result as a JSON line, in the file's order."""
    for record in sorted(report.sent, key=lambda r: r.line):
        outcome = record.outcome or {
            "outcome": "undecided",
            "message": f"no decision within {timeout_s:g} s",
        }
        line: dict[str, Any] = {"line": record.line, "ce_id": record.ce_id, **outcome}
        if record.extra:
            line["also"] = record.extra
        yield json.dumps(line, ensure_ascii=False)


def summary(report: SendReport, skipped: int) -> str:
    counts = report.counts
    return (
        f"gateway send: {len(report.sent)} sent, {counts['accepted']} accepted, "
        f"{counts['rejected']} rejected, {counts['dead_letter']} dead letters, "
        f"{counts['undecided']} without a decision, {skipped} invalid lines skipped"
    )


def exit_status(report: SendReport, skipped: int) -> int:
    return 0 if report.counts["accepted"] == len(report.sent) and not skipped else 1


def now_utc() -> datetime:
    return datetime.now(UTC)
