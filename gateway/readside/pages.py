"""The holders' and importers' web page, rendered on the server. Pure: views in, HTML out.

One page per party: the warrants it holds with the emissions of their CoAs, a chart of the
emissions embedded in that metal by brand and country of origin, and the quarterly CBAM
report to download. Everything shown is escaped; the page loads nothing from elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from contracts.api import HeldWarrant, HeldWarrants

KG_PER_TONNE = Decimal(1000)
CHART_WIDTH, BAR_HEIGHT, LABEL_WIDTH = 640, 26, 230

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2530; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #d5dae1; padding: 0.35rem 0.5rem; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #5d6878; } .flag { font-size: 0.8rem; padding: 0 0.3rem; border-radius: 3px; }
.default { background: #fde9c8; } .actual { background: #d5f0dc; }
form.inline { display: inline; }
"""


@dataclass(frozen=True)
class EmbeddedEmissions:
    """The emissions embedded in the metal a party holds of one brand and origin."""

    brand: str
    country_of_origin: str
    tonnes: Decimal
    direct_tco2e: Decimal
    indirect_tco2e: Decimal

    @property
    def label(self) -> str:
        return f"{self.brand} ({self.country_of_origin})"


def _figures(warrant: HeldWarrant) -> tuple[Decimal, Decimal] | None:
    """The warrant's intensities, t CO2e/t: the mean over its CoAs that carry emissions."""
    attached = [c.emissions for c in warrant.certificates if c.emissions is not None]
    if not attached:
        return None
    direct = sum((Decimal(e.direct_tco2e_per_t) for e in attached), Decimal(0)) / len(attached)
    indirect = sum((Decimal(e.indirect_tco2e_per_t) for e in attached), Decimal(0)) / len(attached)
    return direct, indirect


def embedded_by_brand_and_origin(held: HeldWarrants) -> list[EmbeddedEmissions]:
    """Tonnes held and the t CO2e embedded in them, per brand and country of origin; a
    warrant whose CoAs carry no emissions yet counts its tonnes but no emissions."""
    totals: dict[tuple[str, str], list[Decimal]] = {}
    for warrant in held.warrants:
        tonnes = Decimal(warrant.net_weight_kg) / KG_PER_TONNE
        figures = _figures(warrant) or (Decimal(0), Decimal(0))
        entry = totals.setdefault((warrant.brand, warrant.country_of_origin), [Decimal(0)] * 3)
        entry[0] += tonnes
        entry[1] += tonnes * figures[0]
        entry[2] += tonnes * figures[1]
    return [
        EmbeddedEmissions(brand, origin, *values)
        for (brand, origin), values in sorted(totals.items())
    ]


def _number(value: Decimal, places: str = "0.01") -> str:
    return f"{value.quantize(Decimal(places)):,}"


def emissions_chart(bars: Sequence[EmbeddedEmissions]) -> str:
    """A horizontal stacked bar per brand and origin: direct, then indirect t CO2e."""
    if not bars:
        return '<p class="muted">No metal held: nothing to chart.</p>'
    largest = max((b.direct_tco2e + b.indirect_tco2e for b in bars), default=Decimal(0))
    scale = Decimal(CHART_WIDTH - LABEL_WIDTH - 110) / largest if largest > 0 else Decimal(0)
    height = BAR_HEIGHT * len(bars) + 30
    parts = [
        f'<svg id="emissions-chart" role="img" width="{CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" aria-label="Embedded emissions of the metal '
        'held, by brand and origin, t CO2e">'
    ]
    for row, bar in enumerate(bars):
        y = row * BAR_HEIGHT + 4
        direct_width = float(bar.direct_tco2e * scale)
        indirect_width = float(bar.indirect_tco2e * scale)
        total = bar.direct_tco2e + bar.indirect_tco2e
        parts.append(
            f'<g class="bar" data-brand="{escape(bar.brand)}">'
            f'<text x="0" y="{y + 15}" font-size="12">{escape(bar.label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{direct_width:.1f}" height="18" '
            f'fill="#2f6f9f"><title>direct {_number(bar.direct_tco2e)} t CO2e</title></rect>'
            f'<rect x="{LABEL_WIDTH + direct_width:.1f}" y="{y}" width="{indirect_width:.1f}" '
            f'height="18" fill="#9cc3e0"><title>indirect {_number(bar.indirect_tco2e)} t CO2e'
            f"</title></rect>"
            f'<text x="{LABEL_WIDTH + direct_width + indirect_width + 6:.1f}" y="{y + 15}" '
            f'font-size="12">{_number(total)} t CO2e</text></g>'
        )
    legend_y = len(bars) * BAR_HEIGHT + 20
    parts.append(
        f'<rect x="{LABEL_WIDTH}" y="{legend_y - 10}" width="12" height="12" fill="#2f6f9f"/>'
        f'<text x="{LABEL_WIDTH + 16}" y="{legend_y}" font-size="12">direct</text>'
        f'<rect x="{LABEL_WIDTH + 80}" y="{legend_y - 10}" width="12" height="12" '
        f'fill="#9cc3e0"/><text x="{LABEL_WIDTH + 96}" y="{legend_y}" font-size="12">'
        "indirect</text></svg>"
    )
    return "".join(parts)


