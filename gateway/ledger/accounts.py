"""Which account a posting books to: the site's certificate on the posting's date (the
membership in force that day) decides the scope, the scope and the site's nomination decide
the level and the holder (CoC notes).

- group-level certificate: G postings into the group's account; a nominated site (scenario
  2) posts at S only, into its own account;
- scenario 3 (group level, separate site quality): G postings into the group's account, and
  at a nominated site S postings into its account of the separate site quality; a site
  quality never appears in a G account;
- site-level certificate (scenario 1): S postings only, into the site's own account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gateway.ledger.model import AccountKey, Certificate, Level, is_site_quality
from gateway.ledger.rules import (
    CERTIFICATE_AMBIGUOUS,
    CREDITS_ACROSS_SITES,
    LEVEL_OUTSIDE_SCOPE,
    MEMBERSHIP_ORDER,
    SITE_MATERIAL_TO_GROUP,
    SITE_NOT_CERTIFIED,
    SITE_NOT_NOMINATED,
    UNKNOWN_HOLDER,
    UNKNOWN_SITE,
    WRONG_HOLDER,
    refused,
)
from gateway.ledger.state import LedgerState


@dataclass(frozen=True)
class HolderAccount:
    account: AccountKey
    certificate_ids: frozenset[str]
    """The certificates the holder accounts under on the day."""


def certified_site(state: LedgerState, site_id: str, day: date, field: str) -> Certificate:
    """The certificate a known site belongs to on ``day``, by the membership in force on that
    day (a late posting dated before a later membership change is decided by the earlier
    membership; see ``_check_not_settled`` for what such a posting may no longer book)."""
    if site_id not in state.sites:
        raise refused(
            UNKNOWN_SITE,
            field,
            f"site {site_id} is not registered",
            observed=site_id,
        )
    certificate = state.certificate_on(site_id, day)
    if certificate is None:
        raise refused(
            SITE_NOT_CERTIFIED,
            field,
            f"site {site_id} belongs to no certificate on {day}",
            observed=str(day),
        )
    return certificate


def _check_not_settled(state: LedgerState, site_id: str, day: date) -> None:
    """An S posting dated in a membership that has ended since is refused: the site's S
    balances under that certificate were settled when it left (taken with the site, or
    written off), so booking into them now would change what was carried or closed. A G
    posting of that date is booked: the group's accounts stayed with the group."""
    membership = state.membership_on(site_id, day)
    if membership is None or membership.left_on is None:
        return
    raise refused(
        MEMBERSHIP_ORDER,
        "occurred_on",
        f"site {site_id} changed membership on {membership.left_on}: it left certificate "
        f"{membership.certificate_id}, and its S balances there were settled then (taken "
        f"along or closed), so an S posting dated {day} can no longer be booked",
        observed=str(day),
        allowed=f"on or after {membership.left_on}, or at G level",
    )


def site_account(
    state: LedgerState,
    *,
    site_id: str,
    material_quality: str,
    level: Level,
    day: date,
    holder_id: str | None = None,
    field: str = "site_id",
) -> AccountKey:
    """The account a posting at ``site_id`` books to; ``holder_id``, when the posting names
    one, must be the holder the scope gives."""
    certificate = certified_site(state, site_id, day, field)
    membership = state.membership_on(site_id, day)
    _check_level(certificate, site_id, membership is not None and membership.nominated, level)
    _check_one_way(material_quality, level)
    if level is Level.SITE:
        _check_not_settled(state, site_id, day)
    expected = certificate.holder_group_id if level is Level.GROUP else site_id
    if holder_id is not None and holder_id != expected:
        raise _wrong_holder(state, certificate, site_id, holder_id, expected, level)
    quality = certificate.accounts_quality(material_quality, level)
    return AccountKey(expected, quality, level, certificate.certificate_id)


