"""The ledger on several partitions, without Kafka: each partition is the pipeline over its own
state, and the records it writes on ``ledger.transfers`` are delivered to the partition their
key (or named partition) gives, as the engine would. A custody move between holders on two
partitions is debited where the source is held and credited where the destination is; a
refused debit credits nothing; with every hop delivered, the partitions together hold exactly
the balances of the one-partition ledger, each the sum of its published deltas, and each
partition's journaled facts restore it identically."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import ledger as wire
from contracts.base import Contract
from contracts.custody import CustodyBalanceUpdated, CustodyMovementRecorded
from contracts.envelope import decode_message
from contracts.topics import TOPICS_BY_NAME
from contracts.values import AccountingLevel
from gateway.ledger import LedgerState, apply_facts
from gateway.ledger.codec import decode_fact, decode_snapshot, encode_chunks, snapshot_items
from gateway.processors.ledger import (
    CLAIM_HEADER,
    DECIDER_HEADER,
    HOPS_HEADER,
    LEDGER_TRANSFERS,
    process_ledger_record,
)
from gateway.processors.partitions import partition_of
from gateway.processors.records import InputRecord, OutputRecord
from gateway.processors.step import Outcome
from tests.unit.test_ledger_pipeline import (
    NOW,
    SETTINGS,
    certified_input,
    command_streams,
    lot_arrival_move,
    record,
    setup,
)
from tests.unit.test_ledger_pipeline import (
    Q as Q_TEXT,
)

PARTITIONS = 2
# With two partitions, A1 is held by partition 1, A2 and WH1 by partition 0.
assert [partition_of(holder, PARTITIONS) for holder in ("A1", "A2", "WH1")] == [1, 0, 0]


@dataclass
class Cluster:
    partitions: int
    states: list[LedgerState] = field(default_factory=list)
    journals: list[list[bytes]] = field(default_factory=list)
    published: list[OutputRecord] = field(default_factory=list)
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    waiting: deque[InputRecord] = field(default_factory=deque)
    offset: int = 0

    def __post_init__(self) -> None:
        self.states = [LedgerState() for _ in range(self.partitions)]
        self.journals = [[] for _ in range(self.partitions)]
        self.settings = replace(SETTINGS, partitions=self.partitions)

    def send(
        self, body: Contract, sender: str, *, key: str | None = None, settle: bool = True
    ) -> None:
        """A command on ledger.commands, keyed as the catalogue says (or by ``key``); then
        every hop it causes (with ``settle`` off, the hops wait for ``settle``: commands
        sent so meet on the way, as concurrent ones do)."""
        sent = record(body, self.offset, sender)
        self.offset += 1
        if key is None:
            key = TOPICS_BY_NAME["ledger.commands"].key_of(body).decode()
        partition = partition_of(key, self.partitions)
        self._deliver(replace(sent, partition=partition))
        if settle:
            self.settle()

    def settle(self) -> None:
        while self.waiting:
            self._deliver(self.waiting.popleft())

    def _deliver(self, rec: InputRecord) -> None:
        result = process_ledger_record(
            self.states[rec.partition], rec, now=NOW, settings=self.settings
        )
        self.outcomes[result.outcome] += 1
        self.states[rec.partition] = result.state
        self.journals[rec.partition].extend(value for _key, value in result.journal)
        for out in result.outputs:
            if out.topic != LEDGER_TRANSFERS:
                self.published.append(out)
                continue
            partition = out.partition
            if partition is None:
                partition = partition_of(out.key.decode(), self.partitions)
            self.offset += 1
            self.waiting.append(
                InputRecord(
                    LEDGER_TRANSFERS, partition, self.offset, None, out.key, out.value, out.headers
                )
            )

    def balances(self) -> dict[str, Decimal]:
        held: dict[str, Decimal] = {}
        for state in self.states:
            for account, kg in state.balances.items():
                assert account.text not in held, "an account held by two partitions"
                held[account.text] = kg
        return held

    def bodies(self) -> list[Contract]:
        return [decode_message(out.headers, out.value).body for out in self.published]


def move(posting_id: str, kg: str, source: str = "A1") -> CustodyMovementRecorded:
    return lot_arrival_move(posting_id.removeprefix("lot-arrival."), kg, source)


def funded(partitions: int) -> Cluster:
    cluster = Cluster(partitions)
    for body, sender in setup():
        cluster.send(body, sender)
    cluster.send(certified_input("in-1", "1000"), "smelter-a")
    return cluster


def test_a_move_across_partitions_is_debited_at_the_source_and_credited_at_the_destination() -> (
    None
):
    cluster = funded(PARTITIONS)
    cluster.send(move("lot-arrival.L1", "400"), "custody-registry")
    a1, wh1 = "A1/asi_aluminium/S@CERT-A", "WH1/asi_aluminium/S@CERT-WH"
    held = [
        {account.text: kg for account, kg in state.balances.items()} for state in cluster.states
    ]
    assert held == [{wh1: Decimal(400)}, {a1: Decimal(600)}]
    decisions = [b for b in cluster.bodies() if isinstance(b, wire.LedgerPostingAccepted)]
    assert [d.posting_id for d in decisions].count("lot-arrival.L1") == 1
    (accepted,) = [d for d in decisions if d.posting_id == "lot-arrival.L1"]
    assert [a.holder_id for a in accepted.accounts] == ["A1", "WH1"]
    updates = [
        (u.account_key, u.delta_kg, u.balance_kg)
        for u in cluster.bodies()
        if isinstance(u, CustodyBalanceUpdated) and u.posting_id == "lot-arrival.L1"
    ]
    assert updates == [(a1, Decimal(-400), Decimal(600)), (wh1, Decimal(400), Decimal(400))]
    assert cluster.balances() == funded_one_partition_after_move()


def funded_one_partition_after_move() -> dict[str, Decimal]:
    single = funded(1)
    single.send(move("lot-arrival.L1", "400"), "custody-registry")
    return single.balances()


def test_a_refused_debit_credits_nothing() -> None:
    cluster = funded(PARTITIONS)
    cluster.send(move("lot-arrival.L2", "1500"), "custody-registry")
    (rejected,) = [b for b in cluster.bodies() if isinstance(b, wire.LedgerPostingRejected)]
    assert rejected.violations[0].code == "OVERDRAW"
    assert cluster.balances() == {"A1/asi_aluminium/S@CERT-A": Decimal(1000)}
    assert not cluster.waiting


def test_a_debit_arriving_where_its_holder_is_not_held_is_passed_on_and_decided_once() -> None:
    cluster = funded(PARTITIONS)
    forwarded = cluster.outcomes[Outcome.FORWARDED]
    # sent keyed by something else, this move lands on partition 0; A1 is held by partition 1
    posting_id, elsewhere = "lot-arrival.L9", "WH1"
    cluster.send(move(posting_id, "100"), "custody-registry", key=elsewhere)
    cluster.send(move(posting_id, "100"), "custody-registry", key=elsewhere)  # again
    assert cluster.outcomes[Outcome.FORWARDED] == forwarded + 2
    assert cluster.outcomes[Outcome.ALREADY_HANDLED] == 1
    assert cluster.balances()["WH1/asi_aluminium/S@CERT-WH"] == Decimal(100)
    decided = [b.posting_id for b in cluster.bodies() if isinstance(b, wire.LedgerPostingAccepted)]
    assert decided.count(posting_id) == 1


@settings(max_examples=60, deadline=None)
@given(
    command_streams(),
    st.lists(st.tuples(st.sampled_from(["A1", "A2"]), st.integers(1, 900))),
    st.booleans(),
)
def test_partitions_together_hold_the_one_partition_balances_each_the_sum_of_its_deltas(
    stream: list[tuple[Contract, str]], moves: list[tuple[str, int]], by_posting_id: bool
) -> None:
    """Keyed as the catalogue says, or all by posting id (most commands then passed on)."""
    commands = [
        *setup(),
        *stream,
        *(
            (move(f"lot-arrival.M{n}", str(kg), source), "custody-registry")
            for n, (source, kg) in enumerate(moves)
        ),
    ]
    single, split = Cluster(1), Cluster(PARTITIONS)
    for body, sender in commands:
        single.send(body, sender)
        key = str(getattr(body, "posting_id", "")) if by_posting_id else None
        split.send(body, sender, key=key)
    assert split.balances() == single.balances()
    assert all(kg >= 0 for kg in split.balances().values())
    deltas: Counter[str] = Counter()
    for body in split.bodies():
        if isinstance(body, CustodyBalanceUpdated):
            deltas[body.account_key] += body.delta_kg  # type: ignore[assignment]
    assert {key: kg for key, kg in deltas.items() if kg or key in split.balances()} == {
        key: kg for key, kg in split.balances().items()
    }
    for state, journal in zip(split.states, split.journals, strict=True):
        assert apply_facts(decode_fact(value) for value in journal) == state


def test_a_membership_change_is_decided_where_the_site_is_held() -> None:
    cluster = funded(PARTITIONS)
    forwarded = cluster.outcomes[Outcome.FORWARDED]
    leave = wire.LeaveCertificate.build(
        posting_id="leave-A1",
        site_id="A1",
        certificate_id="CERT-A",
        effective_on=date(2026, 3, 20),
        balance_rule=wire.LeavingBalanceRule.CLOSE,
    )
    cluster.send(leave, "exchange-listing-desk", key="WH1")  # lands on partition 0
    assert cluster.outcomes[Outcome.FORWARDED] == forwarded + 1
    # decided on partition 1, which holds A1's account: its balance written off there
    assert cluster.balances()["A1/asi_aluminium/S@CERT-A"] == Decimal(0)
    assert cluster.states[0].latest_membership("A1") == cluster.states[1].latest_membership("A1")


def test_a_transfer_between_partitions_is_in_transit_until_received_where_the_receiver_is() -> None:
    cluster = funded(PARTITIONS)
    dispatch = wire.RecordPhysicalTransfer.build(
        posting_id="transfer-1",
        from_site="A1",
        to_site="A2",
        material_quality="asi_aluminium",
        quantity_kg=Decimal(300),
        level=AccountingLevel.SITE,
        transport_document="CMR-1",
        occurred_on=date(2026, 3, 4),
    )
    cluster.send(dispatch, "smelter-a")
    assert cluster.balances() == {"A1/asi_aluminium/S@CERT-A": Decimal(700)}
    assert all("CMR-1" in state.transits for state in cluster.states)
    receipt = wire.RecordTransferReceipt.build(
        **dispatch.model_dump(include={"transport_document", "from_site", "to_site", "level"}),
        posting_id="receipt-1",
        material_quality="asi_aluminium",
        quantity_kg=Decimal(300),
        occurred_on=date(2026, 3, 5),
    )
    cluster.send(receipt, "smelter-a", key="A1")  # arrives where A1 is: passed on to A2's
    cluster.send(receipt.model_copy(update={"posting_id": "receipt-2"}), "smelter-a", key="A1")
    assert cluster.balances() == {
        "A1/asi_aluminium/S@CERT-A": Decimal(700),
        "A2/asi_aluminium/S@CERT-A": Decimal(300),
    }
    assert not any(state.transits for state in cluster.states)
    decided = {
        body.posting_id: type(body).__name__
        for body in cluster.bodies()
        if isinstance(body, wire.LedgerPostingAccepted | wire.LedgerPostingRejected)
    }
    assert decided["receipt-1"] == "LedgerPostingAccepted"
    assert decided["receipt-2"] == "LedgerPostingRejected"


# ---- a document credited once across partitions ---------------------------------------------
# A1 is held by partition 1, A2 by partition 0. The home of coc:COC-Y and transport:CMR-9 is
# partition 0, of coc:COC-X partition 1.
assert [partition_of(d, PARTITIONS) for d in ("coc:COC-Y", "transport:CMR-9", "coc:COC-X")] == [
    0,
    0,
    1,
]


def input_of(posting_id: str, site: str, document: str, kg: str = "100") -> Contract:
    body = certified_input(posting_id, kg, site)
    return body.model_copy(update={"coc_document": document})


def dispatch(posting_id: str, from_site: str, to_site: str, document: str, kg: str) -> Contract:
    return wire.RecordPhysicalTransfer.build(
        posting_id=posting_id,
        from_site=from_site,
        to_site=to_site,
        material_quality="asi_aluminium",
        quantity_kg=Decimal(kg),
        level=AccountingLevel.SITE,
        transport_document=document,
        occurred_on=date(2026, 3, 4),
    )


def decisions(
    cluster: Cluster,
) -> dict[str, wire.LedgerPostingAccepted | wire.LedgerPostingRejected]:
    decided: dict[str, wire.LedgerPostingAccepted | wire.LedgerPostingRejected] = {}
    for body in cluster.bodies():
        if isinstance(body, wire.LedgerPostingAccepted | wire.LedgerPostingRejected):
            assert body.posting_id not in decided, f"{body.posting_id} decided twice"
            decided[body.posting_id] = body
    return decided


def restores(cluster: Cluster) -> bool:
    return all(
        apply_facts(decode_fact(value) for value in journal) == state
        for state, journal in zip(cluster.states, cluster.journals, strict=True)
    )


def test_one_coc_document_booked_at_sites_of_two_partitions_is_credited_once() -> None:
    cluster = funded(PARTITIONS)
    cluster.send(input_of("in-A1", "A1", "COC-Y"), "smelter-a")  # home of COC-Y: partition 0
    cluster.send(input_of("in-A2", "A2", "COC-Y"), "smelter-a")  # decided on partition 0
    decided = decisions(cluster)
    assert isinstance(decided["in-A1"], wire.LedgerPostingAccepted)
    refusal = decided["in-A2"]
    assert isinstance(refusal, wire.LedgerPostingRejected)
    assert [(v.code, v.field) for v in refusal.violations] == [
        ("COC_DOCUMENT_CREDITED", "coc_document")
    ]
    assert "booked by posting in-A1" in refusal.violations[0].message
    assert cluster.balances() == {"A1/asi_aluminium/S@CERT-A": Decimal(1100)}
    assert restores(cluster)


def test_two_postings_of_one_document_on_the_way_at_once_are_credited_once() -> None:
    """Both are planned on their own partitions before either is decided: without a claim at
    the document's home each partition would credit it."""
    for document in ("COC-Y", "COC-X"):  # one home is each site's partition
        cluster = funded(PARTITIONS)
        cluster.send(input_of("in-A1", "A1", document), "smelter-a", settle=False)
        cluster.send(input_of("in-A2", "A2", document), "smelter-a", settle=False)
        cluster.settle()
        decided = {p: d for p, d in decisions(cluster).items() if p in ("in-A1", "in-A2")}
        accepted = [p for p, d in decided.items() if isinstance(d, wire.LedgerPostingAccepted)]
        rejected = {
            p: [v.code for v in d.violations]
            for p, d in decided.items()
            if isinstance(d, wire.LedgerPostingRejected)
        }
        assert len(accepted) == 1 and set(decided) - set(accepted) == set(rejected)
        assert [*rejected.values()] == [["COC_DOCUMENT_CREDITED"]]
        credited = sum(cluster.balances().values()) - Decimal(1000)
        assert credited == Decimal(100), document
        assert restores(cluster)


