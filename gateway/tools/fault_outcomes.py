"""What the fault test checks, as pure functions over the records read back from the topics.

The rule for the registry's inputs (every record on the eight ingest topics): an output
belongs to the input whose ``ce_id`` is its ``ce_causationid``; a dead letter belongs to the
input at its ``source`` topic/partition/offset. Each input's outputs are then judged by the
input's case (``RULES``):
- ``one_of``: exactly one of these outputs (a listing: one ``brand.listed``; an eCOA: one
  ``ecoa.accepted`` or ``ecoa.rejected``; a poison record: one dead letter with its reason);
- ``may_add``: outputs it may cause besides, any number (an accepted eCOA or form attaches
  emissions to eCOAs and decides requests that waited for it; a request may move custody);
- nothing else: a cast or a duplicate causes no output at all.
A dead letter is written as ``dead-letter/<reason>``, a custody move as
``custody.movement.recorded/<reason>``.

The rule for the ledger's inputs (every committed record on ``ledger.commands``: the
harness's commands and the registry's custody moves): the outputs must be exactly those of an
uninterrupted run, i.e. of the pure ledger pipeline folded over the topic in its order, with
the same ids (output ids follow from the input's id) and the same content (times aside), and
the last balance of every account on ``registry.custody-balances`` must be the fold's.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from contracts.base import Contract
from contracts.brands import BrandListed, BrandSuspended
from contracts.cbam import CbamFormAccepted, CbamFormRejected, EmissionsAttached
from contracts.custody import CustodyBalanceUpdated, CustodyMovementRecorded, CustodyMoveReason
from contracts.dead_letter import DeadLetterReason, DeadLetterRecorded
from contracts.ecoa import ECoAAccepted, ECoARejected
from contracts.envelope import (
    HEADER_ID,
    MessageDecodeError,
    decode_message,
)
from contracts.ledger import LedgerPeriodClosed, LedgerPostingAccepted, LedgerPostingRejected
from contracts.production import ProductionBatchAccepted, ProductionBatchRejected
from contracts.warrants import (
    WarrantCancelled,
    WarrantIssued,
    WarrantPending,
    WarrantRejected,
    WarrantStateChanged,
)
from gateway.ledger import LedgerState
from gateway.processors.ledger import LedgerSettings, process_ledger_record
from gateway.processors.records import InputRecord
from gateway.tools.fault_workload import CASE_HEADER, DEAD_LETTER_REASON, LEDGER_TOPIC, Case

LEDGER_OUTPUT_TOPICS = ("registry.ledger-decisions", "registry.custody-balances")
DEAD_LETTERS = "registry.dead-letters"
BALANCES = "registry.custody-balances"
EXAMPLES = 5
"""How many examples each failed check prints."""


@dataclass(frozen=True)
class SeenRecord:
    """A committed record as read back: catalogue topic name (prefix removed)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def header(self, name: str) -> str | None:
        for key, raw in self.headers:
            if key == name:
                return raw.decode("utf-8", errors="replace")
        return None

    @property
    def case(self) -> Case | None:
        label = self.header(CASE_HEADER)
        return None if label is None or label not in Case._value2member_map_ else Case(label)

    @property
    def event_id(self) -> str:
        """The record's ce_id, or where it is when it has none."""
        return self.header(HEADER_ID) or self.where


@dataclass(frozen=True)
class Output:
    """An output record, decoded: its id, what caused it and what kind of output it is."""

    record: SeenRecord
    event_id: str
    cause: str | None
    """The causing input's ce_id, or for a dead letter the input's topic/partition/offset."""
    kind: str
    body: Contract | None

    @property
    def topic(self) -> str:
        return self.record.topic


@dataclass(frozen=True)
class Problem:
    """One thing a check found wrong, said for a person."""

    text: str


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    summary: str
    problems: tuple[Problem, ...] = ()

    def lines(self) -> list[str]:
        mark = "PASS" if self.passed else "FAIL"
        shown = [f"  {mark} {self.name}: {self.summary}"]
        shown += [f"         - {problem.text}" for problem in self.problems[:EXAMPLES]]
        if len(self.problems) > EXAMPLES:
            shown.append(f"         ... and {len(self.problems) - EXAMPLES} more")
        return shown


