"""The pure parts of the local broker: ids and configuration."""

from __future__ import annotations

import base64
from pathlib import Path

from gateway.tools import local_kafka


def test_cluster_ids_are_16_byte_uuids_that_never_look_like_an_option() -> None:
    ids = [local_kafka.new_cluster_id() for _ in range(2000)]
    assert not [cluster_id for cluster_id in ids if cluster_id.startswith("-")]
    for cluster_id in ids[:50]:
        assert len(cluster_id) == 22
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    assert len(set(ids)) == len(ids)


def test_the_broker_never_creates_topics_on_its_own() -> None:
    properties = local_kafka._server_properties(Path("/data"), 9092, 9093)
    assert "auto.create.topics.enable=false\n" in properties
    assert "advertised.listeners=PLAINTEXT://127.0.0.1:9092\n" in properties
    assert "controller.quorum.voters=1@127.0.0.1:9093\n" in properties


def test_the_logging_backend_follows_the_major_version() -> None:
    assert "slf4j-reload4j" in local_kafka._classpath_pom("3.9.1")
    assert "log4j-slf4j-impl" in local_kafka._classpath_pom("4.1.0")
    assert "<version>4.1.0</version></dependency>" in local_kafka._classpath_pom("4.1.0")
