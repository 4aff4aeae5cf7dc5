"""How the gateway's clients connect: the options each client gets from the settings, and
the password kept out of every repr."""

from __future__ import annotations

from pathlib import Path

import pytest
from faststream.security import SASLScram512
from pydantic import SecretStr

from consumers.kafka_access import KafkaAccess, KafkaAccessError, client_options, faststream_options
from contracts.parties import PartiesFile, PartyEntry, Role
from contracts.signatures import SigningKey
from gateway.runtime.app import create_app, sender_proof
from gateway.runtime.settings import Settings
from gateway.tools.secured_kafka import ensure_tls

PASSWORD = "correct-horse-battery-staple"


def test_an_open_broker_gets_only_its_address() -> None:
    assert client_options("127.0.0.1:9092") == {"bootstrap_servers": "127.0.0.1:9092"}
    assert faststream_options("127.0.0.1:9092")["security"] is None
    assert Settings(kafka_bootstrap_servers="b:1").kafka_access() == KafkaAccess("b:1")


def test_a_secured_broker_gets_scram_as_the_gateways_principal_from_a_password_file(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "custody-registry.password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    settings = Settings(
        kafka_bootstrap_servers="b:1",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_password_file=secret,
    )
    access = settings.kafka_access()
    assert access.client_options() == {
        "bootstrap_servers": "b:1",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "custody-registry",
        "sasl_plain_password": PASSWORD,
    }
    security = access.faststream_security()
    assert isinstance(security, SASLScram512) and not security.use_ssl
    for text in (repr(access), str(access), repr(settings), str(settings)):
        assert PASSWORD not in text


def test_tls_adds_a_context_trusting_the_given_ca(tmp_path: Path) -> None:
    tls = ensure_tls(tmp_path / "tls")
    access = KafkaAccess(
        "b:1",
        security_protocol="SASL_SSL",
        username="holder-fjord-capital",
        password=SecretStr(PASSWORD),
        ca_file=tls.ca,
    )
    options = access.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["ssl_context"].verify_mode.name == "CERT_REQUIRED"
    assert faststream_options(access)["security"].use_ssl


def test_scram_without_a_password_is_refused_naming_the_settings() -> None:
    with pytest.raises(KafkaAccessError, match="GATEWAY_KAFKA_PASSWORD"):
        Settings(kafka_security_protocol="SASL_PLAINTEXT").kafka_access()


def test_a_parties_file_needs_the_gateways_signing_key(tmp_path: Path) -> None:
    parties = tmp_path / "parties.json"
    exchange = SigningKey.generate("exchange-north")
    parties.write_text(
        PartiesFile(
            parties=(
                PartyEntry(
                    id="exchange-north", roles=(Role.EXCHANGE,), signing_keys=(exchange.public_key,)
                ),
                PartyEntry(id="holder-fjord-capital", roles=(Role.HOLDER,)),
            )
        ).model_dump_json(),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="GATEWAY_SIGNING_KEY_FILE is not"):
        sender_proof(Settings(parties_file=parties))
    key_file = tmp_path / "gateway.pem"
    key_file.write_bytes(SigningKey.generate("custody-registry").to_pem())
    settings = Settings(parties_file=parties, signing_key_file=key_file)
    proof = sender_proof(settings)
    assert proof is not None
    assert proof.exchange_parties == {"exchange-north"}, "the listing parties come from the file"
    assert set(proof.keys.public_keys_of) == {
        "exchange-north",
        "holder-fjord-capital",
        "custody-registry",
    }
    app = create_app(settings)
    assert app.pipeline.exchange_parties == {"exchange-north"}
    assert app.pipeline.signing_keys == proof.keys
    assert app.ledger_settings.signing_keys == proof.keys
