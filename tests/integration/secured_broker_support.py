"""One secured local broker per session (SASL/SCRAM, ACLs from a test parties file), for the
tests of broker security and of the gateway on a secured broker.

Use it by importing the fixture into a test module::

    from tests.integration.secured_broker_support import SecuredKafka, secured_kafka

    async def test_x(secured_kafka: SecuredKafka) -> None:
        access = secured_kafka.access_for("warehouse-rotterdam-07")
        producer = AIOKafkaProducer(**access.client_options())

``SecuredKafka`` gives the bootstrap address, ``access_for(principal)`` (a ``KafkaAccess``
with that principal's password; ``gateway_principal`` and ``admin_principal`` name the
gateway's and the admin's), ``parties_file`` (the test parties, signing keys empty),
``settings()`` (gateway Settings for this broker, connecting as the gateway),
``add_party`` and ``remove_party``. The catalogue's topics exist without a prefix. The
broker's tests write probe records (value ``b"acl-probe"``) to ``warehouse.lot-arrivals``
and ``registry.warrant-state``, and (committed and aborted) to
``registry.warrant-decisions``; a gateway test reading those should expect them.

``secured_tls_kafka`` is a second one with TLS (SASL_SSL); ``ca_file`` is its CA. It is
started with the README's ``make kafka-up-secure PARTIES=parties.json TLS=1``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from consumers.kafka_access import KafkaAccess
from contracts.parties import PartiesFile, PartyEntry, Role
from gateway.runtime.settings import Settings
from gateway.tools.local_kafka import LocalKafka, leftover_brokers
from gateway.tools.secured_kafka import ApplyReport, SecuredBroker, start_secured
from tests.conftest import _started_run_dirs
from tests.readme_commands import make_is_installed, readme_command, run_line

TEST_PARTIES = PartiesFile(
    parties=(
        PartyEntry(id="smelter-nordal", roles=(Role.PRODUCER,)),
        PartyEntry(id="warehouse-rotterdam-07", roles=(Role.WAREHOUSE,)),
        PartyEntry(id="warehouse-antwerp-02", roles=(Role.WAREHOUSE,)),
        PartyEntry(id="member-northsea-metals", roles=(Role.MEMBER,)),
        PartyEntry(id="inspector-alucheck", roles=(Role.PERMITTED_PARTY,)),
        PartyEntry(id="exchange-listing-desk", roles=(Role.EXCHANGE,)),
        PartyEntry(id="holder-fjord-capital", roles=(Role.HOLDER,)),
        PartyEntry(id="importer-rhein-alu", roles=(Role.IMPORTER,)),
    )
)


def write_parties(path: Path, parties: PartiesFile) -> None:
    path.write_text(json.dumps(parties.model_dump(mode="json"), indent=2), encoding="utf-8")


@dataclass(frozen=True)
class SecuredKafka:
    broker: SecuredBroker
    kafka: LocalKafka
    parties_file: Path

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers

    @property
    def gateway_principal(self) -> str:
        return self.broker.gateway_principal

    @property
    def admin_principal(self) -> str:
        return self.broker.admin_principal

    @property
    def ca_file(self) -> Path | None:
        return self.broker.ca_file

    def access_for(self, principal: str) -> KafkaAccess:
        return self.broker.access_for(principal)

    def settings(self) -> Settings:
        """Gateway settings connecting to this broker as the gateway's principal."""
        return Settings().model_copy(
            update={
                "kafka_bootstrap_servers": self.bootstrap_servers,
                "kafka_security_protocol": self.broker.security_protocol,
                "kafka_password_file": self.broker.secrets.file_of(self.gateway_principal),
                "kafka_ca_file": self.ca_file,
                "parties_file": self.parties_file,
            }
        )

    def add_party(self, party: PartyEntry) -> ApplyReport:
        """Add ``party`` to the parties file and apply it (as `gateway kafka acls`)."""
        parties = self.broker.parties()
        write_parties(self.parties_file, PartiesFile(parties=(*parties.parties, party)))
        return self.broker.apply()

    def remove_party(self, party_id: str) -> ApplyReport:
        """Take ``party_id`` out of the parties file and apply it: its ACLs and its credential
        are deleted."""
        kept = tuple(p for p in self.broker.parties() if p.id != party_id)
        write_parties(self.parties_file, PartiesFile(parties=kept))
        return self.broker.apply()


def _secured(tmp_path_factory: pytest.TempPathFactory, *, tls: bool) -> Iterator[SecuredKafka]:
    run_dir = tmp_path_factory.mktemp("secured-kafka-tls" if tls else "secured-kafka")
    parties_file = run_dir / "parties.json"
    write_parties(parties_file, TEST_PARTIES)
    settings = Settings().model_copy(update={"run_dir": run_dir / "broker", "topic_prefix": ""})
    kafka = LocalKafka.from_settings(settings)
    _started_run_dirs.append(kafka.run_dir)
    try:
        if tls and make_is_installed():
            _started_by_the_readme(run_dir, kafka.run_dir)
        broker, _info, _report = start_secured(
            kafka, settings, parties_file=parties_file, tls=tls, die_with_parent=True
        )
        yield SecuredKafka(broker, kafka, parties_file)
    finally:
        kafka.stop()
        assert leftover_brokers(kafka.run_dir) == []


def _started_by_the_readme(cwd: Path, run_dir: Path) -> None:
    """Start the broker with the README's `make kafka-up-secure PARTIES=parties.json TLS=1`,
    run where ``parties.json`` is (start_secured then finds it running). Started so, it does
    not die with a killed pytest (the `make` process that started it has ended); the
    session's end stops it."""
    environment = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    environment.update(GATEWAY_RUN_DIR=str(run_dir), GATEWAY_TOPIC_PREFIX="")
    done = run_line(
        readme_command("make kafka-up-secure"), cwd=cwd, environment=environment, timeout_s=240
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert "GATEWAY_KAFKA_SECURITY_PROTOCOL=SASL_SSL" in lines, done.stdout[-2000:]
    assert f"GATEWAY_KAFKA_CA_FILE={run_dir.resolve()}/tls/ca.pem" in lines, done.stdout[-2000:]


@pytest.fixture(scope="session")
def secured_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    """The session's secured broker (SASL_PLAINTEXT), started on first use."""
    yield from _secured(tmp_path_factory, tls=False)


@pytest.fixture(scope="session")
def secured_tls_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    """The session's secured broker with TLS (SASL_SSL), started on first use."""
    yield from _secured(tmp_path_factory, tls=True)
