"""The parts of the secured broker that need no broker: its configuration, the passwords'
places, the TLS material and the refusal to start a run directory the other way."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from contracts.broker_acls import GATEWAY_GROUP_PREFIX
from contracts.topics import CATALOGUE
from contracts.values import PartyRole
from gateway.runtime.app import create_app
from gateway.runtime.settings import Settings
from gateway.tools import local_kafka
from gateway.tools.local_kafka import (
    BrokerError,
    ListenerSecurity,
    LocalKafka,
    SecurityMismatchError,
)
from gateway.tools.secured_kafka import (
    Secrets,
    SecuredBroker,
    ensure_tls,
    gateway_group_prefixes,
    gateway_reads,
    password_variable,
)

SECURITY = ListenerSecurity(
    admin="broker-admin",
    admin_password="admin-secret-1",
    scram_users={"broker-admin": "admin-secret-1"},
)


def properties_of(security: ListenerSecurity) -> dict[str, str]:
    text = local_kafka._server_properties(Path("/data"), 9092, 9093, security)
    return dict(line.split("=", 1) for line in text.splitlines())


def test_the_client_listener_takes_scram_and_the_controller_stays_on_loopback() -> None:
    properties = properties_of(SECURITY)
    assert properties["listeners"] == (
        "SASL_PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    )
    assert properties["listener.security.protocol.map"] == (
        "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
    )
    assert properties["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    assert properties["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    assert properties["super.users"] == "User:broker-admin;User:ANONYMOUS"
    assert properties["authorizer.class.name"].endswith("StandardAuthorizer")
    jaas = properties["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    assert 'username="broker-admin" password="admin-secret-1"' in jaas


def test_tls_makes_the_listener_sasl_ssl_with_pem_files() -> None:
    security = ListenerSecurity(
        "broker-admin", "x" * 10, {}, tls_key_and_chain=Path("/t/s.pem"), tls_ca=Path("/t/c.pem")
    )
    properties = properties_of(security)
    assert properties["advertised.listeners"] == "SASL_SSL://127.0.0.1:9092"
    assert properties["listener.name.sasl_ssl.ssl.keystore.type"] == "PEM"
    assert properties["listener.name.sasl_ssl.ssl.keystore.location"] == "/t/s.pem"
    assert "ssl.key.password" not in "".join(properties)


def test_a_password_variable_names_the_principal() -> None:
    assert password_variable("warehouse-rotterdam-07") == "GATEWAY_PASSWORD_WAREHOUSE_ROTTERDAM_07"
    assert password_variable("custody.registry") == "GATEWAY_PASSWORD_CUSTODY_REGISTRY"


def test_passwords_come_from_the_environment_or_a_private_file(tmp_path: Path) -> None:
    store = Secrets(tmp_path / "secrets", {"GATEWAY_PASSWORD_HOLDER_A": "from-the-env-1"})
    assert store.ensure("holder-a").get_secret_value() == "from-the-env-1"
    assert not store.file_of("holder-a").exists()
    generated = store.ensure("holder-b")
    assert store.ensure("holder-b") == generated
    assert stat.S_IMODE(store.file_of("holder-b").stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert store.renew("holder-b") != generated
    assert "from-the-env" not in repr(store.ensure("holder-a"))
    with pytest.raises(BrokerError, match="GATEWAY_PASSWORD_HOLDER_C"):
        Secrets(tmp_path, {"GATEWAY_PASSWORD_HOLDER_C": "has,comma]"}).ensure("holder-c")


def test_the_tls_material_is_a_ca_and_a_loopback_certificate(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path / "tls")
    text = files.server.read_bytes()
    assert b"-----BEGIN PRIVATE KEY-----" in text  # PKCS#8, not encrypted
    load_pem_private_key(text, password=None)
    certificate = x509.load_pem_x509_certificate(text[text.index(b"-----BEGIN CERTIFICATE") :])
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert stat.S_IMODE(files.server.stat().st_mode) == 0o600
    assert ensure_tls(tmp_path / "tls") == files


def test_the_environment_lines_point_at_the_password_and_never_hold_it(tmp_path: Path) -> None:
    broker = SecuredBroker(
        "127.0.0.1:1", tmp_path, "SASL_SSL", "custody-registry", Path("/p.json"), environ={}
    )
    password = broker.secrets.ensure("custody-registry").get_secret_value()
    lines = broker.environment_lines()
    assert lines == [
        "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1",
        "GATEWAY_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        f"GATEWAY_KAFKA_PASSWORD_FILE={tmp_path}/secrets/custody-registry.password",
        "GATEWAY_PARTIES_FILE=/p.json",
        f"GATEWAY_KAFKA_CA_FILE={tmp_path}/tls/ca.pem",
    ]
    assert password not in "".join(lines)
    from_env = SecuredBroker(
        "h:1",
        tmp_path,
        "SASL_PLAINTEXT",
        "custody-registry",
        environ={"GATEWAY_PASSWORD_CUSTODY_REGISTRY": "in-the-env-1"},
    )
    assert 'GATEWAY_KAFKA_PASSWORD="$GATEWAY_PASSWORD_CUSTODY_REGISTRY"' in (
        from_env.environment_lines()
    )


def test_a_secured_run_directory_refuses_an_open_start_and_back(tmp_path: Path) -> None:
    secured = LocalKafka("3.9.1", tmp_path / "cache", tmp_path / "secured")
    secured.run_dir.mkdir()
    secured.security_file.write_text(json.dumps(SECURITY.record()))
    with pytest.raises(SecurityMismatchError, match="gateway kafka up --secure"):
        secured.start()
    opened = LocalKafka("3.9.1", tmp_path / "cache", tmp_path / "open")
    (opened.run_dir / "data").mkdir(parents=True)
    (opened.run_dir / "data" / "meta.properties").write_text("version=1\n")
    with pytest.raises(SecurityMismatchError, match="set up open"):
        opened.start(security=SECURITY)


def test_the_gateway_reads_what_it_consumes_and_not_what_only_the_exchange_reads() -> None:
    reads = gateway_reads()
    ingest = {spec.name for spec in CATALOGUE if PartyRole.REGISTRY not in spec.writer_roles}
    assert ingest <= reads
    assert {"registry.clock", "ledger.transfers", "registry.state-changelog"} <= reads
    assert {"registry.ledger-journal", "registry.ledger-snapshots", "registry.warrant-state"} <= (
        reads
    )
    assert not reads & {"registry.dead-letters", "registry.ledger-decisions"}


def test_the_gateways_groups_and_transactional_ids_start_with_the_acl_prefix(
    tmp_path: Path,
) -> None:
    settings = Settings().model_copy(update={"topic_prefix": "p-", "state_dir": tmp_path})
    app = create_app(settings)
    prefix = "p-" + GATEWAY_GROUP_PREFIX
    for engine in (app.registry_engine, app.ledger_engine):
        assert engine.group_id.startswith(prefix)
        assert engine.transactional_id_prefix.startswith(prefix)


def test_groups_named_otherwise_get_their_own_prefix() -> None:
    assert gateway_group_prefixes(Settings()) == ("custody-",)
    renamed = Settings().model_copy(update={"ledger_group_id": "books", "readside_group_id": "rs"})
    assert gateway_group_prefixes(renamed) == ("custody-", "books", "rs")
