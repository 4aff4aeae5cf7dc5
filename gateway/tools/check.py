"""``gateway check``: dry-run messages through the registry's rules before sending them.

Input is JSON Lines, one message a line, as it travels on the topics::

    {"type": "custody.lot.arrived", "body": {...}, "envelope": {"time": "2026-03-02T09:00:00Z"}}

``envelope`` is optional; its ``time`` (RFC 3339) is the moment the message is decided at,
otherwise ``--now`` (the live registry decides at the moment it processes the record). Its
``partyid`` is the sender, as the ``ce_partyid`` header: a line that states it is held to the
same sender rules as on the topics (who may upload a brand's form, create an Enhanced eCOA,
speak for a warehouse, send listing commands, write the clock's ticks), against the state
before the line; a line
without it is judged by the rulebook only. Blank lines and lines starting with ``#`` are
comments. A line ``{"tick": "2026-04-02T10:00:00Z"}`` is a tick of the registry's clock at
that time, as the gateway writes to itself on the topics: the requests pending past the limit
by then are rejected as expired, although their brands sent nothing more. Messages run in
order through the same ``gateway.registry.core.handle`` the
pipeline uses, so a file can set the scene (list a brand, record casts, accept eCOAs and
forms) before the message under test.

Output is JSON Lines on stdout: every outgoing message as ``{"line", "type", "body"}``, and
every line that could not be read or carried out as ``{"line", "error": {kind, field,
message}}``. A sender who may not send an eCOA or a form gets its rejection, as on the
topics; any other message from such a sender is an error of kind ``sender_not_permitted``
(a dead letter on the topics). The exit status is 1 when any line was malformed, else 0.

A lot's arrival with no warrant request for it yet is followed by a preview: what a warrant
request made at the arrival's time would get (issued, rejected with its reasons, or pending
and what for), as ``{"line", "preview": {"type", "body"}}``. A preview is not sent and changes
nothing: the following lines see the state the arrival left.

``--format text`` writes the same records for a person: one line each, a decision's reasons
and what it waits for indented under it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TextIO

from pydantic import TypeAdapter, ValidationError

from contracts.base import Contract
from contracts.clock import ClockTicked
from contracts.envelope import DecodeErrorKind, MessageDecodeError, decode_body
from contracts.error_text import TIME_FORMAT
from contracts.json_numbers import parse_exact
from contracts.lots import LotArrived
from contracts.warrants import (
    RequestWarrant,
    WarrantIssued,
    WarrantPending,
    WarrantRejected,
    WarrantStateChanged,
)
from gateway.processors.sender_identity import (
    ingest_topic_of,
    sender_rejection,
    sender_violation,
)
from gateway.registry.core import handle
from gateway.registry.state import CommandRefused, RegistryState
from gateway.rulebook.model import Rulebook
from gateway.runtime.settings import Settings

_AWARE_TIME: TypeAdapter[Any] = TypeAdapter(datetime)
REGISTRY_PARTY: str = Settings.model_fields["registry_party_id"].default


@dataclass(frozen=True)
class CheckReport:
    lines_read: int
    messages: int
    outputs: int
    malformed: int
    refused: int
    without_sender: int
    previews: int = 0


def run_check(
    source: Iterable[str],
    sink: TextIO,
    *,
    rulebook: Rulebook,
    now: datetime,
    exchange_parties: Set[str] = frozenset(),
    registry_party: str = REGISTRY_PARTY,
    preview: bool = False,
    output_format: OutputFormat = "jsonl",
) -> CheckReport:
    """Fold every message of ``source`` through the registry and write what comes out.
    ``exchange_parties`` are the parties that may send brand listing commands;
    ``registry_party`` is the gateway's own, the only one that writes the clock's ticks.
    ``preview``: after a lot's arrival that no request waits for, what a warrant request at
    that time would get (the state is not changed). ``output_format``: ``jsonl`` or ``text``."""
    out = _TextWriter(sink) if output_format == "text" else _JsonWriter(sink)
    state = RegistryState()
    counts = dict.fromkeys(
        ("lines", "messages", "outputs", "malformed", "refused", "without_sender", "previews"),
        0,
    )
    for number, text in enumerate(source, start=1):
        counts["lines"] = number
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            body, at, sender = read_line(text, default_time=now)
        except MessageDecodeError as error:
            counts["malformed"] += 1
            out.error(number, _error(error.kind, error.field, error.message))
            continue
        counts["messages"] += 1
        if sender is not None:
            refused = _refused_sender(
                body, sender, state, at, rulebook, exchange_parties, registry_party
            )
            if isinstance(refused, Contract):
                counts["outputs"] += 1
                out.output(number, refused)
                continue
            if refused is not None:
                counts["refused"] += 1
                out.error(number, refused)
                continue
        elif not isinstance(body, ClockTicked):  # a tick is the gateway's own
            counts["without_sender"] += 1
        try:
            step = handle(state, body, now=at, rulebook=rulebook)
        except (CommandRefused, LookupError) as refusal:
            counts["refused"] += 1
            field = getattr(refusal, "field", "type")
            out.error(number, _error("refused", field, str(refusal)))
            continue
        state = step.state
        for output in step.outputs:
            counts["outputs"] += 1
            out.output(number, output)
        if preview and isinstance(body, LotArrived):
            for decision in _preview(state, body, at, rulebook):
                counts["previews"] += 1
                out.preview(number, decision)
    return CheckReport(
        lines_read=counts["lines"],
        messages=counts["messages"],
        outputs=counts["outputs"],
        malformed=counts["malformed"],
        refused=counts["refused"],
        without_sender=counts["without_sender"],
        previews=counts["previews"],
    )


OutputFormat = Literal["jsonl", "text"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("jsonl", "text")
PREVIEW_REQUEST_ID = "PREVIEW"
_DECISIONS = (WarrantIssued, WarrantRejected, WarrantPending)


def _preview(
    state: RegistryState, lot: LotArrived, at: datetime, rulebook: Rulebook
) -> tuple[Contract, ...]:
    """What a warrant request for ``lot`` made at ``at`` would get, decided on a copy of the
    state (it is immutable: the caller's is untouched); nothing when a request for the lot
    was already made (the arrival decided it, or it was decided before) or would be refused."""
    if state.open_request(lot.lot_id) is not None or state.warrant_decision(lot.lot_id):
        return ()
    request = RequestWarrant.build(
        request_id=PREVIEW_REQUEST_ID,
        lot_id=lot.lot_id,
        brand=lot.brand,
        warehouse_id=lot.warehouse_id,
        requested_at=at,
    )
    try:
        step = handle(state, request, now=at, rulebook=rulebook)
    except (CommandRefused, LookupError):
        return ()
    return tuple(output for output in step.outputs if isinstance(output, _DECISIONS))


def _refused_sender(
    body: Contract,
    sender: str,
    state: RegistryState,
    at: datetime,
    rulebook: Rulebook,
    exchange_parties: Set[str],
    registry_party: str,
) -> Contract | dict[str, Any] | None:
    """What a line from a sender who may not send it gives, as on the topics: an eCOA's or a
    form's rejection, else an error (a dead letter there); None when the sender may send it."""
    refusal = sender_violation(
        ingest_topic_of(body),
        sender,
        body,
        state,
        rulebook=rulebook,
        exchange_parties=exchange_parties,
        registry_party=registry_party,
    )
    if refusal is None:
        return None
    rejection = sender_rejection(body, refusal, rulebook_version=rulebook.version, now=at)
    if rejection is None:
        return {
            **_error("sender_not_permitted", refusal.field, refusal.message),
            "rule": refusal.rule,
        }
    return rejection


def read_line(text: str, *, default_time: datetime) -> tuple[Contract, datetime, str | None]:
    try:
        line = parse_exact(text)
    except json.JSONDecodeError as error:
        raise MessageDecodeError(
            DecodeErrorKind.UNDECODABLE, None, f"not JSON: {error.msg} at column {error.colno}"
        ) from None
    if not isinstance(line, dict):
        raise MessageDecodeError(DecodeErrorKind.UNDECODABLE, None, "a line must be a JSON object")
    if "tick" in line:
        return _tick(line)
    for key in ("type", "body"):
        if key not in line:
            raise MessageDecodeError(DecodeErrorKind.UNDECODABLE, key, f"the line has no {key!r}")
    unknown = sorted(set(line) - {"type", "body", "envelope"})
    if unknown:
        raise MessageDecodeError(
            DecodeErrorKind.UNDECODABLE, unknown[0], f"unexpected key(s): {', '.join(unknown)}"
        )
    if not isinstance(line["type"], str):
        raise MessageDecodeError(DecodeErrorKind.UNDECODABLE, "type", "'type' must be a string")
    body = decode_body(line["type"], line["body"])
    envelope = line.get("envelope")
    if envelope is None:
        return body, default_time, None
    if not isinstance(envelope, dict):
        raise MessageDecodeError(
            DecodeErrorKind.UNDECODABLE, "envelope", "'envelope' must be an object"
        )
    unknown = sorted(set(envelope) - ENVELOPE_KEYS)
    if unknown:
        raise MessageDecodeError(
            DecodeErrorKind.UNDECODABLE,
            f"envelope.{unknown[0]}",
            f"unexpected envelope key(s): {', '.join(unknown)} (known: time, partyid)",
        )
    return body, _time_of(envelope, default_time), _sender_of(envelope)


ENVELOPE_KEYS = frozenset({"time", "partyid"})


def _tick(line: dict[str, Any]) -> tuple[Contract, datetime, None]:
    """A tick of the clock, decided at its own time."""
    unknown = sorted(set(line) - {"tick"})
    if unknown:
        raise MessageDecodeError(
            DecodeErrorKind.UNDECODABLE, unknown[0], f"a tick line has only 'tick', not {unknown}"
        )
    at = _aware_time(line["tick"], "tick")
    return ClockTicked.build(partition=0, ticked_at=at), at, None


def _sender_of(envelope: dict[str, Any]) -> str | None:
    if "partyid" not in envelope:
        return None
    sender = envelope["partyid"]
    if not isinstance(sender, str) or not sender.strip():
        raise MessageDecodeError(
            DecodeErrorKind.BAD_HEADER, "envelope.partyid", "envelope.partyid must name a party"
        )
    return sender


def _time_of(envelope: dict[str, Any], default_time: datetime) -> datetime:
    if "time" not in envelope:
        return default_time
    return _aware_time(envelope["time"], "envelope.time")


def _aware_time(text: object, field: str) -> datetime:
    problem = f"{field} {text!r} is not {TIME_FORMAT}"
    try:
        moment: datetime = _AWARE_TIME.validate_python(text)
    except ValidationError:
        raise MessageDecodeError(DecodeErrorKind.BAD_HEADER, field, problem) from None
    if moment.tzinfo is None:
        raise MessageDecodeError(DecodeErrorKind.BAD_HEADER, field, problem)
    return moment


def _error(kind: object, field: str | None, message: str) -> dict[str, Any]:
    return {"kind": str(kind), "field": field, "message": message}


class _JsonWriter:
    """The machine format: JSON Lines, each body as it travels, its numbers exact."""

    def __init__(self, sink: TextIO) -> None:
        self.sink = sink

    def output(self, number: int, body: Contract) -> None:
        message_type = json.dumps(body.MESSAGE_TYPE)
        self.sink.write(
            f'{{"line": {number}, "type": {message_type}, "body": {body.model_dump_json()}}}\n'
        )

    def preview(self, number: int, body: Contract) -> None:
        message_type = json.dumps(body.MESSAGE_TYPE)
        self.sink.write(
            f'{{"line": {number}, "preview": {{"type": {message_type}, '
            f'"body": {body.model_dump_json()}}}}}\n'
        )

    def error(self, number: int, error: dict[str, Any]) -> None:
        record = {"line": number, "error": error}
        self.sink.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")


_NAMING_FIELDS = (
    "brand",
    "lot_id",
    "warrant_id",
    "request_id",
    "ecoa_id",
    "form_id",
    "cast_reference",
    "reporting_year",
)


class _TextWriter:
    """The format for a person: one line a record, reasons and waits indented under it."""

    def __init__(self, sink: TextIO) -> None:
        self.sink = sink

    def output(self, number: int, body: Contract) -> None:
        # A lot's current state repeats its decision, just written above it.
        brief = isinstance(body, WarrantStateChanged)
        self._decision(f"line {number}: {body.MESSAGE_TYPE}", body, brief=brief)

    def preview(self, number: int, body: Contract) -> None:
        outcome = body.MESSAGE_TYPE.rsplit(".", 1)[-1]
        self._decision(
            f"line {number}: PREVIEW (not sent, state unchanged): a warrant request now "
            f"would be {outcome}",
            body,
            preview=True,
        )

    def error(self, number: int, error: dict[str, Any]) -> None:
        where = f" at {error['field']}" if error.get("field") else ""
        rule = f" ({error['rule']})" if error.get("rule") else ""
        self.sink.write(f"line {number}: error {error['kind']}{where}{rule}: {error['message']}\n")

    def _decision(
        self, head: str, body: Contract, *, brief: bool = False, preview: bool = False
    ) -> None:
        values = json.loads(body.model_dump_json())
        if preview:
            values.pop("request_id", None)
        names = [f"{key} {values[key]}" for key in _NAMING_FIELDS if values.get(key) is not None]
        self.sink.write(f"{head}{'  (' + ', '.join(names) + ')' if names else ''}\n")
        if brief:
            return
        for violation in values.get("violations") or ():
            details = [
                f"{label} {violation[key]}"
                for key, label in (("observed", "observed"), ("allowed", "allowed"))
                if violation.get(key) is not None
            ]
            extra = f" [{violation['field']}: {'; '.join(details)}]" if details else ""
            self.sink.write(
                f"    - {violation['code']} ({violation['rule']}): {violation['message']}{extra}\n"
            )
        for missing in values.get("missing") or ():
            self.sink.write(
                f"    - waiting for {missing['reference']} ({missing['rule']}): "
                f"{missing['message']}\n"
            )
