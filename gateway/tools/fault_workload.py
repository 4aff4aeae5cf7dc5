"""The fault test's workload: what the simulated parties send while the gateway is being
killed, as plain records (topic, key, value, headers) in the order they are sent.

Every record carries the harness's own header ``faults-case`` naming what it is (a listing,
an eCOA, a poison record of some kind, a ledger command that must be refused ...): the
checks read the inputs back from the topics and judge each one's outcome by its case. The
gateway ignores the header (it is not a CloudEvents attribute); a dead letter keeps it among
the original headers.

The same seed gives the same records (ids included), except the envelope times.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

from contracts.base import Contract
from contracts.brands import BrandListed
from contracts.dead_letter import DeadLetterReason
from contracts.ecoa import ECoACreated
from contracts.envelope import (
    HEADER_SENDER_PARTY,
    HEADER_SOURCE,
    HEADER_TYPE,
    encode_body,
    envelope_headers,
    new_envelope,
)
from contracts.ledger import ClosePeriod, PeriodKind, RecordPhysicalTransfer
from contracts.topics import route
from contracts.values import AccountingLevel, MetalContract, PartyRole
from contracts.warrants import CancelWarrant
from gateway.registry.decision_messages import warrant_id_for
from producers.parties import DEMO_PARTIES, sender_role_of
from producers.simulation import (
    A380_1,
    ASI_ALUMINIUM,
    SMELTER_SITE,
    WAREHOUSE,
    WARRANT_HOLDER,
    cast,
    cbam_form,
    certification,
    enhanced_ecoa,
    list_brand,
    lot,
    members_basic_ecoa,
    nordal_claim,
    request,
    smelter_input,
    smelter_sale,
    suspend_brand,
)

CASE_HEADER = "faults-case"
SOURCE = "/faults/harness"
PRODUCER = DEMO_PARTIES[PartyRole.PRODUCER]
EXCHANGE = DEMO_PARTIES[PartyRole.EXCHANGE]
INTRUDER = "party-intruder"
LEDGER_TOPIC = "ledger.commands"
BIG_BRAND = "FBBIG"
"""The brand the three large records are keyed by: they share one partition number."""

UNDER_LIMIT_BYTES = 990_000
OVER_LIMIT_BYTES = 1_010_000
LARGE_REFUSED_BYTES = 800_000


class Case(StrEnum):
    """What an input record is, and so which outcome it must have (see fault_outcomes)."""

    LIST = "list"
    SUSPEND = "suspend"
    CAST = "cast"
    ECOA = "ecoa"
    ECOA_REJECTED = "ecoa_rejected"
    ECOA_WRONG_SENDER = "ecoa_wrong_sender"
    FORM = "form"
    LOT = "lot"
    LOT_CLAIMED = "lot_claimed"
    REQUEST = "request"
    CANCEL = "cancel"
    DUPLICATE = "duplicate"
    UNDER_LIMIT = "edge.under_limit"
    LOT_WRONG_WAREHOUSE = "refused.lot_wrong_warehouse"
    SUSPEND_UNLISTED = "refused.suspend_unlisted"
    ID_REUSED = "refused.id_reused"
    BAD_JSON = "poison.bad_json"
    HEADER_NOT_UTF8 = "poison.header_not_utf8"
    MISSING_HEADER = "poison.missing_header"
    SCHEMA_VIOLATION = "poison.schema_violation"
    UNKNOWN_TYPE = "poison.unknown_type"
    NEWER_SCHEMA_VERSION = "poison.newer_schema_version"
    DECISION_ON_INGEST = "poison.decision_on_ingest"
    OVER_LIMIT = "poison.over_limit"
    LARGE_REFUSED = "poison.large_refused"
    LEDGER_BAD_JSON = "poison.ledger_bad_json"
    LEDGER_SETUP = "ledger.setup"
    LEDGER_INPUT = "ledger.input"
    LEDGER_SALE = "ledger.sale"
    LEDGER_DUPLICATE = "ledger.duplicate"
    LEDGER_OVERDRAW = "ledger.overdraw"
    LEDGER_UNKNOWN_SITE = "ledger.unknown_site"
    LEDGER_WRONG_SENDER = "ledger.wrong_sender"
    LEDGER_ACROSS_CERTIFICATES = "ledger.transfer_across_certificates"


DEAD_LETTER_REASON: dict[Case, DeadLetterReason] = {
    Case.LOT_WRONG_WAREHOUSE: DeadLetterReason.SENDER_NOT_PERMITTED,
    Case.SUSPEND_UNLISTED: DeadLetterReason.COMMAND_REFUSED,
    Case.ID_REUSED: DeadLetterReason.COMMAND_REFUSED,
    Case.BAD_JSON: DeadLetterReason.UNDECODABLE,
    Case.HEADER_NOT_UTF8: DeadLetterReason.HEADER_NOT_UTF8,
    Case.MISSING_HEADER: DeadLetterReason.MISSING_HEADER,
    Case.SCHEMA_VIOLATION: DeadLetterReason.SCHEMA_VIOLATION,
    Case.UNKNOWN_TYPE: DeadLetterReason.UNKNOWN_TYPE,
    Case.NEWER_SCHEMA_VERSION: DeadLetterReason.SCHEMA_VERSION,
    Case.DECISION_ON_INGEST: DeadLetterReason.NOT_AN_INPUT,
    Case.OVER_LIMIT: DeadLetterReason.OVERSIZED,
    Case.LARGE_REFUSED: DeadLetterReason.SCHEMA_VIOLATION,
    Case.LEDGER_BAD_JSON: DeadLetterReason.UNDECODABLE,
}
"""The reason of the one dead letter each refused or poison case must end as."""

SMALL_POISON = (
    Case.BAD_JSON,
    Case.HEADER_NOT_UTF8,
    Case.MISSING_HEADER,
    Case.SCHEMA_VIOLATION,
    Case.UNKNOWN_TYPE,
    Case.NEWER_SCHEMA_VERSION,
    Case.DECISION_ON_INGEST,
    Case.LEDGER_BAD_JSON,
)
LEDGER_REFUSALS = (
    Case.LEDGER_OVERDRAW,
    Case.LEDGER_UNKNOWN_SITE,
    Case.LEDGER_WRONG_SENDER,
    Case.LEDGER_ACROSS_CERTIFICATES,
)


@dataclass(frozen=True)
class PlannedRecord:
    """One record to send: catalogue topic name (no prefix), key, value, headers."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    case: Case
    event_id: str


