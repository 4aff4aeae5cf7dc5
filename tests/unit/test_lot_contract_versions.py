"""A lot arrival written against version 1 (one brand for the lot, one cast per bundle) is
read by today's version 2 as bundles of the lot's brand, each of its one cast."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from contracts.base import upcast
from contracts.envelope import MessageDecodeError, decode_body
from contracts.json_numbers import parse_exact
from contracts.lots import LotArrived

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def version_1_lot() -> dict[str, Any]:
    """The lot of ``issued_alloy_lot.jsonl``, as a version 1 sender wrote it."""
    for line in (SCENARIOS / "issued_alloy_lot.jsonl").read_text(encoding="utf-8").splitlines():
        if line.startswith("{") and json.loads(line)["type"] == LotArrived.MESSAGE_TYPE:
            body: dict[str, Any] = parse_exact(json.dumps(json.loads(line)["body"]))
            assert body["schema_version"] == 1
            return body
    raise AssertionError("issued_alloy_lot.jsonl has no lot arrival")


def test_each_version_1_bundle_is_of_the_lots_brand_and_its_one_cast() -> None:
    old = version_1_lot()
    read = decode_body(LotArrived.MESSAGE_TYPE, old)
    assert isinstance(read, LotArrived)
    assert read.schema_version == 2
    assert [(b.bundle_id, b.brand, b.cast_references) for b in read.bundles] == [
        (b["bundle_id"], "NORDAL", (b["cast_reference"],)) for b in old["bundles"]
    ]
    assert all(bundle.production_batch_references == () for bundle in read.bundles)
    assert read.piece_brands == ()
    assert (read.brand, read.cast_references) == ("NORDAL", tuple(old["cast_references"]))


def test_a_version_1_bundles_batch_reference_becomes_its_one_batch() -> None:
    old = version_1_lot()
    old["bundles"][0]["production_batch_reference"] = "PB-7"
    read = decode_body(LotArrived.MESSAGE_TYPE, old)
    assert isinstance(read, LotArrived)
    assert read.bundles[0].production_batch_references == ("PB-7",)
    assert read.bundles[1].production_batch_references == ()


def test_the_upcaster_leaves_the_version_1_body_untouched() -> None:
    old = version_1_lot()
    kept = copy.deepcopy(old)
    upcast(LotArrived, old)
    assert old == kept


@pytest.mark.parametrize(
    ("bundles", "field"),
    [
        ("twenty", "bundles"),
        (["B01"], "bundles[0]"),
        (
            [{"bundle_id": "B01", "pieces": 125, "net_weight_kg": 1000}],
            "bundles[0].cast_references",
        ),
    ],
)
def test_an_unreadable_version_1_bundle_is_refused_by_its_path(bundles: object, field: str) -> None:
    with pytest.raises(MessageDecodeError) as refused:
        decode_body(LotArrived.MESSAGE_TYPE, version_1_lot() | {"bundles": bundles})
    assert refused.value.field == field


def test_a_version_2_bundle_must_state_its_brand() -> None:
    body = LotArrived.model_validate(upcast(LotArrived, version_1_lot())).model_dump(mode="json")
    del body["bundles"][3]["brand"]
    with pytest.raises(MessageDecodeError) as refused:
        decode_body(LotArrived.MESSAGE_TYPE, body)
    assert refused.value.field == "bundles[3].brand"
