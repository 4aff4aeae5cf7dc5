"""Invariants over random postings on sites of all three kinds of certificate: balances are
the sum of the published balance deltas, never negative; the journal's facts (and a snapshot
with the facts after it) restore the identical ledger; delivering everything twice changes
nothing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ledger import (
    Accepted,
    AccountKey,
    BalanceUpdate,
    CertifiedInput,
    CertifiedOutput,
    Command,
    CustodyMove,
    EligibleScrapInput,
    Fact,
    FactKind,
    Forward,
    LedgerState,
    Level,
    LevelAllocation,
    NonCertifiedInput,
    PhysicalTransfer,
    Rejected,
    TransferReceipt,
    apply_facts,
    post,
    replay,
)
from gateway.ledger.codec import (
    decode_fact,
    decode_snapshot,
    encode_chunks,
    encode_fact,
    snapshot_items,
)
from tests.unit.ledger.builders import (
    CLOSE,
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
    scrap,
    shipped,
    site,
    sold,
    uncertified,
)

T = TypeVar("T")

CERTIFICATES = {"C-SITE": "SITEGRP", "C-GROUP": "GRP", "C-SEP": "SEPGRP"}
MEMBERS = {
    "S1": "C-SITE",
    "S2": "C-SITE",
    "G1": "C-GROUP",
    "G2": "C-GROUP",
    "T1": "C-SEP",
    "T2": "C-SEP",
}
SITES = sorted(MEMBERS)
HOLDERS = [*SITES, *CERTIFICATES.values(), "NOBODY"]
LEVELS_OF = {"C-SITE": [S], "C-GROUP": [G], "C-SEP": [S, G]}


def funded_ledger() -> LedgerState:
    """The three kinds of certificate with their sites; every account they use holds 200 kg
    for each site posting to it."""
    return replay(funding_commands())


def funding_commands() -> list[Command]:
    return [
        certificate("reg-site", "C-SITE", "SITEGRP", SITE_LEVEL),
        certificate("reg-group", "C-GROUP", "GRP", GROUP_LEVEL),
        certificate("reg-sep", "C-SEP", "SEPGRP", GROUP_LEVEL, separate=True),
        *(site(f"reg-{site_id}", site_id) for site_id in SITES),
        *(
            join(f"join-{site_id}", site_id, cert, on=1, nominated=cert == "C-SEP")
            for site_id, cert in MEMBERS.items()
        ),
        *(
            received(
                f"fund-{site_id}-{level}",
                site_id,
                200,
                level=level,
                holder=holder_of(site_id, level),
                on=1,
            )
            for site_id in SITES
            for level in natural_levels(site_id)
        ),
    ]


def holder_of(site_id: str, level: Level) -> str:
    return CERTIFICATES[MEMBERS[site_id]] if level is G else site_id


sites = st.sampled_from(SITES)
days = st.integers(min_value=2, max_value=28).map(lambda on: date(2026, 3, on))


def quantities(most: int) -> st.SearchStrategy[Decimal]:
    """Quarters of a kilogram up to ``most`` kg; zero now and then."""
    return st.integers(min_value=0, max_value=4 * most).map(lambda quarters: Decimal(quarters) / 4)


@st.composite
def mostly(draw: st.DrawFn, usual: st.SearchStrategy[T], unusual: st.SearchStrategy[T]) -> T:
    """Five times in six the usual value."""
    return draw(usual if draw(st.integers(min_value=0, max_value=5)) else unusual)


def natural_levels(holder_id: str) -> list[Level]:
    return LEVELS_OF[MEMBERS[holder_id]] if holder_id in MEMBERS else [G]


@st.composite
def level_and_holder(draw: st.DrawFn, site_id: str) -> tuple[Level, str]:
    """Mostly what the site's certificate takes; now and then anything, to be rejected."""
    level = draw(mostly(st.sampled_from(natural_levels(site_id)), st.sampled_from([S, G])))
    holder = draw(mostly(st.just(holder_of(site_id, level)), st.sampled_from(HOLDERS)))
    return level, holder


@st.composite
def certified_input(draw: st.DrawFn) -> Command:
    site_id, quantity, on = draw(sites), draw(quantities(1000)), draw(days)
    level, holder = draw(level_and_holder(site_id))
    if draw(st.integers(min_value=0, max_value=2)) == 0:
        return scrap("_", site_id, quantity, level=level, holder=holder, on=on)
    return received("_", site_id, quantity, level=level, holder=holder, on=on)


@st.composite
def certified_output(draw: st.DrawFn) -> Command:
    site_id, quantity, on = draw(sites), draw(quantities(400)), draw(days)
    level, holder = draw(level_and_holder(site_id))
    return sold("_", site_id, quantity, level=level, holder=holder, on=on)