def check(
    name: str, problems: Sequence[Problem], passed_text: str, failed_text: str
) -> CheckResult:
    if problems:
        return CheckResult(name, False, failed_text, tuple(problems))
    return CheckResult(name, True, passed_text)


# ---- decoding outputs ---------------------------------------------------------------------


def dead_letter_kind(reason: DeadLetterReason | str) -> str:
    return f"dead-letter/{DeadLetterReason(reason).value}"


def movement_kind(reason: CustodyMoveReason) -> str:
    return f"{CustodyMovementRecorded.MESSAGE_TYPE}/{reason.value}"


def read_output(record: SeenRecord) -> Output:
    """An output record with its kind and cause; an unreadable one has kind ``unreadable``."""
    try:
        decoded = decode_message(list(record.headers), record.value)
    except MessageDecodeError as error:
        return Output(record, record.event_id, None, f"unreadable: {error.message}", None)
    body = decoded.body
    kind = body.MESSAGE_TYPE
    cause = decoded.envelope.causation_id
    if isinstance(body, DeadLetterRecorded):
        kind = dead_letter_kind(body.error.kind)
        cause = f"{body.source.topic}/{body.source.partition}/{body.source.offset}"
    elif isinstance(body, CustodyMovementRecorded):
        kind = movement_kind(body.reason)
    return Output(record, decoded.envelope.id, cause, kind, body)


# ---- the registry's inputs ----------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    one_of: frozenset[str]
    may_add: frozenset[str] = frozenset()
    per_copy: bool = False
    """A dead letter per copy of the record (a resent copy is set aside again)."""

    def judge(self, observed: Sequence[str], copies: int) -> str | None:
        """What is wrong with ``observed`` outputs, or None."""
        ones = [kind for kind in observed if kind in self.one_of]
        unexpected = [kind for kind in observed if kind not in self.one_of | self.may_add]
        wanted = (copies if self.per_copy else 1) if self.one_of else 0
        if len(ones) == wanted and not unexpected:
            return None
        expected = f"exactly one of {sorted(self.one_of)}" if self.one_of else "no output"
        return f"expected {expected}, got {_counted(observed)}"


def _counted(kinds: Iterable[str]) -> str:
    counts = Counter(kinds)
    return ", ".join(f"{count} x {kind}" for kind, count in sorted(counts.items())) or "nothing"


def _types(*contracts: type[Contract]) -> frozenset[str]:
    return frozenset(contract.MESSAGE_TYPE for contract in contracts)


_WARRANT_DECISIONS = _types(WarrantIssued, WarrantRejected, WarrantPending)
_ISSUE_MOVE = movement_kind(CustodyMoveReason.WARRANT_ISSUED)
_DECIDES_WAITING_REQUESTS = _WARRANT_DECISIONS | _types(WarrantStateChanged) | {_ISSUE_MOVE}
_DOCUMENT_EXTRAS = _DECIDES_WAITING_REQUESTS | _types(EmissionsAttached)
_ECOA_DECISIONS = _types(ECoAAccepted, ECoARejected)

RULES: Mapping[Case, Rule] = {
    Case.LIST: Rule(_types(BrandListed)),
    Case.SUSPEND: Rule(_types(BrandSuspended)),
    Case.CAST: Rule(
        _types(ProductionBatchAccepted, ProductionBatchRejected), _DECIDES_WAITING_REQUESTS
    ),
    Case.ECOA: Rule(_ECOA_DECISIONS, _DOCUMENT_EXTRAS),
    Case.UNDER_LIMIT: Rule(_ECOA_DECISIONS, _DOCUMENT_EXTRAS),
    Case.ECOA_REJECTED: Rule(_types(ECoARejected)),
    Case.ECOA_WRONG_SENDER: Rule(_types(ECoARejected)),
    Case.FORM: Rule(_types(CbamFormAccepted, CbamFormRejected), _DOCUMENT_EXTRAS),
    Case.LOT: Rule(frozenset(), _WARRANT_DECISIONS | _types(WarrantStateChanged)),
    Case.LOT_CLAIMED: Rule(
        frozenset({movement_kind(CustodyMoveReason.LOT_ARRIVAL)}), _DECIDES_WAITING_REQUESTS
    ),
    Case.REQUEST: Rule(_WARRANT_DECISIONS, _types(WarrantStateChanged) | {_ISSUE_MOVE}),
    Case.CANCEL: Rule(
        _types(WarrantCancelled) | {dead_letter_kind(DeadLetterReason.COMMAND_REFUSED)},
        _types(WarrantStateChanged) | {movement_kind(CustodyMoveReason.WARRANT_CANCELLED)},
    ),
    Case.DUPLICATE: Rule(frozenset()),
    **{
        case: Rule(frozenset({dead_letter_kind(reason)}), per_copy=True)
        for case, reason in DEAD_LETTER_REASON.items()
    },
}
"""The outcome each case of registry input must have (ledger commands are judged by the
ledger's fold instead)."""


