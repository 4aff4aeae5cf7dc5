"""``make demo``'s job, against the session broker: every kind of decision, the custody
moves and balances beside them, exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.tools.local_kafka import BrokerInfo

pytestmark = pytest.mark.broker

GATEWAY = Path(sys.executable).parent / "gateway"


def test_the_demo_shows_every_kind_of_decision(kafka_broker: BrokerInfo) -> None:
    environment = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers}
    done = subprocess.run(
        [str(GATEWAY), "demo"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for line in (
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
        "balance           northsea-metals-ldn/asi_aluminium/S@ASI-COC-NORTHSEA: +20000 -> "
        "40000 kg",
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
    ):
        assert line in done.stdout, line
