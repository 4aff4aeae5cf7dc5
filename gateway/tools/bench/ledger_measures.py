"""The ledger benchmark: what a posting costs with 100,000 accounts (against 10), how fast the
journal restores, and what a snapshot costs.

``run_ledger_bench(options)`` measures and returns rows of (label, figure); ``gateway bench
ledger`` prints them as a table, and so does ``python -m gateway.tools.bench.ledger_measures``
(``--help`` for the sizes; ``--parts restore`` runs one measure alone, as ``gateway bench
ledger --ledger-parts restore`` does; ``--bootstrap`` adds the postings through a real
broker and a running gateway).

- **postings in-process**: records of the realistic mix (certified inputs and outputs at the
  smelter sites, custody moves from smelters to warehouses under another certificate) through
  the ledger's step (``process_ledger_record``: decode, sender, rules, facts, outputs), the
  state threaded through, with 100,000 accounts and with 10;
- **journal restore**: 1,000,000 journaled facts written to a file, then read back and
  applied in a child process (as a restore reads the journal: one record at a time, the
  rules not run); the time and the child's peak RSS;
- **snapshot**: the 100,000-account state encoded into chunks and decoded back;
- **postings through the broker** (with ``--bootstrap``): the same records sent to
  ``ledger.commands`` of a fresh topic prefix, a gateway (registry and ledger) running in this
  process, the time until the ledger's group has committed them all.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from consumers.state_logs import restoring
from contracts import ledger as wire
from contracts.base import Contract
from contracts.custody import CustodyMovementRecorded, CustodyMoveReason
from contracts.envelope import encode_body, envelope_headers, new_envelope
from contracts.values import AccountingLevel
from gateway.ledger import (
    AccountingScope,
    AccountKey,
    Certificate,
    Delta,
    Fact,
    FactKind,
    LedgerState,
    Level,
    Membership,
    Site,
    apply_facts,
)
from gateway.ledger.codec import (
    FactDecoder,
    decode_snapshot,
    encode_chunks,
    encode_fact,
    snapshot_items,
)
from gateway.ledger.persistent import PMap
from gateway.processors.ledger import LedgerSettings, process_ledger_record
from gateway.processors.records import InputRecord
from gateway.runtime.garbage import as_in_service
from gateway.tools.bench.framework import peak_rss_mib

NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
QUALITY = "asi_aluminium"
EXCHANGE = "exchange-listing-desk"
REGISTRY = "custody-registry"
OPERATOR = "bench-operator"
WAREHOUSES = 100
SETTINGS = LedgerSettings(
    registry_party=REGISTRY, exchange_parties=frozenset({EXCHANGE}), max_value_bytes=1_000_000
)

Row = tuple[str, str]

PARTS = ("postings", "restore", "snapshot", "broker")
"""The measures, each run only when named (``--parts``); ``broker`` also needs a broker."""


@dataclass(frozen=True)
class LedgerBenchOptions:
    accounts: int = 100_000
    postings: int = 20_000
    journal_entries: int = 1_000_000
    bootstrap_servers: str | None = None
    """A broker to run the gateway against; None: in-process figures only."""
    broker_postings: int = 20_000
    parts: tuple[str, ...] = PARTS


async def run_ledger_bench(options: LedgerBenchOptions) -> list[Row]:
    """Measure, and return the figures as (label, figure) rows."""
    rows: list[Row] = []
    if "postings" in options.parts:
        rows += _postings_rows(options)
    if "restore" in options.parts:
        rows += _restore_rows(options)
    if "snapshot" in options.parts:
        rows += _snapshot_rows(options)
    if "broker" in options.parts and options.bootstrap_servers:
        per_second = await _through_broker(options)
        rows.append(
            (f"postings/s through the broker, {options.accounts:,} accounts", f"{per_second:,.0f}")
        )
    rows.append(
        ("load average (1 min) at the end, cores", f"{os.getloadavg()[0]:.1f}, {os.cpu_count()}")
    )
    return rows


def _postings_rows(options: LedgerBenchOptions) -> list[Row]:
    large = _postings_per_second(options.accounts, options.postings)
    middle = _postings_per_second(max(options.accounts // 10, 10), options.postings)
    small = _postings_per_second(10, options.postings)
    return [
        (f"postings/s in-process, {options.accounts:,} accounts", f"{large:,.0f}"),
        (f"postings/s in-process, {max(options.accounts // 10, 10):,} accounts", f"{middle:,.0f}"),
        ("postings/s in-process, 10 accounts", f"{small:,.0f}"),
        (f"per posting, {options.accounts:,} / 10 accounts", f"{small / large:.2f}x"),
    ]


def _restore_rows(options: LedgerBenchOptions) -> list[Row]:
    seconds, peak_mib = _journal_restore(options.accounts, options.journal_entries)
    entries = f"{options.journal_entries:,}"
    return [
        (f"journal restore, {entries} facts", f"{seconds:.1f} s"),
        (f"journal restore, {entries} facts: facts/s", f"{options.journal_entries / seconds:,.0f}"),
        (f"journal restore, {entries} facts: peak RSS", f"{peak_mib:,.0f} MiB"),
    ]


def _snapshot_rows(options: LedgerBenchOptions) -> list[Row]:
    encoded_s, decoded_s, size = _snapshot(options.accounts)
    return [
        (f"snapshot of {options.accounts:,} accounts: write", f"{encoded_s:.2f} s"),
        (f"snapshot of {options.accounts:,} accounts: read", f"{decoded_s:.2f} s"),
        (f"snapshot of {options.accounts:,} accounts: size", f"{size / 1_048_576:.1f} MiB"),
    ]


def parts_named(text: str) -> tuple[str, ...]:
    """``--parts``: comma-separated names of ``PARTS``, in ``PARTS``'s order."""
    named = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(named - set(PARTS))
    if unknown or not named:
        raise argparse.ArgumentTypeError(
            f"unknown parts {', '.join(unknown) or '(none named)'}; of {', '.join(PARTS)}"
        )
    return tuple(part for part in PARTS if part in named)