@dataclass
class _Ids:
    """Event ids drawn from the seed, so that a run can be repeated record for record."""

    chooser: random.Random

    def next(self) -> str:
        return str(uuid.UUID(int=self.chooser.getrandbits(128), version=4))


def _record(
    body: Contract,
    case: Case,
    ids: _Ids,
    *,
    sender: str | None = None,
    role: PartyRole | None = None,
) -> PlannedRecord:
    """``body`` as its usual sender (or ``sender``) sends it, on the topic of its type."""
    sending_role = role or sender_role_of(body)
    spec = route(type(body), sending_role)
    envelope = new_envelope(
        body,
        source=SOURCE,
        sender_party_id=sender or DEMO_PARTIES[sending_role],
        time=datetime.now(UTC),
        event_id=ids.next(),
    )
    return PlannedRecord(
        topic=spec.name,
        key=spec.key_of(body),
        value=encode_body(body),
        headers=_labelled(envelope_headers(envelope), case),
        case=case,
        event_id=envelope.id,
    )


def _labelled(headers: list[tuple[str, bytes]], case: Case) -> list[tuple[str, bytes]]:
    return [*headers, (CASE_HEADER, case.value.encode("ascii"))]


def _replace_header(
    headers: list[tuple[str, bytes]], name: str, value: bytes | None
) -> list[tuple[str, bytes]]:
    """``headers`` with ``name`` set to ``value`` (left out when None)."""
    kept = [(key, raw) for key, raw in headers if key != name]
    return kept if value is None else [(name, value), *kept]


def _rebuilt(
    planned: PlannedRecord,
    case: Case,
    *,
    value: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
    topic: str | None = None,
) -> PlannedRecord:
    new_headers = _replace_header(
        headers if headers is not None else planned.headers, CASE_HEADER, case.value.encode()
    )
    return PlannedRecord(
        topic=topic or planned.topic,
        key=planned.key,
        value=planned.value if value is None else value,
        headers=new_headers,
        case=case,
        event_id=planned.event_id,
    )


# ---- the brands' stories ----------------------------------------------------------------


@dataclass
class _Story:
    """The records one brand's parties send, in order; sent interleaved with other stories."""

    records: list[PlannedRecord] = field(default_factory=list)