def test_one_transport_document_dispatched_from_two_partitions_moves_material_once() -> None:
    cluster = funded(PARTITIONS)
    cluster.send(input_of("in-A2", "A2", "COC-A2", "500"), "smelter-a")
    cluster.send(dispatch("t-A1", "A1", "A2", "CMR-9", "300"), "smelter-a", settle=False)
    cluster.send(dispatch("t-A2", "A2", "A1", "CMR-9", "200"), "smelter-a", settle=False)
    cluster.settle()
    decided = decisions(cluster)
    kinds = {p: type(decided[p]).__name__ for p in ("t-A1", "t-A2")}
    assert sorted(kinds.values()) == ["LedgerPostingAccepted", "LedgerPostingRejected"]
    (refused,) = [decided[p] for p, kind in kinds.items() if kind == "LedgerPostingRejected"]
    assert isinstance(refused, wire.LedgerPostingRejected)
    assert [v.code for v in refused.violations] == ["TRANSPORT_DOCUMENT_USED"]
    in_transit = {document for state in cluster.states for document in state.transits}
    assert in_transit == {"CMR-9"}
    assert sum(cluster.balances().values()) + sum(
        t.quantity_kg for t in cluster.states[0].transits.values()
    ) == Decimal(1500)
    assert restores(cluster)


