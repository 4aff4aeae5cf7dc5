"""The collector's settings of `gateway run`, and their use in in-process measurements."""

from __future__ import annotations

import gc

from gateway.runtime.garbage import THRESHOLDS, as_in_service


def test_a_measurement_runs_with_the_service_settings_and_gets_its_own_back() -> None:
    before = gc.get_threshold()
    held = [object() for _ in range(10)]
    with as_in_service():
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0  # what the caller held is out of the collector's sight
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert held
