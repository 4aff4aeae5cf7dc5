"""Decided facts: what a decision changed, applied to a state without running any rule.

``post`` decides a command and turns the decision into a ``Fact``, then applies it with
``apply_fact``; restoring from the journal applies the same facts in the same order. So the
state a restore gives is the state the decisions gave, by construction, whatever the rules
of the restoring version say. A fact is also how one partition tells another what to apply:
the credit of a move decided at the source, a registration or membership change every
partition must know, a period close.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Protocol, TypeVar

from gateway.ledger.commands import ADDED_LATER
from gateway.ledger.model import (
    ZERO,
    AccountKey,
    BalanceUpdate,
    Certificate,
    Level,
    Membership,
    Period,
    Transit,
)
from gateway.ledger.persistent import PMap, PMapMutation
from gateway.ledger.plan import Delta, SiteRecord
from gateway.ledger.state import Closes, DecidedPosting, DocumentClaim, Flow, LedgerState
from gateway.violations import Violation

K = TypeVar("K", contravariant=True)
V = TypeVar("V", covariant=True)


class FactKind(StrEnum):
    ACCEPTED = "accepted"
    """A posting id accepted here, with its effects on this partition."""
    REJECTED = "rejected"
    """A posting id rejected here: only the id (and why) is remembered."""
    APPLIED = "applied"
    """Effects of a decision made on another partition (a credit, the directory, a close)."""
    CLAIMED = "claimed"
    """Documents whose home this partition is, claimed for a posting decided elsewhere."""
    RELEASED = "released"
    """Claimed documents given back: the posting they were claimed for was not accepted."""


@dataclass(frozen=True)
class Fact:
    posting_id: str
    command_type: str
    digest: str
    occurred_on: date
    kind: FactKind
    deltas: tuple[Delta, ...] = ()
    balances_after: tuple[Decimal | None, ...] = ()
    """The balance each delta left, as the decision saw it (None: not known when written)."""
    posting_sites: tuple[str, ...] = ()
    certificates: tuple[Certificate, ...] = ()
    site_records: tuple[SiteRecord, ...] = ()
    closed: Period | None = None
    closed_for: tuple[str, ...] = ()
    """The certificates ``closed`` is closed for."""
    reasons: tuple[Violation, ...] = ()
    documents: tuple[str, ...] = ()
    """The documents an accepted posting booked (``plan.document_key``)."""
    transit_opened: Transit | None = None
    """The transfer a dispatch put in transit."""
    transit_closed: str | None = None
    """The transport document of the transfer a receipt took out of transit."""
    legacy: bool = False
    """Written before accounts named their certificate (see ``resolved``): its accounts'
    certificates are taken from the directory when it is applied."""

    @property
    def closed_certificate(self) -> str | None:
        """The certificate a close closed when it is one (None: several, or none)."""
        return self.closed_for[0] if len(self.closed_for) == 1 else None

    def credit_elsewhere(self, credit: Delta) -> Fact:
        """What the partition holding ``credit``'s account applies of this decision."""
        holder = credit.account.holder_id
        return replace(
            self._applied(),
            deltas=(credit,),
            posting_sites=tuple(site for site in self.posting_sites if site == holder),
        )

    def directory_part(self) -> Fact:
        """What every other partition applies of this decision: registrations, membership
        changes, the period closed."""
        return replace(
            self._applied(),
            certificates=self.certificates,
            site_records=self.site_records,
            closed=self.closed,
            closed_for=self.closed_for,
            transit_opened=self.transit_opened,
            transit_closed=self.transit_closed,
        )

    def _applied(self) -> Fact:
        return Fact(
            posting_id=self.posting_id,
            command_type=self.command_type,
            digest=self.digest,
            occurred_on=self.occurred_on,
            kind=FactKind.APPLIED,
        )

    @property
    def changes_directory(self) -> bool:
        """It registers or changes what every partition must know (or closes a period, or puts
        a transfer in or out of transit)."""
        return bool(
            self.certificates
            or self.site_records
            or self.closed is not None
            or self.transit_opened is not None
            or self.transit_closed is not None
        )


