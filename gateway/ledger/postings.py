"""What each posting books: inputs create credits, outputs consume them, transfers (a
dispatch, then its receipt) and allocations move them; ``post`` refuses any booking that
would take an account below zero."""

from __future__ import annotations

from gateway.ledger.accounts import certified_site, holder_account, site_account
from gateway.ledger.commands import (
    CertifiedInput,
    CertifiedOutput,
    CustodyMove,
    EligibleScrapInput,
    LevelAllocation,
    NonCertifiedInput,
    PhysicalTransfer,
    TransferReceipt,
)
from gateway.ledger.model import Level, Transit
from gateway.ledger.plan import (
    COC_DOCUMENT,
    RECEIPT,
    TRANSPORT_DOCUMENT,
    Delta,
    Plan,
    document_key,
)
from gateway.ledger.rules import (
    ALLOCATION_LEVELS,
    ALLOCATION_OUTSIDE_SCENARIO_3,
    COC_DOCUMENT_CREDITED,
    MOVE_TO_SAME_HOLDER,
    NOT_IN_TRANSIT,
    RECEIPT_MISMATCH,
    SITE_MATERIAL_TO_GROUP,
    TRANSFER_ACROSS_CERTIFICATES,
    TRANSFER_ALREADY_RECEIVED,
    TRANSFER_TO_ITSELF,
    TRANSPORT_DOCUMENT_USED,
    USE_PHYSICAL_TRANSFER,
    Refused,
    Rejection,
    refused,
)
from gateway.ledger.state import LedgerState
from gateway.violations import shown


def book_input(state: LedgerState, command: CertifiedInput | EligibleScrapInput) -> Plan:
    account = site_account(
        state,
        site_id=command.site_id,
        holder_id=command.holder_id,
        material_quality=command.material_quality,
        level=command.level,
        day=command.occurred_on,
    )
    documents: tuple[str, ...] = ()
    if isinstance(command, CertifiedInput):
        documents = (
            _booked_once(
                state, COC_DOCUMENT_CREDITED, COC_DOCUMENT, command.coc_document, "coc_document"
            ),
        )
    return Plan((Delta(account, command.quantity_kg),), (command.site_id,), documents=documents)


def _booked_once(
    state: LedgerState, rejection: Rejection, kind: str, reference: str, field: str
) -> str:
    """The document's key; refused if a posting booked the document already."""
    key = document_key(kind, reference)
    earlier = state.document_booked_by(key)
    if earlier is not None:
        raise refused(
            rejection,
            field,
            f"{field.replace('_', ' ')} {reference} was booked by posting {earlier}: a "
            "document's quantity is credited once, whatever the site or posting id",
            observed=reference,
            allowed=f"a document not booked before (not {earlier}'s)",
        )
    return key


def book_output(state: LedgerState, command: CertifiedOutput) -> Plan:
    account = site_account(
        state,
        site_id=command.site_id,
        holder_id=command.holder_id,
        material_quality=command.material_quality,
        level=command.level,
        day=command.occurred_on,
    )
    return Plan((Delta(account, -command.quantity_kg),), (command.site_id,))


def record_non_certified(state: LedgerState, command: NonCertifiedInput) -> Plan:
    certificate = certified_site(state, command.site_id, command.occurred_on, "site_id")
    return Plan((), (command.site_id,), certificate_ids=(certificate.certificate_id,))


def book_transfer(state: LedgerState, command: PhysicalTransfer) -> Plan:
    if command.from_site == command.to_site:
        raise refused(
            TRANSFER_TO_ITSELF,
            "to_site",
            f"a physical transfer goes from one site to another, not from {command.to_site} "
            "to itself",
            observed=command.to_site,
        )
    day = command.occurred_on
    source = certified_site(state, command.from_site, day, "from_site")
    target = certified_site(state, command.to_site, day, "to_site")
    if source.certificate_id != target.certificate_id:
        raise refused(
            TRANSFER_ACROSS_CERTIFICATES,
            "to_site",
            f"sites {command.from_site} ({source.certificate_id}) and {command.to_site} "
            f"({target.certificate_id}) are under different certificates: book a certified "
            f"output at {command.from_site} and a certified input at {command.to_site}",
            observed=target.certificate_id,
            allowed=source.certificate_id,
        )
    accounts = [
        site_account(
            state,
            site_id=site_id,
            material_quality=command.material_quality,
            level=command.level,
            day=day,
            field=field,
        )
        for site_id, field in ((command.from_site, "from_site"), (command.to_site, "to_site"))
    ]
    document = command.transport_document
    if document in state.transits:
        earlier = state.transits[document].dispatch_posting_id
        raise refused(
            TRANSPORT_DOCUMENT_USED,
            "transport_document",
            f"transport document {document} is in transit under posting {earlier}",
            observed=document,
        )
    documents = (
        _booked_once(
            state, TRANSPORT_DOCUMENT_USED, TRANSPORT_DOCUMENT, document, "transport_document"
        ),
    )
    transit = Transit(
        dispatch_posting_id=command.posting_id,
        transport_document=document,
        certificate_id=source.certificate_id,
        from_site=command.from_site,
        to_site=command.to_site,
        material_quality=command.material_quality,
        quantity_kg=command.quantity_kg,
        level=command.level,
        dispatched_on=day,
    )
    deltas = () if command.level is Level.GROUP else (Delta(accounts[0], -command.quantity_kg),)
    return Plan(
        deltas,
        (command.from_site, command.to_site),
        certificate_ids=(source.certificate_id,),
        documents=documents,
        transit_opened=transit,
    )


