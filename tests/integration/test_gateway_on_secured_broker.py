"""The gateway on the real secured broker: it runs as its own principal with only the ACLs the
parties file gives it, every party connects as itself and signs with its own key, and the
registry decides the signed scenario while a forged ce_partyid, an unsigned record and a
record changed after signing end as dead letters naming the parties. Its broker password
appears in none of its logs."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from consumers.kafka_access import KafkaAccess
from consumers.record_reader import ReadRecord, read_to_end
from contracts.base import Contract
from contracts.dead_letter import DeadLetterReason, DeadLetterRecorded
from contracts.envelope import new_envelope
from contracts.lots import LotArrived
from contracts.parties import PartiesFile
from contracts.signatures import SigningKey
from contracts.warrants import WarrantIssued
from gateway.runtime.api_tokens import digest, new_token
from gateway.topology import REGISTRY_OUTPUTS
from producers.kafka_publisher import EnvelopePublisher
from producers.parties import DEMO_PARTIES, sender_role_of
from tests.conftest import TestTopics
from tests.integration.registry_support import (
    free_port,
    scenario_for_brand,
    start_registry,
    wait_ready,
)
from tests.integration.secured_broker_support import (
    SecuredKafka,
    write_parties,
)

pytestmark = pytest.mark.broker

SIGNERS = (
    "smelter-nordal",
    "warehouse-rotterdam-07",
    "warehouse-antwerp-02",
    "exchange-listing-desk",
)
WAREHOUSE, FORGER = "warehouse-rotterdam-07", "warehouse-antwerp-02"


@pytest.fixture(params=["secured_kafka", "secured_tls_kafka"], ids=["SASL_PLAINTEXT", "SASL_SSL"])
def broker(request: pytest.FixtureRequest) -> SecuredKafka:
    """The secured broker, without TLS and with it (its self-signed CA)."""
    secured: SecuredKafka = request.getfixturevalue(request.param)
    return secured


@pytest.fixture
def signing_keys() -> dict[str, SigningKey]:
    return {party: SigningKey.generate(party) for party in SIGNERS}


@pytest.fixture
def gateway_files(
    broker: SecuredKafka, signing_keys: dict[str, SigningKey], tmp_path: Path
) -> tuple[Path, Path]:
    """The exchange's parties file with the signers' public keys (the broker's ACLs come from
    the same ids and roles), and the gateway's own key."""
    parties = broker.broker.parties()
    keyed = PartiesFile(
        parties=tuple(
            party.model_copy(update={"signing_keys": (signing_keys[party.id].public_key,)})
            if party.id in signing_keys
            else party
            for party in parties
        )
    )
    parties_file = tmp_path / "parties.json"
    write_parties(parties_file, keyed)
    gateway_key = tmp_path / "gateway.pem"
    gateway_key.write_bytes(SigningKey.generate(broker.gateway_principal).to_pem())
    return parties_file, gateway_key


@contextlib.contextmanager
def stopped_at_exit(process) -> Iterator[None]:  # type: ignore[no-untyped-def]
    try:
        yield
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except Exception:
                process.kill()
                process.wait(timeout=10)


async def send_as(
    access: KafkaAccess, messages: list[tuple[Contract, str, dict[str, SigningKey]]]
) -> None:
    """Each body from its party (the envelope's ce_partyid), signed with the keys given."""
    producer = AIOKafkaProducer(**access.client_options(), enable_idempotence=True)
    await asyncio.wait_for(producer.start(), 20)
    try:
        for body, sender, keys in messages:
            publisher = EnvelopePublisher(producer, signing_keys=keys)
            envelope = new_envelope(
                body, source=f"/parties/{sender}", sender_party_id=sender, time=datetime.now(UTC)
            )
            await asyncio.wait_for(publisher.publish(body, envelope, sender_role_of(body)), 20)
    finally:
        await producer.stop()


async def outputs_until(
    access: KafkaAccess,
    done,
    timeout_s: float = 90,  # type: ignore[no-untyped-def]
) -> list[ReadRecord]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        records = await read_to_end(access, list(dict.fromkeys(REGISTRY_OUTPUTS)))
        if done(records) or loop.time() > deadline:
            return records
        await asyncio.sleep(0.5)