def _issued_story(brand: str, ids: _Ids, *, extras: bool = False) -> list[PlannedRecord]:
    casts = [f"{brand}-C1", f"{brand}-C2"]
    lot_id = f"LOT-{brand}"
    good_lot = lot(brand, lot_id, casts, claim=nordal_claim(f"COC-{brand}"))
    ecoa = enhanced_ecoa(brand, f"ECOA-{brand}", casts)
    listing = list_brand(brand)
    records = [
        _record(listing, Case.LIST, ids),
        _record(cast(brand, casts[0]), Case.CAST, ids),
        _record(cast(brand, casts[1]), Case.CAST, ids),
        _record(ecoa, Case.ECOA, ids),
        _record(cbam_form(brand), Case.FORM, ids),
        _record(good_lot, Case.LOT_CLAIMED, ids),
        _record(request(brand, f"REQ-{brand}", lot_id, holder=WARRANT_HOLDER), Case.REQUEST, ids),
    ]
    if extras:  # the same messages again, in new envelopes: nothing new may come of them
        records += [
            _record(ecoa, Case.DUPLICATE, ids),
            _record(listing, Case.DUPLICATE, ids),
            _record(good_lot, Case.DUPLICATE, ids),
        ]
    return records


def _pending_story(brand: str, ids: _Ids) -> list[PlannedRecord]:
    """The lot and its request come before the eCOA of its cast: pending, then issued."""
    reference = f"{brand}-C1"
    lot_id = f"LOT-{brand}"
    return [
        _record(list_brand(brand), Case.LIST, ids),
        _record(cast(brand, reference), Case.CAST, ids),
        _record(cbam_form(brand), Case.FORM, ids),
        _record(
            lot(brand, lot_id, [reference], claim=nordal_claim(f"COC-{brand}")),
            Case.LOT_CLAIMED,
            ids,
        ),
        _record(request(brand, f"REQ-{brand}", lot_id, holder=WARRANT_HOLDER), Case.REQUEST, ids),
        _record(enhanced_ecoa(brand, f"ECOA-{brand}", [reference]), Case.ECOA, ids),
    ]


def _rejected_story(brand: str, ids: _Ids) -> list[PlannedRecord]:
    """A 20.5 t lot: out of the contract's weight tolerance, rejected."""
    casts = [f"{brand}-C1", f"{brand}-C2"]
    lot_id = f"LOT-{brand}"
    heavy = lot(brand, lot_id, casts, makeweight=63, claim=nordal_claim(f"COC-{brand}"))
    return [
        _record(list_brand(brand), Case.LIST, ids),
        _record(cast(brand, casts[0]), Case.CAST, ids),
        _record(cast(brand, casts[1]), Case.CAST, ids),
        _record(enhanced_ecoa(brand, f"ECOA-{brand}", casts), Case.ECOA, ids),
        _record(cbam_form(brand), Case.FORM, ids),
        _record(heavy, Case.LOT_CLAIMED, ids),
        _record(request(brand, f"REQ-{brand}", lot_id, holder=WARRANT_HOLDER), Case.REQUEST, ids),
    ]


def _cancelled_story(brand: str, ids: _Ids) -> list[PlannedRecord]:
    lot_id = f"LOT-{brand}"
    cancel = CancelWarrant.build(
        cancellation_id=f"CANCEL-{brand}",
        warrant_id=warrant_id_for(lot_id),
        lot_id=lot_id,
        brand=brand,
        warehouse_id=WAREHOUSE,
        reason="the holder takes delivery",
        requested_at=datetime(2026, 3, 20, tzinfo=UTC),
    )
    return [*_issued_story(brand, ids), _record(cancel, Case.CANCEL, ids)]


def _duplicated_story(brand: str, ids: _Ids) -> list[PlannedRecord]:
    return _issued_story(brand, ids, extras=True)


def _suspended_story(brand: str, ids: _Ids) -> list[PlannedRecord]:
    reference = f"{brand}-C1"
    lot_id = f"LOT-{brand}"
    return [
        _record(list_brand(brand), Case.LIST, ids),
        _record(suspend_brand(brand, "no CBAM emissions form"), Case.SUSPEND, ids),
        _record(cast(brand, reference), Case.CAST, ids),
        _record(enhanced_ecoa(brand, f"ECOA-{brand}", [reference]), Case.ECOA, ids),
        _record(lot(brand, lot_id, [reference]), Case.LOT, ids),
        _record(request(brand, f"REQ-{brand}", lot_id), Case.REQUEST, ids),
    ]


