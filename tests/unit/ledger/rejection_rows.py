"""One row per rejection the ledger answers with (``gateway.ledger.rules.REJECTIONS``): the
commands, from an empty ledger, whose last one must be rejected with exactly that code.

Rows are written with the core's builders and sent as wire commands, each by the party that
usually sends it (the exchange, the registry, the site's operator). ``one_stream`` gives
every row's ids a prefix of its own, so that all rows run one after another in one ledger:
the broker test sends that stream through a running gateway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import Decimal

from contracts import ledger as wire
from contracts.base import Contract
from contracts.custody import CustodyMovementRecorded, CustodyMoveReason
from contracts.values import AccountingLevel, PartyRole
from gateway.ledger import (
    CertifiedInput,
    CertifiedOutput,
    ClosePeriod,
    Command,
    CustodyMove,
    EligibleScrapInput,
    JoinCertificate,
    LeaveCertificate,
    Level,
    LevelAllocation,
    NonCertifiedInput,
    Period,
    PhysicalTransfer,
    RegisterCertificate,
    RegisterSite,
    TransferReceipt,
    rules,
)
from gateway.ledger.model import BalanceRule
from gateway.ledger.rules import Rejection
from producers.parties import DEMO_PARTIES
from tests.unit.ledger.builders import (
    GROUP_LEVEL,
    SITE_LEVEL,
    TAKE,
    G,
    S,
    allocated,
    arrived,
    certificate,
    join,
    leave,
    moved,
    received,
    shipped,
    site,
    sold,
)

EXCHANGE = DEMO_PARTIES[PartyRole.EXCHANGE]
REGISTRY = DEMO_PARTIES[PartyRole.REGISTRY]
Sent = tuple[Contract, str]
"""A wire command and the party sending it."""


def operator_of(site_id: str) -> str:
    return f"operator-{site_id}"


def registered(pid: str, site_id: str) -> RegisterSite:
    """A site with its operator (every site registered over the wire has one)."""
    return replace(site(pid, site_id), operator_party_id=operator_of(site_id))


_SAME_SHAPE: dict[type[Command], type[Contract]] = {
    CertifiedInput: wire.RecordCertifiedInput,
    EligibleScrapInput: wire.RecordEligibleScrapInput,
    NonCertifiedInput: wire.RecordNonCertifiedInput,
    CertifiedOutput: wire.RecordCertifiedOutput,
    PhysicalTransfer: wire.RecordPhysicalTransfer,
    TransferReceipt: wire.RecordTransferReceipt,
    LevelAllocation: wire.AllocateToSiteLevel,
    JoinCertificate: wire.JoinCertificate,
    LeaveCertificate: wire.LeaveCertificate,
}
"""Core commands whose fields the wire command has under the same names."""


def _wire_value(value: object) -> object:
    if isinstance(value, Level):
        return AccountingLevel(value.value)
    if isinstance(value, BalanceRule):
        return wire.LeavingBalanceRule(value.value)
    return value


def as_wire(command: Command) -> Contract:
    """The wire command the pipeline turns into ``command`` (``to_core_command``)."""
    wire_type = _SAME_SHAPE.get(type(command))
    if wire_type is not None:
        values = {f.name: _wire_value(getattr(command, f.name)) for f in fields(command)}
        return wire_type.build(**values)
    match command:
        case RegisterCertificate():
            return wire.RegisterCertificate.build(
                posting_id=command.posting_id,
                certificate_id=command.certificate_id,
                holder_group_id=command.holder_group_id,
                accounting_scope=wire.AccountingScope(command.scope.value),
                separate_site_quality=command.separate_site_quality,
                effective_on=command.occurred_on,
            )
        case RegisterSite():
            assert command.operator_party_id is not None, "register sites with registered()"
            return wire.RegisterSite.build(
                posting_id=command.posting_id,
                site_id=command.site_id,
                operator_party_id=command.operator_party_id,
                registered_on=command.occurred_on,
            )
        case ClosePeriod():
            return wire.ClosePeriod.build(
                posting_id=command.posting_id,
                period_kind=wire.PeriodKind(command.period.kind.value),
                period_start=command.period.start,
                certificate_id=command.certificate_id,
            )
        case CustodyMove():
            return CustodyMovementRecorded.build(
                posting_id=command.posting_id,
                reason=CustodyMoveReason(command.reason.value),
                from_holder_id=command.from_holder_id,
                to_holder_id=command.to_holder_id,
                lot_id=command.document_reference,
                quantity_kg=command.quantity_kg,
                material_quality=command.material_quality,
                level=AccountingLevel(command.level.value),
                coc_document=f"COC-{command.document_reference}",
                occurred_on=command.occurred_on,
            )
    raise TypeError(f"no wire command for {type(command).__name__}")


def usual_sender(command: Command) -> str:
    match command:
        case (
            RegisterCertificate()
            | RegisterSite()
            | JoinCertificate()
            | LeaveCertificate()
            | ClosePeriod()
        ):
            return EXCHANGE
        case CustodyMove():
            return REGISTRY
        case PhysicalTransfer():
            return operator_of(command.from_site)
        case TransferReceipt():
            return operator_of(command.to_site)
        case _:
            return operator_of(command.site_id)


Step = Command | Sent


def sent(step: Step) -> Sent:
    if isinstance(step, tuple):
        return step
    return as_wire(step), usual_sender(step)


@dataclass(frozen=True)
class Row:
    """The steps from an empty ledger: all booked but the last, rejected with ``rejection``."""

    rejection: Rejection
    case: str
    steps: tuple[Sent, ...]

    @property
    def id(self) -> str:
        return f"{self.rejection.code}: {self.case}"


def row(rejection: Rejection, case: str, *steps: Step) -> Row:
    return Row(rejection, case, tuple(sent(step) for step in steps))


@dataclass(frozen=True)
class Edge:
    """The steps from an empty ledger, all booked, leaving ``balance_kg`` on ``account``."""

    case: str
    steps: tuple[Sent, ...]
    account: str
    """"holder/quality/S@certificate"."""
    balance_kg: Decimal

    def account_under(self, prefix: str) -> str:
        """The account's text with its ids under ``prefix`` (``namespaced``)."""
        holder, certificate_id = self.account.rsplit("@", 1)
        return f"{prefix}{holder}@{prefix}{certificate_id}"