# ---- a ledger of many accounts ------------------------------------------------------------


def smelter(number: int) -> str:
    return f"S{number:06d}"


def warehouse(number: int) -> str:
    return f"W{number:03d}"


def populated(accounts: int) -> LedgerState:
    """``accounts`` smelter sites under one site-level certificate, each with 1,000 t on its
    S account, and the warehouses under another; built directly, not booked."""
    start = date(2026, 1, 1)
    certificates = {
        "C-SMELTERS": Certificate("C-SMELTERS", "SMELTERS", AccountingScope.SITE_LEVEL),
        "C-WAREHOUSES": Certificate("C-WAREHOUSES", "WAREHOUSES", AccountingScope.SITE_LEVEL),
    }
    homes = [(smelter(n), "C-SMELTERS") for n in range(accounts)]
    homes += [(warehouse(n), "C-WAREHOUSES") for n in range(WAREHOUSES)]
    keys = {site_id: AccountKey(site_id, QUALITY, Level.SITE, home) for site_id, home in homes}
    return LedgerState(
        certificates=PMap(certificates),
        certificates_by_holder=PMap({"SMELTERS": ("C-SMELTERS",), "WAREHOUSES": ("C-WAREHOUSES",)}),
        sites=PMap((site_id, Site(site_id, home, OPERATOR)) for site_id, home in homes),
        memberships=PMap((site_id, (Membership(home, start),)) for site_id, home in homes),
        balances=PMap((keys[site_id], Decimal(1_000_000)) for site_id, _ in homes),
        holder_accounts=PMap((site_id, frozenset({keys[site_id]})) for site_id, _ in homes),
        certificate_accounts=PMap(
            (
                certificate,
                PMap((key, True) for key in keys.values() if key.certificate_id == certificate),
            )
            for certificate in certificates
        ),
    )


def mix(accounts: int, count: int) -> Iterator[tuple[Contract, str]]:
    """Inputs, outputs and custody moves at sites spread over every account."""
    for n in range(count):
        site = smelter(n * 7919 % accounts)
        day = date(2026, 3, 1 + n % 28)
        kind = n % 5
        if kind in (0, 1):
            yield (
                wire.RecordCertifiedInput.build(
                    posting_id=f"in-{n}",
                    site_id=site,
                    holder_id=site,
                    material_quality=QUALITY,
                    quantity_kg=Decimal(500),
                    level=AccountingLevel.SITE,
                    coc_document=f"COC-{n}",
                    occurred_on=day,
                ),
                OPERATOR,
            )
        elif kind in (2, 3):
            yield (
                wire.RecordCertifiedOutput.build(
                    posting_id=f"out-{n}",
                    site_id=site,
                    holder_id=site,
                    material_quality=QUALITY,
                    quantity_kg=Decimal(400),
                    level=AccountingLevel.SITE,
                    claim_document=f"INV-{n}",
                    occurred_on=day,
                ),
                OPERATOR,
            )
        else:
            yield (
                CustodyMovementRecorded.build(
                    posting_id=f"lot-arrival.L{n}",
                    reason=CustodyMoveReason.LOT_ARRIVAL,
                    from_holder_id=site,
                    to_holder_id=warehouse(n % WAREHOUSES),
                    lot_id=f"L{n}",
                    quantity_kg=Decimal(25_000),
                    material_quality=QUALITY,
                    level=AccountingLevel.SITE,
                    coc_document=f"COC-L{n}",
                    occurred_on=day,
                ),
                REGISTRY,
            )