def _troubled_story(brand: str, ids: _Ids) -> list[PlannedRecord]:
    """Refusals that are decisions (an eCOA out of specification, one from an intruder) and
    refusals that are dead letters (a reused id, a lot sent by another warehouse, a
    suspension of a brand never listed)."""
    reference = f"{brand}-C1"
    out_of_spec = enhanced_ecoa(brand, f"ECOA-{brand}-X", [reference], {**A380_1, "Cu": "9.9"})
    reused = enhanced_ecoa(brand, f"ECOA-{brand}-X", [f"{brand}-C2"])
    lot_id = f"LOT-{brand}"
    return [
        _record(list_brand(brand), Case.LIST, ids),
        _record(cast(brand, reference), Case.CAST, ids),
        _record(out_of_spec, Case.ECOA_REJECTED, ids),
        _record(
            enhanced_ecoa(brand, f"ECOA-{brand}-I", [reference]),
            Case.ECOA_WRONG_SENDER,
            ids,
            sender=INTRUDER,
        ),
        _record(reused, Case.ID_REUSED, ids),
        _record(lot(brand, lot_id, [reference]), Case.LOT_WRONG_WAREHOUSE, ids, sender=INTRUDER),
        _record(suspend_brand(f"{brand}-NEVER", "never listed"), Case.SUSPEND_UNLISTED, ids),
        _record(members_basic_ecoa(brand, f"ECOA-{brand}-M", reference), Case.ECOA_REJECTED, ids),
        _record(_warehouse_basic_ecoa(brand, f"ECOA-{brand}-W", reference), Case.ECOA, ids),
    ]


def _warehouse_basic_ecoa(brand: str, ecoa_id: str, reference: str) -> ECoACreated:
    """A warehouse's Basic eCOA (on warehouse.ecoas): decided like any eCOA."""
    return members_basic_ecoa(brand, ecoa_id, reference).model_copy(
        update={"created_by": WAREHOUSE, "created_by_role": PartyRole.WAREHOUSE}
    )


StoryBuilder = Callable[[str, _Ids], list[PlannedRecord]]
_STORIES: tuple[tuple[StoryBuilder, int], ...] = (
    (_issued_story, 40),
    (_duplicated_story, 10),
    (_pending_story, 15),
    (_rejected_story, 10),
    (_cancelled_story, 10),
    (_suspended_story, 5),
    (_troubled_story, 10),
)


def _story(number: int, chooser: random.Random, ids: _Ids) -> list[PlannedRecord]:
    builders = [builder for builder, _ in _STORIES]
    (make,) = chooser.choices(builders, weights=[weight for _, weight in _STORIES])
    return make(f"FB{number:05}", ids)


def _interleaved(
    stories: Iterator[list[PlannedRecord]], chooser: random.Random, width: int
) -> Iterator[PlannedRecord]:
    """The stories' records mixed: ``width`` stories under way at a time, each in its order,
    so that a brand's messages are spread out in time like real parties' are."""
    active: list[list[PlannedRecord]] = []
    exhausted = False
    while True:
        while not exhausted and len(active) < width:
            story = next(stories, None)
            if story is None:
                exhausted = True
            else:
                active.append(story)
        if not active:
            return
        chosen = chooser.randrange(len(active))
        yield active[chosen].pop(0)
        if not active[chosen]:
            active.pop(chosen)


# ---- the ledger's commands ----------------------------------------------------------------


def _ledger_setup(ids: _Ids) -> list[PlannedRecord]:
    """Three site-level certificates (smelter, warehouse, warrant holder) and January closed."""
    closed = ClosePeriod.build(
        posting_id="close-2026-01", period_kind=PeriodKind.MONTH, period_start=date(2026, 1, 1)
    )
    return [
        _record(body, Case.LEDGER_SETUP, ids, sender=EXCHANGE, role=PartyRole.EXCHANGE)
        for body in (*certification(), closed)
    ]


