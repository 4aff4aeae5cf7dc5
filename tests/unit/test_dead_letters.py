"""Dead letters keep the original record up to caps, say its size and digest, stay far below
the producer's 1 MiB whatever they set aside, and version 1 letters still read."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from pydantic import ValidationError

from contracts.dead_letter import (
    NO_EXPLANATION,
    DeadLetterReason,
    DeadLetterRecorded,
    KeptBytes,
    kept_bytes,
)
from contracts.envelope import MessageDecodeError, decode_message, read_body
from contracts.values import TEXT_MAX_CHARACTERS
from gateway.processors.records import (
    DEFAULT_KEPT_VALUE_BYTES,
    KEPT_HEADER_VALUE_BYTES,
    KEPT_HEADER_VALUE_BYTES_IN_ALL,
    KEPT_KEY_BYTES,
    LISTED_HEADERS,
    InputRecord,
    OutputRecord,
    dead_letter_records,
    dead_letter_size_bound,
    record_size,
)
from gateway.processors.registry import process_record
from gateway.registry.state import RegistryState
from tests.unit.test_registry_pipeline import SETTINGS, poison

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
ONE_MIB = 1024 * 1024
CE_HEADERS = [("ce_type", b"custody.lot.arrived"), ("ce_partyid", b"warehouse-rotterdam-07")]


def record(
    value: bytes | None = b'{"lot_id": "LOT-1"}',
    key: bytes | None = b"LOT-1",
    headers: list[tuple[str, bytes]] | None = None,
) -> InputRecord:
    return InputRecord(
        topic="warehouse.lot-arrivals",
        partition=2,
        offset=41,
        timestamp_ms=1_700_000_000_000,
        key=key,
        value=value,
        headers=CE_HEADERS if headers is None else headers,
    )


def letter_of(
    original: InputRecord,
    message: str = "the record value is not JSON",
    field: str | None = None,
    **caps: int,
) -> tuple[OutputRecord, DeadLetterRecorded]:
    [output] = dead_letter_records(
        original,
        DeadLetterReason.UNDECODABLE,
        message,
        field,
        NOW,
        "/registry",
        "custody-registry",
        **caps,
    )
    body = decode_message(output.headers, output.value).body
    assert isinstance(body, DeadLetterRecorded)
    return output, body


def kept(part: KeptBytes | None) -> bytes:
    assert part is not None
    return base64.b64decode(part.kept_base64)


def worst_record() -> InputRecord:
    """Everything huge at once; texts of control characters, which JSON writes as \\u00XX."""
    huge_header = ("\x00" * 1_000, bytes(range(256)) * 3_600)  # a 900 KB value
    many_headers = [("\x01" * 300, b"\xff" * 10_000) for _ in range(1_000)]
    return record(
        value=b"v" * 5_000_000, key=b"k" * 2_000_000, headers=[huge_header, *many_headers]
    )


# --- the bound ------------------------------------------------------------------------------


def test_the_letter_of_a_huge_record_is_far_below_1_mib_and_keeps_what_it_can() -> None:
    original = worst_record()
    output, letter = letter_of(original, message="\x02" * 1_000_000, field="\x03" * 1_000_000)

    assert record_size(output) <= dead_letter_size_bound() < 256 * 1024 < ONE_MIB
    assert kept(letter.original_value) == b"v" * DEFAULT_KEPT_VALUE_BYTES
    assert kept(letter.original_key) == b"k" * KEPT_KEY_BYTES
    assert letter.original_header_count == 1_001
    assert len(letter.original_headers) == LISTED_HEADERS
    huge, *others = letter.original_headers
    assert (len(huge.key), huge.key_truncated) == (200, True)
    assert huge.value is not None and huge.value.size_bytes == 921_600
    # A huge first header takes no more than its share: the next ones keep theirs.
    assert [len(kept(header.value)) for header in others[:16]] == [KEPT_HEADER_VALUE_BYTES] * 15 + [
        0
    ]
    assert sum(len(kept(header.value)) for header in letter.original_headers) == (
        KEPT_HEADER_VALUE_BYTES_IN_ALL
    )
    assert len(letter.error.message) == TEXT_MAX_CHARACTERS
    assert letter.error.field is not None and len(letter.error.field) == 200


@pytest.mark.parametrize("cap", [0, 1, DEFAULT_KEPT_VALUE_BYTES, 512 * 1024])
def test_the_bound_holds_for_any_cap_on_the_value(cap: int) -> None:
    output, letter = letter_of(
        worst_record(), "\x02" * 10_000, "\x03" * 10_000, max_kept_value_bytes=cap
    )
    assert len(kept(letter.original_value)) == cap
    assert record_size(output) <= dead_letter_size_bound(cap)


def test_the_registry_sets_a_5_mb_record_aside_in_a_letter_that_fits() -> None:
    oversized = replace(poison("oversized"), value=b" " * 5_000_000)
    result = process_record(RegistryState(), oversized, now=NOW, settings=SETTINGS)
    assert result.dead_letter_reason is DeadLetterReason.OVERSIZED
    [output] = result.outputs
    assert record_size(output) < 256 * 1024


# --- what is kept ---------------------------------------------------------------------------


def test_a_truncated_value_says_its_full_size_and_the_sha256_of_all_of_it() -> None:
    value = bytes(range(256)) * 400  # 102,400 bytes
    _, letter = letter_of(record(value=value))
    part = letter.original_value
    assert part is not None
    assert kept(part) == value[:DEFAULT_KEPT_VALUE_BYTES]
    assert part.truncated
    assert part.size_bytes == 102_400
    assert part.sha256 == hashlib.sha256(value).hexdigest()
    assert part.sha256 != hashlib.sha256(kept(part)).hexdigest()


def test_the_cap_on_the_value_is_a_parameter() -> None:
    _, letter = letter_of(record(value=b"0123456789"), max_kept_value_bytes=4)
    assert letter.original_value is not None
    assert (kept(letter.original_value), letter.original_value.truncated) == (b"0123", True)


@pytest.mark.parametrize(
    ("size", "truncated"),
    [
        (0, False),
        (1, False),
        (DEFAULT_KEPT_VALUE_BYTES, False),
        (DEFAULT_KEPT_VALUE_BYTES + 1, True),
    ],
)
def test_a_value_up_to_the_cap_is_kept_whole(size: int, truncated: bool) -> None:
    value = b"x" * size
    _, letter = letter_of(record(value=value))
    part = letter.original_value
    assert part is not None
    assert part.truncated is truncated
    assert kept(part) == value[:DEFAULT_KEPT_VALUE_BYTES]
    assert (part.size_bytes, part.sha256) == (size, hashlib.sha256(value).hexdigest())


def test_a_small_record_is_kept_whole_key_headers_and_all() -> None:
    original = record()
    _, letter = letter_of(original)
    assert kept(letter.original_value) == original.value
    assert kept(letter.original_key) == original.key
    assert [(h.key, kept(h.value)) for h in letter.original_headers] == CE_HEADERS
    assert not any(
        h.key_truncated or (h.value and h.value.truncated) for h in letter.original_headers
    )
    assert letter.original_header_count == 2
    assert letter.source.model_dump() == {
        "topic": "warehouse.lot-arrivals",
        "partition": 2,
        "offset": 41,
        "timestamp_ms": 1_700_000_000_000,
    }


def test_a_value_that_is_not_utf8_is_kept_byte_for_byte() -> None:
    value = b'{"lot": "\xff\xfe\xc3"}'
    _, letter = letter_of(record(value=value))
    assert kept(letter.original_value) == value
    assert letter.original_value is not None
    assert letter.original_value.sha256 == hashlib.sha256(value).hexdigest()


def test_a_null_value_key_or_header_value_is_null_not_empty() -> None:
    _, letter = letter_of(record(value=None, key=None, headers=[("trace", None)]))  # type: ignore[list-item]
    assert (letter.original_value, letter.original_key) == (None, None)
    [header] = letter.original_headers
    assert (header.key, header.value) == ("trace", None)
    _, empty = letter_of(record(value=b"", key=b""))
    assert empty.original_value is not None and empty.original_value.size_bytes == 0
    assert empty.original_key is not None and kept(empty.original_key) == b""


def test_a_long_message_is_cut_to_what_the_contract_allows_and_says_its_length() -> None:
    _, letter = letter_of(record(), message="the body breaks its schema: " + "x" * 9_000)
    assert len(letter.error.message) == TEXT_MAX_CHARACTERS
    assert letter.error.message.startswith("the body breaks its schema: xxx")
    assert letter.error.message.endswith("xxx… [9028 characters]")


@pytest.mark.parametrize(
    ("message", "field", "expected"),
    [
        ("", "", (NO_EXPLANATION, None)),
        ("bad \udcff byte", "headers.\udcff", ("bad ? byte", "headers.?")),
        ("fine", "casts[0]", ("fine", "casts[0]")),
    ],
)
def test_an_empty_or_unencodable_message_or_field_still_makes_a_letter(
    message: str, field: str, expected: tuple[str, str | None]
) -> None:
    _, letter = letter_of(record(), message=message, field=field)
    assert (letter.error.message, letter.error.field) == expected


def test_a_long_field_path_is_cut() -> None:
    _, letter = letter_of(record(), field="casts" + "[0]" * 500)
    assert letter.error.field is not None and len(letter.error.field) == 200
    assert letter.error.field.endswith("… [1505 characters]")


def test_kept_bytes_must_agree_with_the_size_they_claim() -> None:
    whole = kept_bytes(b"abcdef", 6).model_dump()
    with pytest.raises(ValidationError, match="truncated is True but kept_base64 holds 6 of 6"):
        KeptBytes.model_validate({**whole, "truncated": True})
    with pytest.raises(ValidationError, match="holds 6 bytes, more than size_bytes"):
        KeptBytes.model_validate({**whole, "size_bytes": 5})
    cut = kept_bytes(b"abcdef", 4).model_dump()
    with pytest.raises(ValidationError, match="truncated is False but kept_base64 holds 4 of 6"):
        KeptBytes.model_validate({**cut, "truncated": False})


def test_a_letter_lists_no_more_headers_than_the_record_had() -> None:
    _, letter = letter_of(record())
    with pytest.raises(ValidationError, match="lists 2 headers, more than original_header_count"):
        DeadLetterRecorded.model_validate({**letter.model_dump(), "original_header_count": 1})


# --- version 1 ------------------------------------------------------------------------------

V1_VALUE = b'{"lot_id": "LOT-RTM-2026-000419", "brand": "NORD'
V1_LETTER = {
    "schema_version": 1,
    "original_value_base64": base64.b64encode(V1_VALUE).decode(),
    "original_key_base64": base64.b64encode(b"LOT-RTM-2026-000419").decode(),
    "original_headers": [
        {"key": "ce_type", "value_base64": base64.b64encode(b"custody.lot.arrived").decode()},
        {"key": "trace", "value_base64": None},
    ],
    "error": {"kind": "undecodable", "message": "value is not valid JSON", "field": None},
    "source": {
        "topic": "warehouse.lot-arrivals",
        "partition": 3,
        "offset": 120877,
        "timestamp_ms": 1773819600000,
    },
    "dead_lettered_at": "2026-03-18T07:41:00Z",
}


def test_a_version_1_letter_reads_as_version_2_with_every_byte_kept() -> None:
    letter = read_body(DeadLetterRecorded, V1_LETTER)
    assert isinstance(letter, DeadLetterRecorded)
    assert letter.schema_version == 2
    assert letter.original_value == KeptBytes(
        kept_base64=base64.b64encode(V1_VALUE).decode(),
        size_bytes=len(V1_VALUE),
        sha256=hashlib.sha256(V1_VALUE).hexdigest(),
        truncated=False,
    )
    assert kept(letter.original_key) == b"LOT-RTM-2026-000419"
    assert [(h.key, h.key_truncated) for h in letter.original_headers] == [
        ("ce_type", False),
        ("trace", False),
    ]
    assert kept(letter.original_headers[0].value) == b"custody.lot.arrived"
    assert letter.original_headers[1].value is None
    assert letter.original_header_count == 2
    assert letter.error.message == "value is not valid JSON"
    assert letter.source.offset == 120877


def test_a_version_1_letter_of_a_null_value_and_key_reads() -> None:
    v1 = {**V1_LETTER, "original_value_base64": None, "original_key_base64": None}
    letter = read_body(DeadLetterRecorded, v1)
    assert isinstance(letter, DeadLetterRecorded)
    assert (letter.original_value, letter.original_key) == (None, None)


def test_a_version_1_letter_with_texts_version_2_does_not_allow_is_shortened() -> None:
    v1 = {
        **V1_LETTER,
        "original_headers": [{"key": "k" * 300, "value_base64": None}],
        "error": {"kind": "schema_violation", "message": "m" * 5_000, "field": ""},
    }
    letter = read_body(DeadLetterRecorded, v1)
    assert isinstance(letter, DeadLetterRecorded)
    [header] = letter.original_headers
    assert (header.key, header.key_truncated) == ("k" * 200, True)
    assert len(letter.error.message) == TEXT_MAX_CHARACTERS
    assert letter.error.field is None


def test_a_version_1_letter_whose_value_is_not_base64_is_refused_naming_the_field() -> None:
    with pytest.raises(MessageDecodeError) as refused:
        read_body(DeadLetterRecorded, {**V1_LETTER, "original_value_base64": "not base64!"})
    assert refused.value.field == "original_value"


def test_a_version_2_letter_is_not_touched_by_the_upcaster() -> None:
    _, letter = letter_of(record(value=b"x" * 100_000))
    body = json.loads(letter.model_dump_json())
    assert read_body(DeadLetterRecorded, body) == letter


# --- record size ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "headers"),
    [
        (b"", b"", []),
        (b"k" * 63, b"v" * 63, [("h" * 63, b"x" * 63)]),
        (b"k" * 64, b"v" * 64, [("h" * 64, b"x" * 64)]),
        (b"k" * 8_191, b"v" * 8_192, [("é" * 40, b"x" * 9_000)] * 70),
        (b"LOT-1", b"v" * 2_000_000, CE_HEADERS),
    ],
)
def test_record_size_is_what_aiokafka_checks_before_a_send_and_bounds_the_batch(
    key: bytes, value: bytes, headers: list[tuple[str, bytes]]
) -> None:
    output = OutputRecord(
        topic="registry.dead-letters", key=key, value=value, headers=headers, message_type="x"
    )
    assert record_size(output) == DefaultRecordBatchBuilder.estimate_size_in_bytes(
        key, value, headers
    )
    batch = DefaultRecordBatchBuilder(2, 0, 1, 7, 0, 0, 10 * ONE_MIB)
    batch.append(0, 1_700_000_000_000, key, value, headers)
    assert len(batch.build()) <= record_size(output)


@pytest.mark.parametrize("cause", ["e1", "5e6a7217-8a00-431a-854c-64f2ab3a9652", "ü/ß", ""])
def test_an_output_event_id_is_the_uuid5_of_its_cause_and_place(cause: str) -> None:
    import uuid

    from gateway.processors.records import _OUTPUT_IDS, output_event_id

    for index in (0, 1, 17):
        assert output_event_id(cause, index) == str(uuid.uuid5(_OUTPUT_IDS, f"{cause}/{index}"))