def as_record(body: Contract, sender: str, offset: int) -> InputRecord:
    envelope = new_envelope(body, source="/bench", sender_party_id=sender, time=NOW)
    return InputRecord(
        topic="ledger.commands",
        partition=0,
        offset=offset,
        timestamp_ms=None,
        key=str(getattr(body, "posting_id", "")).encode(),
        value=encode_body(body),
        headers=envelope_headers(envelope),
    )


def _postings_per_second(accounts: int, count: int) -> float:
    with restoring():  # as a restore leaves it
        state = populated(accounts)
    records = [as_record(body, sender, n) for n, (body, sender) in enumerate(mix(accounts, count))]
    with as_in_service():  # the collector as `gateway run` sets it
        began = time.perf_counter()
        for record in records:
            state = process_ledger_record(state, record, now=NOW, settings=SETTINGS).state
        elapsed = time.perf_counter() - began
    assert len(state.applied) + len(state.rejections) == count
    return count / elapsed


# ---- journal restore ------------------------------------------------------------------------


def journal_facts(accounts: int, count: int) -> Iterator[bytes]:
    """Accepted postings' facts over ``accounts`` accounts: inputs, outputs and moves."""
    months = [date(2026, month, 1) for month in range(1, 13)]
    for n in range(count):
        site = smelter(n * 7919 % accounts)
        source = AccountKey(site, QUALITY, Level.SITE, "C-SMELTERS")
        kind = n % 5
        deltas: tuple[Delta, ...] = (Delta(source, Decimal(500 if kind < 2 else -400)),)
        if kind == 4:
            target = AccountKey(warehouse(n % WAREHOUSES), QUALITY, Level.SITE, "C-WAREHOUSES")
            deltas = (Delta(source, Decimal(-25)), Delta(target, Decimal(25)))
        yield encode_fact(
            Fact(
                posting_id=f"p-{n}",
                command_type="CertifiedInput",
                digest=f"{n:032x}",
                occurred_on=months[n * 12 // count],
                kind=FactKind.ACCEPTED,
                deltas=deltas,
                posting_sites=(site,),
            )
        )


def write_journal(path: Path, accounts: int, count: int) -> None:
    with path.open("wb") as out:
        for raw in journal_facts(accounts, count):
            out.write(struct.pack(">I", len(raw)))
            out.write(raw)


def restore_journal(path: Path) -> tuple[float, int, int]:
    """Apply every fact of the file, read one at a time: seconds, facts and accounts."""
    decode = FactDecoder()
    began = time.perf_counter()
    with path.open("rb") as journal:

        def facts() -> Iterator[Fact]:
            while header := journal.read(4):
                (length,) = struct.unpack(">I", header)
                yield decode(journal.read(length))

        with restoring():
            state = apply_facts(facts())
    return time.perf_counter() - began, len(state.applied), len(state.balances)


def _journal_restore(accounts: int, count: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as folder:
        path = Path(folder) / "journal.bin"
        write_journal(path, accounts, count)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "gateway.tools.bench.ledger_measures",
                "--restore-file",
                str(path),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    seconds, peak_kib = done.stdout.split()
    return float(seconds), int(peak_kib) / 1024


# ---- snapshots ------------------------------------------------------------------------------


def _snapshot(accounts: int) -> tuple[float, float, int]:
    with restoring():
        state = populated(accounts)
    began = time.perf_counter()
    chunks = encode_chunks(snapshot_items(state), 512 * 1024)
    encoded = time.perf_counter() - began
    began = time.perf_counter()
    with restoring():
        restored = decode_snapshot(chunks)
    decoded = time.perf_counter() - began
    assert restored == state
    return encoded, decoded, sum(map(len, chunks))


# ---- through the broker ---------------------------------------------------------------------


async def _through_broker(options: LedgerBenchOptions) -> float:
    """Postings through a gateway on the broker: the state registered through the ledger
    itself (sites and joins as commands), then the mix, timed until committed."""
    from aiokafka import AIOKafkaProducer

    from consumers.group_progress import wait_until_consumed
    from contracts.topics import CATALOGUE, route
    from contracts.values import PartyRole
    from gateway.runtime.app import create_app
    from gateway.runtime.logging_setup import configure_json_logging
    from gateway.runtime.settings import Settings
    from gateway.runtime.topic_admin import ensure_topics
    from gateway.topology import LEDGER_INPUT

    configure_json_logging(logging.WARNING)  # the gateway's own lines on stderr, warnings only
    bootstrap = options.bootstrap_servers or ""
    prefix = f"bench-ledger-{uuid.uuid4().hex[:8]}-"
    await ensure_topics(bootstrap, CATALOGUE, prefix)
    roles = {EXCHANGE: PartyRole.EXCHANGE, REGISTRY: PartyRole.REGISTRY}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, enable_idempotence=True)
    await producer.start()

    async def send(messages: Sequence[tuple[Contract, str]]) -> None:
        for body, sender in messages:
            spec = route(type(body), roles.get(sender, PartyRole.PRODUCER))
            envelope = new_envelope(body, source="/bench", sender_party_id=sender, time=NOW)
            await producer.send(
                prefix + spec.name,
                value=encode_body(body),
                key=spec.key_of(body),
                headers=envelope_headers(envelope),
            )
        await producer.flush()

    with tempfile.TemporaryDirectory(prefix="bench-ledger-state-") as folder:
        settings = Settings(
            kafka_bootstrap_servers=bootstrap,
            topic_prefix=prefix,
            state_dir=Path(folder),
            ops_port=0,
            exchange_party_ids=EXCHANGE,
            registry_party_id=REGISTRY,
        )
        app = create_app(settings)
        stop = asyncio.Event()
        task = await app.start(stop)
        group = app.ledger_group_id
        try:
            await send(list(_registrations(options.accounts)))
            await wait_until_consumed(bootstrap, [prefix + LEDGER_INPUT], group, timeout_s=3600)
            postings = list(mix(options.accounts, options.broker_postings))
            began = time.perf_counter()
            await send(postings)
            await wait_until_consumed(bootstrap, [prefix + LEDGER_INPUT], group, timeout_s=3600)
            elapsed = time.perf_counter() - began
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=60)
            await producer.stop()
    return len(postings) / elapsed


