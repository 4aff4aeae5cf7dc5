"""The rulebook's dates set by Notice, and the pending limit, come from GATEWAY_* settings; the
source's (the rulebook's) otherwise; the clock's interval is a setting too."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from gateway.runtime.app import configured_rulebook
from gateway.runtime.settings import Settings


def test_without_settings_the_rulebook_keeps_the_source_dates() -> None:
    cbam = configured_rulebook(Settings()).cbam
    assert (cbam.deadline_for(2024), cbam.deadline_for(2025)) == (
        date(2025, 3, 15),
        date(2026, 3, 15),
    )
    assert (cbam.notice_date, cbam.verification_start) == (date(2025, 1, 1), date(2024, 1, 1))


def test_the_environment_sets_each_cbam_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_CBAM_NOTICE_DATE", "2025-07-01")
    monkeypatch.setenv("GATEWAY_CBAM_FORM_DEADLINE", "04-30")
    monkeypatch.setenv("GATEWAY_CBAM_FIRST_FORM_DEADLINE", "2025-06-15")
    monkeypatch.setenv("GATEWAY_CBAM_VERIFICATION_START", "2027-01-01")
    cbam = configured_rulebook(Settings()).cbam
    assert cbam.notice_date == date(2025, 7, 1)
    assert cbam.deadline_for(2024) == date(2025, 6, 15)
    assert cbam.deadline_for(2025) == date(2026, 4, 30)
    assert cbam.verification_start == date(2027, 1, 1)


def test_a_yearly_deadline_that_is_not_month_and_day_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_CBAM_FORM_DEADLINE", "15 March")
    with pytest.raises(ValidationError):
        Settings()


def test_the_pending_limit_is_the_rulebooks_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert configured_rulebook(Settings()).pending_limit == timedelta(days=30)
    monkeypatch.setenv("GATEWAY_WARRANT_PENDING_LIMIT", "PT3S")
    assert configured_rulebook(Settings()).pending_limit == timedelta(seconds=3)
    monkeypatch.setenv("GATEWAY_WARRANT_PENDING_LIMIT", "PT0S")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("given", "every"),
    [
        (None, timedelta(minutes=1)),
        ("PT1S", timedelta(seconds=1)),
        ("0", timedelta(0)),
        ("off", timedelta(0)),
    ],
)
def test_the_clock_ticks_every_minute_unless_set_or_off(
    monkeypatch: pytest.MonkeyPatch, given: str | None, every: timedelta
) -> None:
    if given is not None:
        monkeypatch.setenv("GATEWAY_CLOCK_TICK_EVERY", given)
    assert Settings().clock_tick_every == every
