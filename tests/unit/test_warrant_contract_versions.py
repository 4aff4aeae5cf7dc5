"""Decisions written by the previous schema versions are read by today's contracts."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.base import Contract, upcast
from contracts.cbam import CbamFormAccepted
from contracts.ecoa import ECoAAccepted
from contracts.envelope import decode_body
from contracts.warrants import WarrantIssued, WarrantPending, WarrantStateChanged
from producers.samples import sample_messages


def older_body(message: Contract, version: int, *added: str) -> dict[str, Any]:
    """Today's body of ``message`` as ``version`` wrote it: without the fields added since."""
    body = message.model_dump(mode="json")
    for name in added:
        body.pop(name)
    return {**body, "schema_version": version}


FORM_PARTICULARS = (
    "producer_name",
    "installation_id",
    "installation_name",
    "installation_country",
    "cn_codes",
    "verifier_name",
    "accreditation_body",
    "level_of_assurance",
    "carbon_prices_paid",
    "permission_to_publish",
    "reporting_period",
)
"""What version 2 of the form accepted added: the form's particulars the read side shows."""


def sample(contract: type[Contract]) -> Contract:
    return next(m for m in sample_messages() if isinstance(m, contract))


@pytest.mark.parametrize(
    ("contract", "version", "added"),
    [
        (WarrantIssued, 1, ("rules_applied", "notes")),
        (ECoAAccepted, 1, ("rules_applied",)),
        (WarrantPending, 1, ("certificate_violations",)),
        (WarrantStateChanged, 1, ("warrant_holder_id", "warehouse_id")),
        (WarrantStateChanged, 2, ("warehouse_id",)),
        (CbamFormAccepted, 1, FORM_PARTICULARS),
    ],
)
def test_an_older_decision_is_upcast_with_the_added_fields_empty_or_null(
    contract: type[Contract], version: int, added: tuple[str, ...]
) -> None:
    old = older_body(sample(contract), version, *added)
    read = decode_body(contract.MESSAGE_TYPE, old)
    assert read.schema_version == contract.SCHEMA_VERSION
    assert all(getattr(read, name) == contract.model_fields[name].default for name in added)
    assert upcast(contract, old)["schema_version"] == contract.SCHEMA_VERSION


def test_a_version_2_warrant_state_keeps_its_holder_and_names_no_warehouse() -> None:
    today = sample(WarrantStateChanged)
    assert isinstance(today, WarrantStateChanged) and today.warehouse_id is not None
    old = {**older_body(today, 2, "warehouse_id"), "warrant_holder_id": "member-aa-clearing"}
    read = decode_body(WarrantStateChanged.MESSAGE_TYPE, old)
    assert isinstance(read, WarrantStateChanged)
    assert (read.warrant_holder_id, read.warehouse_id) == ("member-aa-clearing", None)
    assert read.model_dump(exclude={"schema_version", "warrant_holder_id", "warehouse_id"}) == (
        today.model_dump(exclude={"schema_version", "warrant_holder_id", "warehouse_id"})
    )


def test_a_version_1_form_acceptance_reads_as_unpublishable_with_no_particulars() -> None:
    today = sample(CbamFormAccepted)
    assert isinstance(today, CbamFormAccepted) and today.permission_to_publish
    read = decode_body(CbamFormAccepted.MESSAGE_TYPE, older_body(today, 1, *FORM_PARTICULARS))
    assert isinstance(read, CbamFormAccepted)
    assert read.permission_to_publish is False  # §4.2.3: publishing is opt-in
    assert (read.cn_codes, read.carbon_prices_paid, read.reporting_period) == ((), (), None)
    assert read.model_dump(exclude={"schema_version", *FORM_PARTICULARS}) == today.model_dump(
        exclude={"schema_version", *FORM_PARTICULARS}
    )
