"""Fuzzed edges: random and mutated records into the decoder and each processor's step.

Every record, however broken, ends as exactly one outcome (a decision, a booking, a
rejection, nothing new, or a dead letter), never as an exception out of the step; and every
record the step would publish can itself be read back by the decoder (a rejection that
cannot be built as a message is a crash the core tests never see). The inputs start from a
valid sample of every message a party sends, then change its bytes, its JSON (a leaf
replaced by anything, a key dropped or added, numbers and strings made huge, nesting made
deep) or its headers (values of random bytes, dropped, repeated, unknown ones)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.base import Contract
from contracts.envelope import (
    MessageDecodeError,
    decode_message,
    encode_body,
    envelope_headers,
    new_envelope,
)
from contracts.schema_export import SCHEMA_DIRECTORY, schema_file_name
from contracts.topics import CATALOGUE
from gateway.ledger import LedgerState
from gateway.processors.ledger import LedgerSettings, process_ledger_record
from gateway.processors.records import InputRecord
from gateway.processors.registry import PipelineSettings, process_record
from gateway.processors.step import Outcome
from gateway.registry.state import RegistryState
from gateway.topology import LEDGER_INPUT, REGISTRY_INPUTS
from producers.parties import DEMO_PARTIES, sender_role_for
from producers.samples import sample_messages
from tests.unit.schema_strategies import instances_of
from tests.unit.test_registry_pipeline import RULEBOOK

NOW = datetime(2026, 3, 31, 18, tzinfo=UTC)
MAX_VALUE_BYTES = 1_000_000
REGISTRY_SETTINGS = PipelineSettings(
    rulebook=RULEBOOK,
    registry_party="custody-registry",
    exchange_parties=frozenset({"exchange-listing-desk"}),
    max_value_bytes=MAX_VALUE_BYTES,
)
LEDGER_SETTINGS = LedgerSettings(
    registry_party="custody-registry",
    exchange_parties=frozenset({"exchange-listing-desk"}),
    max_value_bytes=MAX_VALUE_BYTES,
)
OUTCOMES = set(Outcome)


def _topic_of(body: Contract, inputs: tuple[str, ...]) -> str | None:
    for spec in CATALOGUE:
        if spec.name in inputs and type(body) in spec.message_types:
            return spec.name
    return None


def _record(body: Contract, topic: str) -> InputRecord:
    sender = getattr(body, "warehouse_id", None) or DEMO_PARTIES.get(
        sender_role_for(type(body)), "somebody"
    )
    envelope = new_envelope(body, source="/fuzz", sender_party_id=sender, time=NOW)
    return InputRecord(
        topic=topic,
        partition=0,
        offset=7,
        timestamp_ms=1_774_000_000_000,
        key=b"NORDAL",
        value=encode_body(body),
        headers=envelope_headers(envelope),
    )


def _inputs(inputs: tuple[str, ...]) -> list[InputRecord]:
    found = []
    for body in sample_messages():
        topic = _topic_of(body, inputs)
        if topic is not None:
            found.append(_record(body, topic))
    return found


REGISTRY_RECORDS = _inputs(REGISTRY_INPUTS)
LEDGER_RECORDS = _inputs((LEDGER_INPUT,))


def _registry_state() -> RegistryState:
    """The state after every sample, so that mutated records meet brands, casts and lots."""
    state = RegistryState()
    for record in REGISTRY_RECORDS:
        state = process_record(state, record, now=NOW, settings=REGISTRY_SETTINGS).state
    return state


def _ledger_state() -> LedgerState:
    state = LedgerState()
    for record in LEDGER_RECORDS:
        state = process_ledger_record(state, record, now=NOW, settings=LEDGER_SETTINGS).state
    return state


REGISTRY_STATE = _registry_state()
LEDGER_STATE = _ledger_state()


def test_the_unmutated_samples_are_decided_not_set_aside() -> None:
    """The fuzz starts from records the steps read and decide (the sample cancellation names
    a warrant the samples never issued: refused by the rules, not unread), so that mutations
    reach the rules."""
    state = RegistryState()
    for record in REGISTRY_RECORDS:
        result = process_record(state, record, now=NOW, settings=REGISTRY_SETTINGS)
        if result.outcome is Outcome.DEAD_LETTER:
            assert result.dead_letter_reason == "command_refused", record.topic
        state = result.state
    ledger_state = LedgerState()
    for record in LEDGER_RECORDS:
        booked = process_ledger_record(ledger_state, record, now=NOW, settings=LEDGER_SETTINGS)
        assert booked.outcome is not Outcome.DEAD_LETTER, record.topic
        ledger_state = booked.state
    assert len(REGISTRY_RECORDS) >= 8 and len(LEDGER_RECORDS) >= 10


# ---- mutations ---------------------------------------------------------------------------

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=50),
    st.sampled_from(["", " ", "\u0000", "9" * 5000, "x" * 70_000, "2026-02-30", "-0"]),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _paths(item, (*prefix, index))
    return paths


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], tuple(rest), new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], tuple(rest), new)
    return copy


def _dropped(value: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return value
    *parent, last = path

    def drop(container: Any) -> Any:
        if isinstance(container, dict):
            return {k: v for k, v in container.items() if k != last}
        return [v for i, v in enumerate(container) if i != last]

    if not parent:
        return drop(value)
    node = value
    for step in parent:
        node = node[step]
    return _replaced(value, tuple(parent), drop(node))


@st.composite
def mutated_value(draw: st.DrawFn, record: InputRecord) -> bytes:
    assert record.value is not None
    body = json.loads(record.value)
    paths = _paths(body)
    path = draw(st.sampled_from(paths))
    how = draw(st.sampled_from(["replace", "drop", "add", "huge_number", "deep", "bytes", "cut"]))
    if how == "replace":
        return json.dumps(_replaced(body, path, draw(json_values))).encode()
    if how == "drop":
        return json.dumps(_dropped(body, path)).encode()
    if how == "add":
        extra = {**body, draw(st.text(min_size=1, max_size=10)): draw(json_values)}
        return json.dumps(extra).encode()
    if how == "huge_number":
        number = draw(
            st.sampled_from(["1" + "0" * 5000, "1e999999", "-1e-999999", "0." + "1" * 5000])
        )
        return json.dumps(_replaced(body, path, "__N__")).replace('"__N__"', number).encode()
    if how == "deep":
        depth = draw(st.sampled_from([100, 1000, 100_000]))
        return (
            json.dumps(_replaced(body, path, "__D__"))
            .replace('"__D__"', "[" * depth + "]" * depth)
            .encode()
        )
    if how == "cut":
        return record.value[: draw(st.integers(0, len(record.value)))]
    return draw(st.binary(max_size=200))


@st.composite
def mutated_headers(draw: st.DrawFn, record: InputRecord) -> list[tuple[str, bytes]]:
    headers = list(record.headers)
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["bytes", "drop", "repeat", "unknown", "long"]))
        index = draw(st.integers(0, len(headers) - 1)) if headers else 0
        if how == "bytes" and headers:
            headers[index] = (headers[index][0], draw(st.binary(max_size=40)))
        elif how == "drop" and headers:
            headers.pop(index)
        elif how == "repeat" and headers:
            headers.append((headers[index][0], draw(st.binary(max_size=40))))
        elif how == "unknown":
            headers.append((draw(st.text(max_size=20)), draw(st.binary(max_size=40))))
        elif how == "long" and headers:
            headers[index] = (headers[index][0], b"p" * 100_000)
    return headers


@st.composite
def mutated_record(draw: st.DrawFn, records: list[InputRecord]) -> InputRecord:
    record = draw(st.sampled_from(records))
    value = record.value
    headers = list(record.headers)
    what = draw(st.sampled_from(["value", "headers", "both"]))
    if what in ("value", "both"):
        value = draw(mutated_value(record))
    if what in ("headers", "both"):
        headers = draw(mutated_headers(record))
    return InputRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp_ms,
        key=draw(st.one_of(st.just(record.key), st.none(), st.binary(max_size=300))),
        value=draw(st.one_of(st.just(value), st.none())) if what == "value" else value,
        headers=headers,
    )


def _every_output_reads_back(outputs: Any) -> None:
    for output in outputs:
        decode_message(output.headers, output.value)


FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(mutated_record(REGISTRY_RECORDS))
def test_a_mutated_record_ends_as_one_outcome_of_the_registry_step(record: InputRecord) -> None:
    result = process_record(REGISTRY_STATE, record, now=NOW, settings=REGISTRY_SETTINGS)
    assert result.outcome in OUTCOMES
    if result.outcome is Outcome.DEAD_LETTER:
        assert [o.topic for o in result.outputs] == ["registry.dead-letters"]
    _every_output_reads_back(result.outputs)


@FUZZ
@given(mutated_record(LEDGER_RECORDS))
def test_a_mutated_record_ends_as_one_outcome_of_the_ledger_step(record: InputRecord) -> None:
    result = process_ledger_record(LEDGER_STATE, record, now=NOW, settings=LEDGER_SETTINGS)
    assert result.outcome in OUTCOMES
    if result.outcome is Outcome.DEAD_LETTER:
        assert [o.topic for o in result.outputs] == ["registry.dead-letters"]
    _every_output_reads_back(result.outputs)


BOMBS: dict[str, Callable[[bytes], bytes]] = {
    "nesting 200,000 deep": lambda _v: b"[" * 200_000 + b"]" * 200_000,
    "object nesting 100,000 deep": lambda _v: b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "a number of 900,000 digits": lambda _v: b'{"n": ' + b"7" * 900_000 + b"}",
    "a string of 990,000 characters": lambda _v: b'{"s": "' + b"s" * 990_000 + b'"}',
    "an exponent of a million": lambda v: v.replace(b'"2026', b'1e1000000, "x": "2026', 1),
    "200,000 keys": lambda _v: (
        json.dumps({f"k{n}": n for n in range(200_000)}).encode()[: MAX_VALUE_BYTES - 10] + b"}"
    ),
    "just under the limit": lambda v: (
        v[:-1] + b', "pad": "' + b"p" * (MAX_VALUE_BYTES - len(v) - 20) + b'"}'
    ),
    "over the limit": lambda _v: b" " * (MAX_VALUE_BYTES + 1),
}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
@pytest.mark.parametrize("step", ["registry", "ledger"])
def test_a_size_bomb_is_set_aside_or_decided_never_raised(bomb: str, step: str) -> None:
    records = REGISTRY_RECORDS if step == "registry" else LEDGER_RECORDS
    for record in records[:3]:
        assert record.value is not None
        bombed = InputRecord(
            topic=record.topic,
            partition=0,
            offset=9,
            timestamp_ms=None,
            key=record.key,
            value=BOMBS[bomb](record.value),
            headers=record.headers,
        )
        if step == "registry":
            result: Any = process_record(
                REGISTRY_STATE, bombed, now=NOW, settings=REGISTRY_SETTINGS
            )
        else:
            result = process_ledger_record(LEDGER_STATE, bombed, now=NOW, settings=LEDGER_SETTINGS)
        assert result.outcome in OUTCOMES
        _every_output_reads_back(result.outputs)
        for output in result.outputs:
            assert len(output.value) < 1_048_576, "an output larger than a record may be"


@FUZZ
@given(
    st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=60)), max_size=12),
    st.one_of(st.none(), st.binary(max_size=400)),
)
def test_the_decoder_answers_a_message_or_names_what_is_wrong(
    headers: list[tuple[str, bytes]], value: bytes | None
) -> None:
    try:
        decode_message(headers, value, max_value_bytes=MAX_VALUE_BYTES)
    except MessageDecodeError as error:
        assert error.message


def test_nesting_too_deep_to_read_is_named_not_raised_as_a_recursion_error() -> None:
    """The fuzz found it: 100,000 nested arrays raised RecursionError out of the step."""
    [record] = REGISTRY_RECORDS[:1]
    with pytest.raises(MessageDecodeError, match="nests arrays or objects deeper"):
        decode_message(record.headers, b"[" * 100_000 + b"]" * 100_000)
    result = process_record(
        REGISTRY_STATE,
        InputRecord(
            topic=record.topic,
            partition=0,
            offset=1,
            timestamp_ms=None,
            key=record.key,
            value=b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            headers=record.headers,
        ),
        now=NOW,
        settings=REGISTRY_SETTINGS,
    )
    assert result.outcome is Outcome.DEAD_LETTER and result.dead_letter_reason == "undecodable"


# ---- generated from the exported schemas ------------------------------------------------


def _schema_inputs() -> list[tuple[str, type[Contract], dict[str, Any]]]:
    """Every message a party sends, with the topic it comes in on and its published schema."""
    found = []
    for spec in CATALOGUE:
        if spec.name not in (*REGISTRY_INPUTS, LEDGER_INPUT):
            continue
        for contract in spec.message_types:
            path = SCHEMA_DIRECTORY / schema_file_name(contract)
            found.append((spec.name, contract, json.loads(path.read_text(encoding="utf-8"))))
    return found


SCHEMA_INPUTS = _schema_inputs()


@st.composite
def schema_valid_record(draw: st.DrawFn) -> InputRecord:
    """A body the published schema accepts (so a party's validator would let it through),
    in a record with a valid envelope on its topic."""
    topic, contract, schema = draw(st.sampled_from(SCHEMA_INPUTS))
    body = draw(instances_of(schema))
    envelope = new_envelope(
        contract.model_construct(),
        source="/fuzz",
        sender_party_id=draw(st.sampled_from(sorted(set(DEMO_PARTIES.values())))),
        time=NOW,
    )
    return InputRecord(
        topic=topic,
        partition=0,
        offset=9,
        timestamp_ms=1_774_000_000_000,
        key=draw(st.binary(min_size=1, max_size=40)),
        value=json.dumps(body).encode(),
        headers=envelope_headers(envelope),
    )


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(schema_valid_record())
def test_a_body_its_schema_accepts_ends_as_one_outcome_of_its_step(record: InputRecord) -> None:
    if record.topic == LEDGER_INPUT:
        result: Any = process_ledger_record(LEDGER_STATE, record, now=NOW, settings=LEDGER_SETTINGS)
    else:
        result = process_record(REGISTRY_STATE, record, now=NOW, settings=REGISTRY_SETTINGS)
    assert result.outcome in OUTCOMES
    if result.outcome is Outcome.DEAD_LETTER:
        # a schema-valid body is read: only what the schema cannot say sets it aside
        assert result.dead_letter_reason not in ("undecodable", "schema_version"), result
    _every_output_reads_back(result.outputs)


def test_the_schema_fuzz_covers_every_message_a_party_sends() -> None:
    sent = {contract for _topic, contract, _schema in SCHEMA_INPUTS}
    assert len(sent) >= 15
    assert all(schema["x-message-type"] == c.MESSAGE_TYPE for _t, c, schema in SCHEMA_INPUTS)
