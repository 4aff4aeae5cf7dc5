"""Short builders for ledger commands, so that scenario tables read as postings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from gateway.ledger import (
    AccountingScope,
    AccountKey,
    BalanceRule,
    BalanceUpdate,
    CertifiedInput,
    CertifiedOutput,
    CustodyMove,
    CustodyReason,
    EligibleScrapInput,
    JoinCertificate,
    LeaveCertificate,
    LedgerState,
    Level,
    LevelAllocation,
    NonCertifiedInput,
    PhysicalTransfer,
    RegisterCertificate,
    RegisterSite,
    TransferReceipt,
)
from gateway.violations import shown

ASI = "asi_aluminium"
S, G = Level.SITE, Level.GROUP
SITE_LEVEL, GROUP_LEVEL = AccountingScope.SITE_LEVEL, AccountingScope.GROUP_LEVEL
TAKE, CLOSE = BalanceRule.TAKE_WITH_SITE, BalanceRule.CLOSE


Quantity = int | str | Decimal


def day(n: int, month: int = 3) -> date:
    return date(2026, month, n)


def kg(quantity: Quantity) -> Decimal:
    return Decimal(str(quantity))


def certificate(
    pid: str, certificate_id: str, holder: str, scope: AccountingScope, *, separate: bool = False
) -> RegisterCertificate:
    return RegisterCertificate(
        posting_id=pid,
        occurred_on=day(1),
        certificate_id=certificate_id,
        holder_group_id=holder,
        scope=scope,
        separate_site_quality=separate,
    )


def site(pid: str, site_id: str) -> RegisterSite:
    return RegisterSite(posting_id=pid, occurred_on=day(1), site_id=site_id)


def join(
    pid: str, site_id: str, certificate_id: str, on: date | int = 1, *, nominated: bool = False
) -> JoinCertificate:
    return JoinCertificate(
        posting_id=pid,
        site_id=site_id,
        certificate_id=certificate_id,
        effective_on=_date(on),
        nominated=nominated,
    )


def leave(
    pid: str, site_id: str, certificate_id: str, on: date | int, rule: BalanceRule
) -> LeaveCertificate:
    return LeaveCertificate(
        posting_id=pid,
        site_id=site_id,
        certificate_id=certificate_id,
        effective_on=_date(on),
        balance_rule=rule,
    )


def received(
    pid: str,
    site_id: str,
    quantity: Quantity,
    *,
    level: Level = S,
    holder: str | None = None,
    quality: str = ASI,
    on: date | int = 2,
) -> CertifiedInput:
    return CertifiedInput(
        posting_id=pid,
        occurred_on=_date(on),
        holder_id=holder or site_id,
        site_id=site_id,
        material_quality=quality,
        quantity_kg=kg(quantity),
        coc_document=f"COC-{pid}",
        level=level,
    )


def scrap(
    pid: str,
    site_id: str,
    quantity: Quantity,
    *,
    level: Level = S,
    holder: str | None = None,
    on: date | int = 2,
) -> EligibleScrapInput:
    return EligibleScrapInput(
        posting_id=pid,
        occurred_on=_date(on),
        holder_id=holder or site_id,
        site_id=site_id,
        material_quality=ASI,
        quantity_kg=kg(quantity),
        scrap_declaration=f"SCRAP-{pid}",
        level=level,
    )


def uncertified(
    pid: str, site_id: str, quantity: Quantity, *, on: date | int = 2
) -> NonCertifiedInput:
    return NonCertifiedInput(
        posting_id=pid,
        occurred_on=_date(on),
        site_id=site_id,
        material_quality="aluminium",
        quantity_kg=kg(quantity),
        document=f"DN-{pid}",
    )


def sold(
    pid: str,
    site_id: str,
    quantity: Quantity,
    *,
    level: Level = S,
    holder: str | None = None,
    quality: str = ASI,
    on: date | int = 3,
) -> CertifiedOutput:
    return CertifiedOutput(
        posting_id=pid,
        occurred_on=_date(on),
        holder_id=holder or site_id,
        site_id=site_id,
        material_quality=quality,
        quantity_kg=kg(quantity),
        claim_document=f"CLAIM-{pid}",
        level=level,
    )


def shipped(
    pid: str,
    from_site: str,
    to_site: str,
    quantity: Quantity,
    *,
    level: Level = S,
    on: date | int = 4,
) -> PhysicalTransfer:
    return PhysicalTransfer(
        posting_id=pid,
        occurred_on=_date(on),
        from_site=from_site,
        to_site=to_site,
        material_quality=ASI,
        quantity_kg=kg(quantity),
        transport_document=f"CMR-{pid}",
        level=level,
    )


def arrived(
    pid: str, dispatch: PhysicalTransfer, *, on: date | int | None = None
) -> TransferReceipt:
    """The receipt of ``dispatch`` as it was dispatched (on its day, unless ``on``)."""
    return TransferReceipt(
        posting_id=pid,
        occurred_on=dispatch.occurred_on if on is None else _date(on),
        transport_document=dispatch.transport_document,
        from_site=dispatch.from_site,
        to_site=dispatch.to_site,
        material_quality=dispatch.material_quality,
        quantity_kg=dispatch.quantity_kg,
        level=dispatch.level,
    )


def allocated(
    pid: str,
    site_id: str,
    quantity: Quantity,
    *,
    from_level: Level = G,
    to_level: Level = S,
    on: date | int = 4,
) -> LevelAllocation:
    return LevelAllocation(
        posting_id=pid,
        occurred_on=_date(on),
        site_id=site_id,
        material_quality=ASI,
        quantity_kg=kg(quantity),
        from_level=from_level,
        to_level=to_level,
        document=f"ALLOC-{pid}",
    )


def moved(
    pid: str,
    from_holder: str,
    to_holder: str,
    quantity: Quantity,
    *,
    level: Level = G,
    reason: CustodyReason = CustodyReason.LOT_ARRIVAL,
    on: date | int = 5,
) -> CustodyMove:
    return CustodyMove(
        posting_id=pid,
        occurred_on=_date(on),
        reason=reason,
        from_holder_id=from_holder,
        to_holder_id=to_holder,
        material_quality=ASI,
        quantity_kg=kg(quantity),
        level=level,
        document_reference=f"WRT-{pid}",
    )


def described(entry: BalanceUpdate, *, certificate: bool = False) -> str:
    """An update as the tables write it: "SITE/quality/S +100 = 600", or with ``certificate``
    "SITE/quality/S@C-1 +100 = 600" (where a holder accounts under several certificates)."""
    sign = "+" if entry.delta_kg > 0 else ""
    text = entry.account.text if certificate else entry.account.holder_text
    return f"{text} {sign}{shown(entry.delta_kg)} = {shown(entry.balance_kg)}"


def balances_by_text(state: LedgerState) -> dict[str, Decimal]:
    """Balances by "holder/quality/S@certificate", and by "holder/quality/S": the sum of a
    holder's accounts of that quality and level under any certificate."""
    balances = {account.text: balance for account, balance in state.balances.items()}
    for account, balance in state.balances.items():
        balances[account.holder_text] = balances.get(account.holder_text, Decimal(0)) + balance
    return balances


def account(text: str) -> AccountKey:
    """The account of "holder/quality/S@certificate"."""
    rest, certificate_id = text.rsplit("@", 1)
    holder, rest = rest.split("/", 1)
    quality, level = rest.rsplit("/", 1)
    return AccountKey(holder, quality, Level(level), certificate_id)


def _date(on: date | int) -> date:
    return on if isinstance(on, date) else day(on)
