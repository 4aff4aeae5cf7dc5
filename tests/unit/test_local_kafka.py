"""The pure parts of the local broker: ids, configuration and the choice of ports."""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path

import pytest

from gateway.tools import local_kafka
from tests.socket_states import TIME_WAIT, tcp_states_on_local_port


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


# ---- ports ------------------------------------------------------------------------------
# Verified on these machines (Linux 6.x): TIME_WAIT stays with the side that closes first. A
# broker that stops closes its accepted connections first, so the TIME_WAIT sockets sit on
# its own listening port; a client that closes first leaves them on its ephemeral port.


def _listener() -> socket.socket:
    """A loopback listener that binds like the JVM's server sockets (SO_REUSEADDR)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


def _leave_time_wait_on_the_server_port() -> int:
    """Connect to a listener, close the server's side first, then the client and the
    listener: the server's port is left with only a TIME_WAIT socket on it."""
    with _listener() as server:
        port: int = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()
        client.recv(1)  # the server's FIN has arrived
        client.close()
    deadline = time.monotonic() + 5
    while tcp_states_on_local_port(port) != [TIME_WAIT] and time.monotonic() < deadline:
        time.sleep(0.01)
    return port


def test_a_port_left_in_time_wait_by_a_stopped_server_is_free() -> None:
    port = _leave_time_wait_on_the_server_port()

    assert tcp_states_on_local_port(port) == [TIME_WAIT]
    assert not local_kafka._port_is_unused(port), "a bind without SO_REUSEADDR is refused"
    assert local_kafka._port_is_free(port)


def test_a_port_with_a_live_listener_is_not_free() -> None:
    with _listener() as server:
        port = server.getsockname()[1]
        assert not local_kafka._port_is_free(port)
        assert not local_kafka._port_is_unused(port)


def test_a_port_a_client_connection_was_given_is_not_free() -> None:
    with _listener() as server:
        client = socket.create_connection(("127.0.0.1", server.getsockname()[1]))
        accepted, _ = server.accept()
        with client, accepted:
            assert not local_kafka._port_is_free(client.getsockname()[1])


def test_new_ports_lie_below_the_ephemeral_range_and_are_unused() -> None:
    first_ephemeral, _ = local_kafka._ephemeral_port_range()
    assert first_ephemeral > local_kafka._NEW_PORTS_FROM, "this machine's range leaves no room"
    ports = [local_kafka._new_port() for _ in range(20)]
    assert all(local_kafka._NEW_PORTS_FROM <= port < first_ephemeral for port in ports)
    assert all(local_kafka._port_is_unused(port) for port in ports)


def _broker_in(run_dir: Path) -> local_kafka.LocalKafka:
    return local_kafka.LocalKafka(version="3.9.1", cache_dir=run_dir / "cache", run_dir=run_dir)


def test_the_first_ports_are_saved_and_reused_after_time_wait(tmp_path: Path) -> None:
    broker = _broker_in(tmp_path)
    client, controller = broker._ports()
    assert client != controller
    assert json.loads(broker.ports_file.read_text()) == {"client": client, "controller": controller}

    in_time_wait = _leave_time_wait_on_the_server_port()
    broker.ports_file.write_text(json.dumps({"client": in_time_wait, "controller": controller}))

    assert broker._ports() == (in_time_wait, controller)


def test_a_saved_port_held_by_a_live_listener_is_an_error_naming_it(tmp_path: Path) -> None:
    broker = _broker_in(tmp_path)
    _, controller = broker._ports()
    with _listener() as intruder:
        taken = intruder.getsockname()[1]
        broker.ports_file.write_text(json.dumps({"client": taken, "controller": controller}))

        with pytest.raises(local_kafka.SavedPortTakenError) as raised:
            broker._ports()

    assert (raised.value.role, raised.value.port) == ("client", taken)
    assert f"client port {taken}" in str(raised.value)
    assert f"delete {broker.ports_file}" in str(raised.value)
    assert json.loads(broker.ports_file.read_text())["client"] == taken, "ports.json is kept"