def book_receipt(state: LedgerState, command: TransferReceipt) -> Plan:
    """A dispatched transfer received: it must match its dispatch, and is received once."""
    document = command.transport_document
    transit = state.transits.get(document)
    if transit is None:
        receipt = state.booked_documents.get(document_key(RECEIPT, document))
        if receipt is not None:
            raise refused(
                TRANSFER_ALREADY_RECEIVED,
                "transport_document",
                f"the transfer under transport document {document} was received by posting "
                f"{receipt}: a transfer is received once",
                observed=document,
            )
        raise refused(
            NOT_IN_TRANSIT,
            "transport_document",
            f"no transfer under transport document {document} is in transit: book its "
            "dispatch (a physical transfer from the sending site) first",
            observed=document,
        )
    mismatches = [
        RECEIPT_MISMATCH.violation(
            name,
            f"the receipt of {document} says {name.replace('_', ' ')} {_text(received)}, "
            f"its dispatch {transit.dispatch_posting_id} {_text(dispatched)}",
            observed=_text(received),
            allowed=_text(dispatched),
        )
        for name, received, dispatched in (
            ("from_site", command.from_site, transit.from_site),
            ("to_site", command.to_site, transit.to_site),
            ("material_quality", command.material_quality, transit.material_quality),
            ("quantity_kg", command.quantity_kg, transit.quantity_kg),
            ("level", command.level, transit.level),
        )
        if received != dispatched
    ]
    if command.occurred_on < transit.dispatched_on:
        mismatches.append(
            RECEIPT_MISMATCH.violation(
                "occurred_on",
                f"the receipt of {document} is dated {command.occurred_on}, before its "
                f"dispatch on {transit.dispatched_on}",
                observed=str(command.occurred_on),
                allowed=f"on or after {transit.dispatched_on}",
            )
        )
    if mismatches:
        raise Refused(*mismatches)
    account = site_account(
        state,
        site_id=command.to_site,
        material_quality=command.material_quality,
        level=command.level,
        day=command.occurred_on,
        field="to_site",
    )
    if account.certificate_id != transit.certificate_id:
        raise refused(
            TRANSFER_ACROSS_CERTIFICATES,
            "to_site",
            f"site {command.to_site} is under certificate {account.certificate_id} on "
            f"{command.occurred_on}; {document} was dispatched under {transit.certificate_id}",
            observed=account.certificate_id,
            allowed=transit.certificate_id,
        )
    deltas = () if command.level is Level.GROUP else (Delta(account, command.quantity_kg),)
    return Plan(
        deltas,
        (command.to_site,),
        certificate_ids=(transit.certificate_id,),
        documents=(document_key(RECEIPT, document),),
        transit_closed=document,
    )


def _text(value: object) -> str:
    return shown(value) or ""


def book_allocation(state: LedgerState, command: LevelAllocation) -> Plan:
    levels = f"{command.from_level.value}->{command.to_level.value}"
    if (command.from_level, command.to_level) == (Level.SITE, Level.GROUP):
        raise refused(
            SITE_MATERIAL_TO_GROUP,
            "to_level",
            "site-level (S) material never flows back to group (G) level: an allocation "
            "goes from G to S only",
            observed=levels,
            allowed="G->S",
        )
    if (command.from_level, command.to_level) != (Level.GROUP, Level.SITE):
        raise refused(
            ALLOCATION_LEVELS,
            "to_level",
            f"an allocation converts group (G) credits into a site's quality (S), not {levels}",
            observed=levels,
            allowed="G->S",
        )
    day = command.occurred_on
    certificate = certified_site(state, command.site_id, day, "site_id")
    if not certificate.separate_site_quality:
        raise refused(
            ALLOCATION_OUTSIDE_SCENARIO_3,
            "site_id",
            f"certificate {certificate.certificate_id} keeps no separate site quality; "
            "allocations from group to site exist in scenario 3 only",
            observed=certificate.certificate_id,
        )
    group_account, site_quality_account = (
        site_account(
            state,
            site_id=command.site_id,
            material_quality=command.material_quality,
            level=level,
            day=day,
        )
        for level in (Level.GROUP, Level.SITE)
    )
    deltas = (
        Delta(group_account, -command.quantity_kg),
        Delta(site_quality_account, command.quantity_kg),
    )
    return Plan(deltas, (command.site_id,))


def book_custody_move(state: LedgerState, command: CustodyMove) -> Plan:
    if command.from_holder_id == command.to_holder_id:
        raise refused(
            MOVE_TO_SAME_HOLDER,
            "to_holder_id",
            f"a custody move changes the holder; {command.to_holder_id} already holds it",
            observed=command.to_holder_id,
        )
    source, target = (
        holder_account(
            state,
            holder_id,
            material_quality=command.material_quality,
            level=command.level,
            day=command.occurred_on,
            field=field,
        )
        for holder_id, field in (
            (command.from_holder_id, "from_holder_id"),
            (command.to_holder_id, "to_holder_id"),
        )
    )
    shared = source.certificate_ids & target.certificate_ids
    if shared:
        raise refused(
            USE_PHYSICAL_TRANSFER,
            "to_holder_id",
            f"{command.from_holder_id} and {command.to_holder_id} are under certificate "
            f"{min(shared)}: material moving inside one certificate is a physical transfer",
            observed=min(shared),
        )
    deltas = (
        Delta(source.account, -command.quantity_kg),
        Delta(target.account, command.quantity_kg),
    )
    sites = tuple(
        holder for holder in (command.from_holder_id, command.to_holder_id) if holder in state.sites
    )
    return Plan(deltas, sites)
