"""A secured local broker: SCRAM credentials, TLS material and ACLs for the parties file.

Principals: ``broker-admin`` (the super user the broker talks to itself as, and the tools'
admin calls), the gateway's (``Settings.kafka_principal``, ``custody-registry`` by default)
and each party of the parties file (its id). A principal's password is the variable
``GATEWAY_PASSWORD_<ID>`` (upper-cased, other characters as ``_``) when set, else one
generated once and kept in ``<run_dir>/secrets/<principal>.password`` (mode 0600, the
directory 0700). Passwords are never printed or logged.

The ACLs are ``contracts.broker_acls``'s, created as the admin with confluent-kafka; applying
them again makes the broker's ACLs and credentials those of the parties file (a new party
gets a credential, a removed one loses its ACLs and its credential).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._acl import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
)
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from confluent_kafka.admin._scram import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from pydantic import SecretStr

from consumers.kafka_access import KafkaAccess
from contracts.broker_acls import GATEWAY_GROUP_PREFIX, AclEntry, GatewayGrant, broker_acls
from contracts.parties import PartiesFile, load_parties
from contracts.topics import CATALOGUE
from gateway.readside.tables import SOURCE_TOPICS as READ_SIDE_TOPICS
from gateway.runtime.settings import PASSWORD_VARIABLE_PREFIX, Settings, password_variables
from gateway.runtime.topic_admin import ensure_topics
from gateway.tools.local_kafka import BrokerError, BrokerInfo, ListenerSecurity, LocalKafka
from gateway.topology import TOPOLOGY

ADMIN_PRINCIPAL = "broker-admin"
MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 4096
ADMIN_TIMEOUT_S = 30.0
# What the storage tool's --add-scram syntax and the JAAS line take without quoting.
_SAFE_PASSWORD = re.compile(r"^[A-Za-z0-9_.~+/-]{8,}$")


def password_variable(principal: str) -> str:
    """The environment variable that may hold ``principal``'s password."""
    return PASSWORD_VARIABLE_PREFIX + re.sub(r"[^A-Z0-9]", "_", principal.upper())