def _registrations(accounts: int) -> Iterator[tuple[Contract, str]]:
    start = date(2026, 1, 1)
    for certificate, holder in (("C-SMELTERS", "SMELTERS"), ("C-WAREHOUSES", "WAREHOUSES")):
        yield (
            wire.RegisterCertificate.build(
                posting_id=f"reg-{certificate}",
                certificate_id=certificate,
                holder_group_id=holder,
                accounting_scope=wire.AccountingScope.SITE_LEVEL,
                effective_on=start,
            ),
            EXCHANGE,
        )
    sites = [(smelter(n), "C-SMELTERS") for n in range(accounts)]
    sites += [(warehouse(n), "C-WAREHOUSES") for n in range(WAREHOUSES)]
    for site_id, certificate in sites:
        yield (
            wire.RegisterSite.build(
                posting_id=f"reg-{site_id}",
                site_id=site_id,
                operator_party_id=OPERATOR,
                registered_on=start,
            ),
            EXCHANGE,
        )
        yield (
            wire.JoinCertificate.build(
                posting_id=f"join-{site_id}",
                site_id=site_id,
                certificate_id=certificate,
                effective_on=start,
            ),
            EXCHANGE,
        )
        yield (
            wire.RecordCertifiedInput.build(
                posting_id=f"fund-{site_id}",
                site_id=site_id,
                holder_id=site_id,
                material_quality=QUALITY,
                quantity_kg=Decimal(1_000_000),
                level=AccountingLevel.SITE,
                coc_document=f"COC-FUND-{site_id}",
                occurred_on=date(2026, 2, 1),
            ),
            OPERATOR,
        )


# ---- running it alone -----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.tools.bench.ledger_measures")
    parser.add_argument("--accounts", type=int, default=LedgerBenchOptions.accounts)
    parser.add_argument("--postings", type=int, default=LedgerBenchOptions.postings)
    parser.add_argument("--journal", type=int, default=LedgerBenchOptions.journal_entries)
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--broker-postings", type=int, default=LedgerBenchOptions.broker_postings)
    parser.add_argument(
        "--parts",
        type=parts_named,
        default=PARTS,
        help=f"the measures to run, comma-separated, of {','.join(PARTS)} (all)",
    )
    parser.add_argument("--restore-file", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.restore_file is not None:  # the child measuring a restore
        seconds, _facts, _accounts = restore_journal(arguments.restore_file)
        print(f"{seconds:.3f} {round(peak_rss_mib() * 1024)}")
        return 0
    options = LedgerBenchOptions(
        accounts=arguments.accounts,
        postings=arguments.postings,
        journal_entries=arguments.journal,
        bootstrap_servers=arguments.bootstrap,
        broker_postings=arguments.broker_postings,
        parts=arguments.parts,
    )
    rows = asyncio.run(run_ledger_bench(options))
    width = max(len(label) for label, _ in rows)
    for label, figure in rows:
        print(f"{label:<{width}}  {figure:>12}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
