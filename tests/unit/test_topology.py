"""The topology table agrees with the topic catalogue, the registry's handlers, the metrics'
labels and what `gateway topology` prints."""

from __future__ import annotations

import pytest

from consumers.counting import REGISTRY_DECISIONS
from consumers.metrics import DECISION_OUTCOMES
from contracts.base import Contract
from contracts.topics import CATALOGUE, TOPICS_BY_NAME, route
from contracts.values import PartyRole
from gateway.registry.core import HANDLERS
from gateway.tools.cli import main
from gateway.topology import (
    DEAD_LETTERS,
    HTTP_API_TOPICS,
    REGISTRY_CLOCK,
    REGISTRY_INPUTS,
    REGISTRY_OUTPUTS,
    TOPOLOGY,
    Processor,
    ProcessorSpec,
    readers_of,
    render,
    spec_of,
    writers_of,
)

SPECS = {spec.processor.value: spec for spec in TOPOLOGY}


def test_every_topic_a_party_writes_is_read_by_exactly_one_processor() -> None:
    for topic in CATALOGUE:
        written_by_parties = set(topic.writer_roles) - {PartyRole.REGISTRY}
        if written_by_parties:
            assert len(readers_of(topic.name)) == 1, topic.name


def test_no_topic_is_read_by_two_processors() -> None:
    for topic in CATALOGUE:
        assert len(readers_of(topic.name)) <= 1, topic.name


def test_every_topic_the_gateway_writes_has_a_processor_writing_it() -> None:
    for topic in CATALOGUE:
        if PartyRole.REGISTRY in topic.writer_roles and topic.name not in HTTP_API_TOPICS:
            assert writers_of(topic.name), topic.name


@pytest.mark.parametrize("spec", TOPOLOGY, ids=lambda spec: spec.processor.value)
def test_each_input_takes_what_its_topic_carries(spec: ProcessorSpec) -> None:
    for flow in spec.inputs:
        assert flow.topic in TOPICS_BY_NAME, flow.topic
        assert set(flow.takes) == set(TOPICS_BY_NAME[flow.topic].message_types), flow.topic


def test_the_registry_has_a_handler_for_every_contract_it_takes_and_no_other() -> None:
    taken = {contract for flow in spec_of(Processor.REGISTRY).inputs for contract in flow.takes}
    assert taken == set(HANDLERS)
    for flow in spec_of(Processor.REGISTRY).inputs:
        for contract in flow.takes:
            assert HANDLERS[contract].__name__ in flow.handler, (flow.topic, contract)


@pytest.mark.parametrize("spec", TOPOLOGY, ids=lambda spec: spec.processor.value)
def test_every_emitted_contract_has_a_topic_the_gateway_may_write(spec: ProcessorSpec) -> None:
    for contract in spec.emits:
        topic = route(contract, PartyRole.REGISTRY)
        assert topic.name in spec.output_topics, contract.MESSAGE_TYPE
    assert DEAD_LETTERS in spec.output_topics


@pytest.mark.parametrize("spec", TOPOLOGY, ids=lambda spec: spec.processor.value)
def test_the_state_log_is_nobody_s_input_or_output(spec: ProcessorSpec) -> None:
    log = TOPICS_BY_NAME[spec.state_log]
    assert log.message_types == ()
    assert not readers_of(log.name)
    assert writers_of(log.name) == (spec.processor,)


def test_a_single_partition_processor_reads_single_partition_topics() -> None:
    for spec in TOPOLOGY:
        partitions = {TOPICS_BY_NAME[topic].partitions for topic in spec.input_topics}
        assert len(partitions) == 1, spec.processor  # co-partitioned: one count for all
        if spec.ownership.value == "single partition":
            assert partitions == {1}
        assert TOPICS_BY_NAME[spec.state_log].partitions in partitions


def test_the_registry_reads_its_clock_co_partitioned_but_no_party_sends_it() -> None:
    registry = spec_of(Processor.REGISTRY)
    assert registry.clock_topic == REGISTRY_CLOCK
    assert REGISTRY_CLOCK in registry.input_topics
    assert REGISTRY_CLOCK not in (*REGISTRY_INPUTS, *REGISTRY_OUTPUTS)
    clock = TOPICS_BY_NAME[REGISTRY_CLOCK]
    assert clock.partitions == TOPICS_BY_NAME[registry.state_log].partitions
    assert (clock.writer_roles, writers_of(REGISTRY_CLOCK)) == (
        (PartyRole.REGISTRY,),
        (Processor.REGISTRY,),
    )


def test_the_decision_metrics_label_what_the_registry_emits() -> None:
    emitted: set[type[Contract]] = set(spec_of(Processor.REGISTRY).emits)
    emitted_types = {contract.MESSAGE_TYPE for contract in emitted}
    assert set(REGISTRY_DECISIONS) <= emitted_types
    labelled = {
        (decision, outcome)
        for decision, outcomes in DECISION_OUTCOMES.items()
        for outcome in outcomes
    }
    assert set(REGISTRY_DECISIONS.values()) == labelled


def test_gateway_topology_prints_every_topic_and_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["topology"]) == 0
    printed = capsys.readouterr().out
    assert printed == render()
    for spec in TOPOLOGY:
        assert spec.processor.value in printed
        for topic in (*spec.input_topics, *spec.output_topics, spec.state_log):
            assert topic in printed
        for flow in spec.inputs:
            for contract in flow.takes:
                assert contract.MESSAGE_TYPE in printed
    assert len(printed.splitlines()) <= 60  # one screen
