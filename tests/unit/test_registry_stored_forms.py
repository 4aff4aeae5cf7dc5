"""Entities stored before issue 11 are read by today's registry: the fields added since take
their defaults."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import TypeAdapter

from gateway.registry import codec
from gateway.registry.decision_messages import warrant_id_for, warrants_of_id
from gateway.registry.state import CastEntry, LotWarrant, entity_key
from gateway.rulebook.decisions import WarrantDecision, WarrantOutcome
from gateway.rulebook.model import load_rulebook
from gateway.rulebook.recorded_casts import recorded_cast_violations
from gateway.rulebook.state import ArrivedLot, LotBundle, OpenRequest

REQUESTED_AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_a_cast_stored_before_rejected_ecoas_were_kept_reads_with_none() -> None:
    stored = b'{"v":1,"d":{"recorded":null,"certificates":[]}}'
    entry = codec.decode("cast:NORDAL:c1:C1", stored)
    assert entry == CastEntry()
    assert entry.rejected is None


def test_a_request_stored_before_its_receipt_time_was_kept_reads_without_it() -> None:
    stored = (
        b'{"v":1,"d":{"request_id":"REQ-1","lot_id":"LOT-1","brand":"NORDAL",'
        b'"warehouse_id":"WH-1","requested_at":"2026-03-02T09:00:00Z",'
        b'"warrant_holder_id":null}}'
    )
    request = codec.decode(entity_key("request", "LOT-1"), stored)
    assert isinstance(request, OpenRequest)
    assert request.received_at is None
    assert request.requested_at == REQUESTED_AT


def stored_version_1(decision: WarrantDecision) -> bytes:
    return b'{"v":1,"d":' + TypeAdapter(WarrantDecision).dump_json(decision) + b"}"


@pytest.mark.parametrize(("outcome", "issued"), [("issued", 1), ("pending", 0), ("rejected", 0)])
def test_a_lot_warrant_stored_as_its_decision_alone_reads_with_its_one_warrant(
    outcome: str, issued: int
) -> None:
    """Version 1 of a ``warrant`` entity was the lot's decision: a lot had at most one
    warrant, issued if the decision was."""
    decision = WarrantDecision(
        request_id="REQ-1", lot_id="LOT-1", brand="NORDAL", outcome=WarrantOutcome(outcome)
    )
    read = codec.decode(entity_key("warrant", "LOT-1"), stored_version_1(decision))
    assert read == LotWarrant(decision=decision, issued=issued)
    assert codec.encode(entity_key("warrant", "LOT-1"), read).startswith(b'{"v":3,')


def test_a_lot_warrant_stored_before_its_holder_was_kept_reads_with_none() -> None:
    decision = WarrantDecision(
        request_id="REQ-1", lot_id="LOT-1", brand="NORDAL", outcome=WarrantOutcome.ISSUED
    )
    stored = b'{"v":2,"d":{"decision":' + TypeAdapter(WarrantDecision).dump_json(decision)
    read = codec.decode(entity_key("warrant", "LOT-1"), stored + b',"issued":1}}')
    assert read == LotWarrant(decision=decision, issued=1, holder_id=None)


@pytest.mark.parametrize(
    ("warrant_id", "warrants"),
    [
        ("WRT-LOT-1", [("LOT-1", 1)]),
        ("WRT-LOT-1#2", [("LOT-1#2", 1), ("LOT-1", 2)]),
        ("WRT-LOT#1", [("LOT#1", 1)]),  # no warrant is numbered 1 with a suffix
        ("WRT-LOT#02", [("LOT#02", 1)]),
        ("OTHER-LOT-1", []),
    ],
)
def test_a_warrant_id_names_the_lots_first_warrant_or_a_numbered_one(
    warrant_id: str, warrants: list[tuple[str, int]]
) -> None:
    assert warrants_of_id(warrant_id) == warrants
    for lot_id, number in warrants:
        assert warrant_id_for(lot_id, number) == warrant_id


STORED_LOT_VERSION_1 = (
    b'{"v":1,"d":{"lot_id":"LOT-1","warehouse_id":"WH-1","brand":"NORDAL",'
    b'"contract":"aluminium_alloy","shape":"ingot","cast_references":["C1","C2"],'
    b'"total_pieces":250,"net_weight_kg":2000,"arrived_at":"2026-03-02T09:00:00Z",'
    b'"production_date":"2026-02-10","production_batch_references":[],"bundles":['
    b'{"bundle_id":"B1","cast_reference":"C1","pieces":125,"net_weight_kg":1000,'
    b'"production_batch_reference":null,"gross_weight_kg":null,"dimensions":null,'
    b'"is_makeweight":false},'
    b'{"bundle_id":"B2","cast_reference":"C2","pieces":125,"net_weight_kg":1000,'
    b'"production_batch_reference":"PB-2","gross_weight_kg":null,"dimensions":null,'
    b'"is_makeweight":false}],"piece_weight_kg":8,"piece_dimensions":null}}'
)


def test_a_lot_stored_with_one_cast_per_bundle_reads_as_bundles_of_the_lots_brand() -> None:
    """Version 1 of a ``lot`` entity kept one cast (and batch) per bundle and no brand."""
    key = entity_key("lot", "LOT-1")
    read = codec.decode(key, STORED_LOT_VERSION_1)
    assert isinstance(read, ArrivedLot)
    assert read.bundles == (
        LotBundle(
            bundle_id="B1",
            brand="NORDAL",
            cast_references=("C1",),
            pieces=125,
            net_weight_kg=Decimal(1000),
        ),
        LotBundle(
            bundle_id="B2",
            brand="NORDAL",
            cast_references=("C2",),
            pieces=125,
            net_weight_kg=Decimal(1000),
            production_batch_references=("PB-2",),
        ),
    )
    assert (read.cast_references, read.piece_brands) == (("C1", "C2"), ())
    written = codec.encode(key, read)
    assert written.startswith(b'{"v":2,')
    assert codec.decode(key, written) == read


def test_a_cast_stored_before_its_chemistry_was_kept_reads_as_not_kept_and_is_not_checked() -> None:
    """Version 1 of a ``cast`` entity kept neither the recorded nor the certified chemistry:
    read as not kept, so the cast is neither checked nor compared."""
    stored = (
        b'{"v":1,"d":{"recorded":{"cast_reference":"C1","production_date":"2026-02-10",'
        b'"contract":"aluminium_alloy","specification":"A380.1","production_filtered":null},'
        b'"certificates":[{"ecoa_id":"E1","kind":"enhanced","cast_reference":"C1",'
        b'"production_date":"2026-02-10","specification":"A380.1","created_on":"2026-02-11"}],'
        b'"rejected":null}}'
    )
    entry = codec.decode("cast:NORDAL:c1:C1", stored)
    assert isinstance(entry, CastEntry)
    assert entry.recorded is not None
    assert entry.recorded.chemistry is None
    assert entry.recorded.specification == "A380.1"
    [certificate] = entry.certificates
    assert (certificate.ecoa_id, certificate.chemistry, certificate.production_filtered) == (
        "E1",
        None,
        None,
    )
    assert recorded_cast_violations(entry.recorded, load_rulebook()) == ()
    assert codec.encode("cast:NORDAL:c1:C1", entry).startswith(b'{"v":3,')
    assert codec.decode("cast:NORDAL:c1:C1", codec.encode("cast:NORDAL:c1:C1", entry)) == entry


CAST_KEY = "cast:NORDAL:c1:C1"
RECORDED_CHEMISTRY = b'[["Cu","3.0"],["Si","9"],["Fe","0.80"]]'
VERSION_2_CAST = (
    b'{"v":2,"d":{"recorded":{"cast_reference":"C1","production_date":"2026-02-10",'
    b'"contract":"aluminium_alloy","specification":"A380.1","production_filtered":null,'
    b'"chemistry":' + RECORDED_CHEMISTRY + b'},"certificates":['
    b'{"ecoa_id":"E1","kind":"enhanced","cast_reference":"C1","production_date":"2026-02-10",'
    b'"specification":"A380.1","created_on":"2026-02-11","chemistry":' + RECORDED_CHEMISTRY + b","
    b'"production_filtered":null},'
    b'{"ecoa_id":"E2","kind":"basic","cast_reference":"C1","production_date":"2026-02-10",'
    b'"specification":"A380.1","created_on":"2026-02-12",'
    b'"chemistry":[["Cu","3"],["Si","9"],["Fe","0.80"]],"production_filtered":null},'
    b'{"ecoa_id":"E3","kind":"basic","cast_reference":"C1","production_date":null,'
    b'"specification":"A380.1","created_on":"2026-02-13","chemistry":null,'
    b'"production_filtered":null}],"rejected":null}}'
)


def test_a_cast_stored_with_each_chemistry_written_out_reads_the_same_and_is_written_smaller() -> (
    None
):
    """Version 2 of a ``cast`` entity wrote each certificate's chemistry out; version 3 writes
    a certificate's chemistry that is the recorded one (digit for digit) once, with the
    record, and reads it back as before."""
    entry = codec.decode(CAST_KEY, VERSION_2_CAST)
    assert isinstance(entry, CastEntry)
    assert entry.recorded is not None
    recorded = entry.recorded.chemistry
    assert recorded == (("Cu", Decimal("3.0")), ("Si", Decimal(9)), ("Fe", Decimal("0.80")))
    as_certified = [certificate.chemistry for certificate in entry.certificates]
    assert as_certified == [recorded, recorded, None]
    assert str(as_certified[1][0][1]) == "3"  # equal to 3.0, but stated with its own digits
    written = codec.encode(CAST_KEY, entry)
    assert written.startswith(b'{"v":3,')
    assert written.count(b'"Cu"') == 2  # the record's and the 3 of E2; E1's is the record's
    assert len(written) < len(VERSION_2_CAST)
    again = codec.decode(CAST_KEY, written)
    assert again == entry
    assert [str(c.chemistry[0][1]) for c in again.certificates if c.chemistry] == ["3.0", "3"]


def test_a_cast_without_a_record_keeps_each_certificates_chemistry() -> None:
    entry = codec.decode(CAST_KEY, VERSION_2_CAST)
    certified_only = CastEntry(certificates=entry.certificates)
    written = codec.encode(CAST_KEY, certified_only)
    assert written.count(b'"Cu"') == 2
    assert codec.decode(CAST_KEY, written) == certified_only
