"""What the quarterly CBAM report's tests share: the endpoints' paths, a form's figures, and
the XML's validation against its schema (``contracts/schemas/cbam-quarterly-report.v1.xsd``)
with ``xmllint --schema`` (apt ``libxml2-utils``; a test that needs it is skipped where it is
not installed)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from contracts.cbam_report import XML_SCHEMA

CBAM_REPORT_PATHS = frozenset(
    {
        "/v1/reports/quarterly/{year}/{quarter}",
        "/v1/reports/quarterly/{year}/{quarter}/versions",
        "/v1/reports/quarterly/{year}/{quarter}/versions/{version}",
        "/v1/imports/{year}",
    }
)
SUMMARY = {
    "direct_tco2e_per_t": "1.6",
    "indirect_tco2e_per_t": "2.1",
    "total_tco2e_per_t": "3.7",
    "direct_is_default_value": False,
    "indirect_is_default_value": True,
    "alloying_as_primary": False,
}
"""A form's figures: its own direct one, the default indirect one."""


def schema_errors(document: bytes) -> str | None:
    """None when ``document`` is valid against the schema; xmllint's complaint otherwise."""
    xmllint = shutil.which("xmllint")
    if xmllint is None:
        pytest.skip("xmllint (apt libxml2-utils) is not installed")
    checked = subprocess.run(
        [xmllint, "--noout", "--schema", str(XML_SCHEMA), "-"],
        input=document,
        capture_output=True,
        check=False,
    )
    return None if checked.returncode == 0 else checked.stderr.decode()[:2000]