def _ledger_command(case: Case, number: int, ids: _Ids) -> PlannedRecord:
    day = date(2026, 2, 1 + number % 28)
    if case is Case.LEDGER_INPUT:
        return _from_smelter(smelter_input(f"IN-{number}", 60_000, day), case, ids)
    if case is Case.LEDGER_SALE:
        return _from_smelter(smelter_sale(f"SALE-{number}", 500, day), case, ids)
    if case is Case.LEDGER_OVERDRAW:
        return _from_smelter(smelter_sale(f"OVERDRAW-{number}", 10**9, day), case, ids)
    if case is Case.LEDGER_UNKNOWN_SITE:
        ghost = smelter_input(f"GHOST-{number}", 1_000, day).model_copy(
            update={"site_id": "GHOST-SITE", "holder_id": "GHOST-SITE"}
        )
        return _from_smelter(ghost, case, ids)
    if case is Case.LEDGER_WRONG_SENDER:
        stolen = smelter_input(f"STOLEN-{number}", 1_000, day)
        return _record(stolen, case, ids, sender=INTRUDER, role=PartyRole.PRODUCER)
    if case is Case.LEDGER_ACROSS_CERTIFICATES:
        transfer = RecordPhysicalTransfer.build(
            posting_id=f"ACROSS-{number}",
            from_site=SMELTER_SITE,
            to_site=WAREHOUSE,
            material_quality=ASI_ALUMINIUM,
            quantity_kg=Decimal(100),
            level=AccountingLevel.SITE,
            transport_document=f"CMR-{number}",
            occurred_on=day,
        )
        return _from_smelter(transfer, case, ids)
    raise ValueError(f"{case} is not a ledger command of the workload")


def _from_smelter(body: Contract, case: Case, ids: _Ids) -> PlannedRecord:
    """A ledger command sent by the smelter site's operator."""
    return _record(body, case, ids, sender=PRODUCER, role=PartyRole.PRODUCER)


# ---- poison -------------------------------------------------------------------------------


def _poison(case: Case, number: int, ids: _Ids) -> PlannedRecord:
    """One record of a poison kind, built from a good one by breaking one thing."""
    brand = f"FBP{number:05}"
    bases: tuple[Contract, ...] = (
        cast(brand, f"{brand}-C1"),
        lot(brand, f"LOT-{brand}", [f"{brand}-C1"]),
        request(brand, f"REQ-{brand}", f"LOT-{brand}"),
    )
    good = _record(bases[number % len(bases)], case, ids)
    if case is Case.BAD_JSON:
        return _rebuilt(good, case, value=b'{"schema_version": 1, "brand": ' + brand.encode())
    if case is Case.HEADER_NOT_UTF8:
        headers = _replace_header(good.headers, HEADER_SENDER_PARTY, b"smelter-\xff\xfe")
        return _rebuilt(good, case, headers=headers)
    if case is Case.MISSING_HEADER:
        return _rebuilt(good, case, headers=_replace_header(good.headers, HEADER_SOURCE, None))
    if case is Case.SCHEMA_VIOLATION:
        body = json.loads(good.value)
        del body["brand"]
        return _rebuilt(good, case, value=json.dumps(body).encode())
    if case is Case.UNKNOWN_TYPE:
        headers = _replace_header(good.headers, HEADER_TYPE, b"custody.cast.teleported")
        return _rebuilt(good, case, headers=headers)
    if case is Case.NEWER_SCHEMA_VERSION:
        body = json.loads(good.value)
        body["schema_version"] = 99
        return _rebuilt(good, case, value=json.dumps(body).encode())
    if case is Case.DECISION_ON_INGEST:
        listed = BrandListed.build(
            command_id=f"LIST-{brand}",
            brand=brand,
            producer_id=PRODUCER,
            country_of_origin="Norway",
            contracts=(MetalContract.ALUMINIUM_ALLOY,),
            effective_at=datetime(2026, 1, 2, tzinfo=UTC),
        )
        forged = _record(listed, case, ids, role=PartyRole.REGISTRY)
        return _rebuilt(forged, case, topic="exchange.brand-commands")
    if case is Case.LEDGER_BAD_JSON:
        command = _ledger_command(Case.LEDGER_INPUT, number, ids)
        return _rebuilt(command, case, value=b"not json at all \x00")
    raise ValueError(f"{case} is not a small poison kind")


def _large_records(ids: _Ids) -> list[PlannedRecord]:
    """Around the size limit (GATEWAY_MAX_MESSAGE_BYTES, 1,000,000 by default): a good eCOA
    padded with JSON whitespace to 990,000 bytes (must be decided like any eCOA); a cast
    padded to 1,010,000 bytes (over the limit: a dead letter); a lot carrying an 800,000-byte
    field its schema does not have (a schema violation: a dead letter). All three fit the
    broker's default 1 MiB record limit, so no topic setting is changed for them."""
    under = _record(
        enhanced_ecoa(BIG_BRAND, "ECOA-FBBIG", [f"{BIG_BRAND}-C1"]), Case.UNDER_LIMIT, ids
    )
    over = _record(cast(BIG_BRAND, f"{BIG_BRAND}-C2"), Case.OVER_LIMIT, ids)
    refused = _record(lot(BIG_BRAND, "LOT-FBBIG", [f"{BIG_BRAND}-C1"]), Case.LARGE_REFUSED, ids)
    padded_lot = json.loads(refused.value)
    padded_lot["padding"] = ""
    filler = LARGE_REFUSED_BYTES - len(json.dumps(padded_lot).encode())
    padded_lot["padding"] = "x" * filler
    return [
        _rebuilt(under, Case.UNDER_LIMIT, value=_padded(under.value, UNDER_LIMIT_BYTES)),
        _rebuilt(over, Case.OVER_LIMIT, value=_padded(over.value, OVER_LIMIT_BYTES)),
        _rebuilt(refused, Case.LARGE_REFUSED, value=json.dumps(padded_lot).encode()),
    ]


