"""The fault test, short: 2,000 events, two kill -9 of `gateway run` (one while it restores
after the first) and one broker restart under it; every check of `gateway faults` must hold.

The harness always starts a broker of its own (a broker restart would take the session's
broker from the other tests); a few minutes on these machines.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.runtime.settings import Settings
from gateway.tools.cli import build_parser, fault_options
from gateway.tools.faults import FaultOptions, run_faults
from tests.readme_commands import readme_command

pytestmark = [pytest.mark.broker, pytest.mark.long]


def short_run(run_dir: Path) -> FaultOptions:
    """The README's short run (`gateway faults --events 2000 --kills 2 --broker-restarts 1`)
    as `gateway faults` reads it, with a fixed seed and longer waits for a loaded machine."""
    line = readme_command(".venv/bin/gateway faults")
    arguments = build_parser().parse_args(shlex.split(line)[1:])
    options = fault_options(arguments, Settings())
    assert (options.events, options.kills, options.broker_restarts) == (2_000, 2, 1)
    return replace(
        options,
        seed=11,
        drain_timeout_s=90,
        recovery_timeout_s=60,
        own_broker=True,
        run_dir=run_dir,
    )


@pytest.mark.timeout(900)
async def test_a_short_fault_run_keeps_every_promise(tmp_path: Path) -> None:
    report = await run_faults(short_run(tmp_path), Settings())
    print(report.text())
    if not report.passed:
        pytest.fail("\n".join(report.failure_lines()), pytrace=False)
