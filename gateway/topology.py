"""The whole flow in one table: for each processor, the topics it reads, the contracts it takes
on each and the handler that decides them, what it emits and where, the state log it keeps
and how its partitions are owned.

The topic catalogue (``contracts.topics``) says what a topic is (key, partitions, policy,
writers); this table says who reads and writes it. The engine's subscriptions, the metric
labels, ``gateway topology`` and the AsyncAPI document's operations are derived from here; a
test keeps the catalogue and this table consistent.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from contracts.asyncapi import ProcessorChannels
from contracts.base import Contract
from contracts.custody import CustodyMovementRecorded
from contracts.dead_letter import DeadLetterRecorded
from contracts.ledger import LEDGER_COMMANDS, LEDGER_DECISIONS
from contracts.topics import TOPICS_BY_NAME, route
from contracts.values import PartyRole
from gateway.ledger import apply_fact, claim_document
from gateway.ledger import post as ledger_post
from gateway.readside.tables import SOURCE_TOPICS as READ_SIDE_TOPICS
from gateway.registry.core import HANDLERS

DEAD_LETTERS = "registry.dead-letters"
REGISTRY_CLOCK = "registry.clock"
"""The ticks the gateway writes to itself (``gateway.runtime.clock``), read back by the
registry like any input."""
CBAM_REPORTS = "registry.cbam-reports"
"""The importers' quarterly CBAM report versions, written by the HTTP API when an importer
files one (``gateway.runtime.http_api``), read by the read side only: no processor writes it."""
HTTP_API_TOPICS: tuple[str, ...] = (CBAM_REPORTS,)


class Processor(StrEnum):
    """The gateway's processors, each a pure step run by the exactly-once engine."""

    REGISTRY = "registry"
    LEDGER = "ledger"


class Ownership(StrEnum):
    CO_PARTITIONED = "co-partitioned"
    """Partition p of every input topic goes to one instance (range assignor), which holds
    p's state and a transactional producer with the id ``<group>-<p>``."""
    BY_HOLDER = "partitioned by account holder"
    """Partition p of the ledger's topics holds the accounts of the holders whose id hashes
    to p, and the whole directory; it is owned like a co-partitioned processor's."""


@dataclass(frozen=True)
class Input:
    topic: str
    takes: tuple[type[Contract], ...]
    handler: str
    """Where the step decides these contracts (module and function)."""


@dataclass(frozen=True)
class ProcessorSpec:
    processor: Processor
    inputs: tuple[Input, ...]
    emits: tuple[type[Contract], ...]
    """What it publishes; each goes to the topic the catalogue routes it to from the registry
    role, and every processor may set a record aside on the dead-letter topic."""
    state_log: str
    state_log_kind: str
    ownership: Ownership
    snapshot_log: str | None = None
    """A compacted topic of snapshots the state log is restored from, with its tail."""
    internal_topics: tuple[str, ...] = ()
    """Topics it writes for itself (read back as inputs), besides what it emits."""
    clock_topic: str | None = None
    """The ticks the gateway writes for it (``gateway.runtime.clock``), outside its
    transactions, read back as an input."""

    @property
    def input_topics(self) -> tuple[str, ...]:
        return tuple(flow.topic for flow in self.inputs)

    @property
    def output_topics(self) -> tuple[str, ...]:
        """Every topic it publishes on (its state log apart), in catalogue order."""
        routed = {route(contract, PartyRole.REGISTRY).name for contract in self.emits}
        routed.update(self.internal_topics)
        return tuple(name for name in TOPICS_BY_NAME if name in routed or name == DEAD_LETTERS)

    def emitted_on(self, topic: str) -> tuple[type[Contract], ...]:
        if topic in self.internal_topics:
            return TOPICS_BY_NAME[topic].message_types
        return tuple(c for c in self.emits if route(c, PartyRole.REGISTRY).name == topic)


def _registry_handler(contract: type[Contract]) -> str:
    handler: Callable[..., object] = HANDLERS[contract]
    return f"{handler.__module__}.{handler.__name__}"


def _registry_input(topic: str) -> Input:
    takes = TOPICS_BY_NAME[topic].message_types
    return Input(topic, takes, ", ".join(dict.fromkeys(map(_registry_handler, takes))))


_REGISTRY_INGEST = (
    "producer.production-batches",
    "producer.ecoas",
    "producer.cbam-forms",
    "warehouse.lot-arrivals",
    "warehouse.warrant-requests",
    "warehouse.ecoas",
    "member.ecoas",
    "exchange.brand-commands",
)

_REGISTRY_EMITS: tuple[type[Contract], ...] = (
    *TOPICS_BY_NAME["registry.brand-status"].message_types,
    *TOPICS_BY_NAME["registry.ecoa-decisions"].message_types,
    *TOPICS_BY_NAME["registry.cbam-form-decisions"].message_types,
    *TOPICS_BY_NAME["registry.warrant-decisions"].message_types,
    *TOPICS_BY_NAME["registry.warrant-state"].message_types,
    CustodyMovementRecorded,
    DeadLetterRecorded,
)

