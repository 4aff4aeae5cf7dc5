"""Monthly and yearly closing per certificate: one statement per account of the certificate
(opening, in, out, closing), the closing carried forward, nothing dated in a closed period
booked under the certificate afterwards, and the other certificates left open."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ledger import (
    Accepted,
    ClosePeriod,
    Command,
    LedgerState,
    Period,
    PeriodKind,
    PeriodNotClosable,
    PhysicalTransfer,
    Reconciliation,
    Rejected,
    apply_fact,
    apply_facts,
    close_period,
    post,
    replay,
)
from gateway.ledger.codec import decode_fact
from gateway.ledger.facts import command_digest
from tests.unit.ledger.builders import (
    CLOSE,
    SITE_LEVEL,
    account,
    arrived,
    certificate,
    join,
    kg,
    leave,
    received,
    shipped,
    site,
    sold,
)

JANUARY, FEBRUARY, MARCH = (Period.month(2026, month) for month in (1, 2, 3))
A = "A/asi_aluminium/S@C-1"
B = "B/asi_aluminium/S@C-1"


def ledger() -> LedgerState:
    """Two sites of one site-level certificate, members since 2025."""
    return replay(
        [
            certificate("reg-1", "C-1", "GROUP", SITE_LEVEL),
            site("reg-2", "A"),
            site("reg-3", "B"),
            join("reg-4", "A", "C-1", on=date(2025, 1, 1)),
            join("reg-5", "B", "C-1", on=date(2025, 1, 1)),
        ]
    )


def booked(*commands: Command) -> LedgerState:
    state = ledger()
    for command in commands:
        outcome = post(state, command)
        assert isinstance(outcome, Accepted), outcome
        state = outcome.state
    return state


def statement(opening: int, in_kg: int, out_kg: int, closing: int) -> tuple[Decimal, ...]:
    return kg(opening), kg(in_kg), kg(out_kg), kg(closing)


def by_account(statements: tuple[Reconciliation, ...]) -> dict[str, tuple[Decimal, ...]]:
    return {r.account.text: (r.opening_kg, r.in_kg, r.out_kg, r.closing_kg) for r in statements}


def first_quarter() -> LedgerState:
    return booked(
        received("p-1", "A", 1000, on=date(2026, 1, 10)),
        sold("p-2", "A", 300, on=date(2026, 1, 20)),
        shipped("p-3", "A", "B", 200, on=date(2026, 1, 25)),
        arrived("p-3r", shipped("p-3", "A", "B", 200, on=date(2026, 1, 25))),
        received("p-4", "A", 200, on=date(2026, 2, 5)),
        sold("p-5", "B", 150, on=date(2026, 2, 15)),
        received("p-6", "B", 40, on=date(2026, 3, 3)),
    )


def test_a_month_reconciles_each_account_with_transfers_as_in_and_out() -> None:
    _, statements = close_period(first_quarter(), JANUARY)
    assert by_account(statements) == {
        A: statement(0, 1000, 500, 500),
        B: statement(0, 200, 0, 200),
    }


def test_the_closing_is_carried_forward_as_the_next_months_opening() -> None:
    state, january = close_period(first_quarter(), JANUARY)
    state, february = close_period(state, FEBRUARY)
    state, march = close_period(state, MARCH)
    assert by_account(february) == {A: statement(500, 200, 0, 700), B: statement(200, 0, 150, 50)}
    assert by_account(march) == {A: statement(700, 0, 0, 700), B: statement(50, 40, 0, 90)}
    for earlier, later in ((january, february), (february, march)):
        closings = {r.account: r.closing_kg for r in earlier}
        assert {r.account: r.opening_kg for r in later} == closings
    assert {r.account: r.closing_kg for r in march} == dict(state.balances)


def test_a_year_reconciles_the_same_as_its_months_together() -> None:
    state = first_quarter()
    months_state = state
    months = []
    for period in (JANUARY, FEBRUARY, MARCH):
        months_state, statements = close_period(months_state, period)
        months.append(by_account(statements))
    _, year = close_period(months_state, Period.year(2026))
    for text, (opening, in_kg, out_kg, closing) in by_account(year).items():
        assert opening == months[0][text][0]
        assert in_kg == sum(month[text][1] for month in months)
        assert out_kg == sum(month[text][2] for month in months)
        assert closing == months[-1][text][3] == opening + in_kg - out_kg


def test_a_year_closes_directly_and_carries_into_the_next_year() -> None:
    state, year_2026 = close_period(first_quarter(), Period.year(2026))
    assert by_account(year_2026) == {A: statement(0, 1200, 500, 700), B: statement(0, 240, 150, 90)}
    state = post(state, sold("p-7", "A", 100, on=date(2027, 6, 1))).state
    state, year_2027 = close_period(state, Period.year(2027))
    assert by_account(year_2027) == {A: statement(700, 0, 100, 600), B: statement(90, 0, 0, 90)}


def test_an_account_with_nothing_to_state_gets_no_statement() -> None:
    state = booked(
        received("p-1", "A", 100, on=date(2026, 1, 10)),
        leave("p-2", "A", "C-1", date(2026, 1, 31), CLOSE),
    )
    state, january = close_period(state, JANUARY)
    assert by_account(january) == {A: statement(0, 100, 100, 0)}
    _, february = close_period(state, FEBRUARY)
    assert february == ()


def test_a_posting_dated_in_a_closed_period_is_rejected_naming_the_period() -> None:
    state, _ = close_period(first_quarter(), JANUARY)
    outcome = post(state, received("late", "A", 5, on=date(2026, 1, 31)))
    assert isinstance(outcome, Rejected)
    assert outcome.codes == ("PERIOD_CLOSED",)
    assert "falls in closed month 2026-01 (2026-01-01 to 2026-01-31)" in outcome.reasons[0].message
    assert outcome.state.balances == state.balances


def test_a_posting_dated_before_the_first_closed_period_is_rejected_too() -> None:
    state, _ = close_period(first_quarter(), JANUARY)
    outcome = post(state, received("older", "A", 5, on=date(2025, 12, 31)))
    assert isinstance(outcome, Rejected)
    assert "is before closed month 2026-01" in outcome.reasons[0].message


def test_a_posting_dated_after_the_closed_period_is_booked() -> None:
    state, _ = close_period(first_quarter(), JANUARY)
    outcome = post(state, received("on-time", "A", 5, on=date(2026, 2, 1)))
    assert isinstance(outcome, Accepted)


def test_a_closed_year_names_the_month_when_a_month_is_closed_inside_it() -> None:
    state, _ = close_period(first_quarter(), JANUARY)
    state, _ = close_period(state, Period.year(2026))
    outcome = post(state, received("late", "A", 5, on=date(2026, 1, 15)))
    assert isinstance(outcome, Rejected)
    assert "closed month 2026-01" in outcome.reasons[0].message
    outcome = post(state, received("later", "A", 5, on=date(2026, 7, 15)))
    assert isinstance(outcome, Rejected)
    assert "closed year 2026" in outcome.reasons[0].message


@pytest.mark.parametrize(
    ("closed", "closing", "says"),
    [
        ((JANUARY,), JANUARY, "month 2026-01 is already closed"),
        ((JANUARY,), MARCH, "the next month to close starts 2026-02-01"),
        ((JANUARY, FEBRUARY), JANUARY, "already closed"),
        ((Period.year(2025),), Period.year(2027), "the next year to close starts 2026-01-01"),
        ((JANUARY,), Period.year(2027), "would leave 2026-02-01 to 2026-12-31 open"),
    ],
)
def test_periods_close_once_and_in_sequence(
    closed: tuple[Period, ...], closing: Period, says: str
) -> None:
    state = first_quarter()
    for period in closed:
        state, _ = close_period(state, period)
    with pytest.raises(PeriodNotClosable, match=says) as refused:
        close_period(state, closing)
    assert refused.value.violation.code == "PERIOD_NOT_CLOSABLE"


@pytest.mark.parametrize(
    ("start", "end", "kind"),
    [
        (date(2026, 1, 2), date(2026, 1, 31), PeriodKind.MONTH),
        (date(2026, 1, 1), date(2026, 2, 28), PeriodKind.MONTH),
        (date(2026, 1, 1), date(2026, 6, 30), PeriodKind.YEAR),
    ],
)
def test_a_period_is_a_calendar_month_or_year(start: date, end: date, kind: PeriodKind) -> None:
    with pytest.raises(ValueError, match="period runs"):
        Period(start, end, kind)


def test_calendar_periods_have_their_real_ends() -> None:
    assert Period.month(2024, 2).end == date(2024, 2, 29)
    assert Period.month(2026, 12).end == date(2026, 12, 31)
    assert Period(date(2026, 2, 1), date(2026, 2, 28), PeriodKind.MONTH) == Period.month(2026, 2)


movements = st.lists(
    st.tuples(
        st.sampled_from(["in", "out", "transfer"]),
        st.sampled_from(["A", "B"]),
        st.integers(min_value=1, max_value=12),
        st.integers(min_value=1, max_value=28),
        st.integers(min_value=1, max_value=500),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(movements)
def test_monthly_statements_add_up_and_chain_for_random_postings(
    moves: list[tuple[str, str, int, int, int]],
) -> None:
    state = ledger()
    for number, (kind, site_id, month, day_of_month, quantity) in enumerate(
        sorted(moves, key=lambda move: (move[2], move[3]))
    ):
        on = date(2026, month, day_of_month)
        other = "B" if site_id == "A" else "A"
        if kind == "in":
            command: Command = received(f"m-{number}", site_id, quantity, on=on)
        elif kind == "out":
            command = sold(f"m-{number}", site_id, quantity, on=on)
        else:
            command = shipped(f"m-{number}", site_id, other, quantity, on=on)
        state = post(state, command).state
        if isinstance(command, PhysicalTransfer):
            state = post(state, arrived(f"m-{number}r", command)).state
    previous: dict[str, Decimal] = {}
    for month in range(1, 13):
        state, statements = close_period(state, Period.month(2026, month))
        for r in statements:
            assert r.closing_kg == r.opening_kg + r.in_kg - r.out_kg
            assert r.opening_kg == previous.get(r.account.text, Decimal(0))
            assert min(r.opening_kg, r.closing_kg) >= 0
        previous = {r.account.text: r.closing_kg for r in statements}
    for text in (A, B):
        assert previous.get(text, Decimal(0)) == state.balance(account(text))


def test_a_close_posted_as_a_command_is_decided_once_like_any_posting() -> None:
    command = ClosePeriod(posting_id="close-jan", period=JANUARY)
    first = post(ledger(), command)
    assert isinstance(first, Accepted) and first.entries == ()
    assert first.state.closed_periods("C-1") == (JANUARY,)
    again = post(first.state, command)
    assert isinstance(again, Accepted) and again.state is first.state
    other = post(first.state, ClosePeriod(posting_id="close-jan-again", period=JANUARY))
    assert isinstance(other, Rejected) and other.codes == ("PERIOD_NOT_CLOSABLE",)
    assert other.state.closes == first.state.closes


def two_certificates() -> LedgerState:
    """C-1 with sites A and B (``ledger``), and C-2 with site Z, each with January postings."""
    return booked(
        certificate("reg-6", "C-2", "OTHER", SITE_LEVEL),
        site("reg-7", "Z"),
        join("reg-8", "Z", "C-2", on=date(2025, 1, 1)),
        received("p-1", "A", 1000, on=date(2026, 1, 10)),
        received("p-2", "Z", 300, on=date(2026, 1, 12)),
    )


def test_closing_january_for_one_certificate_leaves_the_others_open() -> None:
    closed = post(
        two_certificates(), ClosePeriod(posting_id="close", period=JANUARY, certificate_id="C-1")
    )
    assert isinstance(closed, Accepted)
    assert by_account(closed.statements) == {A: statement(0, 1000, 0, 1000)}
    assert closed.state.closed_through("C-1") == JANUARY.end
    assert closed.state.closed_through("C-2") is None
    late_at_z = post(closed.state, received("late-z", "Z", 5, on=date(2026, 1, 31)))
    assert isinstance(late_at_z, Accepted)
    late_at_a = post(closed.state, received("late-a", "A", 5, on=date(2026, 1, 31)))
    assert isinstance(late_at_a, Rejected) and late_at_a.codes == ("PERIOD_CLOSED",)
    assert "of certificate C-1, which is closed through 2026-01-31" in late_at_a.reasons[0].message


def test_a_close_naming_no_certificate_closes_every_certificate_as_before() -> None:
    closed = post(two_certificates(), ClosePeriod(posting_id="close", period=JANUARY))
    assert isinstance(closed, Accepted) and closed.fact is not None
    assert closed.fact.closed_for == ("C-1", "C-2")
    assert set(by_account(closed.statements)) == {A, "Z/asi_aluminium/S@C-2"}
    late = post(closed.state, received("late-z", "Z", 5, on=date(2026, 1, 31)))
    assert isinstance(late, Rejected) and late.codes == ("PERIOD_CLOSED",)


def test_a_close_of_an_unregistered_certificate_is_refused() -> None:
    outcome = post(ledger(), ClosePeriod(posting_id="close", period=JANUARY, certificate_id="C-9"))
    assert isinstance(outcome, Rejected) and outcome.codes == ("UNKNOWN_CERTIFICATE",)


def test_a_close_sent_before_closes_named_a_certificate_keeps_its_digest() -> None:
    """The digest the previous version kept for a close: its type, id and period only."""
    written_before = hashlib.blake2b(
        "\x1f".join(["ClosePeriod", "close-jan", "month:2026-01-01"]).encode(), digest_size=16
    ).hexdigest()
    assert command_digest(ClosePeriod(posting_id="close-jan", period=JANUARY)) == written_before
    named = ClosePeriod(posting_id="close-jan", period=JANUARY, certificate_id="C-1")
    assert command_digest(named) != written_before


def test_a_legacy_close_fact_closes_every_certificate_registered_when_it_is_applied() -> None:
    legacy = decode_fact(
        b'{"v":2,"id":"close-jan","t":"ClosePeriod","d":"00","on":"2026-01-31",'
        b'"k":"accepted","close":["month","2026-01-01"]}'
    )
    state = apply_facts([legacy], two_certificates())
    assert state.closed_through("C-1") == state.closed_through("C-2") == JANUARY.end
    assert apply_fact(two_certificates(), legacy)[0] == state