def test_a_document_claimed_for_a_posting_then_refused_is_given_back_to_its_home() -> None:
    cluster = funded(PARTITIONS)  # A1 holds 1000 kg
    cluster.send(dispatch("t-1", "A1", "A2", "CMR-9", "800"), "smelter-a", settle=False)
    # while t-1 claims CMR-9 at partition 0, an output takes A1 below what t-1 needs
    output = wire.RecordCertifiedOutput.build(
        posting_id="out-1",
        site_id="A1",
        holder_id="A1",
        material_quality=Q_TEXT,
        quantity_kg=Decimal(500),
        level=AccountingLevel.SITE,
        claim_document="INV-1",
        occurred_on=date(2026, 3, 3),
    )
    cluster.send(output, "smelter-a", settle=False)
    cluster.settle()
    decided = decisions(cluster)
    assert isinstance(decided["out-1"], wire.LedgerPostingAccepted)
    refused = decided["t-1"]
    assert isinstance(refused, wire.LedgerPostingRejected)
    assert [v.code for v in refused.violations] == ["OVERDRAW"]
    assert not cluster.states[0].document_claims  # given back
    cluster.send(dispatch("t-2", "A1", "A2", "CMR-9", "400"), "smelter-a")
    assert isinstance(decisions(cluster)["t-2"], wire.LedgerPostingAccepted)
    (claim,) = cluster.states[0].document_claims.values()
    assert claim.posting_id == "t-2"
    cluster.send(dispatch("t-1", "A1", "A2", "CMR-9", "800"), "smelter-a")  # t-1 again
    assert cluster.outcomes[Outcome.ALREADY_HANDLED] == 1
    assert cluster.states[0].document_claims.get("transport:CMR-9") == claim
    assert restores(cluster)


