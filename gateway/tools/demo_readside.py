"""The end of ``make demo``: what the parties read through the HTTP API once the registry
has decided. The holder's warrants with their CoAs' emissions, a look-up of one of those
CoAs refused to a party that does not hold the metal, and the holder's quarterly CBAM report
as an importer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from gateway.readside.cbam_report import Quarter
from gateway.runtime.api_tokens import digest, new_token

OUTSIDER = "member-k-trading"
"""A member who holds none of the demo's metal."""


@dataclass(frozen=True)
class DemoTokens:
    tokens: Mapping[str, str]
    """Party id -> its token, made for this run."""

    @classmethod
    def for_parties(cls, *parties: str) -> DemoTokens:
        return cls({party: new_token() for party in parties})

    def settings_json(self) -> str:
        """The digests, as ``GATEWAY_API_TOKENS`` takes them."""
        return json.dumps({party: [digest(token)] for party, token in self.tokens.items()})

    def headers(self, party: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[party]}"}


@dataclass
class PartiesViews:
    warrants_shown: int = 0
    refused_status: int | None = None
    report_lines: int | None = None

    @property
    def complete(self) -> bool:
        return self.warrants_shown > 0 and self.refused_status == 404 and bool(self.report_lines)


def _emissions(certificate: Mapping[str, Any]) -> str:
    e = certificate.get("emissions")
    if e is None:
        return "no emissions attached yet"
    verified = f"verified by {e['verifier']}" if e["verified"] else "not verified"
    previous = ", the previous year's form" if e["from_previous_year"] else ""
    return (
        f"direct {e['direct_tco2e_per_t']} ({e['direct_basis']}), indirect "
        f"{e['indirect_tco2e_per_t']} ({e['indirect_basis']}) t CO2e/t, "
        f"{e['reporting_year']}{previous}, {verified}"
    )


async def show_the_parties_views(base_url: str, tokens: DemoTokens, holder: str) -> PartiesViews:
    views = PartiesViews()
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        print(f"\nthe holder's view: GET {base_url}/v1/warrants as {holder}")
        mine = (await http.get("/v1/warrants", headers=tokens.headers(holder))).json()
        for warrant in mine["warrants"]:
            views.warrants_shown += 1
            print(
                f"  {warrant['warrant_id']}: lot {warrant['lot_id']}, {warrant['brand']} "
                f"({warrant['country_of_origin']}), {warrant['shape']}, "
                f"{warrant['net_weight_kg']} kg at {warrant['warehouse_id']}"
            )
            for certificate in warrant["certificates"]:
                print(f"      {certificate['ecoa_id']}: {_emissions(certificate)}")
        if not mine["warrants"]:
            print("  (none: the read side has not caught up)")
            return views
        coa = mine["warrants"][0]["certificates"][0]["ecoa_id"]
        refused = await http.get(f"/v1/certificates/{coa}", headers=tokens.headers(OUTSIDER))
        views.refused_status = refused.status_code
        print(
            f"\na party that does not hold the metal: GET /v1/certificates/{coa} as {OUTSIDER}"
            f"\n  {refused.status_code} {refused.json()['error']} (nothing says it exists)"
        )
        unauthenticated = await http.get("/v1/warrants")
        print(f"  without a token: {unauthenticated.status_code}")
        issued = datetime.fromisoformat(mine["warrants"][0]["issued_at"])
        await _show_the_report(http, tokens, holder, Quarter.of(issued), views)
    return views


async def _show_the_report(
    http: httpx.AsyncClient,
    tokens: DemoTokens,
    importer: str,
    quarter: Quarter,
    views: PartiesViews,
) -> None:
    path = f"/v1/reports/quarterly/{quarter.year}/{quarter.quarter}"
    print(f"\nthe importer's quarterly CBAM report: GET {path} as {importer}")
    report = (await http.get(path, headers=tokens.headers(importer))).json()
    print(
        f"  {report['reporting_period']} ({report['cbam_period']} period, priced: "
        f"{', '.join(report['priced_emissions']) or 'nothing'}), due by {report['due_by']}, "
        f"correctable until {report['corrections_until']}"
    )
    for line in report["lines"]:
        print(
            f"  line {line['item_number']}: CN {line['cn_code']} from "
            f"{line['country_of_origin']}: {line['net_mass_t']} t, direct {line['direct_tco2e']}"
            f" t CO2e, indirect {line['indirect_tco2e']} t CO2e, priced {line['priced_tco2e']}"
        )
    totals = report["totals"]
    print(
        f"  totals: {totals['warrants']} warrants, {totals['net_mass_t']} t, "
        f"{totals['total_tco2e']} t CO2e"
    )
    views.report_lines = len(report["lines"])
    xml = await http.get(f"{path}?format=xml", headers=tokens.headers(importer))
    csv = await http.get(f"{path}?format=csv", headers=tokens.headers(importer))
    print(
        f"  also as XML ({xml.status_code}, {len(xml.content)} bytes) and CSV "
        f"({csv.status_code}, {len(csv.text.splitlines())} lines)"
    )
