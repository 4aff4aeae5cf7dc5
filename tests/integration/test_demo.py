"""``make demo``'s job, as `make demo` runs it: on a secured broker of its own, each party
connected as itself and signing with its own key; every kind of decision, the custody moves
and balances beside them, the forged and unauthorised records refused, exit 0. (The demo on
a broker given by ``KAFKA_BOOTSTRAP_SERVERS`` shares all but the broker's start with it.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.readme_commands import make_is_installed, readme_command, run_line

pytestmark = pytest.mark.broker


def run_demo(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The README's `make demo`, from the repository."""
    if not make_is_installed():
        pytest.skip("`make install` has not run in this repository: `make demo` would install")
    return run_line(readme_command("make demo"), environment=environment, timeout_s=240)


def test_the_demo_runs_secured_and_shows_every_kind_of_decision(tmp_path: Path) -> None:
    environment = {
        name: value for name, value in os.environ.items() if name != "KAFKA_BOOTSTRAP_SERVERS"
    }
    done = run_demo({**environment, "GATEWAY_RUN_DIR": str(tmp_path / "run")})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "secured: SASL_PLAINTEXT with SCRAM-SHA-512" in done.stdout
    for line in (
        "refused by the broker: warehouse-rotterdam-07 may not write ",
        "producer.ecoas (TopicAuthorizationFailedError)",
        "sender_not_authenticated (ce_partyid): ce_partyid claims warehouse-rotterdam-07, but "
        "the record is signed by warehouse-antwerp-02",
        "broker: stopped (it was started for this demo)",
        *EVERY_KIND,
    ):
        assert line in done.stdout, line
    assert not list((tmp_path / "run").glob("**/server.properties")), "nothing left in run_dir"


EVERY_KIND = (
    "warrant ISSUED      LOT-RTM-0001",
    "warrant REJECTED    LOT-RTM-0002: LOT_WEIGHT_OUT_OF_TOLERANCE",
    "warrant PENDING     LOT-RTM-0003",
    "warrant ISSUED      LOT-RTM-0003",
    "eCOA REJECTED       ECOA-MEMBER-09",
    "CBAM form REJECTED  FORM-ALUMO-2025-DRAFT",
    "warrant REJECTED    LOT-RTM-0004: BRAND_SUSPENDED",
    "dead letter         producer.production-batches",
    "dead letter         warehouse.lot-arrivals",
    "custody move        LOT-RTM-0001: 20000 kg asi_aluminium (S) NORDAL-SUNNDAL -> "
    "warehouse-rotterdam-07 [lot_arrival]",
    "custody move        LOT-RTM-0003: 20000 kg asi_aluminium (S) warehouse-rotterdam-07 -> "
    "northsea-metals-ldn [warrant_issued]",
    "balance           northsea-metals-ldn/asi_aluminium/S@ASI-COC-NORTHSEA: +20000 -> 40000 kg",
    "ledger REJECTED     NORDAL-OUT-0305: OVERDRAW",
    "at most 19496",
    "period closed       2026-02: NORDAL-SUNNDAL/S 0+80000-0=80000",
    "the holder's view: GET ",
    "WRT-LOT-RTM-0001: lot LOT-RTM-0001, NORDAL (Norway), ingot, 20000 kg at "
    "warehouse-rotterdam-07",
    "ECOA-NORDAL-01: direct 1.71248 (actual), indirect 1.54552 (actual) t CO2e/t",
    "404 no certificate ECOA-NORDAL-01 (nothing says it exists)",
    "without a token: 401",
    "the importer's quarterly CBAM report: GET /v1/reports/quarterly/",
    "line 1: CN 7601 from NO: 40 t",
    "totals: 2 warrants, 40 t",
    "every kind of decision was made",
)
