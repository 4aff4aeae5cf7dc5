"""The ledger's own records on Kafka, versioned: facts (the journal, and what one partition
tells another) and snapshot items. Not wire contracts: nobody but the ledger reads them.

A fact is one JSON array-free object with short keys (``v`` its version). Version 3 names the
certificate of each delta's account; version 2 named the balance each delta left; version 1
(the first fact journal) did not. ``decode_fact`` upcasts older facts (``upcast_v1_v2``: no
balance after is known; ``upcast_v2_v3``: a legacy fact, whose accounts' certificates are
taken from the directory when it is applied, ``facts.resolved``), so a journal written by a
previous version restores. A snapshot is a list of items, one per entry of the state's maps,
cut into chunks; ``decode_snapshot`` rebuilds the state from them (version 1 items name no
certificate: resolved the same way once the directory is read).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from gateway.ledger.facts import (
    UNRESOLVED,
    Fact,
    FactKind,
    StateDirectory,
    legacy_account,
    with_closed,
)
from gateway.ledger.model import (
    AccountingScope,
    AccountKey,
    Certificate,
    Level,
    Membership,
    Period,
    Site,
    Transit,
)
from gateway.ledger.persistent import PMap
from gateway.ledger.plan import Delta, SiteRecord
from gateway.ledger.state import Closes, DecidedPosting, DocumentClaim, Flow, LedgerState
from gateway.violations import Violation

FACT_VERSION = 3
SNAPSHOT_VERSION = 2
_READABLE_SNAPSHOTS = (1, 2)


_LEVELS = {level.value: level for level in Level}


class UnknownVersion(ValueError):
    """A record written by a later version than this one reads."""


# ---- facts ---------------------------------------------------------------------------------


def encode_fact(fact: Fact) -> bytes:
    body: dict[str, Any] = {
        "v": FACT_VERSION,
        "id": fact.posting_id,
        "t": fact.command_type,
        "d": fact.digest,
        "on": fact.occurred_on.isoformat(),
        "k": fact.kind.value,
    }
    if fact.deltas:
        afters = fact.balances_after or (None,) * len(fact.deltas)
        body["deltas"] = [
            [*_account(delta.account), str(delta.kg), None if after is None else str(after)]
            for delta, after in zip(fact.deltas, afters, strict=True)
        ]
    if fact.posting_sites:
        body["sites"] = list(fact.posting_sites)
    if fact.certificates:
        body["certs"] = [_certificate(certificate) for certificate in fact.certificates]
    if fact.site_records:
        body["recs"] = [_site_record(record) for record in fact.site_records]
    if fact.closed is not None:
        body["close"] = _period(fact.closed)
        body["close_for"] = list(fact.closed_for)
    if fact.reasons:
        body["why"] = [_violation(reason) for reason in fact.reasons]
    if fact.documents:
        body["docs"] = list(fact.documents)
    if fact.transit_opened is not None:
        body["topen"] = _transit(fact.transit_opened)
    if fact.transit_closed is not None:
        body["tclose"] = fact.transit_closed
    if fact.legacy:
        body["legacy"] = True
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def upcast_v1_v2(body: dict[str, Any]) -> dict[str, Any]:
    """Version 1 deltas were ``[holder, quality, level, kg]``: no balance after is known."""
    deltas = [[*delta, None] for delta in body.get("deltas", ())]
    return {**body, "v": 2, **({"deltas": deltas} if deltas else {})}


def upcast_v2_v3(body: dict[str, Any]) -> dict[str, Any]:
    """Version 2 deltas were ``[holder, quality, level, kg, after]``: their certificate is
    not known until the fact is applied (``facts.resolved``)."""
    deltas = [[*delta[:3], None, *delta[3:]] for delta in body.get("deltas", ())]
    return {**body, "v": 3, "legacy": True, **({"deltas": deltas} if deltas else {})}


_UPCASTERS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: upcast_v1_v2,
    2: upcast_v2_v3,
}


class FactDecoder:
    """Decodes facts, sharing one ``AccountKey`` per account across them (a restore of a
    million facts builds each account's key once)."""

    def __init__(self) -> None:
        self._accounts: dict[tuple[str, str, str, str], AccountKey] = {}

    def account(self, holder: str, quality: str, level: str, certificate: str | None) -> AccountKey:
        key = (holder, quality, level, certificate or UNRESOLVED)
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = AccountKey(holder, quality, _LEVELS[level], key[3])
        return account

    def __call__(self, raw: bytes) -> Fact:
        body: dict[str, Any] = json.loads(raw.decode())  # str: no encoding detection
        version = body.get("v")
        while version != FACT_VERSION:
            upcaster = _UPCASTERS.get(version) if isinstance(version, int) else None
            if upcaster is None:
                raise UnknownVersion(f"a ledger fact of version {version!r}")
            body = upcaster(body)
            version = body["v"]
        raw_deltas = body.get("deltas", ())
        return Fact(
            posting_id=body["id"],
            command_type=body["t"],
            digest=body["d"],
            occurred_on=date.fromisoformat(body["on"]),
            kind=FactKind(body["k"]),
            deltas=tuple(
                Delta(self.account(holder, quality, level, certificate), Decimal(kg))
                for holder, quality, level, certificate, kg, _after in raw_deltas
            ),
            balances_after=tuple(
                None if after is None else Decimal(after) for *_rest, after in raw_deltas
            ),
            posting_sites=tuple(body.get("sites", ())),
            certificates=tuple(_read_certificate(item) for item in body.get("certs", ())),
            site_records=tuple(_read_site_record(item) for item in body.get("recs", ())),
            closed=_read_period(body["close"]) if "close" in body else None,
            closed_for=tuple(body.get("close_for", ())),
            reasons=tuple(Violation(*item) for item in body.get("why", ())),
            documents=tuple(body.get("docs", ())),
            transit_opened=_read_transit(body["topen"]) if "topen" in body else None,
            transit_closed=body.get("tclose"),
            legacy=bool(body.get("legacy")),
        )


def decode_fact(raw: bytes) -> Fact:
    return FactDecoder()(raw)


# ---- snapshots -----------------------------------------------------------------------------


def snapshot_items(state: LedgerState) -> Iterator[list[Any]]:
    """The whole state as items."""
    yield from state_items(state)
    yield from id_items(state, state.applied.keys() | state.rejections.keys())


def state_items(state: LedgerState) -> Iterator[list[Any]]:
    """The state but its decided posting ids, as items: bounded by the accounts and the
    directory, not by the history."""
    for certificate in state.certificates.values():
        yield ["c", *_certificate(certificate)]
    for site_id, site in state.sites.items():
        yield ["s", *_site_record(SiteRecord(site, state.memberships.get(site_id, ()) or ()))]
    for account, kg in state.balances.items():
        yield ["b", *_account(account), str(kg)]
    for site_id, day in state.last_posted_on.items():
        yield ["l", site_id, day.isoformat()]
    for month, flows in state.flows.items():
        for account, flow in flows.items():
            yield ["f", month.isoformat(), *_account(account), str(flow.in_kg), str(flow.out_kg)]
    for transit in state.transits.values():
        yield ["t", *_transit(transit)]
    for certificate_id, closes in state.closes.items():
        for period in closes.periods:
            yield ["p", *_period(period), certificate_id]
    for document, claim in state.document_claims.items():
        yield ["d", document, claim.posting_id, claim.digest]


def id_items(state: LedgerState, ids: Iterable[str]) -> Iterator[list[Any]]:
    """The decided posting ids ``ids`` as items."""
    for posting_id in ids:
        accepted = state.applied.get(posting_id)
        if accepted is not None:
            item = ["a", posting_id, accepted.command_type, accepted.digest]
            yield [*item, list(accepted.documents)] if accepted.documents else item
        rejected = state.rejections.get(posting_id)
        if rejected is not None:
            reasons = [_violation(reason) for reason in rejected.reasons]
            yield ["r", posting_id, rejected.command_type, rejected.digest, reasons]


def encode_chunks(items: Iterable[list[Any]], max_bytes: int) -> list[bytes]:
    """Items in JSON chunks of at most about ``max_bytes`` each."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for item in items:
        encoded = json.dumps(item, separators=(",", ":")).encode("utf-8")
        if current and size + len(encoded) > max_bytes:
            chunks.append(_chunk(current))
            current, size = [], 0
        current.append(encoded)
        size += len(encoded) + 1
    if current:
        chunks.append(_chunk(current))
    return chunks


def _chunk(items: list[bytes]) -> bytes:
    return b'{"v":%d,"items":[' % SNAPSHOT_VERSION + b",".join(items) + b"]}"


def decode_snapshot(chunks: Sequence[bytes]) -> LedgerState:
    """The state the chunks' items make up."""
    decoder = FactDecoder()
    account = decoder.account
    certificates: list[tuple[str, Certificate]] = []
    sites: list[tuple[str, Site]] = []
    memberships: list[tuple[str, tuple[Membership, ...]]] = []
    balances: list[tuple[AccountKey, Decimal]] = []
    last: list[tuple[str, date]] = []
    flows: dict[date, list[tuple[AccountKey, Flow]]] = {}
    transits: list[tuple[str, Transit]] = []
    periods: list[tuple[Period, str | None]] = []
    """Each closed period with its certificate (None in version 1: the whole ledger)."""
    applied: list[tuple[str, DecidedPosting]] = []
    rejected: list[tuple[str, DecidedPosting]] = []
    claims: list[tuple[str, DocumentClaim]] = []
    for chunk in chunks:
        body = json.loads(chunk)
        if body.get("v") not in _READABLE_SNAPSHOTS:
            raise UnknownVersion(f"a ledger snapshot of version {body.get('v')!r}")
        for item in body["items"]:
            kind = item[0]
            if body["v"] == 1 and kind in ("b", "f"):
                item = _upcast_account_item(item)
            if kind == "a":
                documents = tuple(item[4]) if len(item) > 4 else ()
                applied.append((item[1], DecidedPosting(item[2], item[3], (), documents)))
            elif kind == "b":
                balances.append((account(*item[1:5]), Decimal(item[5])))
            elif kind == "f":
                flows.setdefault(date.fromisoformat(item[1]), []).append(
                    (account(*item[2:6]), Flow(Decimal(item[6]), Decimal(item[7])))
                )
            elif kind == "r":
                reasons = tuple(Violation(*reason) for reason in item[4])
                rejected.append((item[1], DecidedPosting(item[2], item[3], reasons)))
            elif kind == "c":
                certificate = _read_certificate(item[1:])
                certificates.append((certificate.certificate_id, certificate))
            elif kind == "s":
                record = _read_site_record(item[1:])
                sites.append((record.site.site_id, record.site))
                memberships.append((record.site.site_id, record.memberships))
            elif kind == "t":
                transit = _read_transit(item[1:])
                transits.append((transit.transport_document, transit))
            elif kind == "l":
                last.append((item[1], date.fromisoformat(item[2])))
            elif kind == "p":
                periods.append((_read_period(item[1:3]), item[3] if len(item) > 3 else None))
            elif kind == "d":
                claims.append((item[1], DocumentClaim(item[2], item[3])))
            else:
                raise UnknownVersion(f"a ledger snapshot item of kind {kind!r}")
    by_holder: dict[str, tuple[str, ...]] = {}
    for certificate_id, certificate in certificates:
        by_holder[certificate.holder_group_id] = (
            *by_holder.get(certificate.holder_group_id, ()),
            certificate_id,
        )
    state = LedgerState(
        certificates=PMap(certificates),
        certificates_by_holder=PMap(by_holder),
        sites=PMap(sites),
        memberships=PMap(memberships),
    )
    resolve = partial(legacy_account, directory=StateDirectory(state))
    balances = [(resolve(key), kg) for key, kg in balances]
    holder_accounts: dict[str, set[AccountKey]] = {}
    for key, _kg in balances:
        holder_accounts.setdefault(key.holder_id, set()).add(key)
    return replace(
        state,
        balances=PMap(balances),
        holder_accounts=PMap((holder, frozenset(keys)) for holder, keys in holder_accounts.items()),
        applied=PMap(applied),
        rejections=PMap(rejected),
        last_posted_on=PMap(last),
        flows=PMap(
            (month, PMap((resolve(key), flow) for key, flow in entries))
            for month, entries in flows.items()
        ),
        transits=PMap(transits),
        closes=_closes(periods, [certificate_id for certificate_id, _ in certificates]),
        certificate_accounts=_by_certificate(key for key, _kg in balances),
        booked_documents=PMap(
            (document, posting_id)
            for posting_id, decided in applied
            for document in decided.documents
        ),
        document_claims=PMap(claims),
    )


def _closes(
    periods: Iterable[tuple[Period, str | None]], every_certificate: list[str]
) -> PMap[str, Closes]:
    closes: dict[str, Closes] = {}
    for period, certificate_id in periods:
        for closing in every_certificate if certificate_id is None else [certificate_id]:
            closes[closing] = with_closed(closes.get(closing), period)
    return PMap(closes)


def _by_certificate(accounts: Iterable[AccountKey]) -> PMap[str, PMap[AccountKey, bool]]:
    by_certificate: dict[str, list[AccountKey]] = {}
    for account in accounts:
        by_certificate.setdefault(account.certificate_id, []).append(account)
    return PMap(
        (certificate_id, PMap((account, True) for account in held))
        for certificate_id, held in by_certificate.items()
    )


def _upcast_account_item(item: list[Any]) -> list[Any]:
    """A version 1 balance or flow item names no certificate: resolved once the directory is
    read (``facts.legacy_account``)."""
    at = 4 if item[0] == "b" else 5
    return [*item[:at], None, *item[at:]]


# ---- the values inside ---------------------------------------------------------------------


def _account(account: AccountKey) -> list[str | None]:
    return [
        account.holder_id,
        account.material_quality,
        account.level.value,
        account.certificate_id or None,
    ]


def _certificate(certificate: Certificate) -> list[Any]:
    return [
        certificate.certificate_id,
        certificate.holder_group_id,
        certificate.scope.value,
        certificate.separate_site_quality,
    ]


def _read_certificate(item: Sequence[Any]) -> Certificate:
    certificate_id, holder, scope, separate = item
    return Certificate(certificate_id, holder, AccountingScope(scope), bool(separate))


def _site_record(record: SiteRecord) -> list[Any]:
    site = record.site
    return [
        site.site_id,
        site.certificate_id,
        site.operator_party_id,
        [
            [
                m.certificate_id,
                m.joined_on.isoformat(),
                m.left_on and m.left_on.isoformat(),
                *([True] if m.nominated else []),
            ]
            for m in record.memberships
        ],
    ]


def _read_site_record(item: Sequence[Any]) -> SiteRecord:
    site_id, certificate_id, operator, memberships = item
    return SiteRecord(
        Site(site_id, certificate_id, operator),
        tuple(
            Membership(
                certificate,
                date.fromisoformat(joined),
                date.fromisoformat(left) if left else None,
                nominated=bool(nominated and nominated[0]),
            )
            for certificate, joined, left, *nominated in memberships
        ),
    )


def _transit(transit: Transit) -> list[str]:
    return [
        transit.dispatch_posting_id,
        transit.transport_document,
        transit.certificate_id,
        transit.from_site,
        transit.to_site,
        transit.material_quality,
        str(transit.quantity_kg),
        transit.level.value,
        transit.dispatched_on.isoformat(),
    ]


def _read_transit(item: Sequence[Any]) -> Transit:
    posting_id, document, certificate_id, from_site, to_site, quality, kg, level, on = item
    return Transit(
        posting_id,
        document,
        certificate_id,
        from_site,
        to_site,
        quality,
        Decimal(kg),
        _LEVELS[level],
        date.fromisoformat(on),
    )


def _period(period: Period) -> list[str]:
    return [period.kind.value, period.start.isoformat()]


def _read_period(item: Sequence[Any]) -> Period:
    kind, start = item
    day = date.fromisoformat(start)
    return Period.month(day.year, day.month) if kind == "month" else Period.year(day.year)


def _violation(reason: Violation) -> list[str | None]:
    return [reason.code, reason.rule, reason.field, reason.observed, reason.allowed, reason.message]
