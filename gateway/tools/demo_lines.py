"""One line per published decision, for a person watching the demo."""

from __future__ import annotations

from collections.abc import Iterable

from contracts.base import Contract
from contracts.brands import BrandDelisted, BrandListed, BrandReinstated, BrandSuspended
from contracts.cbam import CbamFormAccepted, CbamFormRejected, EmissionsAttached
from contracts.custody import CustodyBalanceUpdated, CustodyMovementRecorded
from contracts.dead_letter import DeadLetterRecorded
from contracts.ecoa import ECoAAccepted, ECoARejected
from contracts.ledger import LedgerPeriodClosed, LedgerPostingRejected
from contracts.values import RuleViolation
from contracts.warrants import WarrantIssued, WarrantPending, WarrantRejected
from gateway.violations import shown


def describe_output(body: Contract) -> str | None:
    """A readable line for a decision; None for messages not worth a line (state updates)."""
    match body:
        case BrandListed():
            return f"brand listed        {body.brand} ({body.country_of_origin})"
        case BrandSuspended():
            return f"brand SUSPENDED     {body.brand}: {body.reason}"
        case BrandReinstated():
            return f"brand reinstated    {body.brand}"
        case BrandDelisted():
            return f"brand DELISTED      {body.brand}: {body.reason}"
        case ECoAAccepted():
            casts = len(body.cast_references)
            return f"eCOA accepted       {body.ecoa_id} ({body.kind.value}, {casts} casts)"
        case ECoARejected():
            return f"eCOA REJECTED       {body.ecoa_id}: {_reasons(body.violations)}"
        case CbamFormAccepted():
            e = body.emissions
            notes = f" [{'; '.join(body.notes)}]" if body.notes else ""
            return (
                f"CBAM form accepted  {body.form_id}: direct {e.direct_tco2e_per_t} + indirect "
                f"{e.indirect_tco2e_per_t} = {e.total_tco2e_per_t} t CO2e/t{notes}"
            )
        case CbamFormRejected():
            return f"CBAM form REJECTED  {body.form_id}: {_reasons(body.violations)}"
        case EmissionsAttached():
            flag = " (previous year's form, flagged)" if body.flagged_previous_year else ""
            return f"emissions attached  form {body.form_id} -> CoA {body.ecoa_id}{flag}"
        case WarrantIssued():
            d = body.document
            figures_from = (
                f"{d.emissions.reporting_year} form"
                + (", flagged" if d.emissions.from_previous_year else "")
                if d.emissions.form_id
                else "EU default values"
            )
            weight = shown(d.net_weight_kg)
            return (
                f"warrant ISSUED      {body.lot_id} as {body.warrant_id}: {weight} kg, "
                f"{d.bundles} bundles, {d.emissions.summary.total_tco2e_per_t} t CO2e/t "
                f"({figures_from})"
            )
        case WarrantRejected():
            return f"warrant REJECTED    {body.lot_id}: {_reasons(body.violations)}"
        case WarrantPending():
            waits = "; ".join(f"{m.message} ({m.rule})" for m in body.missing)
            return f"warrant PENDING     {body.lot_id}: {waits}"
        case CustodyMovementRecorded():
            return (
                f"custody move        {body.lot_id}: {shown(body.quantity_kg)} kg "
                f"{body.material_quality} ({body.level.value}) {body.from_holder_id} -> "
                f"{body.to_holder_id} [{body.reason.value}]"
            )
        case CustodyBalanceUpdated():
            sign = "+" if body.delta_kg >= 0 else "-"
            return (
                f"  balance           {body.account_key}: {sign}{shown(abs(body.delta_kg))} -> "
                f"{shown(body.balance_kg)} kg ({body.posting_id})"
            )
        case LedgerPostingRejected():
            return f"ledger REJECTED     {body.posting_id}: {_reasons(body.violations)}"
        case LedgerPeriodClosed():
            lines = ", ".join(
                f"{s.account.holder_id}/{s.account.level.value} {shown(s.opening_kg)}"
                f"+{shown(s.in_kg)}-{shown(s.out_kg)}={shown(s.closing_kg)}"
                for s in body.statements
            )
            return f"period closed       {body.period_start:%Y-%m}: {lines}"
        case DeadLetterRecorded():
            origin, error = body.source, body.error
            at = f"{origin.topic}/{origin.partition}/{origin.offset}"
            return f"dead letter         {at}: {error.kind.value} ({error.field}): {error.message}"
    return None


def _reasons(violations: Iterable[RuleViolation]) -> str:
    """Each violation whole: its code and rule, the field, the message, and what was observed
    against what the rule allows."""
    return "; ".join(
        f"{v.code} ({v.rule}) at {v.field}: {v.message} [observed: "
        f"{'nothing' if v.observed is None else v.observed}; allowed: "
        f"{'-' if v.allowed is None else v.allowed}]"
        for v in violations
    )
