"""The registry's state, as small keyed entities, and what a step returns.

The state is cut into entities, one key each, none of which grows with a brand's history:
a brand's listing, each cast (as recorded, with the certificates covering it), each accepted
form, each handled message id, each lot, each open request, each lot's latest warrant
decision, each cancellation and each custody move emitted; plus two index entries for each
open request (under its brand, and under the hour it was taken in, which the clock's ticks
read), and the clock's horizon. Keys are ``kind:part[:part]`` with ``%`` and ``:`` escaped
in each part, so that related entities share a prefix: a cast's key is
``cast:<brand>:<normal form of its reference>:<reference>``, so the casts whose references
read the same once case, spaces and hyphens are ignored are one prefix apart.

``RegistryState`` is a value: the entities a reader holds (``EntityReader``: the committed
store behind a bounded cache, or a plain dict) and, on top, the changes made since (a
persistent map, so that a step adds one change in O(log n) and the state before it stays
intact). A step reads what it needs by key and reports exactly the keys it changed; nothing
scans the whole state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from immutables import Map

from contracts.base import Contract
from contracts.custody import CustodyMovementRecorded, CustodyMoveReason
from contracts.values import AccountingLevel
from contracts.warrants import CancelWarrant
from gateway.rulebook.decisions import WarrantDecision, WarrantOutcome
from gateway.rulebook.model import Rulebook
from gateway.rulebook.state import (
    AcceptedForm,
    ArrivedLot,
    BrandRecord,
    CertifiedCast,
    OpenRequest,
    RecordedCast,
    RejectedCertificate,
    normalised_cast_reference,
)


class CommandRefused(ValueError):
    """A command that cannot be carried out in the current state (e.g. suspending a brand
    that was never listed); the text says why and names the rule."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


# ---- the entities' own types --------------------------------------------------------------


@dataclass(frozen=True)
class CastEntry:
    """One cast of a brand: as its producer recorded it (if they did), and the accepted
    certificates covering it (a cast has few: its producer's, perhaps a warehouse's Basic)."""

    recorded: RecordedCast | None = None
    certificates: tuple[CertifiedCast, ...] = ()
    rejected: RejectedCertificate | None = None
    """The latest eCOA rejected for the cast (one is kept, so the entry stays small)."""


@dataclass(frozen=True)
class Cancellation:
    cancellation_id: str
    warrant_id: str
    lot_id: str
    brand: str
    warehouse_id: str
    reason: str | None = None

    @classmethod
    def of(cls, cancel: CancelWarrant) -> Cancellation:
        return cls(
            cancellation_id=cancel.cancellation_id,
            warrant_id=cancel.warrant_id,
            lot_id=cancel.lot_id,
            brand=cancel.brand,
            warehouse_id=cancel.warehouse_id,
            reason=cancel.reason,
        )


@dataclass(frozen=True)
class LotWarrant:
    """A lot's latest warrant decision, and how many warrants were issued for the lot: a
    lot may be warranted again after its warrant was cancelled, each warrant numbered."""

    decision: WarrantDecision
    issued: int = 0
    holder_id: str | None = None
    """The party the standing warrant was issued to, when the latest decision issued one
    and its request named a holder."""

    @property
    def standing_number(self) -> int | None:
        """The number of the lot's warrant when the latest decision issued one."""
        return self.issued if self.decision.outcome is WarrantOutcome.ISSUED else None


@dataclass(frozen=True)
class CustodyMove:
    """A custody move the registry emitted (the body of a ``CustodyMovementRecorded``)."""

    posting_id: str
    reason: CustodyMoveReason
    from_holder_id: str
    to_holder_id: str
    lot_id: str
    quantity_kg: Decimal
    material_quality: str
    level: AccountingLevel
    coc_document: str
    occurred_on: date
    warrant_id: str | None = None

    @classmethod
    def of(cls, moved: CustodyMovementRecorded) -> CustodyMove:
        return cls(
            posting_id=moved.posting_id,
            reason=moved.reason,
            from_holder_id=moved.from_holder_id,
            to_holder_id=moved.to_holder_id,
            lot_id=moved.lot_id,
            warrant_id=moved.warrant_id,
            quantity_kg=moved.quantity_kg,
            material_quality=moved.material_quality,
            level=moved.level,
            coc_document=moved.coc_document,
            occurred_on=moved.occurred_on,
        )

    def message(self) -> CustodyMovementRecorded:
        return CustodyMovementRecorded.build(
            posting_id=self.posting_id,
            reason=self.reason,
            from_holder_id=self.from_holder_id,
            to_holder_id=self.to_holder_id,
            lot_id=self.lot_id,
            warrant_id=self.warrant_id,
            quantity_kg=self.quantity_kg,
            material_quality=self.material_quality,
            level=self.level,
            coc_document=self.coc_document,
            occurred_on=self.occurred_on,
        )