def _padded(value: bytes, size: int) -> bytes:
    """The same JSON document, ``size`` bytes long (trailing whitespace is valid JSON)."""
    return value + b" " * (size - len(value))


# ---- the whole workload -------------------------------------------------------------------


def build_workload(events: int, seed: int) -> list[PlannedRecord]:
    """``events`` records: the ledger's setup first, then the brands' stories interleaved,
    with ledger commands, refusals, poison and the three large records spread through."""
    chooser = random.Random(seed)
    ids = _Ids(random.Random(seed + 1))
    setup = _ledger_setup(ids)
    specials = _specials(events, chooser, ids)
    stream_length = max(events - len(setup), 0)
    story_slots = max(stream_length - len(specials), 0)
    stories = (_story(number, chooser, ids) for number in range(1, 10**7))
    stream = [
        record
        for _, record in zip(range(story_slots), _interleaved(stories, chooser, 40), strict=False)
    ]
    for position, record in sorted(
        ((chooser.uniform(0.02, 0.95), record) for record in specials), key=lambda pair: pair[0]
    ):
        stream.insert(int(position * len(stream)), record)
    return (setup + stream)[:events]


def story_records(events: int, seed: int, *, first_brand: int = 1) -> list[PlannedRecord]:
    """``events`` records of the brands' stories alone, interleaved as in ``build_workload``
    (listings, casts, eCOAs, forms, lots with custody claims, warrant requests, cancellations,
    duplicates and the refusals that are decisions or dead letters): no ledger command, no
    poison and no large record. Brands are numbered from ``first_brand`` (``FB00001`` ...),
    so that two calls with distinct ranges share no brand. The benchmark's realistic mix."""
    chooser = random.Random(seed)
    ids = _Ids(random.Random(seed + 1))
    stories = (_story(number, chooser, ids) for number in range(first_brand, 10**8))
    return list(itertools.islice(_interleaved(stories, chooser, 40), events))


def ledger_opening(seed: int, *, smelter_kg: int) -> list[PlannedRecord]:
    """The ledger's set-up (three certificates, January closed) and one certified input of
    ``smelter_kg`` at the smelter, so that the lots' custody claims are booked, not refused."""
    ids = _Ids(random.Random(seed + 2))
    opening = smelter_input("OPENING", smelter_kg, date(2026, 2, 1))
    return [*_ledger_setup(ids), _from_smelter(opening, Case.LEDGER_INPUT, ids)]


def _specials(events: int, chooser: random.Random, ids: _Ids) -> list[PlannedRecord]:
    """Everything that is not a brand's story: about one record in 25 a smelter input, one in
    100 a sale, about 1 % poison (every small kind at least once), each refused ledger kind
    and a duplicate ledger command at least once, and the three large records."""
    inputs = [_ledger_command(Case.LEDGER_INPUT, n, ids) for n in range(max(events // 25, 2))]
    sales = [_ledger_command(Case.LEDGER_SALE, n, ids) for n in range(max(events // 100, 1))]
    poison_count = max(events // 100, len(SMALL_POISON))
    poison = [_poison(SMALL_POISON[n % len(SMALL_POISON)], n, ids) for n in range(poison_count)]
    refusal_count = max(events // 500, 1)
    refusals = [
        _ledger_command(case, n, ids) for n in range(refusal_count) for case in LEDGER_REFUSALS
    ]
    duplicate = _rebuilt(
        _ledger_command(Case.LEDGER_INPUT, 0, ids), Case.LEDGER_DUPLICATE, headers=None
    )
    records = [*inputs, *sales, *poison, *refusals, duplicate, *_large_records(ids)]
    chooser.shuffle(records)
    return records
