"""The scenarios of ``gateway bench``, by name, in the order they run when several are named.

To add one: a module in this package with a ``Scenario`` (see ``framework.py``: its name, a
summary for ``--help``, the options it adds and an async function returning the tables it
prints), listed here. ``restore``, ``state-size`` and ``ledger`` (issue 10) are still to
come.
"""

from __future__ import annotations

from gateway.tools.bench import latency, throughput
from gateway.tools.bench.framework import Scenario

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario for scenario in (throughput.SCENARIO, latency.SCENARIO)
}