def test_the_claims_a_partition_holds_survive_its_snapshot() -> None:
    cluster = funded(PARTITIONS)
    cluster.send(input_of("in-A1", "A1", "COC-Y"), "smelter-a")
    home = cluster.states[0]
    assert [c.posting_id for c in home.document_claims.values()] == ["in-A1"]
    chunks = encode_chunks(snapshot_items(home), 4096)
    assert decode_snapshot(chunks) == home


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A1", "A2"]),
            st.sampled_from(["COC-X", "COC-Y", "COC-Z", "COC-W"]),
            st.integers(1, 50),
            st.booleans(),
        ),
        max_size=14,
    )
)
def test_however_postings_of_shared_documents_meet_each_document_is_credited_once(
    postings: list[tuple[str, str, int, bool]],
) -> None:
    """Inputs naming a few documents at the sites of both partitions, some sent while others
    are still on the way: each document is credited by one accepted posting at most, every
    claim left at a home is an accepted posting's, and each partition's journal restores it."""
    cluster = funded(PARTITIONS)
    sent: dict[str, tuple[str, int]] = {}
    for n, (site, document, kg, settle) in enumerate(postings):
        posting_id = f"p{n}"
        sent[posting_id] = (document, kg)
        cluster.send(input_of(posting_id, site, document, str(kg)), "smelter-a", settle=settle)
    cluster.settle()
    decided = decisions(cluster)
    assert set(decided) >= set(sent)
    accepted = [p for p in sent if isinstance(decided[p], wire.LedgerPostingAccepted)]
    documents = [sent[p][0] for p in accepted]
    assert len(documents) == len(set(documents))
    assert set(documents) == {document for document, _kg in sent.values()}
    assert sum(cluster.balances().values()) == 1000 + sum(sent[p][1] for p in accepted)
    claims = [c.posting_id for state in cluster.states for c in state.document_claims.values()]
    assert set(claims) <= set(accepted)
    assert not cluster.waiting and restores(cluster)


def test_a_claim_passed_on_too_often_is_set_aside_and_claims_nothing() -> None:
    cluster = funded(PARTITIONS)
    sent = record(input_of("in-A1", "A1", "COC-Y"), 99, "smelter-a")
    looping = replace(
        sent,
        topic=LEDGER_TRANSFERS,
        partition=0,  # the home of coc:COC-Y
        headers=[
            *sent.headers,
            (CLAIM_HEADER, b"coc:COC-Y"),
            (DECIDER_HEADER, b"1"),
            (HOPS_HEADER, b"8"),
        ],
    )
    result = process_ledger_record(cluster.states[0], looping, now=NOW, settings=cluster.settings)
    assert result.outcome is Outcome.DEAD_LETTER
    assert result.state == cluster.states[0] and not result.state.document_claims
    assert result.journal == ()