def outputs_by_cause(outputs: Iterable[Output]) -> dict[str, list[Output]]:
    caused: dict[str, list[Output]] = defaultdict(list)
    for output in outputs:
        if output.cause is not None:
            caused[output.cause].append(output)
    return caused


def _by_event_id(inputs: Iterable[SeenRecord]) -> dict[str, list[SeenRecord]]:
    """Inputs grouped by ce_id: a record the harness had to send again is one input."""
    grouped: dict[str, list[SeenRecord]] = defaultdict(list)
    for record in inputs:
        grouped[record.event_id].append(record)
    return grouped


def registry_outcome_problems(
    inputs: Sequence[SeenRecord], caused: Mapping[str, Sequence[Output]]
) -> list[Problem]:
    """Every registry input against the rule of its case."""
    problems = []
    for event_id, copies in _by_event_id(inputs).items():
        first = copies[0]
        case = first.case
        if case is None:
            problems.append(Problem(f"{first.where}: an input without a {CASE_HEADER} header"))
            continue
        observed = [output.kind for output in caused.get(event_id, ())]
        if event_id != first.where:  # a dead letter belongs to each copy's own position
            observed += [output.kind for copy in copies for output in caused.get(copy.where, ())]
        verdict = RULES[case].judge(observed, len(copies))
        if verdict is not None:
            problems.append(Problem(f"{case.value} at {first.where}: {verdict}"))
    return problems


# ---- outputs in general -------------------------------------------------------------------


def duplicate_output_problems(outputs: Iterable[Output]) -> list[Problem]:
    places: dict[str, list[str]] = defaultdict(list)
    for output in outputs:
        places[output.event_id].append(output.record.where)
    return [
        Problem(f"output {event_id} ({len(where)} times): {', '.join(where)}")
        for event_id, where in places.items()
        if len(where) > 1
    ]


def orphan_output_problems(
    outputs: Iterable[Output], inputs: Iterable[SeenRecord]
) -> list[Problem]:
    """Outputs whose cause is no input at all (nor unreadable outputs)."""
    known = {key for record in inputs for key in (record.event_id, record.where)}
    return [
        Problem(f"{output.record.where} {output.kind}: caused by {output.cause or 'nothing'}")
        for output in outputs
        if output.cause not in known
    ]


# ---- the ledger ---------------------------------------------------------------------------


