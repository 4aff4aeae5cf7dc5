"""The secured brokers are shared by every module that asks for them: one of each per session
(a fixture imported into two modules would be two fixtures, and two brokers)."""

from tests.integration.secured_broker_support import secured_kafka, secured_tls_kafka

__all__ = ["secured_kafka", "secured_tls_kafka"]