class FactMismatch(ValueError):
    """A fact names a balance after its delta that the state it is applied to does not give."""


def apply_fact(
    state: LedgerState, fact: Fact, *, check: bool = False
) -> tuple[LedgerState, tuple[BalanceUpdate, ...]]:
    """The state with the fact's effects, and the balance updates they made. ``check``
    verifies each balance after against the one the fact names."""
    decided = DecidedPosting(fact.command_type, fact.digest, fact.reasons)
    if fact.kind is FactKind.REJECTED:
        return _replaced(state, rejections=state.rejections.set(fact.posting_id, decided)), ()
    if fact.kind is FactKind.CLAIMED or fact.kind is FactKind.RELEASED:
        return _replaced(state, document_claims=_claims_after(state.document_claims, fact)), ()
    if fact.legacy:
        fact = resolved(fact, StateDirectory(state))
    changes: dict[str, object] = {}
    if fact.kind is FactKind.ACCEPTED:
        decided = replace(decided, documents=fact.documents)
        changes["applied"] = state.applied.set(fact.posting_id, decided)
        if fact.documents:
            changes["booked_documents"] = state.booked_documents.updated(
                (document, fact.posting_id) for document in fact.documents
            )
    if fact.certificates:
        certificates, by_holder = state.certificates, state.certificates_by_holder
        for certificate in fact.certificates:
            certificates = certificates.set(certificate.certificate_id, certificate)
            held = by_holder.get(certificate.holder_group_id, ()) or ()
            if certificate.certificate_id not in held:
                held = (*held, certificate.certificate_id)
            by_holder = by_holder.set(certificate.holder_group_id, held)
        changes["certificates"], changes["certificates_by_holder"] = certificates, by_holder
    if fact.site_records:
        sites, memberships = state.sites, state.memberships
        for record in fact.site_records:
            sites = sites.set(record.site.site_id, record.site)
            memberships = memberships.set(record.site.site_id, record.memberships)
        changes["sites"], changes["memberships"] = sites, memberships
    entries: tuple[BalanceUpdate, ...] = ()
    if fact.deltas:
        entries = _book(state, fact, changes, check=check)
    if fact.posting_sites:
        last = state.last_posted_on
        for site_id in fact.posting_sites:
            previous = last.get(site_id)
            if previous is None or previous < fact.occurred_on:
                last = last.set(site_id, fact.occurred_on)
        changes["last_posted_on"] = last
    if fact.transit_opened is not None or fact.transit_closed is not None:
        changes["transits"] = _transits_after(state.transits, fact)
    if fact.closed is not None:
        closes = state.closes
        for certificate_id in fact.closed_for:
            closes = closes.set(
                certificate_id, with_closed(closes.get(certificate_id), fact.closed)
            )
        changes["closes"] = closes
    return _replaced(state, **changes), entries


def _claims_after(claims: PMap[str, DocumentClaim], fact: Fact) -> PMap[str, DocumentClaim]:
    claim = DocumentClaim(fact.posting_id, fact.digest)
    for document in fact.documents:
        if fact.kind is FactKind.CLAIMED:
            claims = claims.set(document, claim)
        elif claims.get(document) == claim:  # released only by the posting it was claimed for
            claims = claims.delete(document)
    return claims


def _transits_after(transits: PMap[str, Transit], fact: Fact) -> PMap[str, Transit]:
    if fact.transit_opened is not None:
        transits = transits.set(fact.transit_opened.transport_document, fact.transit_opened)
    if fact.transit_closed is not None:
        transits = transits.delete(fact.transit_closed)
    return transits


def with_closed(closes: Closes | None, period: Period) -> Closes:
    """A certificate's closes with ``period`` closed too."""
    return closes.with_period(period) if closes is not None else Closes((period,), period.end)