@dataclass(frozen=True)
class Pending:
    """Index entry: the brand has an open request for this lot."""


PENDING = Pending()


@dataclass(frozen=True)
class PendingWatch:
    """When the brand's oldest open request was taken in, or None when it has none: a message
    of the brand looks its open requests over for expiry only once the oldest may be overdue,
    not on every message. It may be older than the oldest still open (a request decided since
    leaves it), which costs one look that brings it up to date."""

    oldest_received_at: datetime | None


CANONICAL_DIGEST = "json:"
"""A handled entry's digest of the body's canonical JSON starts so (``gateway check``, and
version 0 of the state); one of the record's bytes starts ``bytes:``."""


# ---- keys ---------------------------------------------------------------------------------


def _part(text: str) -> str:
    if "%" not in text and ":" not in text:
        return text
    return text.replace("%", "%25").replace(":", "%3A")


def unescape_part(text: str) -> str:
    if "%" not in text:
        return text
    return text.replace("%3A", ":").replace("%25", "%")


def entity_key(kind: str, *parts: str) -> str:
    return kind + ":" + ":".join([_part(part) for part in parts])


def key_prefix(kind: str, *parts: str) -> str:
    """The prefix every key of ``kind`` under ``parts`` starts with."""
    return entity_key(kind, *parts) + ":"


def cast_key(brand: str, reference: str) -> str:
    return entity_key("cast", brand, normalised_cast_reference(reference), reference)


