"""The gateway's settings: the one module that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumers.kafka_access import KafkaAccess


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "custody-gateway"


class Settings(BaseSettings):
    """Read from ``GATEWAY_*`` variables (and ``KAFKA_BOOTSTRAP_SERVERS``)."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", frozen=True, extra="ignore")

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "GATEWAY_KAFKA_BOOTSTRAP_SERVERS"),
        description="An existing broker to use instead of starting the local one.",
    )
    kafka_version: str = Field(
        default="3.9.1", description="Apache Kafka broker version fetched from Maven Central."
    )
    kafka_heap: str = Field(default="-Xms256m -Xmx1g", description="JVM heap options.")
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Where the broker's jars are kept (outside the work tree).",
    )
    run_dir: Path = Field(
        default=Path(".run"),
        description="Where the local broker keeps its data, log and pid file.",
    )
    topic_prefix: str = Field(default="", description="Prefix of every catalogue topic name.")
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="How the gateway's clients connect: PLAINTEXT (an open broker), "
        "SASL_PLAINTEXT or SASL_SSL (SCRAM with kafka_username and its password).",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        default="SCRAM-SHA-512", description="The SASL mechanism of a secured broker."
    )
    kafka_username: str | None = Field(
        default=None,
        description="The gateway's broker principal (User:<name>); default: registry_party_id.",
    )
    kafka_password: SecretStr | None = Field(
        default=None, description="The gateway's broker password (never logged)."
    )
    kafka_password_file: Path | None = Field(
        default=None,
        description="A file holding the gateway's broker password (its first line), instead "
        "of kafka_password.",
    )
    kafka_ca_file: Path | None = Field(
        default=None,
        description="PEM certificates the broker's TLS certificate must chain to (SASL_SSL); "
        "default: the system's.",
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="The gateway's own Ed25519 private key (PKCS#8 PEM), signing what it writes "
        "on a topic parties write too (its custody moves on ledger.commands); needed with "
        "parties_file, the same file for every instance.",
    )
    parties_file: Path | None = Field(
        default=None,
        description="The exchange's parties file (ids, roles, Ed25519 signing keys). When set, "
        "every record a party sends must be signed by one of its keys.",
    )
    broker_start_timeout_s: float = Field(default=120.0, gt=0)
    state_dir: Path = Field(
        default=Path(".run/state"), description="Where the registry keeps its local store."
    )
    state_cache_entries: int = Field(
        default=20_000,
        gt=0,
        description="Decoded entities the registry keeps in memory per partition; the rest "
        "is read from the local store when needed.",
    )
    registry_group_id: str = Field(
        default="custody-registry", description="Consumer group of the registry instances."
    )
    ledger_group_id: str = Field(
        default="custody-ledger",
        description="Consumer group (and transactional id) of the custody ledger.",
    )
    registry_party_id: str = Field(
        default="custody-registry", description="Party id the registry sends as."
    )
    exchange_party_ids: str = Field(
        default="exchange-listing-desk",
        description="Comma-separated party ids allowed to send brand listing commands.",
    )

    max_message_bytes: int = Field(
        default=1_000_000, gt=0, description="Larger record values go to the dead letters."
    )
    max_record_bytes: int = Field(
        default=1_048_576,
        ge=65_536,
        description="The largest record the gateway writes (producers' max request size; "
        "topics are created to accept it); a larger output sets its input aside.",
    )
    instance_id: str | None = Field(
        default=None,
        description="This instance's stable name for static group membership: restarted "
        "with the same name, it gets its partitions back at once. Default: derived from the "
        "host name and the state directory.",
    )
    ledger_partitions: int | None = Field(
        default=None,
        ge=1,
        description="How many partitions the ledger's topics have (ledger.commands, "
        "ledger.transfers, the journal and its snapshots). Default: the catalogue's.",
    )
    ledger_snapshot_every: int = Field(
        default=20_000,
        ge=1,
        description="A ledger partition writes a snapshot after this many journaled facts.",
    )
    session_timeout_ms: int = Field(
        default=10_000,
        ge=6_000,
        description="How long the group waits for a silent member before its partitions move.",
    )
    producer_retry_backoff_ms: int = Field(
        default=10,
        ge=0,
        description="Retry backoff of the transactional producers (aiokafka's default is "
        "100 ms, paid after nearly every commit).",
    )
    log_level: str = Field(default="info", description="debug, info, warning or error.")
    decision_log_level: Literal["debug", "info"] = Field(
        default="info",
        description="The level of each record's outcome line (record_decided): info logs every "
        "decision, debug keeps them out of an info log.",
    )
    ops_host: str = Field(
        default="127.0.0.1", description="Address of the HTTP API (/health, /metrics, /v1)."
    )
    ops_port: int = Field(
        default=8080, ge=0, description="Port of the HTTP API (/health, /metrics, /v1; 0: any)."
    )
    rulebook_file: Path | None = Field(
        default=None, description="A rulebook JSON file to use instead of the bundled one."
    )
    cbam_notice_date: date | None = Field(
        default=None,
        description="The SCR 4.2 notice date, overriding the rulebook's (set by Notice).",
    )
    cbam_form_deadline: str | None = Field(
        default=None,
        pattern=r"^[0-9]{2}-[0-9]{2}$",
        description="The yearly CBAM form deadline, MM-DD of the year after the reporting "
        "year, overriding the rulebook's (15 March, §4.3).",
    )
    cbam_first_form_deadline: date | None = Field(
        default=None,
        description="The deadline of the first reporting year's form, overriding the yearly "
        "one (the exchange moved the first to 2025-06-15).",
    )
    cbam_verification_start: date | None = Field(
        default=None,
        description="From this day a CBAM form must be verified, overriding the rulebook's "
        "(2024-01-01: the exchange requires it ahead of the EU's 2026-01-01, §4.1.3).",
    )

    warrant_pending_limit: timedelta | None = Field(
        default=None,
        gt=timedelta(0),
        description="How long a warrant request may pend before it is rejected as expired "
        '(ISO 8601, e.g. "P30D"), overriding the rulebook\'s pending_limit (P30D).',
    )
    clock_tick_every: timedelta = Field(
        default=timedelta(minutes=1),
        ge=timedelta(0),
        description="How often the gateway writes a tick to each registry partition it holds "
        '(ISO 8601, e.g. "PT1M"), so that a request pending past its limit expires on time; '
        '0 or "off": no ticks (requests then expire at the next message of their brand).',
    )

    readside: bool = Field(
        default=True,
        description="Whether `gateway run` also runs the read side (the projections and the "
        "parties' API); `gateway serve` runs it alone.",
    )
    readside_database_url: SecretStr | None = Field(
        default=None,
        description="A PostgreSQL URL (postgresql://user:password@host/db) for the read "
        "side's store, shared by several instances; default: a SQLite file in state_dir.",
    )
    readside_schema: str = Field(
        default="readside",
        pattern=r"^[a-z_][a-z0-9_]*$",
        description="The PostgreSQL schema of the read side's tables.",
    )
    readside_group_id: str | None = Field(
        default=None,
        description="Consumer group of the read side. Default: one group per instance for "
        "SQLite (each instance keeps every row), custody-readside for PostgreSQL (the "
        "instances share the partitions and the store).",
    )
    statistics_published_from: date = Field(
        default=date(2026, 1, 1),
        description="No aggregate statistics before this day (§4.2.3: no earlier than the "
        "start of the definitive period).",
    )
    statistics_minimum_group: int = Field(
        default=5,
        ge=2,
        description="The fewest listed brands a year's distribution is published for.",
    )
    api_tokens_file: Path | None = Field(
        default=None,
        description='A JSON file {"<party id>": ["<sha256 of a token>", ...]} naming the '
        "parties of the API's bearer tokens (`gateway token PARTY` makes one).",
    )
    api_tokens: SecretStr | None = Field(
        default=None, description="The same JSON as api_tokens_file, in the variable."
    )

    @field_validator("clock_tick_every", mode="before")
    @classmethod
    def _off_is_zero(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("0", "off"):
            return timedelta(0)
        return value

    @property
    def exchange_parties(self) -> frozenset[str]:
        """The party ids of ``exchange_party_ids``."""
        return frozenset(
            party.strip() for party in self.exchange_party_ids.split(",") if party.strip()
        )

    @property
    def kafka_principal(self) -> str:
        """The name the gateway authenticates as on a secured broker."""
        return self.kafka_username or self.registry_party_id

    def kafka_secret(self) -> SecretStr | None:
        """The gateway's broker password, from the variable or the secret file."""
        if self.kafka_password is not None:
            return self.kafka_password
        if self.kafka_password_file is not None:
            lines = self.kafka_password_file.read_text(encoding="utf-8").splitlines()
            return SecretStr(lines[0] if lines else "")
        return None

    def kafka_access(self, bootstrap_servers: str | None = None) -> KafkaAccess:
        """How the gateway's clients reach the broker (``bootstrap_servers`` overriding the
        configured address, e.g. the local broker's)."""
        address = bootstrap_servers or self.kafka_bootstrap_servers or ""
        if self.kafka_security_protocol == "PLAINTEXT":
            return KafkaAccess(address)
        return KafkaAccess(
            address,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_principal,
            password=self.kafka_secret(),
            ca_file=self.kafka_ca_file,
        )


PASSWORD_VARIABLE_PREFIX = "GATEWAY_PASSWORD_"


def password_variables() -> Mapping[str, str]:
    """The ``GATEWAY_PASSWORD_<ID>`` variables: the broker passwords of principals a secured
    local broker is set up with (``gateway.tools.secured_kafka``)."""
    return {k: v for k, v in os.environ.items() if k.startswith(PASSWORD_VARIABLE_PREFIX)}