def _book(
    state: LedgerState, fact: Fact, changes: dict[str, object], *, check: bool
) -> tuple[BalanceUpdate, ...]:
    balances, holder_accounts = state.balances, state.holder_accounts
    by_certificate = state.certificate_accounts
    month = fact.occurred_on.replace(day=1)
    flows_of_month = state.flows.get(month)
    month_flows: PMap[AccountKey, Flow] = flows_of_month if flows_of_month is not None else PMap()
    entries: list[BalanceUpdate] = []
    afters = fact.balances_after or (None,) * len(fact.deltas)
    for delta, expected in zip(fact.deltas, afters, strict=True):
        account = delta.account
        previous = balances.get(account)
        if previous is None:
            held = holder_accounts.get(account.holder_id, frozenset()) or frozenset()
            holder_accounts = holder_accounts.set(account.holder_id, held | {account})
            of_certificate = by_certificate.get(account.certificate_id) or PMap()
            by_certificate = by_certificate.set(
                account.certificate_id, of_certificate.set(account, True)
            )
            previous = ZERO
        balance = previous + delta.kg
        if check and expected is not None and expected != balance:
            raise FactMismatch(
                f"{fact.posting_id}: {account.text} would be {balance} kg, the fact says {expected}"
            )
        balances = balances.set(account, balance)
        flow = month_flows.get(account) or Flow()
        if delta.kg > ZERO:
            flow = Flow(flow.in_kg + delta.kg, flow.out_kg)
        else:
            flow = Flow(flow.in_kg, flow.out_kg - delta.kg)
        month_flows = month_flows.set(account, flow)
        entries.append(BalanceUpdate(account, fact.posting_id, fact.occurred_on, delta.kg, balance))
    changes["balances"], changes["holder_accounts"] = balances, holder_accounts
    changes["certificate_accounts"] = by_certificate
    changes["flows"] = state.flows.set(month, month_flows)
    return tuple(entries)


def _replaced(state: LedgerState, **changes: object) -> LedgerState:
    """The state with some fields changed: a copy of its fields, not a run of ``__init__``
    (``dataclasses.replace`` cost a tenth of a posting)."""
    if not changes:
        return state
    changed: LedgerState = object.__new__(LedgerState)
    changed.__dict__.update(state.__dict__)
    changed.__dict__.update(changes)
    return changed


def apply_facts(facts: Iterable[Fact], state: LedgerState | None = None) -> LedgerState:
    """The state with every fact applied in order: what ``apply_fact`` one at a time gives,
    built in place on mutable views of the maps (a restore of a million facts makes one new
    state, not a million)."""
    builder = _Builder(state if state is not None else LedgerState())
    for fact in facts:
        builder.apply(fact)
    return builder.finish()