def edge(case: str, account: str, balance_kg: str, *steps: Step) -> Edge:
    return Edge(case, tuple(sent(step) for step in steps), account, Decimal(balance_kg))


def member(
    site_id: str, certificate_id: str, on: int = 1, *, nominated: bool = False
) -> tuple[Command, ...]:
    """A site registered with its operator and joining a certificate."""
    joining = join(f"join-{site_id}", site_id, certificate_id, on, nominated=nominated)
    return registered(f"site-{site_id}", site_id), joining


CERT_A = certificate("cert-A", "CERT-A", "GROUP-A", SITE_LEVEL)
CERT_B = certificate("cert-B", "CERT-B", "GROUP-B", GROUP_LEVEL)
CERT_Q = certificate("cert-Q", "CERT-Q", "GROUP-Q", GROUP_LEVEL, separate=True)
SITE_LEVEL_A1 = (CERT_A, *member("A1", "CERT-A"))
"""Site-level certificate CERT-A with its site A1 (S accounts only)."""
SITE_LEVEL_A1_A2 = (*SITE_LEVEL_A1, *member("A2", "CERT-A"))
GROUP_LEVEL_B1 = (CERT_B, *member("B1", "CERT-B"))
"""Group-level certificate CERT-B of GROUP-B with its site B1 (one G account for the group)."""
SCENARIO_3_Q1 = (CERT_Q, *member("Q1", "CERT-Q", nominated=True))
"""Scenario 3: CERT-Q keeps G accounts for GROUP-Q and a separate site quality at its
nominated site Q1."""
TRANSFER_A1_A2 = shipped("transfer-1", "A1", "A2", 10)
JANUARY_2020 = Period.month(2020, 1)
YEAR_2019 = Period.year(2019)
"""The period rows close years before every other row's dates, so that in one ledger the
closes refuse nothing of the other rows."""


def closing(pid: str, period: Period, certificate_id: str | None = None) -> ClosePeriod:
    return ClosePeriod(posting_id=pid, period=period, certificate_id=certificate_id)


