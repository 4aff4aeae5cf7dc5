"""The fault test, short: 2,000 events, two kill -9 of `gateway run` (one while it restores
after the first) and one broker restart under it; every check of `gateway faults` must hold.

The harness always starts a broker of its own (a broker restart would take the session's
broker from the other tests); a few minutes on these machines.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gateway.runtime.settings import Settings
from gateway.tools.faults import FaultOptions, run_faults

pytestmark = pytest.mark.broker

SHORT_RUN = FaultOptions(
    events=2_000,
    kills=2,
    broker_restarts=1,
    seed=11,
    drain_timeout_s=90,
    recovery_timeout_s=60,
    own_broker=True,
)


@pytest.mark.timeout(900)
async def test_a_short_fault_run_keeps_every_promise(tmp_path: Path) -> None:
    options = replace(SHORT_RUN, run_dir=tmp_path)
    report = await run_faults(options, Settings())
    print(report.text())
    if not report.passed:
        pytest.fail("\n".join(report.failure_lines()), pytrace=False)
