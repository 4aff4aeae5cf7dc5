"""The topic catalogue: every topic the gateway reads or writes, as data.

Ingest topics are one per sending role, so that broker ACLs can later bind a role's
credentials to the topics it may write (a broker cannot tell a consumer who produced a
record). Topics whose decisions need brand-local state are keyed by brand, so a lot, its
casts' eCOAs and its brand's CBAM form land in the same partition number everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from contracts import ledger
from contracts.base import Contract
from contracts.brands import (
    BrandDelisted,
    BrandListed,
    BrandReinstated,
    BrandSuspended,
    DelistBrand,
    ListBrand,
    ReinstateBrand,
    SuspendBrand,
)
from contracts.cbam import (
    CbamEmissionsFormSubmitted,
    CbamFormAccepted,
    CbamFormRejected,
    EmissionsAttached,
)
from contracts.cbam_report import CbamReportFiled
from contracts.clock import ClockTicked
from contracts.custody import CustodyBalanceUpdated, CustodyMovementRecorded
from contracts.dead_letter import DeadLetterRecorded
from contracts.ecoa import ECoAAccepted, ECoACreated, ECoARejected
from contracts.ledger import LEDGER_COMMANDS, LEDGER_DECISIONS
from contracts.lots import LotArrived
from contracts.production import (
    ProductionBatchAccepted,
    ProductionBatchRecorded,
    ProductionBatchRejected,
)
from contracts.values import PartyRole
from contracts.warrants import (
    CancelWarrant,
    RequestWarrant,
    WarrantCancelled,
    WarrantIssued,
    WarrantPending,
    WarrantRejected,
    WarrantStateChanged,
)

BRAND_PARTITIONS = 6
LEDGER_PARTITIONS = 1
"""The ledger's partitions by default: one order for every command. The ledger runs on more
(``with_ledger_partitions``); see the README's custody ledger."""


class ReaderRole(StrEnum):
    """Who may subscribe to a topic: the parties' roles, and the holders and importers who
    send nothing but read their metal's state."""

    PRODUCER = "producer"
    WAREHOUSE = "warehouse"
    MEMBER = "member"
    HOLDER = "holder"
    IMPORTER = "importer"
    EXCHANGE = "exchange"