class _Builder:
    """The state's maps opened for change; ``finish`` closes them into a new state."""

    def __init__(self, state: LedgerState) -> None:
        self._state = state
        self.applied = state.applied.mutate()
        self.rejections = state.rejections.mutate()
        self.certificates = state.certificates.mutate()
        self.by_holder = state.certificates_by_holder.mutate()
        self.sites = state.sites.mutate()
        self.memberships = state.memberships.mutate()
        self.balances = state.balances.mutate()
        self.holder_accounts = state.holder_accounts.mutate()
        self.last = state.last_posted_on.mutate()
        self.documents = state.booked_documents.mutate()
        self.transits = state.transits
        self.document_claims = state.document_claims
        self.flows: dict[date, PMapMutation[AccountKey, Flow]] = {}
        self.closes = state.closes.mutate()
        self.of_certificate: dict[str, PMapMutation[AccountKey, bool]] = {}
        self._certificate_ids = list(state.certificates.keys())

    def apply(self, fact: Fact) -> None:
        if fact.kind is FactKind.REJECTED:
            self.rejections[fact.posting_id] = DecidedPosting(
                fact.command_type, fact.digest, fact.reasons
            )
            return
        if fact.kind is FactKind.CLAIMED or fact.kind is FactKind.RELEASED:
            self.document_claims = _claims_after(self.document_claims, fact)
            return
        if fact.legacy:
            fact = resolved(fact, self)
        if fact.kind is FactKind.ACCEPTED:
            self.applied[fact.posting_id] = DecidedPosting(
                fact.command_type, fact.digest, fact.reasons, fact.documents
            )
            for document in fact.documents:
                self.documents[document] = fact.posting_id
        for certificate in fact.certificates:
            if self.certificates.get(certificate.certificate_id) is None:
                self._certificate_ids.append(certificate.certificate_id)
            self.certificates[certificate.certificate_id] = certificate
            held = self.by_holder.get(certificate.holder_group_id) or ()
            if certificate.certificate_id not in held:
                self.by_holder[certificate.holder_group_id] = (*held, certificate.certificate_id)
        for record in fact.site_records:
            self.sites[record.site.site_id] = record.site
            self.memberships[record.site.site_id] = record.memberships
        if fact.deltas:
            month = fact.occurred_on.replace(day=1)
            flows = self.flows.get(month)
            if flows is None:
                flows = self.flows[month] = (self._state.flows.get(month) or PMap()).mutate()
            for delta in fact.deltas:
                account = delta.account
                previous = self.balances.get(account)
                if previous is None:
                    held_accounts: frozenset[AccountKey] = (
                        self.holder_accounts.get(account.holder_id) or frozenset()
                    )
                    self.holder_accounts[account.holder_id] = held_accounts | {account}
                    of_certificate = self.of_certificate.get(account.certificate_id)
                    if of_certificate is None:
                        of_account = self._state.certificate_accounts.get(account.certificate_id)
                        of_certificate = self.of_certificate[account.certificate_id] = (
                            of_account or PMap()
                        ).mutate()
                    of_certificate[account] = True
                    previous = ZERO
                self.balances[account] = previous + delta.kg
                flow = flows.get(account) or Flow()
                if delta.kg > ZERO:
                    flows[account] = Flow(flow.in_kg + delta.kg, flow.out_kg)
                else:
                    flows[account] = Flow(flow.in_kg, flow.out_kg - delta.kg)
        for site_id in fact.posting_sites:
            previous_day = self.last.get(site_id)
            if previous_day is None or previous_day < fact.occurred_on:
                self.last[site_id] = fact.occurred_on
        if fact.transit_opened is not None or fact.transit_closed is not None:
            self.transits = _transits_after(self.transits, fact)
        if fact.closed is not None:
            for certificate_id in fact.closed_for:
                self.closes[certificate_id] = with_closed(
                    self.closes.get(certificate_id), fact.closed
                )

    def certificate_ids(self) -> Iterable[str]:
        return self._certificate_ids

    def finish(self) -> LedgerState:
        flows = self._state.flows
        if self.flows:
            flows = flows.updated((month, m.finish()) for month, m in self.flows.items())
        return LedgerState(
            certificates=self.certificates.finish(),
            certificates_by_holder=self.by_holder.finish(),
            sites=self.sites.finish(),
            memberships=self.memberships.finish(),
            balances=self.balances.finish(),
            holder_accounts=self.holder_accounts.finish(),
            applied=self.applied.finish(),
            rejections=self.rejections.finish(),
            last_posted_on=self.last.finish(),
            flows=flows,
            closes=self.closes.finish(),
            certificate_accounts=self._state.certificate_accounts.updated(
                (certificate_id, m.finish()) for certificate_id, m in self.of_certificate.items()
            ),
            booked_documents=self.documents.finish(),
            transits=self.transits,
            document_claims=self.document_claims,
        )


UNRESOLVED = ""
"""The certificate of an account in a legacy fact, until ``resolved`` names it."""


class _Lookup(Protocol[K, V]):
    def get(self, key: K) -> V | None: ...