@st.composite
def transfer(draw: st.DrawFn) -> list[Command]:
    """A dispatch and, mostly, its receipt: mostly as dispatched, now and then another
    quantity or a later day."""
    source, quantity, on = draw(sites), draw(quantities(300)), draw(days)
    partners = [other for other in SITES if MEMBERS[other] == MEMBERS[source] and other != source]
    target = draw(mostly(st.sampled_from(partners), sites))
    level = draw(mostly(st.sampled_from(natural_levels(source)), st.sampled_from([S, G])))
    dispatch = shipped("_", source, target, quantity, level=level, on=on)
    if not draw(st.integers(min_value=0, max_value=4)):
        return [dispatch]
    receipt = arrived("_", dispatch, on=draw(mostly(st.just(on), days)))
    received_kg = draw(mostly(st.just(quantity), quantities(300)))
    return [dispatch, replace(receipt, quantity_kg=received_kg)]


@st.composite
def allocation(draw: st.DrawFn) -> Command:
    site_id = draw(mostly(st.sampled_from(["T1", "T2"]), sites))
    from_level, to_level = draw(
        mostly(st.just((G, S)), st.tuples(st.sampled_from([S, G]), st.sampled_from([S, G])))
    )
    quantity, on = draw(quantities(300)), draw(days)
    return allocated("_", site_id, quantity, from_level=from_level, to_level=to_level, on=on)


@st.composite
def custody_move(draw: st.DrawFn) -> Command:
    source, quantity, on = draw(st.sampled_from(HOLDERS)), draw(quantities(300)), draw(days)
    elsewhere = [h for h in HOLDERS if certificate_of(h) != certificate_of(source)]
    target = draw(mostly(st.sampled_from(elsewhere), st.sampled_from(HOLDERS)))
    level = draw(mostly(st.sampled_from(natural_levels(source)), st.sampled_from([S, G])))
    return moved("_", source, target, quantity, level=level, on=on)


def certificate_of(holder_id: str) -> str | None:
    if holder_id in MEMBERS:
        return MEMBERS[holder_id]
    return next((c for c, group in CERTIFICATES.items() if group == holder_id), None)


@st.composite
def non_certified_input(draw: st.DrawFn) -> Command:
    return uncertified("_", draw(sites), draw(quantities(300)), on=draw(days))


@st.composite
def membership_change(draw: st.DrawFn) -> list[Command]:
    """A site leaving its first certificate and, mostly, joining one again later."""
    site_id, left_on = draw(sites), draw(days)
    rule = draw(st.sampled_from([TAKE, CLOSE]))
    commands: list[Command] = [leave("_", site_id, MEMBERS[site_id], left_on, rule)]
    if draw(st.integers(min_value=0, max_value=3)):
        joined_on = draw(st.dates(left_on, date(2026, 3, 31)))
        new_certificate = draw(st.sampled_from(sorted(CERTIFICATES)))
        nominated = draw(st.booleans())
        commands.append(join("_", site_id, new_certificate, on=joined_on, nominated=nominated))
    return commands


@st.composite
def command_sequences(draw: st.DrawFn) -> list[Command]:
    single = (
        [certified_input()] * 3
        + [certified_output()] * 5
        + [allocation(), custody_move(), non_certified_input()]
    )
    steps = st.one_of(
        *(kind.map(lambda command: [command]) for kind in single),
        transfer(),
        transfer(),
        membership_change(),
    )
    drawn = [command for step in draw(st.lists(steps, max_size=40)) for command in step]
    commands: list[Command] = []
    dispatched = "CMR-_"
    """The transport document of the latest dispatch, which the receipt after it names."""
    for number, command in enumerate(drawn):
        posting_id = f"r-{number}"
        if commands and draw(st.integers(min_value=0, max_value=9)) == 0:
            posting_id = draw(st.sampled_from(commands)).posting_id
        command = replace(command, posting_id=posting_id)
        if isinstance(command, CertifiedInput) and draw(st.integers(min_value=0, max_value=9)):
            command = replace(command, coc_document=f"COC-{number}")  # else booked before
        if isinstance(command, PhysicalTransfer) and draw(st.integers(min_value=0, max_value=9)):
            command = replace(command, transport_document=f"CMR-{number}")
            dispatched = command.transport_document
        if isinstance(command, TransferReceipt):
            command = replace(command, transport_document=dispatched)
        commands.append(command)
    return commands


FACTS: dict[int, tuple[LedgerState, list[Fact]]] = {}
"""The facts each run's state was built by (its journal), by the state's id."""