class CleanupPolicy(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"


class KeyNotFound(LookupError):
    """A body lacks the field its topic is keyed by."""


class NoRoute(LookupError):
    """No catalogue topic carries this message type from this sender role."""


@dataclass(frozen=True)
class TopicSpec:
    """One topic: what travels on it, how it is keyed and kept, and who may write it."""

    name: str
    purpose: str
    message_types: tuple[type[Contract], ...]
    key: str
    writer_roles: tuple[PartyRole, ...]
    partitions: int = BRAND_PARTITIONS
    cleanup_policy: CleanupPolicy = CleanupPolicy.DELETE
    extra_configs: Mapping[str, str] = field(default_factory=dict)
    key_fields: Mapping[type[Contract], str] = field(default_factory=dict)
    """Per message type, the field keying it when it is not ``key``."""
    subscriber_roles: tuple[ReaderRole, ...] = ()
    """The parties' roles that may subscribe to the topic (read committed). A topic whose
    records carry one party's emissions or positions is for the exchange only: the parties
    read those through the HTTP API, which shows each party its own."""

    def broker_configs(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup_policy.value, **self.extra_configs}

    def key_field(self, message_type: type[Contract]) -> str:
        return self.key_fields.get(message_type, self.key)

    def key_of(self, body: Contract) -> bytes:
        key = self.key_field(type(body))
        value = getattr(body, key, None)
        if value is None:
            raise KeyNotFound(f"{type(body).__name__} has no {key!r} to key {self.name} by")
        return str(value).encode("utf-8")


LEDGER_KEY_FIELDS: Mapping[type[Contract], str] = {
    ledger.RegisterCertificate: "certificate_id",
    ledger.RegisterSite: "site_id",
    ledger.JoinCertificate: "site_id",
    ledger.LeaveCertificate: "site_id",
    ledger.RecordCertifiedInput: "holder_id",
    ledger.RecordEligibleScrapInput: "holder_id",
    ledger.RecordNonCertifiedInput: "site_id",
    ledger.RecordCertifiedOutput: "holder_id",
    ledger.RecordPhysicalTransfer: "from_site",
    ledger.AllocateToSiteLevel: "site_id",
    CustodyMovementRecorded: "from_holder_id",
}
"""A ledger command is keyed by the account holder it debits or books for (a site's commands
by the site), so that it lands on the ledger partition holding that holder; a period close
by its posting id."""

_PRODUCER = (PartyRole.PRODUCER,)
_WAREHOUSE = (PartyRole.WAREHOUSE,)
_EXCHANGE = (PartyRole.EXCHANGE,)
_EVERY_PARTY = tuple(ReaderRole)
_WARRANT_FOLLOWERS = (
    ReaderRole.HOLDER,
    ReaderRole.IMPORTER,
    ReaderRole.MEMBER,
    ReaderRole.WAREHOUSE,
    ReaderRole.EXCHANGE,
)
_EXCHANGE_READS = (ReaderRole.EXCHANGE,)
_REGISTRY = (PartyRole.REGISTRY,)
_COMPACT_QUICKLY = {"min.cleanable.dirty.ratio": "0.1", "segment.ms": "3600000"}

CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec(
        name="producer.production-batches",
        purpose="casts (production batches) with their chemistry, from the brand's producer",
        message_types=(ProductionBatchRecorded,),
        key="brand",
        writer_roles=_PRODUCER,
    ),
    TopicSpec(
        name="producer.ecoas",
        purpose="eCOAs created by producers (Enhanced, or Basic for pre-notice metal)",
        message_types=(ECoACreated,),
        key="brand",
        writer_roles=_PRODUCER,
    ),
    TopicSpec(
        name="producer.cbam-forms",
        purpose="the yearly CBAM emissions form of each brand",
        message_types=(CbamEmissionsFormSubmitted,),
        key="brand",
        writer_roles=_PRODUCER,
    ),
    TopicSpec(
        name="warehouse.lot-arrivals",
        purpose="lots arriving at exchange-listed warehouses",
        message_types=(LotArrived,),
        key="brand",
        writer_roles=_WAREHOUSE,
    ),
    TopicSpec(
        name="warehouse.warrant-requests",
        purpose="requests to place a lot on warrant",
        message_types=(RequestWarrant, CancelWarrant),
        key="brand",
        writer_roles=_WAREHOUSE,
    ),
    TopicSpec(
        name="warehouse.ecoas",
        purpose="Basic eCOAs created by warehouses (SCR 4.3, 4.4(b))",
        message_types=(ECoACreated,),
        key="brand",
        writer_roles=_WAREHOUSE,
    ),
    TopicSpec(
        name="member.ecoas",
        purpose="Basic eCOAs created by members and other permitted parties (SCR 4.4)",
        message_types=(ECoACreated,),
        key="brand",
        writer_roles=(PartyRole.MEMBER, PartyRole.PERMITTED_PARTY),
    ),
    TopicSpec(
        name="exchange.brand-commands",
        purpose="the exchange's listing decisions: list, suspend, reinstate, delist a brand",
        message_types=(ListBrand, SuspendBrand, ReinstateBrand, DelistBrand),
        key="brand",
        writer_roles=_EXCHANGE,
    ),
    TopicSpec(
        name="registry.brand-status",
        purpose="current status of every brand",
        message_types=(BrandListed, BrandSuspended, BrandReinstated, BrandDelisted),
        key="brand",
        writer_roles=_REGISTRY,
        subscriber_roles=_EVERY_PARTY,
        cleanup_policy=CleanupPolicy.COMPACT,
        extra_configs=_COMPACT_QUICKLY,
    ),
    TopicSpec(
        name="registry.ecoa-decisions",
        purpose="eCOA accepted or rejected, and the producer's recorded casts checked against "
        "their specification and eCOAs (the same chemistry rules), with the rules applied",
        message_types=(
            ECoAAccepted,
            ECoARejected,
            ProductionBatchAccepted,
            ProductionBatchRejected,
        ),
        key="brand",
        writer_roles=_REGISTRY,
        subscriber_roles=_EXCHANGE_READS,
    ),
    TopicSpec(
        name="registry.cbam-form-decisions",
        purpose="CBAM form accepted or rejected, and emissions attached to CoAs",
        message_types=(CbamFormAccepted, CbamFormRejected, EmissionsAttached),
        key="brand",
        writer_roles=_REGISTRY,
        subscriber_roles=_EXCHANGE_READS,
    ),
    TopicSpec(
        name="registry.cbam-reports",
        purpose="every version of every importer's quarterly CBAM report as filed through the "
        "API (a correction is a new version, both kept), readable from the beginning",
        message_types=(CbamReportFiled,),
        key="importer_id",
        writer_roles=_REGISTRY,
        extra_configs={"retention.ms": "-1", "retention.bytes": "-1"},
    ),
    TopicSpec(
        name="registry.warrant-decisions",
        purpose="warrant issued, rejected, pending or cancelled, with reasons",
        message_types=(WarrantIssued, WarrantRejected, WarrantPending, WarrantCancelled),
        key="brand",
        writer_roles=_REGISTRY,
        subscriber_roles=_EXCHANGE_READS,
    ),
    TopicSpec(
        name="registry.warrant-state",
        purpose="the current state of every warrant, readable from the beginning; naming "
        "the warrant's holder once issued, and the warehouse holding the lot",
        message_types=(WarrantStateChanged,),
        key="lot_id",
        writer_roles=_REGISTRY,
        subscriber_roles=_WARRANT_FOLLOWERS,
        cleanup_policy=CleanupPolicy.COMPACT,
        extra_configs=_COMPACT_QUICKLY,
    ),
    TopicSpec(
        name="ledger.commands",
        purpose="everything the custody ledger books, in one order: certificates, sites, "
        "membership changes and period closes (exchange), material inputs, outputs, transfers "
        "and allocations (site operators), custody moves implied by registry events (registry)",
        message_types=(*LEDGER_COMMANDS, CustodyMovementRecorded),
        key="posting_id",
        writer_roles=(
            PartyRole.EXCHANGE,
            PartyRole.PRODUCER,
            PartyRole.WAREHOUSE,
            PartyRole.REGISTRY,
        ),
        partitions=LEDGER_PARTITIONS,
        key_fields=LEDGER_KEY_FIELDS,
    ),
    TopicSpec(
        name="ledger.transfers",
        purpose="the ledger's own traffic between its partitions: commands passed on to the "
        "partition holding the account they debit, commands claiming a document at its home "
        "partition and coming back with the answer, credits decided at the debited partition, "
        "and registrations, membership changes and period closes every partition applies "
        "(forwarded commands as they came; the rest the ledger's own fact records)",
        message_types=(),
        key="holder",
        writer_roles=_REGISTRY,
        partitions=LEDGER_PARTITIONS,
    ),
    TopicSpec(
        name="registry.ledger-decisions",
        purpose="every ledger command accepted or rejected (with every rule it breaks), and "
        "the reconciliation statements of closed periods",
        message_types=LEDGER_DECISIONS,
        key="posting_id",
        writer_roles=_REGISTRY,
        subscriber_roles=_EXCHANGE_READS,
        partitions=1,
    ),
    TopicSpec(
        name="registry.custody-balances",
        purpose="the current custody balance of every account (S or G level), one update per "
        "posting",
        message_types=(CustodyBalanceUpdated,),
        key="account_key",
        writer_roles=_REGISTRY,
        subscriber_roles=_EXCHANGE_READS,
        cleanup_policy=CleanupPolicy.COMPACT,
        extra_configs=_COMPACT_QUICKLY,
    ),
    TopicSpec(
        name="registry.ledger-journal",
        purpose="the ledger's system of record: the facts of every decision (accepted or "
        "rejected posting ids, balance deltas, registrations), partition p for ledger "
        "partition p, in the order decided, kept forever; restored by applying the facts",
        message_types=(),
        key="posting_id",
        writer_roles=_REGISTRY,
        partitions=LEDGER_PARTITIONS,
        extra_configs={"retention.ms": "-1", "retention.bytes": "-1"},
    ),
    TopicSpec(
        name="registry.ledger-snapshots",
        purpose="periodic snapshots of each ledger partition's state with the journal offset "
        "they are at: a restore reads the last one and the journal after it",
        message_types=(),
        key="chunk",
        writer_roles=_REGISTRY,
        partitions=LEDGER_PARTITIONS,
        cleanup_policy=CleanupPolicy.COMPACT,
        extra_configs=_COMPACT_QUICKLY,
    ),
    TopicSpec(
        name="registry.state-changelog",
        purpose="the registry's state, one record per small entity (a brand's listing, each "
        "cast with its certificates, form, handled message id, lot, open request, warrant "
        "decision, cancellation, custody move, and the indexes of open requests by brand and "
        "by hour taken in), values versioned: the system of record its working stores are "
        "rebuilt from",
        message_types=(),
        key="entity",
        writer_roles=_REGISTRY,
        cleanup_policy=CleanupPolicy.COMPACT,
        extra_configs=_COMPACT_QUICKLY,
    ),
    TopicSpec(
        name="registry.clock",
        purpose="the registry's clock: one tick per partition at a set interval, written by "
        "the gateway itself, so that what is due (a request pending past its limit) is "
        "decided on time, in the registry's transaction",
        message_types=(ClockTicked,),
        key="partition",
        writer_roles=_REGISTRY,
        extra_configs={"retention.ms": "86400000"},
    ),
    TopicSpec(
        name="registry.dead-letters",
        purpose="records that could not be read or were refused, with the reason and origin",
        message_types=(DeadLetterRecorded,),
        key="source_topic",
        writer_roles=_REGISTRY,
        subscriber_roles=_EXCHANGE_READS,
        partitions=1,
    ),
)

TOPICS_BY_NAME: Mapping[str, TopicSpec] = {spec.name: spec for spec in CATALOGUE}

LEDGER_PARTITIONED = (
    "ledger.commands",
    "ledger.transfers",
    "registry.ledger-journal",
    "registry.ledger-snapshots",
)
"""The topics whose partition p is ledger partition p."""


def with_ledger_partitions(catalogue: Sequence[TopicSpec], partitions: int) -> list[TopicSpec]:
    """The catalogue with the ledger on ``partitions`` partitions."""
    return [
        replace(spec, partitions=partitions) if spec.name in LEDGER_PARTITIONED else spec
        for spec in catalogue
    ]


def route(message_type: type[Contract], sender_role: PartyRole) -> TopicSpec:
    """The topic a sender in ``sender_role`` writes ``message_type`` to."""
    for spec in CATALOGUE:
        if message_type in spec.message_types and sender_role in spec.writer_roles:
            return spec
    raise NoRoute(f"no topic carries {message_type.MESSAGE_TYPE} from a {sender_role.value}")