# fmt: off
ROWS: tuple[Row, ...] = (
    row(rules.CERTIFICATE_EXISTS, "a certificate id registered twice",
        CERT_A, certificate("cert-A-again", "CERT-A", "GROUP-A2", SITE_LEVEL)),
    row(rules.SEPARATE_QUALITY_NEEDS_GROUP_LEVEL, "a separate site quality under site level",
        certificate("cert-X", "CERT-X", "GROUP-X", SITE_LEVEL, separate=True)),
    row(rules.SITE_EXISTS, "a site id registered twice",
        registered("site-A1", "A1"), registered("site-A1-again", "A1")),
    row(rules.UNKNOWN_SITE, "a posting at an unregistered site",
        received("in-1", "NOWHERE", 100)),
    row(rules.UNKNOWN_CERTIFICATE, "joining an unregistered certificate",
        registered("site-A1", "A1"), join("join-A1", "A1", "CERT-NONE")),
    row(rules.ALREADY_MEMBER, "joining a second certificate without leaving the first",
        *SITE_LEVEL_A1, CERT_B, join("join-A1-B", "A1", "CERT-B")),
    row(rules.NOT_A_MEMBER, "leaving a certificate never joined",
        CERT_A, registered("site-A1", "A1"), leave("leave-A1", "A1", "CERT-A", 5, TAKE)),
    row(rules.MEMBERSHIP_ORDER, "leaving before the day of joining",
        CERT_A, *member("A1", "CERT-A", on=10), leave("leave-A1", "A1", "CERT-A", 5, TAKE)),
    row(rules.CARRIED_BALANCE_NOT_ACCOUNTED, "S credits taken to a group-level certificate",
        *SITE_LEVEL_A1, CERT_B, received("in-1", "A1", 100),
        leave("leave-A1", "A1", "CERT-A", 5, TAKE), join("join-A1-B", "A1", "CERT-B", 5)),
    row(rules.TRANSFER_IN_TRANSIT, "a site leaving while a transfer to it is in transit",
        *SITE_LEVEL_A1_A2, received("in-1", "A1", 100), TRANSFER_A1_A2,
        leave("leave-A2", "A2", "CERT-A", 5, TAKE)),
    row(rules.SITE_NOT_CERTIFIED, "a posting at a site under no certificate",
        registered("site-A1", "A1"), received("in-1", "A1", 100)),
    row(rules.SITE_NOT_NOMINATED, "an S input at a site not nominated under group certification",
        *GROUP_LEVEL_B1, received("in-1", "B1", 100)),
    row(rules.LEVEL_OUTSIDE_SCOPE, "a G posting under a site-level certificate",
        *SITE_LEVEL_A1, received("in-1", "A1", 100, level=G, holder="GROUP-A")),
    row(rules.WRONG_HOLDER, "a G posting crediting the site, not the group",
        *GROUP_LEVEL_B1, received("in-1", "B1", 100, level=G, holder="B1")),
    row(rules.UNKNOWN_HOLDER, "a posting crediting an unknown holder",
        *GROUP_LEVEL_B1, received("in-1", "B1", 100, level=G, holder="NOBODY")),
    row(rules.CERTIFICATE_AMBIGUOUS, "a move from a group holding two group-level certificates",
        *GROUP_LEVEL_B1, certificate("cert-B2", "CERT-B2", "GROUP-B", GROUP_LEVEL),
        moved("move-1", "GROUP-B", "B1", 10)),
    row(rules.CREDITS_ACROSS_SITES, "a site selling against another site's S credits",
        *SITE_LEVEL_A1_A2, sold("out-1", "A2", 10, holder="A1")),
    row(rules.SITE_MATERIAL_TO_GROUP, "scenario 3: an allocation S -> G",
        *SCENARIO_3_Q1, allocated("alloc-1", "Q1", 10, from_level=S, to_level=G)),
    row(rules.NON_POSITIVE_QUANTITY, "a 0 kg certified input",
        *SITE_LEVEL_A1, received("in-1", "A1", 0)),
    row(rules.OVERDRAW, "an output above the balance",
        *SITE_LEVEL_A1, received("in-1", "A1", 100), sold("out-1", "A1", "100.001")),
    row(rules.BALANCE_NOT_EXACT, "an input taking a balance past 28 digits",
        *SITE_LEVEL_A1, received("in-1", "A1", "9" * 28), received("in-2", "A1", "0.5")),
    row(rules.TRANSFER_TO_ITSELF, "a physical transfer from a site to itself",
        *SITE_LEVEL_A1, shipped("transfer-1", "A1", "A1", 10)),
    row(rules.TRANSFER_ACROSS_CERTIFICATES, "a physical transfer to a site of another certificate",
        *SITE_LEVEL_A1, *GROUP_LEVEL_B1, shipped("transfer-1", "A1", "B1", 10)),
    row(rules.ALLOCATION_LEVELS, "scenario 3: an allocation G -> G",
        *SCENARIO_3_Q1, allocated("alloc-1", "Q1", 10, from_level=G, to_level=G)),
    row(rules.ALLOCATION_OUTSIDE_SCENARIO_3, "an allocation with no separate site quality",
        *SITE_LEVEL_A1, allocated("alloc-1", "A1", 10)),
    row(rules.MOVE_TO_SAME_HOLDER, "a custody move to the holder it comes from",
        *GROUP_LEVEL_B1, moved("move-1", "GROUP-B", "GROUP-B", 10)),
    row(rules.USE_PHYSICAL_TRANSFER, "a custody move between two sites of one certificate",
        *SITE_LEVEL_A1_A2, moved("move-1", "A1", "A2", 10, level=S)),
    row(rules.COC_DOCUMENT_CREDITED, "one CoC document booked at a second site under a new id",
        *SITE_LEVEL_A1_A2, received("in-1", "A1", 100),
        replace(received("in-2", "A2", 100), coc_document="COC-in-1")),
    row(rules.TRANSPORT_DOCUMENT_USED, "one transport document booked for a second transfer",
        *SITE_LEVEL_A1_A2, received("in-1", "A1", 100), shipped("transfer-1", "A1", "A2", 10),
        replace(shipped("transfer-2", "A1", "A2", 10), transport_document="CMR-transfer-1")),
    row(rules.NOT_IN_TRANSIT, "a receipt of a transfer never dispatched",
        *SITE_LEVEL_A1_A2, arrived("receipt-1", TRANSFER_A1_A2)),
    row(rules.TRANSFER_ALREADY_RECEIVED, "a transfer received a second time under a new id",
        *SITE_LEVEL_A1_A2, received("in-1", "A1", 100), TRANSFER_A1_A2,
        arrived("receipt-1", TRANSFER_A1_A2), arrived("receipt-2", TRANSFER_A1_A2)),
    row(rules.RECEIPT_MISMATCH, "a receipt of another quantity than dispatched",
        *SITE_LEVEL_A1_A2, received("in-1", "A1", 100), TRANSFER_A1_A2,
        replace(arrived("receipt-1", TRANSFER_A1_A2), quantity_kg=Decimal(9))),
    row(rules.POSTING_ID_REUSED, "another command under a used posting id",
        *SITE_LEVEL_A1, received("in-1", "A1", 100), received("in-1", "A1", 99)),
    row(rules.PERIOD_CLOSED, "a site joining in a month closed for its certificate",
        CERT_A, registered("site-A1", "A1"), closing("close-2020-01", JANUARY_2020, "CERT-A"),
        join("join-A1", "A1", "CERT-A", date(2020, 1, 15))),
    row(rules.PERIOD_NOT_CLOSABLE, "a year closed twice for one certificate",
        CERT_A, closing("close-2019", YEAR_2019, "CERT-A"),
        closing("close-2019-again", YEAR_2019, "CERT-A")),
    row(rules.SENDER_NOT_PERMITTED, "a posting sent by someone other than the site's operator",
        *SITE_LEVEL_A1, (as_wire(received("in-1", "A1", 100)), "intruder")),
    row(rules.PERIOD_START, "a month to close named by its 15th",
        (wire.ClosePeriod.build(posting_id="close-mid-march", period_kind=wire.PeriodKind.MONTH,
                                period_start=date(2026, 3, 15)), EXCHANGE)),
)
"""One row per entry of ``REJECTIONS``, in its order."""

