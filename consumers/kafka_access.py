"""How every client of the gateway reaches the broker: its address and, on a secured broker,
the SASL/SCRAM credentials and the TLS trust it connects with.

One value carries all of it, so that the engines, the clock, the read side, the admin calls
and the tools connect the same way. The password is a ``SecretStr``: it shows as ``**********``
in any repr, log line or error, and only :meth:`KafkaAccess.client_options` reveals it, to
the client that needs it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from pydantic import SecretStr

PLAINTEXT = "PLAINTEXT"
_SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")


class KafkaAccessError(ValueError):
    """The broker settings do not make a way to connect; the text says which one is missing."""


@dataclass(frozen=True)
class KafkaAccess:
    bootstrap_servers: str
    security_protocol: str = PLAINTEXT
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        if self.security_protocol in _SASL_PROTOCOLS and (
            not self.username or self.password is None
        ):
            raise KafkaAccessError(
                f"{self.security_protocol} needs a user name and a password "
                "(GATEWAY_KAFKA_USERNAME, GATEWAY_KAFKA_PASSWORD or GATEWAY_KAFKA_PASSWORD_FILE)"
            )

    @property
    def secured(self) -> bool:
        return self.security_protocol != PLAINTEXT

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.security_protocol.endswith("SSL"):
            return None
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file is not None else None
        )
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers}
        if not self.secured:
            return options
        options["security_protocol"] = self.security_protocol
        context = self.ssl_context()
        if context is not None:
            options["ssl_context"] = context
        if self.security_protocol in _SASL_PROTOCOLS:
            assert self.password is not None
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password.get_secret_value()
        return options

    def faststream_security(self) -> BaseSecurity | None:
        """The same access as a FastStream ``KafkaBroker``'s ``security``."""
        if not self.secured:
            return None
        context = self.ssl_context()
        if self.security_protocol not in _SASL_PROTOCOLS:
            return BaseSecurity(ssl_context=context)
        assert self.username is not None and self.password is not None
        scram = SASLScram512 if self.sasl_mechanism == "SCRAM-SHA-512" else SASLScram256
        return scram(self.username, self.password.get_secret_value(), ssl_context=context)


Broker = str | KafkaAccess
"""Where a client connects: a bare address (an open broker) or the whole access."""


def access_of(broker: Broker) -> KafkaAccess:
    return broker if isinstance(broker, KafkaAccess) else KafkaAccess(broker)


def client_options(broker: Broker) -> dict[str, Any]:
    return access_of(broker).client_options()


def faststream_options(broker: Broker) -> dict[str, Any]:
    """Keyword arguments for a FastStream ``KafkaBroker``: the address and the security."""
    access = access_of(broker)
    return {
        "bootstrap_servers": access.bootstrap_servers,
        "security": access.faststream_security(),
    }
