"""Decisions written by the previous schema versions are read by today's contracts."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.base import Contract, upcast
from contracts.ecoa import ECoAAccepted
from contracts.envelope import decode_body
from contracts.warrants import WarrantIssued, WarrantPending, WarrantStateChanged
from producers.samples import sample_messages


def version_1_body(message: Contract, *added: str) -> dict[str, Any]:
    """Today's body of ``message`` as version 1 wrote it: without the fields added since."""
    body = message.model_dump(mode="json")
    for name in added:
        body.pop(name)
    return {**body, "schema_version": 1}


def sample(contract: type[Contract]) -> Contract:
    return next(m for m in sample_messages() if isinstance(m, contract))


@pytest.mark.parametrize(
    ("contract", "added"),
    [
        (WarrantIssued, ("rules_applied", "notes")),
        (ECoAAccepted, ("rules_applied",)),
        (WarrantPending, ("certificate_violations",)),
        (WarrantStateChanged, ("warrant_holder_id",)),
    ],
)
def test_a_version_1_decision_is_upcast_with_the_added_fields_empty_or_null(
    contract: type[Contract], added: tuple[str, ...]
) -> None:
    old = version_1_body(sample(contract), *added)
    read = decode_body(contract.MESSAGE_TYPE, old)
    assert read.schema_version == 2
    assert all(getattr(read, name) == contract.model_fields[name].default for name in added)
    assert upcast(contract, old)["schema_version"] == 2
