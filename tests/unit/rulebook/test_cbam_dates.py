"""The CBAM dates are configuration: the yearly form deadline and a reporting year's own
(moved) deadline (§4.3), and the start of verification (§4.1.3), each read from the one
rulebook value by every rule that uses it."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.cbam import CbamEmissionsFormSubmitted
from gateway.rulebook.cbam_form import decide_form
from gateway.rulebook.model import FormDeadline, Rulebook, load_rulebook
from gateway.rulebook.warrantability import form_for_production_year
from tests.unit.rulebook.test_cbam_form import accepted_form, calendar_year, listed, valid_form

SOURCE = load_rulebook()
EU_VERIFICATION = load_rulebook(verification_start=date(2026, 1, 1))
"""An exchange that requires verification only from the EU's definitive period."""
MOVED = load_rulebook(first_form_deadline=date(2025, 6, 15), verification_start=date(2026, 1, 1))
UNVERIFIED = {"verifier": None, "level_of_assurance": None}


def form_of(year: int, **changes: object) -> CbamEmissionsFormSubmitted:
    return valid_form(
        form_id=f"FORM-{year}", reporting_year=year, reporting_period=calendar_year(year), **changes
    )


def test_the_source_dates_are_the_defaults() -> None:
    cbam = SOURCE.cbam
    assert cbam.deadline_for(2024) == date(2025, 3, 15)
    assert cbam.deadline_for(2025) == date(2026, 3, 15)
    assert cbam.verification_start == date(2024, 1, 1)


def test_a_moved_first_deadline_moves_that_year_only() -> None:
    assert MOVED.cbam.deadline_for(2024) == date(2025, 6, 15)
    assert MOVED.cbam.deadline_for(2025) == date(2026, 3, 15)


def test_a_moved_yearly_deadline_moves_every_year_but_one_with_its_own() -> None:
    both = load_rulebook(
        form_deadline=FormDeadline(month=4, day=30), first_form_deadline=date(2025, 6, 15)
    )
    assert both.cbam.deadline_for(2024) == date(2025, 6, 15)
    assert both.cbam.deadline_for(2025) == date(2026, 4, 30)


@pytest.mark.parametrize(
    ("rulebook", "notes"),
    [
        pytest.param(
            EU_VERIFICATION,
            (
                "submitted after the 15 March 2025 deadline (§4.3)",
                "not verified: a form must be verified from 2026-01-01 (§4.1.3)",
            ),
            id="the source's 15 March: late",
        ),
        pytest.param(
            MOVED,
            ("not verified: a form must be verified from 2026-01-01 (§4.1.3)",),
            id="the exchange's 15 June: on time",
        ),
    ],
)
def test_the_first_form_of_1_june_2025_is_late_only_under_the_source_deadline(
    rulebook: Rulebook, notes: tuple[str, ...]
) -> None:
    decision = decide_form(form_of(2024, **UNVERIFIED), listed(), rulebook, today=date(2025, 6, 1))
    assert decision.accepted
    assert decision.notes == notes


def test_by_default_every_form_must_be_verified_ahead_of_the_eu() -> None:
    decision = decide_form(form_of(2024, **UNVERIFIED), listed(), SOURCE, today=date(2025, 3, 1))
    assert {(v.code, v.field) for v in decision.violations} == {
        ("MANDATORY_FIELD_MISSING", "verifier"),
        ("MANDATORY_FIELD_MISSING", "level_of_assurance"),
    }


def test_before_the_verification_start_a_form_may_be_unverified() -> None:
    decision = decide_form(
        form_of(2024, **UNVERIFIED), listed(), EU_VERIFICATION, today=date(2025, 12, 31)
    )
    assert decision.accepted


def test_from_the_verification_start_a_form_must_be_verified() -> None:
    decision = decide_form(
        form_of(2024, **UNVERIFIED), listed(), EU_VERIFICATION, today=date(2026, 1, 1)
    )
    assert {(v.code, v.field) for v in decision.violations} == {
        ("MANDATORY_FIELD_MISSING", "verifier"),
        ("MANDATORY_FIELD_MISSING", "level_of_assurance"),
    }


def test_a_later_verification_start_lets_an_unverified_form_through() -> None:
    later = load_rulebook(verification_start=date(2027, 1, 1))
    decision = decide_form(form_of(2025, **UNVERIFIED), listed(), later, today=date(2026, 2, 1))
    assert decision.accepted


def test_before_the_verification_start_a_stated_verification_must_be_complete() -> None:
    decision = decide_form(
        form_of(2024, level_of_assurance=None), listed(), EU_VERIFICATION, today=date(2025, 6, 1)
    )
    assert [(v.code, v.field) for v in decision.violations] == [
        ("MANDATORY_FIELD_MISSING", "level_of_assurance")
    ]


def test_the_previous_year_form_stands_in_until_the_configured_deadline() -> None:
    """§4.3 Figure 4 reads the same deadline: with 30 April, the 2025 form covers metal
    produced in 2026 until 30 April 2027."""
    brand = listed(forms={2025: accepted_form("FORM-2025", 2025)})
    april = load_rulebook(form_deadline=FormDeadline(month=4, day=30)).cbam
    assert form_for_production_year(brand, 2026, april, today=date(2027, 4, 30)) is not None
    assert form_for_production_year(brand, 2026, april, today=date(2027, 5, 1)) is None
    assert form_for_production_year(brand, 2026, SOURCE.cbam, today=date(2027, 4, 30)) is None


@pytest.mark.parametrize("text", ["02-29", "13-01", "3-15x", "0315"])
def test_a_yearly_deadline_is_a_day_of_every_year(text: str) -> None:
    with pytest.raises(ValueError, match=r"MM-DD|every year|month"):
        FormDeadline.parse(text)


def test_a_yearly_deadline_reads_month_and_day() -> None:
    assert FormDeadline.parse("06-15") == FormDeadline(month=6, day=15)