TOPOLOGY: tuple[ProcessorSpec, ...] = (
    ProcessorSpec(
        processor=Processor.REGISTRY,
        inputs=tuple(_registry_input(topic) for topic in (*_REGISTRY_INGEST, REGISTRY_CLOCK)),
        emits=_REGISTRY_EMITS,
        clock_topic=REGISTRY_CLOCK,
        state_log="registry.state-changelog",
        state_log_kind="compacted, one record per changed entity; local SQLite copy",
        ownership=Ownership.CO_PARTITIONED,
    ),
    ProcessorSpec(
        processor=Processor.LEDGER,
        inputs=(
            Input(
                "ledger.commands",
                (*LEDGER_COMMANDS, CustodyMovementRecorded),
                f"gateway.ledger.{ledger_post.__name__}",
            ),
            Input(
                "ledger.transfers",
                (),
                f"gateway.ledger.{ledger_post.__name__}, {apply_fact.__name__}, "
                f"{claim_document.__name__}",
            ),
        ),
        emits=(
            *LEDGER_DECISIONS,
            *TOPICS_BY_NAME["registry.custody-balances"].message_types,
            DeadLetterRecorded,
        ),
        internal_topics=("ledger.transfers",),
        state_log="registry.ledger-journal",
        state_log_kind="the facts of every decision, applied after the last snapshot",
        ownership=Ownership.BY_HOLDER,
        snapshot_log="registry.ledger-snapshots",
    ),
)

SPECS: Mapping[Processor, ProcessorSpec] = {spec.processor: spec for spec in TOPOLOGY}


def spec_of(processor: Processor) -> ProcessorSpec:
    return SPECS[processor]


def readers_of(topic: str) -> tuple[Processor, ...]:
    return tuple(spec.processor for spec in TOPOLOGY if topic in spec.input_topics)


def writers_of(topic: str) -> tuple[Processor, ...]:
    return tuple(
        spec.processor
        for spec in TOPOLOGY
        if topic in spec.output_topics
        or topic in (spec.state_log, spec.snapshot_log, spec.clock_topic)
    )


def asyncapi_channels() -> tuple[ProcessorChannels, ...]:
    """What each processor receives and sends, as the AsyncAPI document states it."""
    read_side = ProcessorChannels(
        name="read side",
        receives=READ_SIDE_TOPICS,
        sends=(),
        operation="project",
        reads_how="projects this topic's committed records into its store (read_committed, "
        "at least once, idempotent upserts) for the parties' HTTP API",
    )
    return *(
        ProcessorChannels(
            name=spec.processor.value,
            receives=spec.input_topics,
            sends=(
                *spec.output_topics,
                spec.state_log,
                *((spec.snapshot_log,) if spec.snapshot_log else ()),
                *((spec.clock_topic,) if spec.clock_topic else ()),
            ),
        )
        for spec in TOPOLOGY
    ), read_side


def render(width: int = 100) -> str:
    """The flow on one screen, as ``gateway topology`` prints it."""
    lines: list[str] = []

    def listed(head: str, names: Iterable[str]) -> None:
        lines.extend(
            textwrap.wrap(
                ", ".join(names),
                width=width,
                initial_indent=f"    {head:<28} ",
                subsequent_indent=" " * 33,
                break_on_hyphens=False,
                break_long_words=False,
            )
        )

    for spec in TOPOLOGY:
        lines.append(f"{spec.processor.value}  ({spec.ownership.value}; state: {spec.state_log})")
        lines.append("  reads")
        for flow in spec.inputs:
            takes = [c.MESSAGE_TYPE for c in flow.takes] or ["(its own records)"]
            one_line = f"    {flow.topic:<28} {', '.join(takes)} -> {flow.handler}"
            if len(one_line) <= width:
                lines.append(one_line)
            else:
                listed(flow.topic, takes)
                listed("", [f"-> {flow.handler}"])
        lines.append("  emits")
        for topic in spec.output_topics:
            listed(topic, [c.MESSAGE_TYPE for c in spec.emitted_on(topic)] or ["(its own records)"])
        lines.append(f"  state log  {spec.state_log}: {spec.state_log_kind}")
        if spec.snapshot_log:
            lines.append(f"  snapshots  {spec.snapshot_log}")
        if spec.clock_topic:
            lines.append(f"  clock      {spec.clock_topic}: ticks the gateway writes for it")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


REGISTRY_INPUTS = tuple(
    topic for topic in SPECS[Processor.REGISTRY].input_topics if topic != REGISTRY_CLOCK
)
"""What the parties send the registry: its inputs but its clock (which the tools that count
inputs and outcomes, and wait for them, leave aside)."""
REGISTRY_OUTPUTS = SPECS[Processor.REGISTRY].output_topics
LEDGER_INPUT, LEDGER_TRANSFERS = SPECS[Processor.LEDGER].input_topics
LEDGER_OUTPUTS = SPECS[Processor.LEDGER].output_topics
LEDGER_SNAPSHOTS = "registry.ledger-snapshots"