class Directory(Protocol):
    """What resolving a legacy fact reads: a state's maps, or a restore's maps being built."""

    @property
    def memberships(self) -> _Lookup[str, tuple[Membership, ...]]: ...
    @property
    def by_holder(self) -> _Lookup[str, tuple[str, ...]]: ...
    @property
    def certificates(self) -> _Lookup[str, Certificate]: ...
    @property
    def holder_accounts(self) -> _Lookup[str, frozenset[AccountKey]]: ...
    @property
    def balances(self) -> _Lookup[AccountKey, Decimal]: ...
    def certificate_ids(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class StateDirectory:
    state: LedgerState

    @property
    def memberships(self) -> _Lookup[str, tuple[Membership, ...]]:
        return self.state.memberships

    @property
    def by_holder(self) -> _Lookup[str, tuple[str, ...]]:
        return self.state.certificates_by_holder

    @property
    def certificates(self) -> _Lookup[str, Certificate]:
        return self.state.certificates

    @property
    def holder_accounts(self) -> _Lookup[str, frozenset[AccountKey]]:
        return self.state.holder_accounts

    @property
    def balances(self) -> _Lookup[AccountKey, Decimal]:
        return self.state.balances

    def certificate_ids(self) -> Iterable[str]:
        return self.state.certificates.keys()


def resolved(fact: Fact, directory: Directory) -> Fact:
    """A legacy fact as this version writes it. Before accounts named their certificate, a
    site had one S account whatever certificate it was under, and a group one G account per
    quality for all its certificates. So a legacy S account is the site's under the
    certificate of its latest membership as the fact is applied (facts apply in the order
    they were decided), a legacy G account the group's under the first certificate it
    registered that keeps G accounts; a legacy join moves the S balances the site carries
    into the accounts of the certificate it joins, as a join now does; and a legacy period
    close closed the period for the whole ledger: for every certificate registered."""
    deltas = tuple(
        Delta(legacy_account(delta.account, directory), delta.kg) for delta in fact.deltas
    )
    afters = fact.balances_after
    if fact.command_type == "JoinCertificate" and fact.site_records:
        record = fact.site_records[-1]
        carried = _carried(record.site.site_id, record.memberships[-1].certificate_id, directory)
        deltas = (*deltas, *carried)
        afters = (*(afters or (None,) * len(fact.deltas)), *(None for _ in carried))
    closed_for = fact.closed_for
    if fact.closed is not None and not closed_for:
        closed_for = tuple(directory.certificate_ids())
    return replace(fact, deltas=deltas, balances_after=afters, closed_for=closed_for, legacy=False)


def legacy_account(account: AccountKey, directory: Directory) -> AccountKey:
    """The account a legacy item names, under its certificate (see ``resolved``)."""
    if account.certificate_id != UNRESOLVED:
        return account
    if account.level is Level.SITE:
        history = directory.memberships.get(account.holder_id) or ()
        certificate_id = history[-1].certificate_id if history else UNRESOLVED
    else:
        held = directory.by_holder.get(account.holder_id) or ()
        keeping = [
            certificate_id
            for certificate_id in held
            if _keeps_group_accounts(directory.certificates.get(certificate_id))
        ]
        certificate_id = (keeping or [*held, UNRESOLVED])[0]
    return replace(account, certificate_id=certificate_id)


def _keeps_group_accounts(certificate: Certificate | None) -> bool:
    return certificate is not None and certificate.keeps_group_accounts


def _carried(site_id: str, certificate_id: str, directory: Directory) -> tuple[Delta, ...]:
    deltas: list[Delta] = []
    accounts = directory.holder_accounts.get(site_id) or frozenset()
    for account in sorted(accounts, key=lambda key: key.text):
        kg = directory.balances.get(account) or ZERO
        if account.level is Level.SITE and kg != ZERO and account.certificate_id != certificate_id:
            deltas.append(Delta(account, -kg))
            deltas.append(Delta(replace(account, certificate_id=certificate_id), kg))
    return tuple(deltas)


def command_digest(command: object) -> str:
    """A stable digest of a command's content (the same in every process and version that
    reads the command the same way): tells the same command again from another."""
    kind = type(command)
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(
            (f.name, f.default if f.metadata.get(ADDED_LATER) else _ALWAYS)
            for f in fields(command)  # type: ignore[arg-type]
        )
    parts = [kind.__name__]
    for name, left_out in names:
        value = getattr(command, name)
        if value is left_out:
            continue
        parts.append(value if type(value) is str else _canonical(value))
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()


_FIELDS: dict[type, tuple[tuple[str, object], ...]] = {}
_ALWAYS = object()
"""Stands for "digested whatever its value" (see ``commands.ADDED_LATER``)."""


def _canonical(value: object) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Period):
        return f"{value.kind.value}:{value.start}"
    return repr(value)