async def test_the_gateway_decides_signed_records_and_sets_forgeries_aside_on_the_secured_broker(
    broker: SecuredKafka,
    signing_keys: dict[str, SigningKey],
    gateway_files: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    secured_kafka = broker
    token = new_token()
    parties_file, gateway_key = gateway_files
    password_file = secured_kafka.broker.secrets.file_of(secured_kafka.gateway_principal)
    password = password_file.read_text(encoding="utf-8").splitlines()[0]
    run = uuid.uuid4().hex[:8]
    port, log = free_port(), tmp_path / "gateway.log"
    process = start_registry(
        TestTopics(prefix="", bootstrap_servers=secured_kafka.bootstrap_servers),
        tmp_path / "state",
        port,
        log,
        {
            "GATEWAY_KAFKA_SECURITY_PROTOCOL": secured_kafka.broker.security_protocol,
            "GATEWAY_KAFKA_PASSWORD_FILE": str(password_file),
            "GATEWAY_PARTIES_FILE": str(parties_file),
            "GATEWAY_SIGNING_KEY_FILE": str(gateway_key),
            "GATEWAY_REGISTRY_GROUP_ID": f"custody-registry-{run}",
            "GATEWAY_LEDGER_GROUP_ID": f"custody-ledger-{run}",
            "GATEWAY_READSIDE": "true",
            "GATEWAY_CLOCK_TICK_EVERY": "PT1S",
            "GATEWAY_API_TOKENS": json.dumps({"holder-fjord-capital": [digest(token)]}),
            **(
                {"GATEWAY_KAFKA_CA_FILE": str(secured_kafka.ca_file)}
                if secured_kafka.ca_file is not None
                else {}
            ),
        },
    )
    with stopped_at_exit(process):
        await wait_ready(port, process, timeout_s=90)
        scenario = scenario_for_brand(90 + int(run, 16) % 10)
        brand = scenario[0].brand  # type: ignore[attr-defined]
        for body in scenario:
            sender = DEMO_PARTIES[sender_role_of(body)]
            await send_as(secured_kafka.access_for(sender), [(body, sender, signing_keys)])
        lot = next(m for m in scenario if isinstance(m, LotArrived))
        forged = lot.model_copy(update={"lot_id": f"{lot.lot_id}-FORGED"})
        unsigned = lot.model_copy(update={"lot_id": f"{lot.lot_id}-UNSIGNED"})
        # Antwerp, connected as itself, announces a lot as Rotterdam's with its own key
        await send_as(
            secured_kafka.access_for(FORGER),
            [(forged, WAREHOUSE, {WAREHOUSE: signing_keys[FORGER]})],
        )
        await send_as(secured_kafka.access_for(WAREHOUSE), [(unsigned, WAREHOUSE, {})])

        def decided(records: list[ReadRecord]) -> list[Contract]:
            return [r.decoded.body for r in records if not isinstance(r.outcome, Exception)]

        def issued(records: list[ReadRecord]) -> list[WarrantIssued]:
            return [
                body
                for body in decided(records)
                if isinstance(body, WarrantIssued) and body.brand == brand
            ]

        def ours(records: list[ReadRecord]) -> list[DeadLetterRecorded]:
            return [
                body
                for body in decided(records)
                if isinstance(body, DeadLetterRecorded)
                and body.error.kind is DeadLetterReason.SENDER_NOT_AUTHENTICATED
                and _mentions(body, forged.lot_id, unsigned.lot_id)
            ]

        admin = secured_kafka.broker.admin_access()
        records = await outputs_until(admin, lambda rs: issued(rs) and len(ours(rs)) >= 2)
        assert [w.lot_id for w in issued(records)] == [lot.lot_id]
        messages = sorted(letter.error.message for letter in ours(records))
        assert len(messages) == 2, messages
        forged_letter = next(m for m in messages if "signed by" in m)
        assert f"ce_partyid claims {WAREHOUSE}" in forged_letter
        assert f"signed by {FORGER}" in forged_letter
        assert any("is not signed" in m for m in messages)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            answer = await http.get("/v1/warrants", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
    gateway_log = log.read_text(encoding="utf-8", errors="replace")
    assert "gateway_starting" in gateway_log
    assert password not in gateway_log, "the gateway's broker password reached its log"
    assert token not in gateway_log, "an API token reached the log"
    assert process.returncode == 0, gateway_log[-3000:]


def _mentions(letter: DeadLetterRecorded, *lot_ids: str) -> bool:
    kept = letter.original_value
    if kept is None:
        return False
    value = base64.b64decode(kept.kept_base64)
    return any(lot_id.encode() in value for lot_id in lot_ids)
