"""The scenarios of ``gateway bench``, by name, in the order they run when several are named.

To add one: a module in this package with a ``Scenario`` (see ``framework.py``: its name, a
summary for ``--help``, the options it adds and an async function returning the tables it
prints), listed here.
"""

from __future__ import annotations

from gateway.tools.bench import latency, ledger, restore, signatures, state_size, throughput
from gateway.tools.bench.framework import Scenario

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        throughput.SCENARIO,
        latency.SCENARIO,
        restore.SCENARIO,
        state_size.SCENARIO,
        ledger.SCENARIO,
        signatures.SCENARIO,
    )
}