def holder_account(
    state: LedgerState,
    holder_id: str,
    *,
    material_quality: str,
    level: Level,
    day: date,
    field: str,
) -> HolderAccount:
    """The account of a holder that is a site (as for a posting at that site) or a group
    holding certificates (its G account)."""
    if holder_id in state.sites:
        certificate = certified_site(state, holder_id, day, field)
        account = site_account(
            state,
            site_id=holder_id,
            material_quality=material_quality,
            level=level,
            day=day,
            field=field,
        )
        return HolderAccount(account, frozenset({certificate.certificate_id}))
    held = state.certificates_held_by(holder_id)
    if not held:
        raise refused(
            UNKNOWN_HOLDER,
            field,
            f"{holder_id} is neither a registered site nor a group holding a certificate",
            observed=holder_id,
        )
    at_group = [c for c in held if c.keeps_group_accounts]
    if level is not Level.GROUP or not at_group:
        raise refused(
            LEVEL_OUTSIDE_SCOPE,
            "level",
            f"group {holder_id} holds credits at G level under a group-level or scenario 3 "
            f"certificate only; this move says {level.value}",
            observed=level.value,
            allowed=Level.GROUP.value,
        )
    if len(at_group) > 1:
        names = ", ".join(c.certificate_id for c in at_group)
        raise refused(
            CERTIFICATE_AMBIGUOUS,
            field,
            f"group {holder_id} holds G accounts under certificates {names}; credits of one "
            "are never used under another, so a move must name a site of one of them",
            observed=holder_id,
            allowed=names,
        )
    _check_one_way(material_quality, level)
    (certificate,) = at_group
    return HolderAccount(
        AccountKey(holder_id, material_quality, Level.GROUP, certificate.certificate_id),
        frozenset({certificate.certificate_id}),
    )


def _check_level(certificate: Certificate, site_id: str, nominated: bool, level: Level) -> None:
    levels = certificate.levels(nominated=nominated)
    if level in levels:
        return
    if level is Level.SITE and Level.SITE in certificate.levels(nominated=True):
        raise refused(
            SITE_NOT_NOMINATED,
            "level",
            f"site {site_id} is not nominated for site-level accounting under group "
            f"certificate {certificate.certificate_id}: it posts at G level, into the group's "
            "accounts; only nominated sites keep S accounts",
            observed=level.value,
            allowed=Level.GROUP.value,
        )
    allowed = "/".join(sorted(lvl.value for lvl in levels))
    raise refused(
        LEVEL_OUTSIDE_SCOPE,
        "level",
        f"certificate {certificate.certificate_id} ({certificate.scope.value}) takes "
        f"postings at {allowed} level{' from nominated sites' if nominated else ''}; this one "
        f"says {level.value}",
        observed=level.value,
        allowed=allowed,
    )


def _check_one_way(material_quality: str, level: Level) -> None:
    if level is Level.GROUP and is_site_quality(material_quality):
        raise refused(
            SITE_MATERIAL_TO_GROUP,
            "material_quality",
            f"{material_quality} is site-level material and never flows back to group (G) level",
            observed=material_quality,
        )


def _wrong_holder(
    state: LedgerState,
    certificate: Certificate,
    site_id: str,
    holder_id: str,
    expected: str,
    level: Level,
) -> Exception:
    if holder_id not in state.sites and not state.certificates_held_by(holder_id):
        return refused(
            UNKNOWN_HOLDER,
            "holder_id",
            f"{holder_id} is neither a registered site nor a group holding a certificate",
            observed=holder_id,
        )
    if level is Level.SITE and holder_id in state.sites:
        return refused(
            CREDITS_ACROSS_SITES,
            "holder_id",
            f"site {site_id} cannot book against the credits of site {holder_id}: under "
            "site-level accounting credits move between sites only with a physical transfer",
            observed=holder_id,
            allowed=expected,
        )
    return refused(
        WRONG_HOLDER,
        "holder_id",
        f"under certificate {certificate.certificate_id} ({certificate.scope.value}) "
        f"{level.value}-level postings at site {site_id} book to {expected}, not {holder_id}",
        observed=holder_id,
        allowed=expected,
    )
