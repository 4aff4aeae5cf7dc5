"""The secured broker: SCRAM authentication, the parties file's ACLs, password rotation,
adding a party, and TLS. Every wait is bounded."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.conn import create_conn
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
from aiokafka.protocol.metadata import MetadataRequest
from pydantic import SecretStr

from consumers.kafka_access import KafkaAccess
from contracts.parties import PartyEntry, Role
from gateway.tools.cli import main
from gateway.tools.local_kafka import SecurityMismatchError
from tests.integration.secured_broker_support import (
    SecuredKafka,
)

pytestmark = pytest.mark.broker

BOUND_S = 20.0
PROBE = b"acl-probe"
WAREHOUSE = "warehouse-rotterdam-07"
HOLDER = "holder-fjord-capital"


def _client(access: KafkaAccess) -> dict[str, Any]:
    return {**access.client_options(), "request_timeout_ms": 10_000}


async def produce(access: KafkaAccess, topic: str, **options: Any) -> None:
    """One probe record to ``topic`` as ``access``, within BOUND_S per step."""
    producer = AIOKafkaProducer(**_client(access), **options)
    try:
        await asyncio.wait_for(producer.start(), BOUND_S)
        await asyncio.wait_for(producer.send_and_wait(topic, PROBE, key=b"probe"), BOUND_S)
    finally:
        await asyncio.wait_for(producer.stop(), BOUND_S)


async def produce_in_transaction(
    access: KafkaAccess,
    topic: str,
    transactional_id: str,
    *,
    commit: bool = True,
    offsets_of: str | None = None,
) -> None:
    """A probe record in a transaction, committed or aborted; with ``offsets_of``, the
    transaction also commits that group's offset 0 of ``warehouse.lot-arrivals``."""
    producer = AIOKafkaProducer(**_client(access), transactional_id=transactional_id)
    try:
        await asyncio.wait_for(producer.start(), BOUND_S)
        await asyncio.wait_for(producer.begin_transaction(), BOUND_S)
        await asyncio.wait_for(producer.send_and_wait(topic, PROBE, key=b"probe"), BOUND_S)
        if offsets_of is not None:
            offsets = {TopicPartition("warehouse.lot-arrivals", 0): 0}
            sending = producer.send_offsets_to_transaction(offsets, offsets_of)
            await asyncio.wait_for(sending, BOUND_S)
        ending = producer.commit_transaction() if commit else producer.abort_transaction()
        await asyncio.wait_for(ending, BOUND_S)
    finally:
        await asyncio.wait_for(producer.stop(), BOUND_S)