@dataclass(frozen=True)
class Secrets:
    """The principals' passwords: the environment's, else the secret files."""

    directory: Path
    environ: Mapping[str, str] = field(default_factory=password_variables)

    def file_of(self, principal: str) -> Path:
        return self.directory / f"{principal}.password"

    def from_environment(self, principal: str) -> SecretStr | None:
        name = password_variable(principal)
        value = self.environ.get(name)
        if value is None:
            return None
        if not _SAFE_PASSWORD.match(value):
            raise BrokerError(
                f"{name} must be at least 8 letters, digits or -_.~+/ (it is not shown here)"
            )
        return SecretStr(value)

    def password_of(self, principal: str) -> SecretStr | None:
        from_environment = self.from_environment(principal)
        if from_environment is not None:
            return from_environment
        try:
            lines = self.file_of(principal).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        return SecretStr(lines[0]) if lines else None

    def ensure(self, principal: str) -> SecretStr:
        """The principal's password, generated and written to its file if it has none."""
        return self.password_of(principal) or self._generate(principal)

    def renew(self, principal: str) -> SecretStr:
        """A new password: the environment's if set (put the new one there first), else a
        generated one, written to the principal's file."""
        return self.from_environment(principal) or self._generate(principal)

    def _generate(self, principal: str) -> SecretStr:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        password = secrets.token_urlsafe(24)
        path = self.file_of(principal)
        partial = path.with_suffix(".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        partial.replace(path)
        return SecretStr(password)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server: Path
    """The server's unencrypted PKCS#8 key and its certificate, in one PEM file (KIP-651)."""


def ensure_tls(directory: Path) -> TlsFiles:
    """A self-signed CA and a server certificate for 127.0.0.1 and localhost, made once."""
    files = TlsFiles(ca=directory / "ca.pem", server=directory / "server.pem")
    if files.ca.exists() and files.server.exists():
        return files
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "custody gateway local CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = files.server.with_suffix(".partial")
    descriptor = os.open(server, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_pem + cert.public_bytes(serialization.Encoding.PEM))
    server.replace(files.server)
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return files


def gateway_reads() -> frozenset[str]:
    """The catalogue topics the gateway consumes: its processors' inputs, the state logs and
    snapshots it restores from, and the read side's sources (not its dead letters or the
    ledger's decisions, which only the exchange reads)."""
    topics = set(READ_SIDE_TOPICS)
    for spec in TOPOLOGY:
        topics |= {*spec.input_topics, spec.state_log}
        if spec.snapshot_log:
            topics.add(spec.snapshot_log)
    return frozenset(topics)


def gateway_group_prefixes(settings: Settings) -> tuple[str, ...]:
    """``custody-``, and each group the settings name that does not start with it (the
    read side's carries a suffix: its name is a prefix)."""
    groups = (settings.registry_group_id, settings.ledger_group_id, settings.readside_group_id)
    others = [g for g in groups if g is not None and not g.startswith(GATEWAY_GROUP_PREFIX)]
    return tuple(dict.fromkeys((GATEWAY_GROUP_PREFIX, *others)))


@dataclass(frozen=True)
class SecuredBroker:
    """A running secured broker, as its clients and the tests see it."""

    bootstrap_servers: str
    run_dir: Path
    security_protocol: str
    gateway_principal: str
    parties_file: Path | None = None
    topic_prefix: str = ""
    group_prefixes: tuple[str, ...] = (GATEWAY_GROUP_PREFIX,)
    """What the gateway's groups and transactional ids start with, after the topic prefix."""
    admin_principal: str = ADMIN_PRINCIPAL
    environ: Mapping[str, str] = field(default_factory=password_variables, repr=False)

    @property
    def secrets(self) -> Secrets:
        return Secrets(self.run_dir / "secrets", self.environ)

    @property
    def ca_file(self) -> Path | None:
        return self.run_dir / "tls" / "ca.pem" if self.security_protocol == "SASL_SSL" else None

    def password_of(self, principal: str) -> SecretStr:
        password = self.secrets.password_of(principal)
        if password is None:
            raise BrokerError(f"no password for {principal} in {self.secrets.directory}")
        return password

    def access_for(self, principal: str, password: SecretStr | None = None) -> KafkaAccess:
        """How ``principal`` connects (with its own password unless another is given)."""
        return KafkaAccess(
            self.bootstrap_servers,
            security_protocol=self.security_protocol,
            sasl_mechanism=MECHANISM,
            username=principal,
            password=password if password is not None else self.password_of(principal),
            ca_file=self.ca_file,
        )

    def admin_access(self) -> KafkaAccess:
        return self.access_for(self.admin_principal)

    def parties(self) -> PartiesFile:
        if self.parties_file is None:
            return PartiesFile(parties=())
        return load_parties(self.parties_file)

    def environment_lines(self) -> list[str]:
        """What a user exports to run the gateway on this broker (no password in them)."""
        principal = self.gateway_principal
        lines = [
            f"KAFKA_BOOTSTRAP_SERVERS={self.bootstrap_servers}",
            f"GATEWAY_KAFKA_SECURITY_PROTOCOL={self.security_protocol}",
        ]
        if principal != Settings().registry_party_id:
            lines.append(f"GATEWAY_KAFKA_USERNAME={principal}")
        if self.secrets.from_environment(principal) is not None:
            lines.append(f'GATEWAY_KAFKA_PASSWORD="${password_variable(principal)}"')
        else:
            lines.append(f"GATEWAY_KAFKA_PASSWORD_FILE={self.secrets.file_of(principal)}")
        if self.parties_file is not None:
            lines.append(f"GATEWAY_PARTIES_FILE={self.parties_file}")
        if self.ca_file is not None:
            lines.append(f"GATEWAY_KAFKA_CA_FILE={self.ca_file}")
        if self.topic_prefix:
            lines.append(f"GATEWAY_TOPIC_PREFIX={self.topic_prefix}")
        return lines

    def acls(self) -> frozenset[AclEntry]:
        grant = GatewayGrant(self.gateway_principal, self.group_prefixes, gateway_reads())
        return broker_acls(self.parties(), grant, CATALOGUE, self.topic_prefix)

    def apply(self) -> ApplyReport:
        """Make the broker's credentials and ACLs those of the parties file (idempotent)."""
        admin = admin_client(self.admin_access())
        wanted = [self.gateway_principal, *(party.id for party in self.parties())]
        added, removed = sync_credentials(
            admin, {principal: self.secrets.ensure(principal) for principal in wanted}, self
        )
        created, deleted = sync_acls(admin, self.acls(), keep=self.admin_principal)
        return ApplyReport(added, removed, created, deleted)

    def rotate_password(self, principal: str) -> None:
        """Give ``principal`` a new password (see :meth:`Secrets.renew`); the old one is
        refused from then on."""
        if principal == self.admin_principal:
            raise BrokerError(
                f"{principal}'s password is in the broker's own configuration: it is not "
                "rotated here"
            )
        known = {self.gateway_principal, *(party.id for party in self.parties())}
        if principal not in known:
            raise BrokerError(f"{principal} is neither the gateway nor in the parties file")
        password = self.secrets.renew(principal)
        upsert_credentials(admin_client(self.admin_access()), {principal: password})

    def create_topics(self, max_record_bytes: int | None = None) -> tuple[int, int]:
        report = asyncio.run(
            ensure_topics(
                self.admin_access(),
                CATALOGUE,
                self.topic_prefix,
                max_record_bytes=max_record_bytes,
            )
        )
        return len(report.created), len(report.already_present)

    def record(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway_principal,
            "parties_file": str(self.parties_file) if self.parties_file else None,
            "topic_prefix": self.topic_prefix,
            "group_prefixes": list(self.group_prefixes),
        }


@dataclass(frozen=True)
class ApplyReport:
    credentials_added: tuple[str, ...]
    credentials_removed: tuple[str, ...]
    acls_created: int
    acls_deleted: int

    def describe(self) -> str:
        added = ", ".join(self.credentials_added) or "none"
        removed = ", ".join(self.credentials_removed) or "none"
        return (
            f"credentials added: {added}; removed: {removed}; ACLs: {self.acls_created} "
            f"created, {self.acls_deleted} deleted"
        )


# ---- starting it ---------------------------------------------------------------------------


def _security_of(
    kafka: LocalKafka, broker: SecuredBroker, principals: Iterable[str], tls: bool
) -> ListenerSecurity:
    store = broker.secrets
    users = {principal: store.ensure(principal) for principal in principals}
    tls_files = ensure_tls(kafka.run_dir.resolve() / "tls") if tls else None
    return ListenerSecurity(
        admin=broker.admin_principal,
        admin_password=users[broker.admin_principal].get_secret_value(),
        scram_users={name: password.get_secret_value() for name, password in users.items()},
        tls_key_and_chain=tls_files.server if tls_files else None,
        tls_ca=tls_files.ca if tls_files else None,
        mechanism=MECHANISM,
        notes=broker.record(),
    )


def start_secured(
    kafka: LocalKafka,
    settings: Settings,
    *,
    parties_file: Path | None = None,
    tls: bool = False,
    die_with_parent: bool = False,
    log: Callable[[str], None] = print,
) -> tuple[SecuredBroker, BrokerInfo, ApplyReport]:
    """Start (or find running) the secured broker of ``kafka``'s run directory, then apply
    the parties file's credentials and ACLs and create the catalogue's topics as the admin.
    Without ``parties_file``, the one recorded at the first start is used; a broker set up
    with TLS keeps it."""
    run_dir = kafka.run_dir.resolve()
    recorded = kafka.recorded_security() or {}
    if parties_file is None and recorded.get("parties_file"):
        parties_file = Path(str(recorded["parties_file"]))
    parties_file = parties_file or settings.parties_file
    tls = tls or recorded.get("protocol") == "SASL_SSL"  # set up with TLS: it stays so
    unstarted = SecuredBroker(
        bootstrap_servers="",
        run_dir=run_dir,
        security_protocol="SASL_SSL" if tls else "SASL_PLAINTEXT",
        gateway_principal=settings.kafka_principal,
        parties_file=parties_file.resolve() if parties_file else None,
        topic_prefix=settings.topic_prefix,
        group_prefixes=gateway_group_prefixes(settings),
    )
    parties = unstarted.parties()
    principals = [ADMIN_PRINCIPAL, settings.kafka_principal, *(party.id for party in parties)]
    security = _security_of(kafka, unstarted, principals, tls)
    info = kafka.start(die_with_parent=die_with_parent, log=log, security=security)
    broker = SecuredBroker(
        bootstrap_servers=info.bootstrap_servers,
        run_dir=run_dir,
        security_protocol=security.protocol,
        gateway_principal=unstarted.gateway_principal,
        parties_file=unstarted.parties_file,
        topic_prefix=unstarted.topic_prefix,
        group_prefixes=unstarted.group_prefixes,
    )
    write_record(kafka, broker)
    report = broker.apply()
    broker.create_topics(settings.max_record_bytes)
    return broker, info, report


def secured_broker_of(kafka: LocalKafka, settings: Settings) -> SecuredBroker:
    """The running secured broker of ``kafka``'s run directory."""
    recorded = kafka.recorded_security()
    if recorded is None:
        raise BrokerError(f"the broker in {kafka.run_dir} is not secured (`kafka up --secure`)")
    info = kafka.status()
    if info is None:
        raise BrokerError(
            f"the secured broker in {kafka.run_dir} is not running: `gateway kafka up --secure`"
        )
    parties_file = recorded.get("parties_file")
    return SecuredBroker(
        bootstrap_servers=info.bootstrap_servers,
        run_dir=kafka.run_dir.resolve(),
        security_protocol=str(recorded["protocol"]),
        gateway_principal=str(recorded.get("gateway") or settings.kafka_principal),
        parties_file=Path(str(parties_file)) if parties_file else settings.parties_file,
        topic_prefix=str(recorded.get("topic_prefix") or ""),
        group_prefixes=_strings(recorded.get("group_prefixes")) or gateway_group_prefixes(settings),
    )


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


# ---- the admin calls -------------------------------------------------------------------


def admin_client(access: KafkaAccess) -> AdminClient:
    """A confluent-kafka admin client connecting as ``access`` says."""
    config: dict[str, Any] = {"bootstrap.servers": access.bootstrap_servers}
    if access.secured:
        assert access.password is not None
        config |= {
            "security.protocol": access.security_protocol,
            "sasl.mechanisms": access.sasl_mechanism,
            "sasl.username": access.username,
            "sasl.password": access.password.get_secret_value(),
        }
        if access.ca_file is not None:
            config["ssl.ca.location"] = str(access.ca_file)
    return AdminClient(config)


def _wait(futures: Mapping[Any, Any]) -> dict[Any, Any]:
    return {key: future.result(timeout=ADMIN_TIMEOUT_S) for key, future in futures.items()}


def upsert_credentials(admin: AdminClient, passwords: Mapping[str, SecretStr]) -> None:
    if not passwords:
        return
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    _wait(
        admin.alter_user_scram_credentials(
            [
                UserScramCredentialUpsertion(user, info, password.get_secret_value().encode())
                for user, password in passwords.items()
            ]
        )
    )


def sync_credentials(
    admin: AdminClient, passwords: Mapping[str, SecretStr], broker: SecuredBroker
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Add a credential for each principal without one; delete those of principals no longer
    wanted (never the admin's). Returns the names added and removed."""
    described = admin.describe_user_scram_credentials()
    assert isinstance(described, Future)
    existing = set(described.result(timeout=ADMIN_TIMEOUT_S))
    missing = {user: password for user, password in passwords.items() if user not in existing}
    upsert_credentials(admin, missing)
    stale = sorted(existing - set(passwords) - {broker.admin_principal})
    if stale:
        _wait(
            admin.alter_user_scram_credentials(
                [UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512) for user in stale]
            )
        )
    return tuple(sorted(missing)), tuple(stale)


def _binding(entry: AclEntry) -> AclBinding:
    return AclBinding(
        ResourceType[entry.resource_type.value],
        entry.resource_name,
        ResourcePatternType[entry.pattern.value],
        entry.principal,
        "*",
        AclOperation[entry.operation.value],
        AclPermissionType.ALLOW if entry.allow else AclPermissionType.DENY,
    )


def _name(value: object) -> str:
    return str(getattr(value, "name", value))


def _key(binding: AclBinding) -> tuple[str, ...]:
    return (
        binding.principal,
        _name(binding.restype),
        binding.name,
        _name(binding.resource_pattern_type),
        _name(binding.operation),
        _name(binding.permission_type),
        binding.host,
    )


def sync_acls(admin: AdminClient, wanted: frozenset[AclEntry], *, keep: str) -> tuple[int, int]:
    """Make the broker's ACLs exactly ``wanted`` (ACLs of ``User:<keep>`` aside). Returns how
    many were created and deleted."""
    everything = AclBindingFilter(
        ResourceType.ANY,
        None,  # type: ignore[arg-type]  # None matches any name, principal and host
        ResourcePatternType.ANY,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    present = {
        _key(binding): binding
        for binding in admin.describe_acls(everything).result(timeout=ADMIN_TIMEOUT_S)
    }
    wanted_bindings = {_key(binding): binding for binding in map(_binding, wanted)}
    stale = [
        binding
        for key, binding in present.items()
        if key not in wanted_bindings and binding.principal != f"User:{keep}"
    ]
    if stale:
        filters = [
            AclBindingFilter(
                b.restype,
                b.name,
                b.resource_pattern_type,
                b.principal,
                b.host,
                b.operation,
                b.permission_type,
            )
            for b in stale
        ]
        _wait(admin.delete_acls(filters))
    missing = [binding for key, binding in wanted_bindings.items() if key not in present]
    if missing:
        _wait(admin.create_acls(missing))
    return len(missing), len(stale)


def write_record(kafka: LocalKafka, broker: SecuredBroker) -> None:
    """Keep the parties file and the gateway principal beside the security record."""
    recorded = kafka.recorded_security() or {}
    recorded.update(broker.record())
    kafka.security_file.write_text(json.dumps(recorded, indent=2), encoding="utf-8")
