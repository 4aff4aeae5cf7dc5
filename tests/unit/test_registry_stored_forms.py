"""Entities stored before issue 11 are read by today's registry: the fields added since take
their defaults."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.registry import codec
from gateway.registry.state import CastEntry, entity_key
from gateway.rulebook.state import OpenRequest

REQUESTED_AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_a_cast_stored_before_rejected_ecoas_were_kept_reads_with_none() -> None:
    stored = b'{"v":1,"d":{"recorded":null,"certificates":[]}}'
    entry = codec.decode("cast:NORDAL:c1:C1", stored)
    assert entry == CastEntry()
    assert entry.rejected is None


def test_a_request_stored_before_its_receipt_time_was_kept_pends_from_its_request() -> None:
    stored = (
        b'{"v":1,"d":{"request_id":"REQ-1","lot_id":"LOT-1","brand":"NORDAL",'
        b'"warehouse_id":"WH-1","requested_at":"2026-03-02T09:00:00Z",'
        b'"warrant_holder_id":null}}'
    )
    request = codec.decode(entity_key("request", "LOT-1"), stored)
    assert isinstance(request, OpenRequest)
    assert request.received_at is None
    assert request.pending_since == REQUESTED_AT