def facts_of(state: LedgerState) -> list[Fact]:
    held, facts = FACTS[id(state)]
    assert held is state
    return facts


START = funded_ledger()
START_ENTRIES: list[BalanceUpdate] = []
START_FACTS: list[Fact] = []


def _funded_facts() -> None:
    state = LedgerState()
    for command in funding_commands():
        outcome = post(state, command)
        assert not isinstance(outcome, Forward)
        state = outcome.state
        if outcome.fact is not None:
            START_FACTS.append(outcome.fact)
        if isinstance(outcome, Accepted):
            START_ENTRIES.extend(outcome.entries)
    assert state == START
    FACTS[id(START)] = (START, START_FACTS)


_funded_facts()


def run(state: LedgerState, commands: list[Command]) -> tuple[LedgerState, list[BalanceUpdate]]:
    accepted: list[BalanceUpdate] = []
    facts = list(facts_of(state))
    for command in commands:
        before = state
        outcome = post(state, command)
        assert not isinstance(outcome, Forward)
        state = outcome.state
        if outcome.fact is not None:
            facts.append(decode_fact(encode_fact(outcome.fact)))
        assert all(balance >= 0 for balance in state.balances.values())
        if isinstance(outcome, Rejected):
            assert outcome.reasons
            assert state.balances == before.balances
            assert state.applied == before.applied
            continue
        assert all(entry.balance_kg >= 0 for entry in outcome.entries)
        _assert_conserves(command, outcome, before)
        accepted.extend(outcome.entries)
    FACTS[id(state)] = (state, facts)
    return state, accepted


def _assert_conserves(command: Command, outcome: Accepted, before: LedgerState) -> None:
    if command.posting_id in before.applied:
        assert outcome.entries == ()
        assert outcome.state == before
        return
    total = sum((entry.delta_kg for entry in outcome.entries), Decimal(0))
    if isinstance(command, CertifiedInput | EligibleScrapInput):
        assert total == command.quantity_kg
    elif isinstance(command, CertifiedOutput):
        assert total == -command.quantity_kg
    elif isinstance(command, PhysicalTransfer):
        assert total == (-command.quantity_kg if command.level is S else 0)
    elif isinstance(command, TransferReceipt):
        assert total == (command.quantity_kg if command.level is S else 0)
    elif isinstance(command, LevelAllocation | CustodyMove):
        assert total == 0
    elif isinstance(command, NonCertifiedInput):
        assert outcome.entries == ()


def sums(entries: list[BalanceUpdate]) -> dict[AccountKey, Decimal]:
    totals: defaultdict[AccountKey, Decimal] = defaultdict(Decimal)
    for entry in entries:
        totals[entry.account] += entry.delta_kg
    return dict(totals)


@settings(max_examples=150, deadline=None)
@given(command_sequences())
def test_every_balance_is_the_sum_of_the_accepted_postings_and_never_negative(
    commands: list[Command],
) -> None:
    state, accepted = run(START, commands)
    assert dict(state.balances) == sums([*START_ENTRIES, *accepted])


@settings(max_examples=100, deadline=None)
@given(command_sequences())
def test_applying_the_journaled_facts_to_an_empty_ledger_gives_the_identical_state(
    commands: list[Command],
) -> None:
    state, _ = run(START, commands)
    assert apply_facts(facts_of(state)) == state


@settings(max_examples=100, deadline=None)
@given(command_sequences(), st.integers(min_value=0, max_value=200), st.integers(200, 5000))
def test_a_snapshot_and_the_facts_after_it_give_the_identical_state(
    commands: list[Command], cut: int, chunk_bytes: int
) -> None:
    state, _ = run(START, commands)
    facts = facts_of(state)
    cut = min(cut, len(facts))
    at_cut = apply_facts(facts[:cut])
    snapshot = decode_snapshot(encode_chunks(snapshot_items(at_cut), chunk_bytes))
    assert snapshot == at_cut
    assert apply_facts(facts[cut:], snapshot) == state


@settings(max_examples=100, deadline=None)
@given(command_sequences())
def test_delivering_the_whole_sequence_twice_changes_nothing(commands: list[Command]) -> None:
    once, _ = run(START, commands)
    twice, entries_second_time = run(once, commands)
    assert twice == once
    assert entries_second_time == []


@settings(max_examples=50, deadline=None)
@given(command_sequences())
def test_a_posting_id_is_decided_once(commands: list[Command]) -> None:
    state, _ = run(START, commands)
    assert not set(state.applied) & set(state.rejections)
    facts = facts_of(state)
    assert len(state.applied) == sum(fact.kind is FactKind.ACCEPTED for fact in facts)
