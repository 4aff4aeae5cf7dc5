"""``signatures``: what proving the sender costs the registry per record. The registry's step
over the same signed lot arrivals, with the parties file's keys (each signature verified) and
without (the sender taken from ``ce_partyid``), in-process and on one core, repeated; and what
signing one record costs a party. No broker is involved: the figures are the step's own."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import UTC, datetime

from contracts.envelope import encode_body, envelope_headers, new_envelope
from contracts.lots import LotArrived
from contracts.parties import PartiesFile, PartyEntry, Role
from contracts.signatures import SigningKey
from contracts.topics import route
from contracts.values import PartyRole
from gateway.processors.records import InputRecord
from gateway.processors.registry import PipelineSettings, process_record
from gateway.processors.signed_senders import signing_keys_of
from gateway.registry.state import RegistryState
from gateway.rulebook.model import load_rulebook
from gateway.tools.bench.framework import BenchContext, Scenario, Spread, positive_int
from gateway.tools.bench.tables import Table
from producers.simulation import demo_story

_NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--signed-records",
        type=positive_int,
        default=20_000,
        help="signed lot arrivals through the step per repetition (20000)",
    )


def _records(count: int, key: SigningKey) -> list[InputRecord]:
    lot = next(
        body for act in demo_story() for body in act.messages if isinstance(body, LotArrived)
    )
    spec = route(LotArrived, PartyRole.WAREHOUSE)
    records = []
    for number in range(count):
        body = lot.model_copy(update={"lot_id": f"{lot.lot_id}-{number}"})
        value = encode_body(body)
        envelope = new_envelope(body, source="/bench", sender_party_id=key.party_id, time=_NOW)
        headers = key.signed_headers(spec.name, b"NORDAL", envelope_headers(envelope), value)
        records.append(InputRecord(spec.name, 0, number, None, b"NORDAL", value, headers))
    return records


def _step_seconds(records: list[InputRecord], settings: PipelineSettings) -> float:
    state = RegistryState()
    began = time.perf_counter()
    for record in records:
        state = process_record(state, record, now=_NOW, settings=settings).state
    return time.perf_counter() - began


async def run(context: BenchContext, arguments: argparse.Namespace) -> list[Table]:
    count = arguments.signed_records
    warehouse = SigningKey.generate(context.settings.registry_party_id + "-bench-warehouse")
    parties = PartiesFile(
        parties=(
            PartyEntry(
                id=warehouse.party_id, roles=(Role.WAREHOUSE,), signing_keys=(warehouse.public_key,)
            ),
        )
    )
    records = _records(count, warehouse)
    plain = PipelineSettings(
        rulebook=load_rulebook(None),
        registry_party=context.settings.registry_party_id,
        exchange_parties=frozenset(),
        max_value_bytes=context.settings.max_message_bytes,
    )
    verified = replace(plain, signing_keys=signing_keys_of(parties))
    without, with_keys, signing = [], [], []
    for _ in range(context.repeat):
        without.append(_step_seconds(records, plain) / count * 1e6)
        with_keys.append(_step_seconds(records, verified) / count * 1e6)
        began = time.perf_counter()
        for record in records[:2_000]:
            warehouse.signed_headers(record.topic, record.key, record.headers, record.value or b"")
        signing.append((time.perf_counter() - began) / 2_000 * 1e6)
    rows = []
    for measured, values in (
        ("registry step, sender from ce_partyid", without),
        ("registry step, signature verified", with_keys),
        ("signing one record (the party's side)", signing),
    ):
        spread = Spread.of(values)
        rows.append(
            (measured, round(spread.low, 1), round(spread.median, 1), round(spread.high, 1))
        )
    added = Spread.of([b - a for a, b in zip(without, with_keys, strict=True)])
    rows.append(
        ("verification added", round(added.low, 1), round(added.median, 1), round(added.high, 1))
    )
    return [
        Table(
            title=f"signatures: µs per record over {count:,} signed lot arrivals, "
            f"{context.repeat} repetitions",
            columns=("measured", "min µs", "median µs", "max µs"),
            rows=tuple(rows),
            notes=(
                "the lots are announced by an unknown brand: the step decides each (a "
                "rejection) after the sender is proven, as it would a live record",
            ),
        )
    ]


SCENARIO = Scenario(
    name="signatures",
    summary="what verifying each party's Ed25519 signature adds to the registry's step, "
    "per record (in-process; about 1 min)",
    add_arguments=add_arguments,
    run=run,
    by_default=False,
)