async def consume_one(access: KafkaAccess, topic: str, group_id: str) -> bytes | None:
    """The first probe record of ``topic`` as ``access`` reads it in ``group_id`` (the
    records other modules' gateways wrote to this shared broker are passed over)."""
    consumer = AIOKafkaConsumer(
        topic,
        **_client(access),
        group_id=group_id,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    try:
        await asyncio.wait_for(consumer.start(), BOUND_S)
        return await asyncio.wait_for(_first_probe(consumer), BOUND_S)
    finally:
        await asyncio.wait_for(consumer.stop(), BOUND_S)


async def _first_probe(consumer: AIOKafkaConsumer) -> bytes | None:
    while True:
        value: bytes | None = (await consumer.getone()).value
        if value == PROBE:
            return value


async def connection_error(access: KafkaAccess) -> BaseException | None:
    """What one connection as ``access`` fails with (authenticating, then asking for
    metadata), unwrapped: a producer or consumer only says it could not bootstrap."""
    options = access.client_options()
    host, port = options.pop("bootstrap_servers").rsplit(":", 1)
    try:
        connection = await asyncio.wait_for(
            create_conn(host, int(port), request_timeout_ms=10_000, **options), BOUND_S
        )
        try:
            await asyncio.wait_for(connection.send(MetadataRequest([])), BOUND_S)
        finally:
            connection.close()
    except (OSError, KafkaError) as error:
        return error
    return None


def wrong_password(secured: SecuredKafka, principal: str) -> KafkaAccess:
    return secured.broker.access_for(principal, SecretStr("not-the-password-" + "x" * 8))


async def test_a_client_without_credentials_is_refused(secured_kafka: SecuredKafka) -> None:
    # The broker closes a connection whose first request is not the SASL handshake.
    plain = KafkaAccess(secured_kafka.bootstrap_servers)
    assert isinstance(await connection_error(plain), KafkaConnectionError)
    with pytest.raises(KafkaConnectionError):
        await produce(KafkaAccess(secured_kafka.bootstrap_servers), "warehouse.lot-arrivals")
    with pytest.raises(KafkaConnectionError):
        await consume_one(
            KafkaAccess(secured_kafka.bootstrap_servers), "registry.warrant-state", "x"
        )


async def test_a_wrong_password_is_refused(secured_kafka: SecuredKafka) -> None:
    error = await connection_error(wrong_password(secured_kafka, WAREHOUSE))
    assert isinstance(error, SaslAuthenticationFailed)
    assert await connection_error(secured_kafka.access_for(WAREHOUSE)) is None
    with pytest.raises(KafkaConnectionError):
        await produce(wrong_password(secured_kafka, WAREHOUSE), "warehouse.lot-arrivals")


async def test_a_warehouse_writes_its_topics_and_not_the_producers(
    secured_kafka: SecuredKafka,
) -> None:
    access = secured_kafka.access_for(WAREHOUSE)
    await produce(access, "warehouse.lot-arrivals", enable_idempotence=True)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(access, "producer.ecoas")


async def test_a_holder_reads_the_warrant_state_in_its_own_groups_only(
    secured_kafka: SecuredKafka,
) -> None:
    gateway = secured_kafka.access_for(secured_kafka.gateway_principal)
    # An idempotent producer needs WRITE on the topic and nothing else (KIP-679).
    await produce(gateway, "registry.warrant-state", enable_idempotence=True)
    holder = secured_kafka.access_for(HOLDER)
    own_group = f"{HOLDER}.{uuid.uuid4().hex[:6]}"
    assert await consume_one(holder, "registry.warrant-state", own_group) == PROBE
    with pytest.raises(GroupAuthorizationFailedError):
        await consume_one(holder, "registry.warrant-state", f"someone-{uuid.uuid4().hex[:6]}")
    with pytest.raises(GroupAuthorizationFailedError):  # its id without the dot: not its own
        await consume_one(holder, "registry.warrant-state", f"{HOLDER}-{uuid.uuid4().hex[:6]}")
    with pytest.raises(TopicAuthorizationFailedError):
        await consume_one(holder, "registry.warrant-decisions", own_group)


async def test_the_gateway_writes_its_decisions_in_transactions_but_no_ingest_topic(
    secured_kafka: SecuredKafka,
) -> None:
    gateway = secured_kafka.access_for(secured_kafka.gateway_principal)
    await produce_in_transaction(
        gateway, "registry.warrant-decisions", "custody-registry-0", offsets_of="custody-registry"
    )
    await produce_in_transaction(
        gateway, "registry.warrant-decisions", "custody-ledger-0", commit=False
    )
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(gateway, "producer.ecoas")
    with pytest.raises(TransactionalIdAuthorizationFailed):
        await produce_in_transaction(gateway, "registry.warrant-decisions", "someone-0")
    with pytest.raises(GroupAuthorizationFailedError):
        await produce_in_transaction(
            gateway, "registry.warrant-decisions", "custody-registry-1", offsets_of="someone"
        )


async def test_a_rotated_password_replaces_the_old_one(secured_kafka: SecuredKafka) -> None:
    principal = "warehouse-antwerp-02"
    old = secured_kafka.access_for(principal)
    await produce(old, "warehouse.lot-arrivals")
    secured_kafka.broker.rotate_password(principal)
    new = secured_kafka.access_for(principal)
    assert new.password != old.password
    assert isinstance(await connection_error(old), SaslAuthenticationFailed)
    with pytest.raises(KafkaConnectionError):
        await produce(old, "warehouse.lot-arrivals")
    await produce(new, "warehouse.lot-arrivals")


async def test_a_party_added_to_the_parties_file_can_connect_until_removed(
    secured_kafka: SecuredKafka,
) -> None:
    newcomer = PartyEntry(id="warehouse-hamburg-11", roles=(Role.WAREHOUSE,))
    report = secured_kafka.add_party(newcomer)
    assert report.credentials_added == (newcomer.id,)
    assert report.acls_created > 0
    access = secured_kafka.access_for(newcomer.id)
    await produce(access, "warehouse.lot-arrivals")
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(access, "producer.ecoas")
    assert secured_kafka.broker.apply().acls_created == 0
    removed = secured_kafka.remove_party(newcomer.id)
    assert removed.credentials_removed == (newcomer.id,) and removed.acls_deleted > 0
    assert isinstance(await connection_error(access), SaslAuthenticationFailed)


def test_an_open_start_of_the_secured_broker_is_refused(secured_kafka: SecuredKafka) -> None:
    with pytest.raises(SecurityMismatchError, match="--secure"):
        secured_kafka.kafka.start()
    status = secured_kafka.kafka.status()
    assert status is not None and "secured: SASL_PLAINTEXT" in status.describe()


def test_the_environment_lines_name_no_password(secured_kafka: SecuredKafka) -> None:
    lines = "\n".join(secured_kafka.broker.environment_lines())
    password = secured_kafka.broker.password_of(secured_kafka.gateway_principal)
    assert password.get_secret_value() not in lines
    assert "GATEWAY_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT" in lines
    assert f"GATEWAY_KAFKA_PASSWORD_FILE={secured_kafka.broker.run_dir}/secrets/" in lines
    assert secured_kafka.settings().kafka_access().password == password


async def test_tls_needs_the_generated_ca(secured_tls_kafka: SecuredKafka) -> None:
    trusted = secured_tls_kafka.access_for(WAREHOUSE)
    assert trusted.security_protocol == "SASL_SSL" and trusted.ca_file is not None
    await produce(trusted, "warehouse.lot-arrivals")
    untrusted = KafkaAccess(
        trusted.bootstrap_servers,
        security_protocol="SASL_SSL",
        username=trusted.username,
        password=trusted.password,
    )
    assert isinstance(await connection_error(untrusted), ssl.SSLCertVerificationError)
    with pytest.raises(KafkaConnectionError):
        await produce(untrusted, "warehouse.lot-arrivals")


async def test_the_kafka_commands_on_the_secured_broker(
    secured_kafka: SecuredKafka, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_RUN_DIR", str(secured_kafka.kafka.run_dir))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    principal = "importer-rhein-alu"
    old = secured_kafka.access_for(principal)
    assert await asyncio.to_thread(main, ["kafka", "status"]) == 0
    assert "secured: SASL_PLAINTEXT SCRAM, ACLs enforced" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["kafka", "up"]) == 2
    assert "gateway kafka up --secure" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["kafka", "acls"]) == 0
    assert "0 created, 0 deleted" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["kafka", "password", principal]) == 0
    printed = capsys.readouterr().out
    new = secured_kafka.access_for(principal)
    assert new.password is not None and new.password.get_secret_value() not in printed
    assert isinstance(await connection_error(old), SaslAuthenticationFailed)
    assert await connection_error(new) is None