def received_hour(moment: datetime) -> str:
    """The hour (UTC) an open request taken in at ``moment`` is indexed under."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def received_key(request: OpenRequest) -> str:
    """``received:<hour>:<brand>:<lot>``: the open requests taken in during an hour are one
    prefix, so that a tick lists only the hours it has passed, never every brand."""
    assert request.received_at is not None
    return entity_key("received", received_hour(request.received_at), request.brand, request.lot_id)


CLOCK_HORIZON = entity_key("clock", "horizon")


def key_kind(key: str) -> str:
    return key.partition(":")[0]


# ---- reading ------------------------------------------------------------------------------


class EntityReader(Protocol):
    """Committed entities by key, decoded."""

    def get(self, key: str) -> Any | None: ...

    def keys_with_prefix(self, prefix: str) -> Iterable[str]:
        """Every key starting with ``prefix``, sorted."""
        ...

    def children(self, parent: str) -> Iterable[str]:
        """The keys one part below ``parent`` (a prefix ending in ``:``), sorted."""
        ...


class DictReader:
    """Entities held in a plain dict (``gateway check``, unit tests). Not changed once a state
    reads it."""

    def __init__(self, entities: Mapping[str, Any] | None = None) -> None:
        self.entities = dict(entities or {})

    def get(self, key: str) -> Any | None:
        return self.entities.get(key)

    def keys_with_prefix(self, prefix: str) -> Iterable[str]:
        return sorted(key for key in self.entities if key.startswith(prefix))

    def children(self, parent: str) -> Iterable[str]:
        return [key for key in self.keys_with_prefix(parent) if ":" not in key[len(parent) :]]


_NOTHING: Map[str, Any] = Map()
_NO_PARENTS: Map[str, Map[str, None]] = Map()
LISTED_KINDS = frozenset({"cast", "pending", "received"})
"""The kinds whose keys the steps list by prefix (a brand's casts, a normal form's casts, a
brand's open requests, the open requests taken in during an hour)."""
_NO_KEYS: Map[str, None] = Map()
_EMPTY = DictReader()


@dataclass(frozen=True)
class RegistryState:
    reader: EntityReader = _EMPTY
    changes: Map[str, Any] = _NOTHING
    """Key -> new value (None: the entity is gone) of everything changed on top of
    ``reader``."""
    changed_under: Map[str, Map[str, None]] = _NO_PARENTS
    """The changed keys of the ``LISTED_KINDS`` by each of their ancestors below the kind
    (``cast:B:`` and ``cast:B:n:`` for ``cast:B:n:r``), so that listing what is under such a
    prefix does not scan every change."""

    # -- generic --

    def get(self, key: str) -> Any | None:
        if key in self.changes:
            return self.changes[key]
        return self.reader.get(key)

    def keys_with_prefix(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``, sorted. A prefix of whole parts below the kind
        (``cast:B:``) reads only the changes under it; any other looks through them all."""
        changed: Iterable[str]
        if prefix.endswith(":") and prefix.count(":") >= 2 and key_kind(prefix) in LISTED_KINDS:
            under = self.changed_under.get(prefix)
            changed = () if under is None else under.keys()
        else:
            changed = [key for key in self.changes if key.startswith(prefix)]
        return self._merged(self.reader.keys_with_prefix(prefix), changed)

    def children(self, parent: str) -> list[str]:
        """The keys one part below ``parent`` (a prefix ending in ``:``), sorted."""
        under = self.changed_under.get(parent)
        changed = () if under is None else (k for k in under if ":" not in k[len(parent) :])
        return self._merged(self.reader.children(parent), changed)

    def _merged(self, stored: Iterable[str], changed: Iterable[str]) -> list[str]:
        keys = set(stored)
        for key in changed:
            if self.changes[key] is None:
                keys.discard(key)
            else:
                keys.add(key)
        return sorted(keys)

    def put(self, key: str, value: Any | None) -> RegistryState:
        """The state with ``key`` set to ``value`` (None removes it); the same state when it
        already holds that value."""
        if self.get(key) == value:
            return self
        changed_under = self.changed_under
        if key not in self.changes and key[: key.index(":")] in LISTED_KINDS:
            index = changed_under.mutate()
            end = key.index(":")
            while (end := key.find(":", end + 1)) != -1:
                ancestor = key[: end + 1]
                index[ancestor] = (index.get(ancestor) or _NO_KEYS).set(key, None)
            changed_under = index.finish()
        return RegistryState(self.reader, self.changes.set(key, value), changed_under)

    def changed_since(self, before: RegistryState) -> dict[str, Any | None]:
        """Key -> new value (None: gone) of what changed from ``before`` to this state, one
        of its successors on the same reader."""
        earlier = before.changes
        return {
            key: value
            for key, value in self.changes.items()
            if key not in earlier or earlier[key] is not value
        }

    def rebased(self, reader: EntityReader) -> RegistryState:
        """The same entities, all read from ``reader`` (which now holds the changes)."""
        return RegistryState(reader)

    # -- brands, casts, forms --

    def brand(self, name: str) -> BrandEntities:
        return BrandEntities(self, name)

    def with_brand_record(self, record: BrandRecord) -> RegistryState:
        return self.put(entity_key("brand", record.brand), record)

    def with_cast(self, brand: str, reference: str, entry: CastEntry) -> RegistryState:
        return self.put(cast_key(brand, reference), entry)

    def with_form(self, brand: str, form: AcceptedForm) -> RegistryState:
        return self.put(entity_key("form", brand, str(form.reporting_year)), form)

    def certified_casts(self, brand: str) -> Iterator[CertifiedCast]:
        """Every certified cast of the brand (read when a form attaches to all of them)."""
        for key in self.keys_with_prefix(key_prefix("cast", brand)):
            entry: CastEntry | None = self.get(key)
            if entry is not None:
                yield from entry.certificates

    # -- handled message ids --

    def handled_digest(self, brand: str, message_id: str) -> str | None:
        digest: str | None = self.get(entity_key("handled", brand, message_id))
        return digest

    def with_handled(self, brand: str, message_id: str, digest: str) -> RegistryState:
        return self.put(entity_key("handled", brand, message_id), digest)

    # -- lots, requests, warrants --

    def lot(self, lot_id: str) -> ArrivedLot | None:
        lot: ArrivedLot | None = self.get(entity_key("lot", lot_id))
        return lot

    def with_lot(self, lot: ArrivedLot) -> RegistryState:
        return self.put(entity_key("lot", lot.lot_id), lot)

    def open_request(self, lot_id: str) -> OpenRequest | None:
        request: OpenRequest | None = self.get(entity_key("request", lot_id))
        return request

    def open_requests_of(self, brand: str) -> list[OpenRequest]:
        prefix = key_prefix("pending", brand)
        found = []
        for key in self.children(prefix):
            request = self.open_request(unescape_part(key[len(prefix) :]))
            if request is not None:
                found.append(request)
        return found

    def with_open_request(self, request: OpenRequest) -> RegistryState:
        earlier = self.open_request(request.lot_id)
        state = self.put(entity_key("request", request.lot_id), request)
        state = state.put(entity_key("pending", request.brand, request.lot_id), PENDING)
        if earlier != request:
            state = state._unindexed(earlier)._indexed(request)
        watch = state.pending_watch(request.brand)
        received = request.received_at
        if watch is None or received is None:
            return state
        oldest = watch.oldest_received_at
        if oldest is not None and oldest <= received:
            return state
        return state.with_pending_watch(request.brand, PendingWatch(received))

    def pending_watch(self, brand: str) -> PendingWatch | None:
        """None while the brand's open requests were never looked over (a state kept before
        the watch existed, or a brand that never had a request)."""
        watch: PendingWatch | None = self.get(entity_key("watch", brand))
        return watch

    def with_pending_watch(self, brand: str, watch: PendingWatch) -> RegistryState:
        return self.put(entity_key("watch", brand), watch)

    def without_open_request(self, lot_id: str) -> RegistryState:
        request = self.open_request(lot_id)
        if request is None:
            return self
        state = self.put(entity_key("request", lot_id), None)
        state = state.put(entity_key("pending", request.brand, lot_id), None)
        return state._unindexed(request)

    # -- when open requests were taken in (the clock's due index) --

    def _indexed(self, request: OpenRequest) -> RegistryState:
        """The request in the index of open requests by when they were taken in."""
        if request.received_at is None:
            return self
        return self.put(received_key(request), request.received_at)

    def _unindexed(self, request: OpenRequest | None) -> RegistryState:
        if request is None or request.received_at is None:
            return self
        return self.put(received_key(request), None)

    def with_request_indexed(self, request: OpenRequest) -> RegistryState:
        """An open request kept before the index existed, put in it."""
        return self._indexed(request)

    def received_in_hour(self, hour: str) -> Iterator[tuple[str, datetime]]:
        """(lot id, when taken in) of the open requests taken in during ``hour``
        (``received_hour``)."""
        for key in self.keys_with_prefix(key_prefix("received", hour)):
            received: datetime | None = self.get(key)
            if received is not None:
                yield unescape_part(key.rpartition(":")[2]), received

    def all_open_requests(self) -> Iterator[OpenRequest]:
        """Every open request of the state (the partition), read through the brands' index."""
        for key in self.keys_with_prefix("pending:"):
            request = self.open_request(unescape_part(key.rpartition(":")[2]))
            if request is not None:
                yield request

    def clock_horizon(self) -> datetime | None:
        """Every request taken in before this time was decided by a tick; None before the
        first tick."""
        horizon: datetime | None = self.get(CLOCK_HORIZON)
        return horizon

    def with_clock_horizon(self, horizon: datetime) -> RegistryState:
        return self.put(CLOCK_HORIZON, horizon)

    def lot_warrant(self, lot_id: str) -> LotWarrant | None:
        warrant: LotWarrant | None = self.get(entity_key("warrant", lot_id))
        return warrant

    def warrant_decision(self, lot_id: str) -> WarrantDecision | None:
        warrant = self.lot_warrant(lot_id)
        return None if warrant is None else warrant.decision

    def with_warrant_decision(
        self, decision: WarrantDecision, holder_id: str | None = None
    ) -> RegistryState:
        """The lot's latest decision; an issued one is the lot's next warrant, issued to
        ``holder_id``."""
        earlier = self.lot_warrant(decision.lot_id)
        issued = 0 if earlier is None else earlier.issued
        holder = None
        if decision.outcome is WarrantOutcome.ISSUED:
            issued, holder = issued + 1, holder_id
        warrant = LotWarrant(decision, issued, holder)
        return self.put(entity_key("warrant", decision.lot_id), warrant)

    def cancellation(self, lot_id: str) -> Cancellation | None:
        cancellation: Cancellation | None = self.get(entity_key("cancellation", lot_id))
        return cancellation

    def with_cancellation(self, cancellation: Cancellation) -> RegistryState:
        return self.put(entity_key("cancellation", cancellation.lot_id), cancellation)

    # -- custody moves --

    def custody_move(self, posting_id: str) -> CustodyMove | None:
        move: CustodyMove | None = self.get(entity_key("move", posting_id))
        return move

    def with_move(self, move: CustodyMove) -> RegistryState:
        return self.put(entity_key("move", move.posting_id), move)


@dataclass(frozen=True)
class BrandEntities:
    """One brand's entities, as the rulebook's ``BrandView``."""

    state: RegistryState
    brand: str

    @property
    def record(self) -> BrandRecord | None:
        record: BrandRecord | None = self.state.get(entity_key("brand", self.brand))
        return record

    def cast(self, cast_reference: str) -> CastEntry:
        entry: CastEntry | None = self.state.get(cast_key(self.brand, cast_reference))
        return entry or CastEntry()

    def recorded_cast(self, cast_reference: str) -> RecordedCast | None:
        return self.cast(cast_reference).recorded

    def certificates_of(self, cast_reference: str) -> tuple[CertifiedCast, ...]:
        return self.cast(cast_reference).certificates

    def rejected_certificate_of(self, cast_reference: str) -> RejectedCertificate | None:
        return self.cast(cast_reference).rejected

    def form(self, reporting_year: int) -> AcceptedForm | None:
        form: AcceptedForm | None = self.state.get(
            entity_key("form", self.brand, str(reporting_year))
        )
        return form

    def casts_read_as(self, normal_form: str) -> tuple[str, ...]:
        prefix = key_prefix("cast", self.brand, normal_form)
        return tuple(unescape_part(key[len(prefix) :]) for key in self.state.children(prefix))


@dataclass(frozen=True)
class Step:
    state: RegistryState
    outputs: tuple[Contract, ...]


@dataclass(frozen=True)
class Context:
    rulebook: Rulebook
    now: datetime
