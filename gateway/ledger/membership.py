"""Certificates, sites, and sites joining and leaving certificates (CoC notes: sites move in
and out of group certificates, e.g. when facilities are bought or sold)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from gateway.ledger.commands import (
    JoinCertificate,
    LeaveCertificate,
    RegisterCertificate,
    RegisterSite,
)
from gateway.ledger.model import (
    AccountingScope,
    AccountKey,
    BalanceRule,
    Certificate,
    Level,
    Membership,
    Site,
    is_site_quality,
)
from gateway.ledger.plan import Delta, Plan, SiteRecord
from gateway.ledger.rules import (
    ALREADY_MEMBER,
    CARRIED_BALANCE_NOT_ACCOUNTED,
    CERTIFICATE_EXISTS,
    MEMBERSHIP_ORDER,
    NOT_A_MEMBER,
    SEPARATE_QUALITY_NEEDS_GROUP_LEVEL,
    SITE_EXISTS,
    TRANSFER_IN_TRANSIT,
    UNKNOWN_CERTIFICATE,
    UNKNOWN_SITE,
    refused,
)
from gateway.ledger.state import LedgerState
from gateway.violations import shown


def register_certificate(state: LedgerState, command: RegisterCertificate) -> Plan:
    if command.certificate_id in state.certificates:
        raise refused(
            CERTIFICATE_EXISTS,
            "certificate_id",
            f"certificate {command.certificate_id} is already registered",
            observed=command.certificate_id,
        )
    if command.separate_site_quality and command.scope is AccountingScope.SITE_LEVEL:
        raise refused(
            SEPARATE_QUALITY_NEEDS_GROUP_LEVEL,
            "separate_site_quality",
            "a separate site-level quality is scenario 3, which sits under group-level "
            "certification: the group keeps G accounts and its nominated sites a quality of "
            "their own; under site-level certification each site is its own entity",
            observed=command.scope.value,
            allowed=AccountingScope.GROUP_LEVEL.value,
        )
    certificate = Certificate(
        certificate_id=command.certificate_id,
        holder_group_id=command.holder_group_id,
        scope=command.scope,
        separate_site_quality=command.separate_site_quality,
    )
    return Plan(certificates=(certificate,))


def register_site(state: LedgerState, command: RegisterSite) -> Plan:
    if command.site_id in state.sites:
        raise refused(
            SITE_EXISTS,
            "site_id",
            f"site id {command.site_id} is already registered",
            observed=command.site_id,
        )
    site = Site(command.site_id, operator_party_id=command.operator_party_id)
    return Plan(site_records=(SiteRecord(site, ()),))


def join_certificate(state: LedgerState, command: JoinCertificate) -> Plan:
    site = _known_site(state, command.site_id)
    certificate = _known_certificate(state, command.certificate_id)
    latest = state.latest_membership(site.site_id)
    if latest is not None and latest.left_on is None:
        raise refused(
            ALREADY_MEMBER,
            "site_id",
            f"site {site.site_id} is under certificate {latest.certificate_id}; it must "
            "leave it before joining another",
            observed=latest.certificate_id,
        )
    if latest is not None and command.effective_on < latest.last_change:
        raise refused(
            MEMBERSHIP_ORDER,
            "effective_on",
            f"site {site.site_id} left certificate {latest.certificate_id} effective "
            f"{latest.last_change}; it can join another from that day on",
            observed=str(command.effective_on),
            allowed=f"on or after {latest.last_change}",
        )
    carried = sorted(state.site_balances(site.site_id).items(), key=_by_text)
    _check_carried_balances(site.site_id, certificate, command.nominated, carried)
    membership = Membership(
        certificate.certificate_id, command.effective_on, nominated=command.nominated
    )
    joined = replace(site, certificate_id=certificate.certificate_id)
    return Plan(
        _carried_into(certificate, carried),
        certificate_ids=(certificate.certificate_id,),
        site_records=(_with_membership(state, joined, membership, ends_latest=False),),
    )


def leave_certificate(state: LedgerState, command: LeaveCertificate) -> Plan:
    site = _known_site(state, command.site_id)
    certificate = _known_certificate(state, command.certificate_id)
    latest = state.latest_membership(site.site_id)
    if (
        latest is None
        or latest.left_on is not None
        or (latest.certificate_id != certificate.certificate_id)
    ):
        raise refused(
            NOT_A_MEMBER,
            "certificate_id",
            f"site {site.site_id} is not under certificate {certificate.certificate_id}",
            observed=certificate.certificate_id,
            allowed=site.certificate_id,
        )
    if command.effective_on < latest.joined_on:
        raise refused(
            MEMBERSHIP_ORDER,
            "effective_on",
            f"site {site.site_id} joined certificate {certificate.certificate_id} on "
            f"{latest.joined_on}; it cannot leave before",
            observed=str(command.effective_on),
            allowed=f"on or after {latest.joined_on}",
        )
    last_posted = state.last_posted_on.get(site.site_id)
    if last_posted is not None and command.effective_on <= last_posted:
        raise refused(
            MEMBERSHIP_ORDER,
            "effective_on",
            f"site {site.site_id} has postings dated up to {last_posted}; it can leave only "
            "after them",
            observed=str(command.effective_on),
            allowed=f"after {last_posted}",
        )
    in_transit = sorted(
        transit.transport_document
        for transit in state.transits.values()
        if transit.level is Level.SITE and site.site_id in (transit.from_site, transit.to_site)
    )
    if in_transit:
        raise refused(
            TRANSFER_IN_TRANSIT,
            "site_id",
            f"site {site.site_id} has S-level transfers in transit ({', '.join(in_transit)}): "
            "it can leave once they are received, so that their credits belong to a site",
            observed=", ".join(in_transit),
            allowed="no transfer in transit from or to the site",
        )
    deltas: tuple[Delta, ...] = ()
    keeps_site_accounts = Level.SITE in certificate.levels(nominated=latest.nominated)
    if command.balance_rule is BalanceRule.CLOSE and keeps_site_accounts:
        deltas = tuple(
            Delta(account, -kg)
            for account, kg in sorted(state.site_balances(site.site_id).items(), key=_by_text)
            if account.certificate_id == certificate.certificate_id
        )
    left = replace(latest, left_on=command.effective_on)
    record = _with_membership(state, replace(site, certificate_id=None), left, ends_latest=True)
    return Plan(deltas, certificate_ids=(certificate.certificate_id,), site_records=(record,))


def _carried_into(
    certificate: Certificate, carried: list[tuple[AccountKey, Decimal]]
) -> tuple[Delta, ...]:
    """The S balances a site took with it, moved from the accounts of the certificate it left
    into the same accounts under the certificate it joins: from now on they are its."""
    deltas: list[Delta] = []
    for account, kg in carried:
        if account.certificate_id == certificate.certificate_id:
            continue  # back under the certificate it left: the accounts are its already
        deltas.append(Delta(account, -kg))
        deltas.append(Delta(replace(account, certificate_id=certificate.certificate_id), kg))
    return tuple(deltas)


def _check_carried_balances(
    site_id: str,
    certificate: Certificate,
    nominated: bool,
    carried: list[tuple[AccountKey, Decimal]],
) -> None:
    stranded = [
        (account, kg) for account, kg in carried if not _keeps(certificate, nominated, account)
    ]
    if stranded:
        listed = ", ".join(f"{shown(kg)} kg on {account.text}" for account, kg in stranded)
        raise refused(
            CARRIED_BALANCE_NOT_ACCOUNTED,
            "certificate_id",
            f"site {site_id} carries {listed}, which certificate {certificate.certificate_id} "
            f"({certificate.scope.value}{', nominated' if nominated else ''}) does not "
            "account; join it nominated, or use or close it under a site-level certificate "
            "first",
            observed=certificate.certificate_id,
        )


def _keeps(certificate: Certificate, nominated: bool, account: AccountKey) -> bool:
    if Level.SITE not in certificate.levels(nominated=nominated):
        return False
    return is_site_quality(account.material_quality) or not certificate.separate_site_quality


def _known_site(state: LedgerState, site_id: str) -> Site:
    site = state.sites.get(site_id)
    if site is None:
        raise refused(
            UNKNOWN_SITE,
            "site_id",
            f"site {site_id} is not registered",
            observed=site_id,
        )
    return site


def _known_certificate(state: LedgerState, certificate_id: str) -> Certificate:
    certificate = state.certificates.get(certificate_id)
    if certificate is None:
        raise refused(
            UNKNOWN_CERTIFICATE,
            "certificate_id",
            f"certificate {certificate_id} is not registered",
            observed=certificate_id,
        )
    return certificate


def _with_membership(
    state: LedgerState, site: Site, membership: Membership, *, ends_latest: bool
) -> SiteRecord:
    history = state.memberships.get(site.site_id, ()) or ()
    if ends_latest:
        history = history[:-1]
    return SiteRecord(site, (*history, membership))


def _by_text(item: tuple[AccountKey, object]) -> str:
    return item[0].text