ACCEPTED_EDGES: tuple[Edge, ...] = (
    edge("an output taking the balance to exactly 0 kg", "A1/asi_aluminium/S@CERT-A", "0",
         *SITE_LEVEL_A1, received("in-1", "A1", 100), sold("out-1", "A1", 100)),
    edge("an input of 1 g, just above 0 kg", "A1/asi_aluminium/S@CERT-A", "0.001",
         *SITE_LEVEL_A1, received("in-1", "A1", "0.001")),
    edge("a late G input dated before the site's leave", "GROUP-B/asi_aluminium/G@CERT-B", "40",
         *GROUP_LEVEL_B1, leave("leave-B1", "B1", "CERT-B", 10, TAKE),
         received("in-1", "B1", 40, level=G, holder="GROUP-B", on=9)),
)
"""The passing side of the quantity rules (no negative balance, a positive quantity) and of
the membership by date (a late G posting dated before a leave)."""
# fmt: on

_ID_FIELDS = frozenset(
    {
        "posting_id",
        "certificate_id",
        "holder_group_id",
        "site_id",
        "operator_party_id",
        "holder_id",
        "from_site",
        "to_site",
        "from_holder_id",
        "to_holder_id",
        "lot_id",
        "coc_document",
        "transport_document",
    }
)
"""Every field naming a command, certificate, group, site, holder, operator, lot or the
document a posting books."""


def namespaced(steps: Iterable[Sent], prefix: str) -> tuple[Sent, ...]:
    """The same steps with ``prefix`` before every id and every sender but the exchange and
    the registry: steps of different prefixes share nothing but the calendar."""
    renamed: list[Sent] = []
    for body, sender in steps:
        values = body.model_dump()
        for name in _ID_FIELDS & values.keys():
            if values[name] is not None:
                values[name] = prefix + values[name]
        party = sender if sender in (EXCHANGE, REGISTRY) else prefix + sender
        renamed.append((type(body).model_validate(values), party))
    return tuple(renamed)


def one_stream(groups: Sequence[tuple[Sent, ...]]) -> list[tuple[Sent, ...]]:
    """Each group of steps under a prefix of its own, to be sent one after another."""
    return [namespaced(steps, f"r{index:02}.") for index, steps in enumerate(groups)]
