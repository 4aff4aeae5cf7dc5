"""The parties' views built from the read side's rows. Pure: rows in, API bodies out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contracts.api import AttachedEmissions, CertificateView, HeldWarrant

Row = Mapping[str, Any]


ACTUAL, DEFAULT = "actual", "default"


def basis(is_default: object) -> str:
    """How a figure was determined: the EU default value, or the producer's own."""
    return DEFAULT if is_default else ACTUAL


def attached_emissions(attachment: Row, form: Row | None) -> AttachedEmissions:
    """The emissions attached to a CoA, with the verification of the form they come from."""
    figures = attachment["emissions"]
    disclosure: Mapping[str, Any] = (form or {}).get("disclosure") or {}
    verifier = disclosure.get("verifier_name")
    return AttachedEmissions(
        form_id=attachment["form_id"],
        reporting_year=int(attachment["reporting_year"]),
        from_previous_year=bool(attachment["flagged_previous_year"]),
        direct_tco2e_per_t=str(figures["direct_tco2e_per_t"]),
        indirect_tco2e_per_t=str(figures["indirect_tco2e_per_t"]),
        total_tco2e_per_t=str(figures["total_tco2e_per_t"]),
        direct_basis=basis(figures["direct_is_default_value"]),
        indirect_basis=basis(figures["indirect_is_default_value"]),
        verified=verifier is not None,
        verifier=verifier,
        level_of_assurance=disclosure.get("level_of_assurance"),
    )


def certificate_view(
    certificate: Row, attachment: Row | None, forms: Mapping[str, Row]
) -> CertificateView:
    emissions = (
        None
        if attachment is None
        else attached_emissions(attachment, forms.get(attachment["form_id"]))
    )
    return CertificateView(
        ecoa_id=certificate["ecoa_id"],
        brand=certificate["brand"],
        kind=certificate["kind"],
        cast_references=list(certificate["cast_references"]),
        emissions=emissions,
    )


def held_warrant(
    state: Row,
    warrant: Row,
    certificates: Sequence[CertificateView],
) -> HeldWarrant:
    return HeldWarrant(
        warrant_id=warrant["warrant_id"],
        lot_id=warrant["lot_id"],
        status=state["state"],
        brand=warrant["brand"],
        contract=warrant["contract"],
        shape=warrant["shape"],
        country_of_origin=warrant["country_of_origin"],
        net_weight_kg=warrant["net_weight_kg"],
        issued_at=warrant["issued_at"],
        warehouse_id=state["warehouse_id"],
        certificates=list(certificates),
    )