@dataclass
class LedgerReplay:
    """The pure ledger pipeline folded over ``ledger.commands`` as committed: what an
    uninterrupted run publishes for each command, and its final balances."""

    expected: dict[str, list[tuple[str, str, dict[str, object]]]] = field(default_factory=dict)
    """By input (ce_id, or topic/partition/offset for a dead letter): (output id, kind,
    content without times) of each output."""
    balances: dict[str, Decimal] = field(default_factory=dict)
    raised: list[Problem] = field(default_factory=list)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(case, outcome) of every command: what the pure pipeline decided."""


FOLD_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def replay_ledger(commands: Sequence[SeenRecord], settings: LedgerSettings) -> LedgerReplay:
    replay = LedgerReplay()
    state = LedgerState()
    for record in commands:
        case = record.case.value if record.case else "registry custody move"
        try:
            processed = process_ledger_record(
                state, _input_record(record), now=FOLD_TIME, settings=settings
            )
        except Exception as error:  # the pure pipeline must decide every record
            replay.raised.append(
                Problem(f"{case} at {record.where}: {type(error).__name__}: {_first_line(error)}")
            )
            continue
        state = processed.state
        replay.outcomes[(case, processed.outcome.value)] += 1
        for output in processed.outputs:
            seen = SeenRecord(
                output.topic, 0, 0, 0, output.key, output.value, tuple(output.headers)
            )
            decoded = read_output(seen)
            cause = decoded.cause or record.event_id
            replay.expected.setdefault(cause, []).append(
                (decoded.event_id, decoded.kind, timeless(output.value))
            )
    replay.balances = {account.text: kg for account, kg in state.balances.items()}
    return replay


def _first_line(error: BaseException) -> str:
    """The start of an error's text (a validation error's first two lines name the field)."""
    return " ".join(line.strip() for line in str(error).splitlines()[:3])[:300]


def _input_record(record: SeenRecord) -> InputRecord:
    return InputRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp_ms,
        key=record.key,
        value=record.value,
        headers=list(record.headers),
    )


def timeless(value: bytes | None) -> dict[str, object]:
    """A JSON body without its times (``*_at``): what two runs of the same input share."""
    try:
        body = json.loads(value or b"null")
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    return {key: item for key, item in body.items() if not key.endswith("_at")}


def ledger_output_problems(
    commands: Sequence[SeenRecord], replay: LedgerReplay, caused: Mapping[str, Sequence[Output]]
) -> list[Problem]:
    """Each command's outputs against the uninterrupted run's: same ids, same content."""
    problems = []
    for event_id, copies in _by_event_id(commands).items():
        keys = dict.fromkeys([event_id, *(copy.where for copy in copies)])
        expected = {
            output_id: (kind, body)
            for key in keys
            for output_id, kind, body in replay.expected.get(key, [])
        }
        observed = [output for key in keys for output in _ledger_outputs(caused.get(key, ()))]
        verdict = _compare(expected, observed)
        if verdict:
            first = copies[0]
            case = first.case.value if first.case else "custody move"
            problems.append(Problem(f"{case} at {first.where}: {verdict}"))
    return problems


def _ledger_outputs(outputs: Iterable[Output]) -> list[Output]:
    return [
        output
        for output in outputs
        if output.topic in LEDGER_OUTPUT_TOPICS
        or (output.topic == DEAD_LETTERS and (output.cause or "").startswith(LEDGER_TOPIC + "/"))
    ]


def _compare(
    expected: Mapping[str, tuple[str, dict[str, object]]], observed: Sequence[Output]
) -> str:
    """What differs between an uninterrupted run's outputs and the observed ones, or ''."""
    counted = Counter(output.event_id for output in observed)
    missing = [kind for output_id, (kind, _) in expected.items() if output_id not in counted]
    extra = [o.kind for o in observed if o.event_id not in expected or counted[o.event_id] > 1]
    differing = [
        o.kind
        for o in observed
        if o.event_id in expected and timeless(o.record.value) != expected[o.event_id][1]
    ]
    parts = [
        f"{label} {_counted(kinds)}"
        for label, kinds in (
            ("missing", missing),
            ("unexpected or repeated", extra),
            ("other content:", differing),
        )
        if kinds
    ]
    return "; ".join(parts)


def latest_balances(outputs: Iterable[Output]) -> dict[str, Decimal]:
    """The last update of every account on the balances topic (one partition per account)."""
    latest: dict[str, tuple[int, Decimal]] = {}
    for output in outputs:
        body = output.body
        if isinstance(body, CustodyBalanceUpdated):
            offset = output.record.offset
            if body.account_key not in latest or latest[body.account_key][0] < offset:
                latest[body.account_key] = (offset, body.balance_kg)
    return {account: kg for account, (_, kg) in latest.items()}


def balance_problems(
    published: Mapping[str, Decimal], replayed: Mapping[str, Decimal]
) -> list[Problem]:
    accounts = sorted(set(published) | set(replayed))
    return [
        Problem(
            f"{account}: published {published.get(account, 'nothing')} kg, "
            f"uninterrupted run {replayed.get(account, 'nothing')} kg"
        )
        for account in accounts
        if published.get(account) != replayed.get(account)
    ]


def ledger_decision_kind(outputs: Sequence[Output]) -> str:
    """How the ledger answered one command, in a word."""
    kinds = {output.kind for output in outputs}
    for contract, word in (
        (LedgerPostingAccepted, "accepted"),
        (LedgerPostingRejected, "rejected"),
        (LedgerPeriodClosed, "period closed"),
    ):
        if contract.MESSAGE_TYPE in kinds:
            return word
    dead = sorted(kind for kind in kinds if kind.startswith("dead-letter/"))
    return dead[0] if dead else "no answer"
