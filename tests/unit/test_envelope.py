"""The CloudEvents binary-mode codec, without a broker."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from contracts.base import Contract
from contracts.envelope import (
    DecodeErrorKind,
    MessageDecodeError,
    decode_message,
    encode_body,
    envelope_headers,
    field_path,
    new_envelope,
)
from contracts.lots import LotArrived
from producers.samples import sample_messages

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _record(body: Contract) -> tuple[list[tuple[str, bytes]], bytes]:
    envelope = new_envelope(
        body,
        source="/parties/smelter-nordal",
        sender_party_id="smelter-nordal",
        time=WHEN,
        subject="NORDAL",
        causation_id="cause-1",
    )
    return envelope_headers(envelope), encode_body(body)


def _replace_header(
    headers: list[tuple[str, bytes]], name: str, value: bytes | None
) -> list[tuple[str, bytes]]:
    kept = [(key, raw) for key, raw in headers if key != name]
    return kept if value is None else [*kept, (name, value)]


@pytest.mark.parametrize("body", sample_messages(), ids=lambda body: body.MESSAGE_TYPE)
def test_every_family_decodes_to_what_was_encoded(body: Contract) -> None:
    headers, value = _record(body)
    decoded = decode_message(headers, value)
    assert decoded.body == body
    assert type(decoded.body) is type(body)
    assert decoded.envelope.type == body.MESSAGE_TYPE
    assert decoded.envelope.time == WHEN
    assert decoded.envelope.sender_party_id == "smelter-nordal"
    assert decoded.envelope.causation_id == "cause-1"
    assert decoded.envelope.subject == "NORDAL"


def test_the_headers_are_the_cloudevents_binary_mode_names() -> None:
    headers, _ = _record(sample_messages()[0])
    names = {name for name, _ in headers}
    assert names == {
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_specversion",
        "ce_time",
        "ce_subject",
        "ce_correlationid",
        "ce_causationid",
        "ce_partyid",
        "content-type",
    }
    assert dict(headers)["ce_specversion"] == b"1.0"
    assert dict(headers)["content-type"] == b"application/json"


def test_a_new_flow_correlates_on_its_own_id() -> None:
    envelope = new_envelope(
        sample_messages()[0], source="/x", sender_party_id="p", time=WHEN, event_id="e-1"
    )
    assert envelope.correlation_id == "e-1"


def test_a_header_that_is_not_utf8_is_refused_naming_the_header() -> None:
    headers, value = _record(sample_messages()[0])
    headers = _replace_header(headers, "ce_subject", b"NORD\xffAL")
    with pytest.raises(MessageDecodeError) as caught:
        decode_message(headers, value)
    assert caught.value.kind is DecodeErrorKind.HEADER_NOT_UTF8
    assert caught.value.field == "ce_subject"
    assert "ce_subject" in str(caught.value)
    assert "0xff" in str(caught.value)


@pytest.mark.parametrize(
    "header", ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_partyid"]
)
def test_a_missing_required_header_is_named(header: str) -> None:
    headers, value = _record(sample_messages()[0])
    with pytest.raises(MessageDecodeError) as caught:
        decode_message(_replace_header(headers, header, None), value)
    assert caught.value.kind is DecodeErrorKind.MISSING_HEADER
    assert caught.value.field == header


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("ce_specversion", b"0.3"),
        ("content-type", b"application/xml"),
        ("ce_time", b"yesterday"),
        ("ce_time", b"2026-03-02T09:30:00"),  # no time zone
    ],
)
def test_a_bad_header_value_is_named(header: str, value: bytes) -> None:
    headers, body = _record(sample_messages()[0])
    with pytest.raises(MessageDecodeError) as caught:
        decode_message(_replace_header(headers, header, value), body)
    assert caught.value.kind is DecodeErrorKind.BAD_HEADER
    assert caught.value.field == header


def test_content_type_parameters_are_allowed() -> None:
    headers, value = _record(sample_messages()[0])
    headers = _replace_header(headers, "content-type", b"application/json; charset=utf-8")
    assert decode_message(headers, value).body == sample_messages()[0]


def test_an_unknown_type_is_refused_naming_it() -> None:
    headers, value = _record(sample_messages()[0])
    headers = _replace_header(headers, "ce_type", b"custody.unheard-of.thing")
    with pytest.raises(MessageDecodeError) as caught:
        decode_message(headers, value)
    assert caught.value.kind is DecodeErrorKind.UNKNOWN_TYPE
    assert "custody.unheard-of.thing" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not an object"),
        (None, "no value"),
    ],
)
def test_an_undecodable_value_is_refused(value: bytes | None, expected: str) -> None:
    headers, _ = _record(sample_messages()[0])
    with pytest.raises(MessageDecodeError) as caught:
        decode_message(headers, value)
    assert caught.value.kind is DecodeErrorKind.UNDECODABLE
    assert expected in str(caught.value)


def test_an_oversized_value_is_refused() -> None:
    headers, value = _record(sample_messages()[0])
    with pytest.raises(MessageDecodeError) as caught:
        decode_message(headers, value, max_value_bytes=len(value) - 1)
    assert caught.value.kind is DecodeErrorKind.OVERSIZED


def test_a_schema_violation_names_the_field_path() -> None:
    body = sample_messages()[0]
    headers, _ = _record(body)
    raw = body.model_dump(mode="json")
    raw["unexpected_field"] = 1

    with pytest.raises(MessageDecodeError) as caught:
        decode_message(headers, json.dumps(raw).encode())
    assert caught.value.kind is DecodeErrorKind.SCHEMA_VIOLATION
    assert caught.value.field == "unexpected_field"
    assert "unexpected_field" in str(caught.value)


def test_a_newer_schema_version_is_refused() -> None:
    body = sample_messages()[0]
    headers, _ = _record(body)
    raw = body.model_dump(mode="json")
    raw["schema_version"] = 99

    with pytest.raises(MessageDecodeError) as caught:
        decode_message(headers, json.dumps(raw).encode())
    assert caught.value.kind is DecodeErrorKind.SCHEMA_VERSION
    assert caught.value.field == "schema_version"


def test_field_paths_read_like_the_json() -> None:
    assert field_path(("casts", 0, "chemistry", 2, "element")) == "casts[0].chemistry[2].element"
    assert field_path(()) == ""


def _both_ways(contract: type[Contract], value: bytes) -> tuple[object, object]:
    """What the fast path and the long way (parse, upcast, validate) make of ``value``."""
    from contracts.envelope import _parse_json_object, read_body, read_body_bytes

    def outcome(read: Callable[[], Contract]) -> object:
        try:
            return read()
        except MessageDecodeError as error:
            return (error.kind, error.field)

    fast = outcome(lambda: read_body_bytes(contract, value))
    slow = outcome(lambda: read_body(contract, _parse_json_object(value)))
    return fast, slow


@pytest.mark.parametrize(
    "weight",
    ["20000", "20000.0", "2E4", "0.1", "1e400", "-0", "NaN", "Infinity", '"20000"', "1" * 400],
)
def test_reading_from_the_bytes_agrees_with_parsing_first(weight: str) -> None:
    from producers.simulation import lot

    body = json.loads(encode_body(lot("NORDAL", "LOT-1", ["C1"])))
    text = json.dumps(body).replace(
        f'"net_weight_kg": {json.dumps(body["net_weight_kg"])}', f'"net_weight_kg": {weight}', 1
    )
    fast, slow = _both_ways(LotArrived, text.encode())
    assert fast == slow


def test_every_scenario_body_reads_the_same_from_the_bytes() -> None:
    from tests.unit.test_registry import scenario_messages

    for message in scenario_messages():
        fast, slow = _both_ways(type(message), encode_body(message))
        assert fast == slow == message


ANSWERED_AT = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_answer_headers_are_the_envelope_headers_of_the_same_answer() -> None:
    from contracts.envelope import answer_headers

    cause = new_envelope(
        sample_messages()[0], source="/test", sender_party_id="smelter-nordal", time=ANSWERED_AT
    )
    body = sample_messages()[1]
    envelope = new_envelope(
        body,
        source="/custody-gateway/registry",
        sender_party_id="registry",
        time=ANSWERED_AT,
        subject="NORDAL",
        correlation_id=cause.correlation_id,
        causation_id=cause.id,
        event_id="E-1",
    )
    assert answer_headers(
        event_id="E-1",
        source="/custody-gateway/registry",
        message_type=body.MESSAGE_TYPE,
        time=ANSWERED_AT.isoformat(),
        subject="NORDAL",
        cause=cause,
        sender_party_id="registry",
    ) == envelope_headers(envelope)