def _basis_flag(basis: str) -> str:
    return f'<span class="flag {escape(basis)}">{escape(basis)}</span>'


def _warrant_rows(held: HeldWarrants) -> str:
    if not held.warrants:
        return '<tr><td colspan="9" class="muted">You hold no warrant now.</td></tr>'
    rows = []
    for warrant in held.warrants:
        for number, coa in enumerate(warrant.certificates or [None]):
            first = number == 0
            cells = [
                escape(warrant.warrant_id) if first else "",
                f"{escape(warrant.brand)} ({escape(warrant.country_of_origin)})" if first else "",
                escape(warrant.shape) if first else "",
                f'<td class="number">{_number(Decimal(warrant.net_weight_kg), "1")}</td>'
                if first
                else "<td></td>",
            ]
            if coa is None or coa.emissions is None:
                emission_cells = '<td colspan="4" class="muted">no emissions attached yet</td>'
                coa_cell = "" if coa is None else escape(coa.ecoa_id)
            else:
                e = coa.emissions
                verified = (
                    f"verified by {escape(e.verifier or '')} ({escape(e.level_of_assurance or '')})"
                    if e.verified
                    else "not verified"
                )
                previous = " (previous year's form)" if e.from_previous_year else ""
                direct = f"{escape(e.direct_tco2e_per_t)} {_basis_flag(e.direct_basis)}"
                indirect = f"{escape(e.indirect_tco2e_per_t)} {_basis_flag(e.indirect_basis)}"
                emission_cells = (
                    f'<td class="number">{direct}</td><td class="number">{indirect}</td>'
                    f"<td>{e.reporting_year}{previous}</td><td>{verified}</td>"
                )
                coa_cell = escape(coa.ecoa_id)
            rows.append(
                f'<tr class="warrant" data-warrant="{escape(warrant.warrant_id)}">'
                f"<td>{cells[0]}</td><td>{cells[1]}</td><td>{cells[2]}</td>{cells[3]}"
                f"<td>{coa_cell}</td>{emission_cells}</tr>"
            )
    return "".join(rows)


@dataclass(frozen=True)
class ReportLink:
    label: str
    href: str


def holdings_page(held: HeldWarrants, *, reports: Sequence[ReportLink], generated_at: str) -> str:
    bars = embedded_by_brand_and_origin(held)
    total_tonnes = sum((b.tonnes for b in bars), Decimal(0))
    links = "".join(
        f'<li><a class="report" href="{escape(link.href)}">{escape(link.label)}</a></li>'
        for link in reports
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Custody gateway: {escape(held.party_id)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Metal held by <span id="party">{escape(held.party_id)}</span></h1>
<p class="muted">{len(held.warrants)} warrant(s), {_number(total_tonnes, "0.001")} t;
as the registry decided by {escape(generated_at)}.
<form class="inline" method="post" action="/app/logout"><button>Sign out</button></form></p>
<h2>Warrants and the emissions of their CoAs (t CO2e per t)</h2>
<table id="warrants"><thead><tr><th>warrant</th><th>brand (origin)</th><th>shape</th>
<th>net kg</th><th>CoA</th><th>direct</th><th>indirect</th><th>form year</th>
<th>verification</th></tr></thead><tbody>{_warrant_rows(held)}</tbody></table>
<h2>Emissions embedded in the metal held, by brand and origin</h2>
{emissions_chart(bars)}
<h2>Quarterly CBAM report</h2>
<ul id="reports">{links}</ul>
</body></html>"""


def sign_in_page(message: str | None = None) -> str:
    note = f'<p id="message" class="flag default">{escape(message)}</p>' if message else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Custody gateway: sign in</title>
<style>{_STYLE}</style></head>
<body><h1>Holders and importers: sign in</h1>{note}
<form method="post" action="/app/session">
<label>API token <input type="password" name="token" id="token" autocomplete="off"></label>
<button id="sign-in">Sign in</button></form>
<p class="muted">Your token is the one the exchange gave your party for the API.</p>
</body></html>"""
